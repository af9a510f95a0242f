// berth's BFD (src/speaker/bfd/udp.ts, one BfdServer) in a network namespace for bfd-ttl.test.ts, with the received-TTL
// guard on (the default) or off:  node --import tsx bfd-ttl-agent.ts '{"guard":true,"peers":[{"peer":…,"local":…}]}'
// stdout, one JSON line each: {event:'started'} | {event:'state',peer,from,to} | {event:'up',peer}. SIGTERM: closes.
import { pino } from 'pino';
import { BfdServer } from '../../src/speaker/bfd/udp.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  guard: boolean;
  peers: Array<{ peer: string; local?: string }>;
};
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
const server = new BfdServer({
  log: pino({ level: 'warn' }, process.stderr),
  ...(cfg.guard ? {} : { guardTtl: false as const }),
});
for (const { peer, local } of cfg.peers) {
  const p = await server.add({
    peer,
    ...(local ? { local } : {}),
    params: { transmitIntervalMs: 100, receiveIntervalMs: 100, detectMultiplier: 3, passive: false },
  });
  p.on('state', (ev: { from: string; to: string }) => out({ event: 'state', peer, ...ev }));
  p.on('up', () => out({ event: 'up', peer }));
}
out({ event: 'started' });
process.on('SIGTERM', () => void server.close({ adminDown: true }).then(() => process.exit(0)));
