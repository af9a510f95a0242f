// npx tsx bench/bgp-cpu.ts [--services 10000] [--rounds 3] — where berth's BGP install and withdraw CPU goes, without
// root or BIRD (bench:bgp measures the same path against BIRD in network namespaces). Figures only, never asserted.
// npm run bench:bgp-cpu -- --heap  (the script runs node --expose-gc --import tsx).
//
// The speaker's BGP path as src/speaker/main.ts syncBgp runs it: BgpPlanner.plan over N single-stack Services (the
// bench:bgp prefix mix: 768 IPv4 /32 in the documentation ranges, the rest IPv6 /128 in 2001:db8:100::/112), then
// BgpSpeaker.sync with 3 real BgpSessions (eBGP, IPv4 + IPv6 unicast) over TCP on ::1 to 3 sink peers in this process
// (they answer the OPEN and count the bytes, nothing else). Per round and direction it prints this process's CPU
// time after the plan, after BgpSpeaker.sync (Adj-RIB-Out edits), and once every session has sent everything
// (UPDATE building, encoding, socket writes), the UPDATEs sent, and with --heap the V8 heap used after a full GC at
// each stage (run with node --expose-gc, e.g. `node --expose-gc --import tsx bench/bgp-cpu.ts --heap`). The load
// average is printed with each line: CPU time is steadier than wall time on a shared machine, not immune to it.
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { BgpPlanner } from '../src/speaker/bgp-plan.ts';
import { BgpSpeaker } from '../src/speaker/bgp-speaker.ts';
import { Afi, KEEPALIVE, Safi, decodeStream, encode, newOpen } from '../src/speaker/bgp/wire/index.ts';
import type { ServiceView } from '../src/speaker/l2-plan.ts';
import { benchBgpWorld } from './bgp-world.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    heap: { type: 'boolean', default: false },
  },
});
const N = Number(values.services);
const ROUNDS = Number(values.rounds);
for (const [k, v] of Object.entries({ services: N, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench/bgp-cpu: --${k} ${String(v)} is not a positive integer`);
    process.exit(2);
  }
}
if (N > 768 + 65536) {
  console.error(`bench/bgp-cpu: --services ${N} is more than the 768 + 65536 documentation addresses used`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (values.heap && !gc) {
  console.error('bench/bgp-cpu: --heap needs node --expose-gc');
  process.exit(2);
}

const v4 = ['192.0.2', '198.51.100', '203.0.113'].flatMap((n) =>
  Array.from({ length: 256 }, (_, i) => `${n}.${i}`),
);
const V4 = v4.slice(0, Math.min(N, 768));
const V6 = Array.from({ length: N - V4.length }, (_, i) => `2001:db8:100::${i.toString(16)}`);

let received = 0;
/** A peer that answers the first OPEN with its own (AS 64501) and a KEEPALIVE, then only counts bytes. */
async function sink(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    let open = false;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (open) return;
      buf = Buffer.concat([buf, d]);
      if (decodeStream(buf, { fourOctetAs: false }).messages.length === 0) return;
      open = true;
      const ctx = { fourOctetAs: false };
      const capabilities = [
        { type: 'multiprotocol' as const, afi: Afi.IPv4, safi: Safi.Unicast },
        { type: 'multiprotocol' as const, afi: Afi.IPv6, safi: Safi.Unicast },
      ];
      s.write(
        encode(newOpen({ asn: 64501, holdTime: 90, bgpIdentifier: '198.51.100.1', capabilities }), ctx),
      );
      s.write(encode(KEEPALIVE, ctx));
    });
  });
  // BGPPeer peerPort is at most 16384 (MetalLB's CRD): a free port below it.
  for (let attempt = 0; ; attempt++) {
    const port = 10000 + Math.floor(Math.random() * 6000);
    const ok = await new Promise<boolean>((r) => {
      server.once('error', () => r(false));
      server.listen(port, '::1', () => r(true));
    });
    if (ok) return { server, port };
    if (attempt > 50) throw new Error('bench/bgp-cpu: no free port in 10000-16000 on ::1');
  }
}

const sinks = [await sink(), await sink(), await sink()];
const bw = benchBgpWorld(
  ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8:100::/112'],
  sinks.map((x, i) => ({ name: `r${i + 1}`, peerAddress: '::1', peerPort: x.port })),
  [...V4, ...V6],
);
if (!('world' in bw)) throw new Error(`bench/bgp-cpu: config refused: ${bw.problems}`);
const { services, world } = bw;

const speaker = new BgpSpeaker({ node: 'n1', log: pino({ level: 'silent' }) });
const planner = new BgpPlanner();
let up = 0;
const allUp = new Promise<void>((r) => speaker.on('sessionUp', () => ++up === sinks.length && r()));
void speaker.sync(planner.plan(world([]), 'n1'));
await allUp;

/** Every session has sent everything (after the flush turn: a withdraw leaves nothing pending before it is sent). */
async function idle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  while (!speaker.sessions().every((x) => x.stats.up && x.stats.pendingPrefixes === 0))
    await new Promise((r) => setTimeout(r, 5));
}
const heap = (): string => {
  if (!values.heap) return '';
  gc!();
  return `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MB`;
};
const ms = (c: NodeJS.CpuUsage): string => ((c.user + c.system) / 1000).toFixed(0);

console.log(
  `bench:bgp-cpu — ${N} Services (${V4.length} IPv4 /32, ${V6.length} IPv6 /128), 3 eBGP sessions on ::1, ` +
    `node ${process.version} ${process.execArgv.join(' ') || '(default flags)'}, ${os.cpus().length} CPUs`,
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const [what, svcs] of [
    ['install ', services],
    ['withdraw', []],
  ] as const) {
    const load = os.loadavg()[0]!.toFixed(1);
    const h0 = heap();
    const updates0 = speaker.sessions().reduce((n, s) => n + s.stats.updatesSent, 0);
    const c0 = process.cpuUsage();
    const plan = planner.plan(world(svcs as ServiceView[]), 'n1');
    const cPlan = process.cpuUsage(c0);
    const h1 = heap();
    const c1 = process.cpuUsage();
    await speaker.sync(plan);
    const cSync = process.cpuUsage(c1);
    const h2 = heap();
    const c2 = process.cpuUsage();
    await idle();
    const cSend = process.cpuUsage(c2);
    const updates = speaker.sessions().reduce((n, s) => n + s.stats.updatesSent, 0) - updates0;
    console.log(
      `round ${round} ${what} (load ${load}): CPU plan ${ms(cPlan)} ms, speaker sync ${ms(cSync)} ms, ` +
        `sessions send ${ms(cSend)} ms; ${updates} UPDATEs` +
        (values.heap ? `; heap ${h0} → plan ${h1} → sync ${h2} → sent ${heap()}` : ''),
    );
  }
}
console.log(`sink peers received ${(received / 2 ** 20).toFixed(1)} MB in all`);
await speaker.close();
for (const x of sinks) x.server.close();
