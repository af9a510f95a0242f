// A Layer2Announcer over real AF_PACKET sockets, run by layer2-netns.test.ts inside a node namespace
// (`ip netns exec NS node --import tsx layer2-netns.child.ts '<json>'`).
// argv[2]: {"ips": [...], "probe": true|false, "friendly": ["mac", ...], "ifname": "eth0", "native": true|false}
//   ("native": false hides PacketSocket.setArpAnswers from the announcer: every ARP request is answered in JS)
// stdout: one JSON object a line: {event:'announced'|'conflict'|'conflictCleared'|'withdrawn'|'linkError', ...}
//   | {event:'stats', ..., links: [{ifname, ethertype, received, kernelDrops, answeredNatively, arpAnswerDelays?,
//   ...}], cpuMicros} (answer to a
//   `{"stats":true}` stdin line) | {event:'blocked'} then {event:'unblocked'} (answer to `{"blockUntil": path}`: the
//   event loop is held, frames pile up in the sockets' queues, until the file exists) | {event:'started'}
// Exits (closing every socket) on SIGTERM or when stdin ends.
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { realClock } from '../../src/kube/clock.ts';
import { Layer2Announcer, type LinkPort } from '../../src/speaker/layer2/announcer.ts';
import { openPacketSocket, type PacketSocket } from '../../src/speaker/link/packet.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  ips: string[];
  probe: boolean;
  friendly: string[];
  ifname?: string;
  native?: boolean;
};
const ifname = cfg.ifname ?? 'eth0';
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

const sockets: Array<{ ethertype: number; sock: PacketSocket }> = [];
const announcer = new Layer2Announcer({
  openLink: (name, ethertype, onFrame) => {
    const sock = openPacketSocket({ ifname: name, ethertype, onFrame: (f) => onFrame(f) });
    sockets.push({ ethertype, sock });
    if (cfg.native !== false) return sock;
    // "native": false — the link without setArpAnswers: every frame is answered in JS (the comparison).
    const port: LinkPort = {
      ifname: sock.ifname,
      mac: sock.mac,
      send: (f) => sock.send(f),
      close: () => sock.close(),
      addMembership: (m) => sock.addMembership(m),
      dropMembership: (m) => sock.dropMembership(m),
      attachFilter: (p) => sock.attachFilter(p),
      stats: () => sock.stats(),
    };
    return port;
  },
  clock: realClock,
  links: () => ({ arp: [ifname], ndp: [ifname] }),
  log: pino({ level: 'warn' }, process.stderr),
  friendlyMacs: () => new Set(cfg.friendly),
});
announcer.on('announced', (ip) => out({ event: 'announced', ip }));
announcer.on('conflict', (ip, mac, link) => out({ event: 'conflict', ip, mac, ifname: link }));
announcer.on('conflictCleared', (ip) => out({ event: 'conflictCleared', ip }));
announcer.on('withdrawn', (ip) => out({ event: 'withdrawn', ip }));
announcer.on('linkError', (link, err) => out({ event: 'linkError', ifname: link, message: err.message }));

function stop(): void {
  announcer.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line) as { stats?: boolean; blockUntil?: string };
  if (cmd.blockUntil) {
    out({ event: 'blocked' }); // stdout to a pipe is synchronous: the test sees this before the loop is held
    const tick = new Int32Array(new SharedArrayBuffer(4));
    while (!existsSync(cmd.blockUntil)) Atomics.wait(tick, 0, 0, 2);
    out({ event: 'unblocked' });
  }
  if (cmd.stats) {
    const s = announcer.stats();
    out({
      event: 'stats',
      requestsReceived: Object.fromEntries(s.requestsReceived),
      responsesSent: Object.fromEntries(s.responsesSent),
      gratuitousSent: Object.fromEntries(s.gratuitousSent),
      drops: Object.fromEntries(s.drops),
      links: sockets.map(({ ethertype, sock }) => ({
        ifname: sock.ifname,
        ethertype,
        ...sock.stats(),
        ...(ethertype === 0x0806 ? { arpAnswerDelays: sock.arpAnswerDelays() } : {}),
      })),
      cpuMicros: ((c) => c.user + c.system)(process.cpuUsage()),
    });
  }
});
rl.on('close', stop);
announcer.set(cfg.ips.map((ip) => ({ ip, service: 'test/web', interfaces: [], probe: cfg.probe })));
out({ event: 'started' });
