// Runs berth's BgpSpeaker with a BfdServer (the speaker's BGP half as src/speaker/bgp-main.ts wires it) inside a node
// network namespace, for bgp-unnumbered-options.test.ts. stdin, one JSON command a line:
//   { cmd: 'sync', plan: { peers: [[name, { name, peer: PeerConfig, routes: [[prefix, BgpRoute]] }]] },
//     bfdProfiles: BFDProfileConfig[] } | { cmd: 'bfd' } | { cmd: 'stop' }.
// stdout, one JSON event a line: sessionUp / sessionDown (reason, NOTIFICATION text) / bfdUp / bfdDown (diagName) /
// synced (errors) / bfd (the BFD sessions: peer, ifname, state) / stopped.
import { createInterface } from 'node:readline';
import { destination, pino } from 'pino';
import type { BFDProfileConfig, PeerConfig } from '../../src/config/types.ts';
import { BfdServer } from '../../src/speaker/bfd/udp.ts';
import type { BgpRoute } from '../../src/speaker/bgp-plan.ts';
import { BgpSpeaker } from '../../src/speaker/bgp-speaker.ts';

const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const log = pino({ level: process.env.AGENT_LOG ?? 'silent' }, destination(2));
const bfd = new BfdServer({ log });
const speaker = new BgpSpeaker({ node: 'n1', log, bfd });
speaker.on('sessionUp', (u: { name: string; label: string }) =>
  say({ event: 'sessionUp', name: u.name, label: u.label }),
);
speaker.on('sessionDown', (d: { name: string; down: { reason: string; text: string } }) =>
  say({ event: 'sessionDown', name: d.name, reason: d.down.reason, text: d.down.text }),
);
speaker.on('bfdDown', (d: { name: string; diagName?: string }) =>
  say({ event: 'bfdDown', name: d.name, diagName: d.diagName }),
);
speaker.on('bfdUp', (d: { name: string }) => say({ event: 'bfdUp', name: d.name }));
bfd.on('up', (p: { peer: string; ifname?: string }) =>
  say({ event: 'bfdSessionUp', peer: p.peer, ifname: p.ifname }),
);

type WirePlan = {
  peers: Array<[string, { name: string; peer: PeerConfig; routes: Array<[string, BgpRoute]> }]>;
};

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: { cmd: string; plan?: WirePlan; bfdProfiles?: BFDProfileConfig[] };
  try {
    c = JSON.parse(line) as typeof c;
  } catch {
    say({ event: 'error', error: `not JSON: ${line}` });
    return;
  }
  if (c.cmd === 'sync' && c.plan) {
    const plan = { peers: new Map(c.plan.peers.map(([n, p]) => [n, { ...p, routes: new Map(p.routes) }])) };
    void speaker
      .sync(plan, { bfdProfiles: c.bfdProfiles ?? [] })
      .then((r) => say({ event: 'synced', errors: r.errors }));
  } else if (c.cmd === 'bfd') {
    say({
      event: 'bfd',
      sessions: bfd.peers().map((p) => ({ peer: p.peer, ifname: p.ifname, local: p.local, state: p.state })),
    });
  } else if (c.cmd === 'stop') {
    void speaker
      .close()
      .then(() => bfd.close({ adminDown: true }))
      .then(() => {
        say({ event: 'stopped' });
        process.exit(0);
      });
  }
});
