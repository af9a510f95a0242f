// A child process that owns one packet socket (src/speaker/link/packet.ts) and is driven over stdio, so tests can put
// it in a network namespace (`ip netns exec NS node --import tsx link-agent.ts IFNAME ETHERTYPE`) or under setpriv.
// stdout: one JSON object a line: {event:'ready',ifindex,mac} | {event:'frame',hex} | {event:'error',code,syscall,message}
//   | {event:'sent'} | {event:'closed'} | {event:'open-failed',name,code,syscall,message}
// stdin: one JSON object a line: {send: hex} | {add|drop: PacketMembership} (answers {event:'membership'})
//   | {arp: {announced, watched}}: setArpAnswers (the addon's answer thread; answers {event:'arp-answers'})
//   | {burst: {hex, count, at}}: `count` copies of the frame, copy i with UInt32BE(i) written at byte `at`, sent with
//     one sendBatch (answers {event:'burst-sent', sent}) | {close: true} (closes twice, then exits)
import { createInterface } from 'node:readline';
import {
  LinkError,
  openPacketSocket,
  type PacketMembership,
  type PacketSocket,
} from '../../src/speaker/link/packet.ts';

const [ifname = '', ethertypeArg = ''] = process.argv.slice(2);
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

let sock: PacketSocket;
try {
  sock = openPacketSocket({
    ifname,
    ethertype: Number(ethertypeArg),
    onFrame: (frame) => out({ event: 'frame', hex: frame.toString('hex') }),
    onError: (e) => out({ event: 'error', code: e.code, syscall: e.syscall, message: e.message }),
  });
} catch (e) {
  const err = e as Error & Partial<LinkError>;
  out({
    event: 'open-failed',
    name: err.name,
    isLinkError: e instanceof LinkError,
    code: err.code,
    syscall: err.syscall,
    message: err.message,
  });
  process.exit(0);
}
out({ event: 'ready', ifindex: sock.ifindex, mac: sock.mac.toString('hex') });

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as {
    burst?: { hex: string; count: number; at: number };
    send?: string;
    close?: boolean;
    add?: PacketMembership;
    drop?: PacketMembership;
    arp?: { announced: string[]; watched: string[] };
  };
  try {
    if (cmd.send !== undefined) {
      sock.send(Buffer.from(cmd.send, 'hex'));
      out({ event: 'sent' });
    }
    if (cmd.burst) {
      const { hex, count, at } = cmd.burst;
      const frames = Array.from({ length: count }, (_, i) => {
        const f = Buffer.from(hex, 'hex');
        f.writeUInt32BE(i, at);
        return f;
      });
      let sent = 0;
      for (let tries = 0; sent < count && tries < 100; tries++) sent += sock.sendBatch(frames.slice(sent));
      out({ event: 'burst-sent', sent });
    }
    if (cmd.arp) {
      sock.setArpAnswers(cmd.arp.announced, cmd.arp.watched);
      out({ event: 'arp-answers' });
    }
    if (cmd.add) {
      sock.addMembership(cmd.add);
      out({ event: 'membership' });
    }
    if (cmd.drop) {
      sock.dropMembership(cmd.drop);
      out({ event: 'membership' });
    }
    if (cmd.close) {
      sock.close();
      sock.close();
      out({ event: 'closed' });
      process.stdin.destroy();
    }
  } catch (e) {
    const err = e as Error & Partial<LinkError>;
    out({ event: 'error', code: err.code, syscall: err.syscall, message: err.message });
  }
});
