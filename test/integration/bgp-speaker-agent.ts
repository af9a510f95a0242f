// Runs berth's BgpSpeaker (src/speaker/bgp-speaker.ts) with real BgpSessions inside a node network namespace for
// bgp-speaker.test.ts. stdin, one JSON command a line:
//   { cmd: 'sync', plan: { peers: [[name, { name, peer: PeerConfig, routes: [[prefix, BgpRoute]] }]] } }
//   | { cmd: 'sessions' } | { cmd: 'stop' }.
// stdout, one JSON event a line: sessionUp / sessionDown (with the NOTIFICATION text) / synced / sessions / stopped.
import { createInterface } from 'node:readline';
import { destination, pino } from 'pino';
import type { PeerConfig } from '../../src/config/types.ts';
import type { BgpRoute } from '../../src/speaker/bgp-plan.ts';
import { BgpSpeaker } from '../../src/speaker/bgp-speaker.ts';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const log = pino({ level: process.env.AGENT_LOG ?? 'silent' }, destination(2));
const speaker = new BgpSpeaker({ node: 'n1', log });
speaker.on('sessionUp', (u: { name: string; label: string }) =>
  say({ event: 'sessionUp', name: u.name, label: u.label }),
);
speaker.on('sessionDown', (d: { name: string; down: { reason: string; text: string } }) =>
  say({ event: 'sessionDown', name: d.name, reason: d.down.reason, text: d.down.text }),
);

type WirePlan = {
  peers: Array<[string, { name: string; peer: PeerConfig; routes: Array<[string, BgpRoute]> }]>;
};

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: { cmd: string; plan?: WirePlan };
  try {
    c = JSON.parse(line) as typeof c;
  } catch {
    say({ event: 'error', error: `not JSON: ${line}` });
    return;
  }
  if (c.cmd === 'sync' && c.plan) {
    const plan = {
      peers: new Map(c.plan.peers.map(([n, p]) => [n, { ...p, routes: new Map(p.routes) }])),
    };
    void speaker.sync(plan).then((r) => say({ event: 'synced', errors: r.errors }));
  } else if (c.cmd === 'sessions') {
    say({
      event: 'sessions',
      sessions: speaker.sessions().map((s) => ({
        name: s.name,
        label: s.label,
        up: s.stats.up,
        establishedCount: s.stats.establishedCount,
        announced: s.stats.announcedPrefixes,
        pending: s.stats.pendingPrefixes,
        updatesSent: s.stats.updatesSent,
      })),
    });
  } else if (c.cmd === 'stop') {
    void speaker.close().then(() => {
      say({ event: 'stopped' });
      process.exit(0);
    });
  }
});
