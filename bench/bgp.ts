// npm run bench:bgp [-- --services 10000 --rounds 3 --bfd-runs 20 | --no-bfd | --speaker] — issue 9's BGP figures, printed, never
// asserted (targets: 10,000 prefixes installed in BIRD ≤ 1 s and withdrawn ≤ 1 s; BFD detection p99 ≤ 300 ms;
// speaker RSS with 10,000 prefixes and 3 peers ≤ 96 MB). Needs root, `ip netns`, BIRD 2 (and FRR for the BFD part).
//
// Lab: a router namespace bg<pid>r (198.51.100.1, .3, .4 and 2001:db8:77::1 on one veth end) running BIRD 2 with 3
// passive eBGP protocols (AS 64501), and a node namespace bg<pid>n (198.51.100.2, .12, .22, 2001:db8:77::2) running
// bench/bgp-agent.ts bundled by esbuild under plain node: the speaker's BGP path (BgpPlanner.plan + BgpSpeaker.sync, as
// src/speaker/main.ts syncBgp; no informers, API server or layer 2) with 3 real BgpSessions (one
// per router address, IPv4 transport carrying IPv4 and IPv6 unicast: dualStackAddressFamily), N single-stack Services.
// Prefix mix: IPv4 documentation space holds 768 addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), so the
// N prefixes are those 768 IPv4 /32 and N-768 IPv6 /128 in 2001:db8:100::/112; every peer gets all N (3N routes at
// BIRD). Each round: the world gains every Service → time until `show route count` (polled every 5 ms on one
// connection to BIRD's control socket, no birdc process per poll) reports 3N routes
// (install), then the world loses them → time until 0 (withdraw). The agent reports its own plan time (wall, CPU),
// the time until its sessions have nothing pending, its own CPU time, and its RSS after the installs. The agent runs
// with the speaker's V8 flags (SPEAKER_FLAGS below); BENCH_BGP_AGENT_FLAGS='' runs it with node's defaults.
// Reference in the same run: a second BIRD in the node namespace, same 3 sessions and the same N prefixes as static
// blackhole routes, enabled / disabled (`birdc enable|disable "st*"`): BIRD-to-BIRD install and withdraw times.
// BFD: bench/bfd.ts (berth vs FRR bfdd, SIGSTOP) with --runs. --speaker: the real `berth speaker` process instead of
// the agent, with the lab API server and N Services (bench/bgp-speaker.ts; no reference, no BFD; --heap-snapshot
// keeps a V8 heap snapshot of the speaker at the end; --cpu-prof DIR profiles it and prints its self time inside the
// measured intervals, bench/bgp-profile.ts). Everything is removed at the end, also on failure.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { BirdCli, parseRouteCount } from './bird-cli.ts';
import { birdRouterConf, routerNodeNetns } from './lab-objects.ts';
import { BGP_V8_FLAGS, SPEAKER_V8_FLAGS } from '../src/speaker/v8-flags.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    'bfd-runs': { type: 'string', default: '20' },
    'no-bfd': { type: 'boolean', default: false },
    'no-reference': { type: 'boolean', default: false },
    speaker: { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(values.services);
const ROUNDS = Number(values.rounds);
const BFD_RUNS = Number(values['bfd-runs']);
for (const [k, v] of Object.entries({ services: N, rounds: ROUNDS, 'bfd-runs': BFD_RUNS })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench/bgp: --${k} ${String(v)} is not a positive integer`);
    process.exit(2);
  }
}
if (N > 768 + 65536) {
  console.error(`bench/bgp: --services ${N} is more than the 768 + 65536 documentation addresses used`);
  process.exit(2);
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const bin of ['bird', 'birdc']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
      return `${bin} (Debian bird2) is not installed`;
  }
  if (spawnSync('ip', ['netns', 'list']).status !== 0) return '`ip netns` does not work here';
  return undefined;
}
const skip = skipReason();
if (skip) {
  console.log(`bench/bgp: skipped: ${skip}`);
  process.exit(0);
}
// --speaker: the real speaker process against the lab API server instead of the agent (bench/bgp-speaker.ts).
if (values.speaker) {
  const { runSpeakerBench } = await import('./bgp-speaker.ts');
  const profDir = values['cpu-prof'];
  if (profDir === undefined)
    process.exit(await runSpeakerBench({ services: N, rounds: ROUNDS, heapSnapshot: values['heap-snapshot'] }));
  // --cpu-prof DIR: the speaker runs with --cpu-prof; its self time inside the measured intervals is printed.
  const { mkdirSync, readdirSync } = await import('node:fs');
  const { monotonicOffsetUs, windowLines } = await import('./bgp-profile.ts');
  mkdirSync(profDir, { recursive: true });
  const windows: Array<{ label: string; startMs: number; ms: number }> = [];
  const code = await runSpeakerBench({
    services: N,
    rounds: ROUNDS,
    heapSnapshot: values['heap-snapshot'],
    speakerNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    onRound: (r) => windows.push({ label: `${r.what} ${r.round}`, startMs: r.startMs, ms: r.ms }),
  });
  const off = monotonicOffsetUs();
  const file = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1);
  if (!file) console.log(`bench/bgp --cpu-prof: no .cpuprofile in ${profDir} (the speaker did not exit cleanly)`);
  else {
    console.log(
      `measured intervals (CLOCK_MONOTONIC µs, the profile's clock): ${windows.map((w) => `${w.label} ${(w.startMs * 1000 + off).toFixed(0)}-${((w.startMs + w.ms) * 1000 + off).toFixed(0)}`).join(', ')}`,
    );
    for (const what of ['withdraw', 'install']) {
      console.log(`speaker self time during the ${what} intervals (${join(profDir, file)}):`);
      for (const l of windowLines(join(profDir, file), windows.filter((w) => w.label.startsWith(what)), off)) console.log(l);
    }
  }
  process.exit(code);
}

