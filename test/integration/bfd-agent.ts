// A child process running berth's BFD (src/speaker/bfd/udp.ts, one BfdServer) for one or more peers, so tests can put
// it in a network namespace:
//   ip netns exec NS node --import tsx bfd-agent.ts TX_MS RX_MS MULT PEER[,LOCAL[,IFNAME]] ...
// stdout: one JSON object a line, each with `at` (Date.now()) and, except 'started', `peer` (as given):
//   {event:'started'} | {event:'state',from,to,diag} | {event:'up'} | {event:'down',diag,diagName,sinceLastRxMs}
//   | {event:'negotiated',txIntervalMs,detectionTimeMs} (while Up with no Poll outstanding, each time these change)
// SIGTERM: closes (AdminDown to every peer) and exits.
import { pino } from 'pino';
import { BfdServer, type BfdPeer } from '../../src/speaker/bfd/udp.ts';

const [tx = '100', rx = '100', mult = '3', ...specs] = process.argv.slice(2);
const params = {
  transmitIntervalMs: Number(tx),
  receiveIntervalMs: Number(rx),
  detectMultiplier: Number(mult),
  passive: false,
};
const out = (o: object): void => void process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const server = new BfdServer({ log: pino({ level: 'warn' }, process.stderr) });
const peers: Array<{ peer: string; p: BfdPeer; last: string }> = [];
for (const spec of specs) {
  const [peer = '', local, ifname] = spec.split(',');
  const p = await server.add({ peer, local: local || undefined, ifname: ifname || undefined, params });
  p.on('state', (ev: object) => out({ event: 'state', peer, ...ev }));
  p.on('up', () => out({ event: 'up', peer }));
  p.on('down', (ev: object) =>
    out({ event: 'down', peer, ...ev, sinceLastRxMs: Date.now() - p.lastReceivedAt }),
  );
  peers.push({ peer, p, last: '' });
}
out({ event: 'started' });
const watch = setInterval(() => {
  for (const w of peers) {
    if (w.p.session.polling || w.p.state !== 'Up') {
      w.last = '';
      continue;
    }
    const i = w.p.info();
    const now = `${i.txIntervalMs}/${i.detectionTimeMs}`;
    if (now !== w.last)
      out({
        event: 'negotiated',
        peer: w.peer,
        txIntervalMs: i.txIntervalMs,
        detectionTimeMs: i.detectionTimeMs,
      });
    w.last = now;
  }
}, 5);
process.on('SIGTERM', () => {
  clearInterval(watch);
  void server.close({ adminDown: true }).then(() => process.exit(0));
});
