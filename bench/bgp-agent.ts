// The speaker side of bench/bgp.ts, run inside the node network namespace (bundled by esbuild and run by plain node,
// so its RSS is not tsx's): berth's BGP path as the speaker runs it — planBgp (src/speaker/bgp-plan.ts) over a world
// of N single-stack Services, then BgpSpeaker.sync (src/speaker/bgp-speaker.ts) with real BgpSessions to the peers.
// argv[2]: a JSON file { v4: string[], v6: string[], peers: [{ name, peerAddress, sourceAddress }] }.
// stdin, one command a line: 'announce' (world with every Service) | 'withdraw' (no Service) | 'rss' | 'stop'.
// stdout, one JSON event a line: up (all sessions Established), planned { planMs, cpuMs, routes }, synced { ms },
// idle { ms, cpuMs } (every session has nothing pending; CPU of this process since the command), rss { rss, heapUsed, external } in bytes, error.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { BgpPlanner, planBgp } from '../src/speaker/bgp-plan.ts';
import { BgpSpeaker } from '../src/speaker/bgp-speaker.ts';
import type { ServiceView } from '../src/speaker/l2-plan.ts';
import { benchBgpWorld } from './bgp-world.ts';

interface Args {
  v4: string[];
  v6: string[];
  peers: Array<{ name: string; peerAddress: string; sourceAddress: string }>;
  /** Pool address entries covering v4 and v6. */
  pool: string[];
}

const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const args = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Args;
const bw = benchBgpWorld(
  args.pool,
  args.peers.map((p) => ({ name: p.name, peerAddress: p.peerAddress, sourceAddress: p.sourceAddress })),
  [...args.v4, ...args.v6],
);
if (!('world' in bw)) {
  say({ event: 'error', error: bw.problems });
  process.exit(1);
}
const { services, world } = bw;

const log = pino({ level: process.env.AGENT_LOG ?? 'silent' });
const speaker = new BgpSpeaker({ node: 'n1', log });
// BENCH_BGP_FULL_PLAN=1: planBgp every time (the figures before BgpPlanner).
const planner = process.env.BENCH_BGP_FULL_PLAN ? { plan: planBgp } : new BgpPlanner();
const upNames = new Set<string>();
speaker.on('sessionUp', (u: { name: string }) => {
  upNames.add(u.name);
  if (upNames.size === args.peers.length) say({ event: 'up' });
});

/** Resolves when every session has sent everything it has (pendingPrefixes 0 on each). */
async function idle(): Promise<void> {
  // Sessions flush on the next turn (setImmediate): a withdraw leaves nothing "pending" before it is even sent.
  await new Promise((r) => setImmediate(r));
  for (;;) {
    const s = speaker.sessions();
    if (s.length > 0 && s.every((x) => x.stats.up && x.stats.pendingPrefixes === 0)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function apply(svcs: ServiceView[]): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const plan = planner.plan(world(svcs), 'n1');
  const c = process.cpuUsage(c0);
  let routes = 0;
  for (const p of plan.peers.values()) routes += p.routes.size;
  say({
    event: 'planned',
    planMs: performance.now() - t0,
    cpuMs: (c.user + c.system) / 1000,
    routes,
  });
  const r = await speaker.sync(plan);
  if (r.errors.length) say({ event: 'error', error: r.errors.join('; ') });
  say({ event: 'synced', ms: performance.now() - t0 });
  await idle();
  const all = process.cpuUsage(c0);
  say({ event: 'idle', ms: performance.now() - t0, cpuMs: (all.user + all.system) / 1000 });
}

// Sessions first (no routes), so the measures start with Established sessions.
void speaker.sync(planner.plan(world([]), 'n1'));
let chain: Promise<void> = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = line.trim();
  chain = chain.then(async () => {
    if (cmd === 'announce') await apply(services);
    else if (cmd === 'withdraw') await apply([]);
    else if (cmd === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      say({ event: 'rss', rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external });
    } else if (cmd === 'stop') {
      await speaker.close();
      process.exitCode = 0;
      setImmediate(() => process.exit(0));
    }
  });
});