const REPO = fileURLToPath(new URL('../', import.meta.url));
/**
 * The speaker's V8 flags in the image once its BGP half is loaded (src/speaker/v8-flags.ts: SPEAKER_V8_FLAGS, then
 * BGP_V8_FLAGS, which startOptimizing() sets; the later flag wins) and the DaemonSet's NODE_OPTIONS;
 * BENCH_BGP_AGENT_FLAGS replaces them.
 */
const SPEAKER_FLAGS = `${SPEAKER_V8_FLAGS} ${BGP_V8_FLAGS} --max-semi-space-size=1 --v8-pool-size=1`;
const sh = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const id = `bg${process.pid % 100000}`;
const R = `${id}r`;
const NODE = `${id}n`;
const dir = mkdtempSync(join(os.tmpdir(), `${id}-`));
chmodSync(dir, 0o755);
const ROUTER_ADDRS = ['198.51.100.1', '198.51.100.3', '198.51.100.4'];
const NODE_ADDRS = ['198.51.100.2', '198.51.100.12', '198.51.100.22'];
const v4 = ['192.0.2', '198.51.100', '203.0.113'].flatMap((n) =>
  Array.from({ length: 256 }, (_, i) => `${n}.${i}`),
);
const V4 = v4.slice(0, Math.min(N, 768));
const V6 = Array.from({ length: N - V4.length }, (_, i) => `2001:db8:100::${i.toString(16)}`);
const EXPECTED = 3 * N;

