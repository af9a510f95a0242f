// A child process running berth's BFD (src/speaker/bfd/udp.ts) for one peer, so tests can put it in a network namespace:
//   ip netns exec NS node --import tsx bfd-agent.ts PEER [LOCAL] [TX_MS RX_MS MULT]
// stdout: one JSON object a line, each with `at` (Date.now()):
//   {event:'started',discr} | {event:'state',from,to,diag} | {event:'up'} | {event:'down',diag,diagName,sinceLastRxMs}
//   | {event:'negotiated',txIntervalMs,detectionTimeMs} (while Up with no Poll outstanding, each time these change)
// SIGTERM: closes (AdminDown to the peer) and exits.
import { pino } from 'pino';
import { BfdServer } from '../../src/speaker/bfd/udp.ts';

const [peer = '', local, tx = '100', rx = '100', mult = '3'] = process.argv.slice(2);
const out = (o: object): void => void process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const server = new BfdServer({ log: pino({ level: 'warn' }, process.stderr) });
const p = await server.add({
  peer,
  local: local || undefined,
  params: {
    transmitIntervalMs: Number(tx),
    receiveIntervalMs: Number(rx),
    detectMultiplier: Number(mult),
    passive: false,
  },
});
out({ event: 'started', discr: p.session.localDiscr });
p.on('state', (ev: object) => out({ event: 'state', ...ev }));
p.on('up', () => out({ event: 'up' }));
p.on('down', (ev: object) => out({ event: 'down', ...ev, sinceLastRxMs: Date.now() - p.lastReceivedAt }));
let last = '';
const watch = setInterval(() => {
  if (p.session.polling || p.state !== 'Up') return void (last = '');
  const i = p.info();
  const now = `${i.txIntervalMs}/${i.detectionTimeMs}`;
  if (now !== last)
    out({ event: 'negotiated', txIntervalMs: i.txIntervalMs, detectionTimeMs: i.detectionTimeMs });
  last = now;
}, 5);
process.on('SIGTERM', () => {
  clearInterval(watch);
  void server.close({ adminDown: true }).then(() => process.exit(0));
});
