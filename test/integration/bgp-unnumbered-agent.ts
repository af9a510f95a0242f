// Runs berth's BgpSpeaker with a BfdServer (the speaker's BGP half as src/speaker/bgp-main.ts wires it) inside a node
// network namespace, for bgp-unnumbered-options.test.ts. stdin, one JSON command a line:
//   { cmd: 'sync', plan: { peers: [[name, { name, peer: PeerConfig, routes: [[prefix, BgpRoute]] }]] },
//     bfdProfiles: BFDProfileConfig[] } | { cmd: 'bfd' } | { cmd: 'stop' }.
// stdout, one JSON event a line: sessionUp / sessionDown (reason, NOTIFICATION text) / bfdUp / bfdDown (diagName) /
// synced (errors) / bfd (the BFD sessions: peer, ifname, state) / stopped.
import { destination, pino } from 'pino';
import type { BFDProfileConfig } from '../../src/config/types.ts';
import { BfdServer } from '../../src/speaker/bfd/udp.ts';
import { BgpSpeaker } from '../../src/speaker/bgp-speaker.ts';
import { onCommands, planFromWire, say, saySessionEvents, type WirePlan } from './bgp-agent-io.ts';

const log = pino({ level: process.env.AGENT_LOG ?? 'silent' }, destination(2));
const bfd = new BfdServer({ log });
const speaker = new BgpSpeaker({ node: 'n1', log, bfd });
saySessionEvents(speaker);
speaker.on('bfdDown', (d: { name: string; diagName?: string }) =>
  say({ event: 'bfdDown', name: d.name, diagName: d.diagName }),
);
speaker.on('bfdUp', (d: { name: string }) => say({ event: 'bfdUp', name: d.name }));
bfd.on('up', (p: { peer: string; ifname?: string }) =>
  say({ event: 'bfdSessionUp', peer: p.peer, ifname: p.ifname }),
);

onCommands<{ cmd: string; plan?: WirePlan; bfdProfiles?: BFDProfileConfig[] }>((c) => {
  if (c.cmd === 'sync' && c.plan) {
    void speaker
      .sync(planFromWire(c.plan), { bfdProfiles: c.bfdProfiles ?? [] })
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