const children: ChildProcess[] = [];
const pidFiles: string[] = [];
function cleanup(): void {
  for (const c of clis.values()) c.close();
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  for (const f of pidFiles) {
    try {
      const pid = Number(readFileSync(f, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
    } catch {
      /* not running */
    }
  }
  for (const ns of [R, NODE]) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** The reference speaker: BIRD in the node namespace with the same sessions and the N prefixes as static routes. */
function nodeBirdConf(): string {
  const protocols = NODE_ADDRS.map(
    (local, i) => `protocol bgp n${i + 1} {
  local ${local} as 64500;
  neighbor ${ROUTER_ADDRS[i]} as 64501;
  connect retry time 1; connect delay time 1;
  ipv4 { import none; export all; next hop self; };
  ipv6 { import none; export all; next hop address 2001:db8:77::2; };
}`,
  ).join('\n');
  return `router id 198.51.100.2;
protocol device { }
protocol static st4 { disabled; ipv4;
${V4.map((a) => `  route ${a}/32 blackhole;`).join('\n')}
}
protocol static st6 { disabled; ipv6;
${V6.map((a) => `  route ${a}/128 blackhole;`).join('\n')}
}
${protocols}
`;
}

function startBird(ns: string, name: string, conf: string): string {
  const confFile = join(dir, `${name}.conf`);
  const ctl = join(dir, `${name}.ctl`);
  const pid = join(dir, `${name}.pid`);
  writeFileSync(confFile, conf);
  sh('ip', ['netns', 'exec', ns, 'bird', '-c', confFile, '-s', ctl, '-P', pid]);
  pidFiles.push(pid);
  return ctl;
}

const clis = new Map<string, BirdCli>();

/** Total routes in the BIRD behind `ctl` (`show route count`: "Total: X of Y routes…"), -1 when not readable. */
async function routeCount(ctl: string): Promise<number> {
  let cli = clis.get(ctl);
  if (!cli) clis.set(ctl, (cli = new BirdCli(ctl)));
  return parseRouteCount(await cli.query('show route count'));
}

/** Established BGP protocols of a BIRD. */
function established(ctl: string): number {
  try {
    return sh('birdc', ['-s', ctl, 'show', 'protocols'])
      .split('\n')
      .filter((l) => /BGP .*Established/.test(l)).length;
  } catch {
    return 0;
  }
}

/** ms from `t0` until `count(ctl)` is `want` (polled), or throws after `limitMs`. */
async function until(ctl: string, want: number, t0: number, what: string, limitMs = 60_000): Promise<number> {
  for (;;) {
    const n = await routeCount(ctl);
    const t = performance.now() - t0;
    if (n === want) return t;
    if (t > limitMs) throw new Error(`${what}: BIRD has ${n} routes after ${limitMs} ms, want ${want}`);
    await sleep(5);
  }
}

interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

/** 1-minute load average now (printed with every figure: on a shared 2-CPU machine wall times measure the neighbours too). */
const load = (): number => os.loadavg()[0]!;

function stats(xs: number[], loads: number[] = []): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor((s.length - 1) / 2)]!;
  const l = loads.length ? `, load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : '';
  return `median ${med.toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)}, ${s.length} rounds${l})`;
}

try {
  routerNodeNetns(id, R, NODE, ROUTER_ADDRS, NODE_ADDRS);
  const router = startBird(R, 'router', birdRouterConf(ROUTER_ADDRS, NODE_ADDRS));

  // The agent, bundled: plain node, as the speaker image runs (no tsx loader in the RSS).
  const agentFile = join(dir, 'bgp-agent.mjs');
  await esbuild.build({
    entryPoints: [join(REPO, 'bench/bgp-agent.ts')],
    outfile: agentFile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'error',
  });
  const args = {
    v4: V4,
    v6: V6,
    pool: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8:100::/112'],
    peers: ROUTER_ADDRS.map((a, i) => ({ name: `r${i + 1}`, peerAddress: a, sourceAddress: NODE_ADDRS[i]! })),
  };
  writeFileSync(join(dir, 'agent-args.json'), JSON.stringify(args));
  const agent = spawn(
    'ip',
    [
      'netns',
      'exec',
      NODE,
      process.execPath,
      '--expose-gc',
      ...(process.env.BENCH_BGP_AGENT_FLAGS ?? SPEAKER_FLAGS).split(' ').filter(Boolean),
      agentFile,
      join(dir, 'agent-args.json'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(agent);
  const events: AgentEvent[] = [];
  createInterface({ input: agent.stdout! }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as AgentEvent);
    } catch {
      /* not an event */
    }
  });
  const next = async (name: string, from: number, ms = 60_000): Promise<AgentEvent> => {
    const end = Date.now() + ms;
    for (;;) {
      const e = events.slice(from).find((x) => x.event === name || x.event === 'error');
      if (e?.event === 'error') throw new Error(`agent: ${String(e.error)}`);
      if (e) return e;
      if (Date.now() > end || agent.exitCode !== null) throw new Error(`agent: no ${name} event`);
      await sleep(5);
    }
  };
  await next('up', 0, 30_000);
  while (established(router) < 3) await sleep(50);

  console.log(
    `bench:bgp — ${N} Service prefixes (${V4.length} IPv4 /32 = all of 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; ` +
      `${V6.length} IPv6 /128 in 2001:db8:100::/112), 3 eBGP peers (BIRD ${sh('bird', ['--version']).trim() || '2'}` +
      ` protocols, one IPv4 session each carrying IPv4 + IPv6), ${3 * N} routes at BIRD; ` +
      `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`,
  );
  const install: number[] = [];
  const withdraw: number[] = [];
  const plans: string[] = [];
  const cpuIn: number[] = [];
  const cpuOut: number[] = [];
  let rss: AgentEvent | undefined;
  const loads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    loads.push(load());
    let from = events.length;
    let t0 = performance.now();
    agent.stdin!.write('announce\n');
    install.push(await until(router, EXPECTED, t0, `round ${round + 1} install`));
    const p = await next('planned', from);
    const idle = await next('idle', from);
    cpuIn.push(Number(idle.cpuMs));
    plans.push(
      `  round ${round + 1} (load ${loads[round]!.toFixed(1)}): plan ${Number(p.planMs).toFixed(0)} ms wall / ${Number(p.cpuMs).toFixed(0)} ms CPU ` +
        `(${String(p.routes)} routes), sessions idle after ${Number(idle.ms).toFixed(0)} ms (berth CPU ${Number(idle.cpuMs).toFixed(0)} ms), BIRD has all after ` +
        `${install[round]!.toFixed(0)} ms`,
    );
    if (round === ROUNDS - 1) {
      from = events.length;
      agent.stdin!.write('rss\n');
      rss = await next('rss', from);
    }
    from = events.length;
    t0 = performance.now();
    agent.stdin!.write('withdraw\n');
    withdraw.push(await until(router, 0, t0, `round ${round + 1} withdraw`));
    const w = await next('idle', from);
    cpuOut.push(Number(w.cpuMs));
    plans.push(
      `           withdraw (load ${load().toFixed(1)}): sessions idle after ${Number(w.ms).toFixed(0)} ms (berth CPU ${Number(w.cpuMs).toFixed(0)} ms), BIRD empty after ${withdraw[round]!.toFixed(0)} ms`,
    );
  }
  loads.push(load());
  console.log(`berth → BIRD install  ${stats(install, loads)}   (target ≤ 1000 ms)`);
  console.log(
    `berth CPU per install (plan + UPDATEs, its own process): ${stats(cpuIn)}; per withdraw: ${stats(cpuOut)}`,
  );
  console.log(`berth → BIRD withdraw ${stats(withdraw, loads)}   (target ≤ 1000 ms)`);
  for (const l of plans) console.log(l);
  if (rss)
    console.log(
      `berth agent RSS with ${N} prefixes × 3 peers: ${(Number(rss.rss) / 2 ** 20).toFixed(1)} MB after GC ` +
        `(heap used ${(Number(rss.heapUsed) / 2 ** 20).toFixed(1)} MB of ${(Number(rss.heapTotal) / 2 ** 20).toFixed(1)} MB, external ${(Number(rss.external) / 2 ** 20).toFixed(1)} MB, load ${load().toFixed(1)}; ` +
        `the speaker's BGP code path — BgpPlanner.plan + BgpSpeaker.sync as src/speaker/main.ts syncBgp runs them — over ` +
        `the Service views, bundled, plain node with the speaker's V8 flags; not the whole speaker process: no informer ` +
        `caches, API client, status writes or layer 2) (target ≤ 96 MB)`,
    );
  agent.stdin!.write('stop\n');
  for (let i = 0; i < 50 && agent.exitCode === null; i++) await sleep(100);

  if (!values['no-reference']) {
    while (established(router) > 0) await sleep(50);
    const ref = startBird(NODE, 'node', nodeBirdConf());
    for (let i = 0; established(router) < 3; i++) {
      if (i > 600) throw new Error('reference BIRD: sessions not Established after 30 s');
      await sleep(50);
    }
    const rin: number[] = [];
    const rout: number[] = [];
    const rloads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rloads.push(load());
      let t0 = performance.now();
      sh('birdc', ['-s', ref, 'enable', '"st*"']);
      rin.push(await until(router, EXPECTED, t0, `reference round ${round + 1} install`));
      t0 = performance.now();
      sh('birdc', ['-s', ref, 'disable', '"st*"']);
      rout.push(await until(router, 0, t0, `reference round ${round + 1} withdraw`));
    }
    rloads.push(load());
    console.log(`reference BIRD → BIRD install  ${stats(rin, rloads)}`);
    console.log(`reference BIRD → BIRD withdraw ${stats(rout, rloads)}`);
  }
} finally {
  cleanup();
}

if (!values['no-bfd']) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'bench/bfd.ts'), '--runs', String(BFD_RUNS)],
    { stdio: 'inherit', cwd: REPO },
  );
  if (r.status !== 0) console.log(`bench/bfd exited with ${String(r.status)}`);
}
