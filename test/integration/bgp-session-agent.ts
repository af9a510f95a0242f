// Runs berth's BgpSession (src/speaker/bgp/session.ts) inside a node network namespace for bgp-interop.test.ts.
// argv[2]: JSON { sessions: [{ id, ...BgpSessionOptions without log }], hostile?: boolean }.
// stdin, one JSON command a line: { cmd: 'announce', prefix, communities?: ['64500:100'], large?: ['64500:1:2'],
//   localPref?, session? } | { cmd: 'withdraw', prefix, session? } | { cmd: 'stats' } | { cmd: 'stop' }.
//   announce/withdraw apply to the session whose id is `session`, else to every session. stdout, one JSON event a
//   line: established / down / stats / hostile / stopped.
// hostile: also runs a "peer" on 127.0.0.1:1179 that completes the OPEN exchange, sends an UPDATE with ORIGIN 5
// (RFC 7606 treat-as-withdraw), then an UPDATE whose Withdrawn Routes Length runs past the message (session reset),
// and a BgpSession to it; it reports the NOTIFICATION it gets back.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { destination, pino } from 'pino';
import { BgpSession, type BgpSessionOptions, type SessionDown } from '../../src/speaker/bgp/session.ts';
import {
  KEEPALIVE,
  decodeStream,
  encode,
  newOpen,
  parseCommunityValue,
  type CodecContext,
} from '../../src/speaker/bgp/wire/index.ts';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  sessions: Array<Omit<BgpSessionOptions, 'log'> & { id: string }>;
  hostile?: boolean;
};
const log = pino({ level: process.env.AGENT_LOG ?? 'silent' }, destination(2));
const sessions = new Map<string, BgpSession>();

function add(id: string, o: Omit<BgpSessionOptions, 'log'>): BgpSession {
  const s = new BgpSession({ ...o, log });
  s.on('established', (u: { routerId: string; negotiated: { holdTime: number; fourOctetAs: boolean } }) =>
    say({ event: 'established', id, routerId: u.routerId, holdTime: u.negotiated.holdTime }),
  );
  s.on('down', (d: SessionDown) => say({ event: 'down', id, reason: d.reason, text: d.text }));
  sessions.set(id, s);
  s.start();
  return s;
}

for (const s of cfg.sessions) {
  const { id, ...o } = s;
  add(id, o);
}

if (cfg.hostile) {
  const ctx: CodecContext = { fourOctetAs: true };
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try {
        r = decodeStream(buf, ctx);
      } catch (err) {
        say({ event: 'hostile', error: String(err) });
        return;
      }
      buf = Buffer.from(r.rest);
      for (const m of r.messages) {
        if (m.type === 'open') {
          sock.write(encode(newOpen({ asn: 64666, holdTime: 9, bgpIdentifier: '203.0.113.66' }), ctx));
          sock.write(encode(KEEPALIVE, ctx));
        } else if (m.type === 'keepalive' && !sock.readableEnded) {
          sendHostile(sock, ctx);
        } else if (m.type === 'notification') {
          say({ event: 'hostile', notification: `${m.code}/${m.subcode}` });
        }
      }
    });
  });
  let sent = false;
  const sendHostile = (sock: net.Socket, c: CodecContext) => {
    if (sent) return;
    sent = true;
    const good = encode(
      {
        type: 'update',
        withdrawnRoutes: [],
        nlri: [{ prefix: '203.0.113.0', length: 24 }],
        attributes: [
          { type: 'ORIGIN', origin: 'IGP' },
          { type: 'AS_PATH', segments: [{ type: 'AS_SEQUENCE', asns: [64666] }] },
          { type: 'NEXT_HOP', nextHop: '127.0.0.1' },
        ],
      },
      c,
    );
    const badOrigin = Buffer.from(good);
    badOrigin[badOrigin.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00])) + 3] = 5;
    sock.write(badOrigin);
    setTimeout(() => {
      // Withdrawn Routes Length 0xfff0 in a 23-byte body: Malformed Attribute List, a session reset.
      const h = Buffer.alloc(23, 0xff);
      h.writeUInt16BE(23, 16);
      h[18] = 2;
      h.writeUInt16BE(0xfff0, 19);
      h.writeUInt16BE(0, 21);
      sock.write(h);
      say({ event: 'hostile', sent: 'malformed' });
    }, 300);
  };
  server.listen(1179, '127.0.0.1', () => {
    add('hostile', {
      peerAddress: '127.0.0.1',
      peerPort: 1179,
      localAsn: 64500,
      peerAsn: 64666,
      holdTime: 9,
      backoffMs: 60_000,
    });
  });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (l) => {
  let c: {
    cmd: string;
    prefix?: string;
    communities?: string[];
    large?: string[];
    localPref?: number;
    session?: string;
  };
  try {
    c = JSON.parse(l) as typeof c;
  } catch {
    return;
  }
  if (c.cmd === 'announce' && c.prefix) {
    for (const [id, s] of sessions) {
      if (id === 'hostile' || (c.session !== undefined && id !== c.session)) continue;
      s.announce(c.prefix, {
        ...(c.communities ? { communities: c.communities.map(parseCommunityValue) } : {}),
        ...(c.large
          ? {
              largeCommunities: c.large.map((x) => {
                const [g, a, b] = x.split(':').map(Number);
                return { globalAdministrator: g!, localData1: a!, localData2: b! };
              }),
            }
          : {}),
        ...(c.localPref !== undefined ? { localPref: c.localPref } : {}),
      });
    }
  } else if (c.cmd === 'withdraw' && c.prefix) {
    for (const [id, s] of sessions) if (c.session === undefined || id === c.session) s.withdraw(c.prefix);
  } else if (c.cmd === 'stats') {
    for (const [id, s] of sessions) {
      const st = s.stats();
      say({ event: 'stats', id, ...st, updateErrors: Object.fromEntries(st.updateErrors) });
    }
  } else if (c.cmd === 'stop') {
    void Promise.all([...sessions.values()].map((s) => s.stop('berth test done'))).then(() => {
      say({ event: 'stopped' });
      process.exit(0);
    });
  }
});
