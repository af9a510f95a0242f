// Runs berth's BgpSpeaker (src/speaker/bgp-speaker.ts) with real BgpSessions inside a node network namespace for
// bgp-speaker.test.ts. stdin, one JSON command a line:
//   { cmd: 'sync', plan: { peers: [[name, { name, peer: PeerConfig, routes: [[prefix, BgpRoute]] }]] } }
//   | { cmd: 'sessions' } | { cmd: 'stop' }.
// stdout, one JSON event a line: sessionUp / sessionDown (with the NOTIFICATION text) / synced / sessions / stopped.
import { destination, pino } from 'pino';
import { BgpSpeaker } from '../../src/speaker/bgp-speaker.ts';
import { onCommands, planFromWire, say, saySessionEvents, type WirePlan } from './bgp-agent-io.ts';

const log = pino({ level: process.env.AGENT_LOG ?? 'silent' }, destination(2));
const speaker = new BgpSpeaker({ node: 'n1', log });
saySessionEvents(speaker);

onCommands<{ cmd: string; plan?: WirePlan }>((c) => {
  if (c.cmd === 'sync' && c.plan) {
    void speaker.sync(planFromWire(c.plan)).then((r) => say({ event: 'synced', errors: r.errors }));
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
