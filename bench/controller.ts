// npm run bench:controller — the controller against the lab API server, each in its own process (as in a cluster):
//   1. time-to-IP (Service create → status.loadBalancer.ingress seen by a watch), p50/p99 over N Services
//      (default 1,000), with the webhook assigning at admission, then with the controller's fallback path only;
//   2. the controller's RSS with 10,000 LoadBalancer Services held;
//   3. a restarted controller: time to rebuild its state from 10,000 Services and their claims, and IPs moved (must be 0).
// Flags: --services N (held, default 10000)  --latency N (default 1000)  --rate N (timed creates per second, default
//        100: the same offered load for both paths, so the figures compare processing, not queueing)
//        --runtime image|bundle|tsx: run the controller as the image's bundle (default; image/bundle.ts: every command
//        minified, split into chunks, `berth.mjs controller`: what the container runs), as an unminified esbuild bundle
//        of src/controller/main.ts with plain node (its source has non-ASCII comments, so V8 keeps it as a two-byte
//        string: 2.4 MB of heap against ~0.6 MB minified), or through tsx as `npm start` does (tsx's loader thread alone
//        costs ~35 MB of RSS). The first line says which ran.
//        --node-args "...": node flags for the controller (default: the Deployment's NODE_OPTIONS as shipped,
//        gitops/base/controller/deployment.yaml: a small young generation, one V8 helper thread, a 192 MB old-space
//        cap, raised to 96 MB per 10,000 Services beyond what it serves; and its MALLOC_ARENA_MAX); "" for node's
//        defaults; the controller adds
//        --optimize-for-size and --no-opt (TurboFan only for bulk work of ≥ 1,000 Services) itself,
//        src/controller/v8-flags.ts, unless BERTH_CONTROLLER_V8_FLAGS / BERTH_CONTROLLER_SETTLED_V8_FLAGS say otherwise)
//        --lab-main PATH: another build of the lab's main.ts (to compare lab versions)
//        --hog: time-to-IP through the webhook twice in the same run, without then with one CPU hog (a child process
//        spinning a busy loop on one core, bounded in time, killed by pid), and the ratio of the two
//        --scale N,N,...: the scale curve instead of steps 2-3: for each N (ascending), fill to N Services through the
//        webhook, then time-to-IP (--scale-latency timed creates, default 200), controller RSS (peak = VmHWM, steady)
//        and a restart (rebuild time, IPs moved). The controller runs with the Deployment's cap while it serves N and
//        with 96 MB per 10,000 Services beyond (restarted before that fill, unmeasured), unless --node-args is given.
//        --cpu-prof DIR: run lab, webhook and controller with node --cpu-prof (profiles in DIR/<process>/) and print
//        each profile's busiest areas and functions at the end
//        --heap-snapshot DIR: the controller runs with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR and writes a
//        heap snapshot once its RSS is read after a fill (DIR/fill-N.heapsnapshot) and after the restart that follows
//        (DIR/restart-N.heapsnapshot); compare them with `npx tsx bench/heap-summary.ts A B` (taken after the RSS
//        readings: writing a snapshot raises the process's VmHWM)
//        --controller-log FILE: the controller's output lines are also appended to FILE (e.g. with --node-args
//        "... --trace-gc" to see the heap around a peak)
// The controller's RSS is also sampled every 200 ms: each RSS line names the phase (warm-up and time-to-IP runs, fill,
// steady wait, restart) in which the highest sample was seen, since VmHWM alone does not say when the peak came.
// Each time-to-IP run (after a warm-up of 200 creates at the same rate) also prints where the time goes, stage by
// stage (send → mutate/validate webhooks → create answered → a watch sees the Service → reconcile → status seen), from
// the bench's own timestamps and the decision lines webhook and controller log; and each process's CPU per Service.
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LAB_NAMESPACE, repoObjects } from '../src/cli/lab.ts';
import { spawnNode, startControllerProcess, type ControllerProcess, type NodeProcess } from '../src/lab/processes.ts';
import { REQUEST_COUNTS_PATH } from '../src/lab/server.ts';
import { applyObject } from '../src/kube/apply.ts';
import type { KubeClient, KubeObject } from '../src/kube/client.ts';
import { connect } from '../src/kube/connect.ts';
import { Resources } from '../src/kube/resources.ts';
import { parse as parseYaml } from 'yaml';
import { profileLines } from './profile.ts';
import { cpuMeter, cpuMs, memMb, PathTrace, quantiles, startHog, wallMs, type Hog } from './trace.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    services: { type: 'string' },
    latency: { type: 'string' },
    rate: { type: 'string' },
    runtime: { type: 'string' },
    'node-args': { type: 'string' },
    'lab-main': { type: 'string' },
    hog: { type: 'boolean' },
    scale: { type: 'string' },
    'scale-latency': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'heap-snapshot': { type: 'string' },
    'controller-log': { type: 'string' },
  },
});
const HELD = Number(flags.services ?? 10_000);
const LAT = Number(flags.latency ?? 1_000);
const RATE = Number(flags.rate ?? 100);
const RUNTIME = flags.runtime ?? 'image';
if (!['bundle', 'image', 'tsx'].includes(RUNTIME)) throw new Error(`--runtime "${RUNTIME}": must be bundle, image or tsx`);
const LAB_MAIN = flags['lab-main'] ?? join(REPO, 'src/lab/main.ts');
const HOG = flags.hog === true;
const SCALE = (flags.scale ?? '')
  .split(',')
  .filter((x) => x.trim() !== '')
  .map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--scale "${flags.scale}": "${x}" is not a positive whole number of Services`);
    return n;
  })
  .sort((a, b) => a - b);
const SCALE_LAT = Number(flags['scale-latency'] ?? 200);
const WARM = 200;
const PROF = flags['cpu-prof'];
/** Node flags that profile the process `name` when --cpu-prof is given. */
const prof = (name: string): string[] => (PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF, name)}`] : []);
const SNAP = flags['heap-snapshot'];
/** The controller's extra node flags for --heap-snapshot (a snapshot on SIGUSR2, written into SNAP). */
const snapArgs = (): string[] => (SNAP ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAP}`] : []);
/**
 * The controller container's environment as gitops/base/controller/deployment.yaml ships it (NODE_OPTIONS,
 * MALLOC_ARENA_MAX): what the bench runs the controller with, so that what is measured is what ships.
 */
function deploymentEnv(): Map<string, string> {
  const d = parseYaml(readFileSync(join(REPO, 'gitops/base/controller/deployment.yaml'), 'utf8')) as {
    spec?: { template?: { spec?: { containers?: Array<{ name?: string; env?: Array<{ name?: string; value?: string }> }> } } };
  };
  const c = d.spec?.template?.spec?.containers?.find((x) => x.name === 'controller');
  if (!c) throw new Error('gitops/base/controller/deployment.yaml: no container named "controller"');
  return new Map((c.env ?? []).flatMap((e) => (e.name !== undefined && e.value !== undefined ? [[e.name, e.value] as const] : [])));
}
const DEPLOYMENT_ENV = deploymentEnv();
/** Old space per 10,000 Services (MB) when the Deployment's cap is too small for `n` (the docs' sizing rule). */
const OLD_SPACE_PER_10K = 96;
/**
 * The controller's node flags for `n` Services: the Deployment's NODE_OPTIONS as shipped (small young generation,
 * one V8 helper thread, old-space cap), the cap raised to 96 MB per 10,000 Services where that is more (beyond what the
 * shipped cap serves; docs: raise it with the memory limit there). --node-args replaces them.
 */
const nodeArgsFor = (n: number): string[] => {
  if (flags['node-args'] !== undefined) return flags['node-args'].split(' ').filter((a) => a !== '');
  const shipped = (DEPLOYMENT_ENV.get('NODE_OPTIONS') ?? '').split(' ').filter((a) => a !== '');
  const cap = shipped.find((a) => a.startsWith('--max-old-space-size='));
  const need = Math.ceil((OLD_SPACE_PER_10K * n) / 10_000);
  if (cap && Number(cap.split('=')[1]) >= need) return shipped;
  return [...shipped.filter((a) => a !== cap), `--max-old-space-size=${need}`];
};
const NODE_ARGS = nodeArgsFor(SCALE[0] ?? HELD);

/** `onLine` that also appends each line to `file`. */
function teeTo(file: string, onLine: (line: string) => void): (line: string) => void {
  return (line) => {
    appendFileSync(file, `${line}\n`);
    onLine(line);
  };
}
const say = (s: string): void => void process.stdout.write(`${s}\n`);
const procs: NodeProcess[] = [];
const hogs: Hog[] = [];
const trace = new PathTrace();
const load = (): string => `load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const t0 = Date.now();

/**
 * The controller's RSS sampled every 200 ms, the highest sample kept per phase (`phase` names the current one): where
 * the peak is reached. `pid` follows the controller across restarts.
 */
const rssPeaks = {
  phase: 'start',
  pid: 0,
  byPhase: new Map<string, number>(),
  timer: undefined as ReturnType<typeof setInterval> | undefined,
  start(): void {
    this.timer ??= setInterval(() => {
      const mb = memMb(this.pid);
      if (Number.isFinite(mb) && mb > (this.byPhase.get(this.phase) ?? 0)) this.byPhase.set(this.phase, mb);
    }, 200);
    this.timer.unref();
  },
  /** Starts a new phase (and a fresh maximum for it). */
  enter(phase: string, pid?: number): void {
    this.phase = phase;
    if (pid !== undefined) this.pid = pid;
    this.byPhase.delete(phase);
  },
  /** `phase max MB, …` for the phases seen since the last report, highest first; forgets them. */
  report(): string {
    const rows = [...this.byPhase].sort((a, b) => b[1] - a[1]);
    this.byPhase.clear();
    return rows.map(([p, mb]) => `${p} ${mb.toFixed(1)}`).join(', ');
  },
};

/**
 * Has the controller `pid` write a heap snapshot (SIGUSR2, --heapsnapshot-signal) into SNAP and renames it
 * `<label>.heapsnapshot` once its size holds for 2 s (minutes on a loaded machine). No-op without --heap-snapshot.
 */
async function heapSnapshot(pid: number, label: string): Promise<void> {
  if (!SNAP) return;
  const before = new Set(readdirSync(SNAP));
  process.kill(pid, 'SIGUSR2');
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const f = readdirSync(SNAP).find((x) => x.endsWith('.heapsnapshot') && !before.has(x));
    const now = f ? statSync(join(SNAP, f)).size : -1;
    if (f && now > 0 && now === size) {
      renameSync(join(SNAP, f), join(SNAP, `${label}.heapsnapshot`));
      say(`heap snapshot of the controller: ${join(SNAP, `${label}.heapsnapshot`)} (${(now / 1e6).toFixed(0)} MB)`);
      return;
    }
    size = now;
  }
  say(`heap snapshot ${label}: not complete after 10 min`);
}

/**
 * `RssAnon a, RssFile f MiB; peak P MB (10^6 bytes)`: what the RSS is made of (anonymous memory: heap, malloc; file
 * pages: mostly the node binary) and VmHWM in the unit issue 12's target uses (MB = 10^6 bytes; memMb gives MiB).
 */
function rssParts(pid: number): string {
  const kb = (f: string): number => {
    try {
      const m = new RegExp(`${f}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) : NaN;
    } catch {
      return NaN;
    }
  };
  return (
    `RssAnon ${(kb('RssAnon') / 1024).toFixed(1)} MiB, RssFile ${(kb('RssFile') / 1024).toFixed(1)} MiB; ` +
    `VmHWM ${((kb('VmHWM') * 1024) / 1e6).toFixed(1)} MB (10^6 bytes; issue 12: ≤ 100 MB at 10,000 including peaks)`
  );
}

/** RSS once it stops falling: V8's memory reducer hands back what a burst used after some idle seconds. */
async function steadyRssMb(pid: number): Promise<number> {
  let last = memMb(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = memMb(pid);
    if (i >= 11 && Math.abs(now - last) < 1) return now;
    last = now;
  }
  return last;
}

interface Svc {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

/** Applies a Namespace, retrying for up to a minute (a busy API server may time out), until it can be read back. */
async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 60; i++) {
    const r = await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    if (!r.ok) last = r.error.message;
    else if ((await client.get(Resources.namespaces, name)).ok) return;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`namespace ${name} could not be created: ${last || 'not readable after apply'}`);
}

/** Follows the Services of `namespace` with a raw watch and notes when each first shows an ingress IP. */
function ipWatcher(client: KubeClient, namespace: string, fromRv: string) {
  const seen = new Map<string, number>();
  let rv = fromRv;
  let stopped = false;
  let current: { abort(): void } | undefined;
  const waiters: Array<() => void> = [];
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const h = client.watch(Resources.services, { namespace, resourceVersion: rv, timeoutSeconds: 300 }, (e) => {
        const o = e.object as Svc;
        if (o?.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
        if (e.type === 'ADDED') trace.added(`${o.metadata?.namespace}/${o.metadata?.name}`, wallMs());
        if ((e.type === 'ADDED' || e.type === 'MODIFIED') && (o.status?.loadBalancer?.ingress?.length ?? 0) > 0) {
          const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
          if (!seen.has(key)) {
            seen.set(key, performance.now());
            trace.seen(key, wallMs());
            for (const w of waiters.splice(0)) w();
          }
        }
      });
      current = h;
      const end = await h.done;
      if (end.kind === 'error') await new Promise((r) => setTimeout(r, 50));
    }
  };
  void loop();
  return {
    seen,
    async waitCount(prefix: string, n: number, timeoutMs: number): Promise<number> {
      const end = Date.now() + timeoutMs;
      const count = () => [...seen.keys()].filter((k) => k.startsWith(prefix)).length;
      while (count() < n && Date.now() < end) await new Promise<void>((r) => (waiters.push(r), setTimeout(r, 500)));
      return count();
    },
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}

function service(namespace: string, name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'LoadBalancer',
      // 10,000 LoadBalancer Services exhaust the 2,768 node ports (30000-32767), on a real cluster too.
      allocateLoadBalancerNodePorts: false,
      ports: [{ port: 80, protocol: 'TCP' }],
    },
  };
}

/**
 * Creates Services; returns each one's start time (performance.now). With `rate`, create i starts at i/rate seconds
 * (open loop, at most 64 in flight); without, `conc` requests are kept in flight back to back.
 */
async function createServices(
  client: KubeClient,
  namespace: string,
  prefix: string,
  n: number,
  pace: { conc: number; rate?: number },
): Promise<Map<string, number>> {
  const started = new Map<string, number>();
  const begin = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      if (pace.rate) {
        const at = begin + (i * 1000) / pace.rate;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const name = `${prefix}-${i}`;
      const key = `${namespace}/${name}`;
      started.set(key, performance.now());
      trace.send(key, wallMs());
      let r = await client.create(Resources.services, service(namespace, name), { namespace });
      trace.reply(key, wallMs());
      // A busy API server may time out a create that went through: retried (AlreadyExists is then success).
      for (let a = 0; !r.ok && r.error.kind !== 'AlreadyExists' && a < 5; a++) {
        await new Promise((res) => setTimeout(res, 1000));
        r = await client.create(Resources.services, service(namespace, name), { namespace });
      }
      if (!r.ok && r.error.kind !== 'AlreadyExists') throw new Error(`create ${namespace}/${name}: ${r.error.message}`);
    }
  };
  await Promise.all(Array.from({ length: pace.rate ? 64 : pace.conc }, worker));
  return started;
}

/**
 * Time-to-IP of `n` Services created at RATE per second in `namespace` (after a warm-up of WARM at that rate), with one CPU hog
 * running when `withHog`. Prints the quantiles, each process's CPU per Service and where the time went; returns the
 * latencies (ms).
 */
async function latencyRun(
  client: KubeClient,
  label: string,
  namespace: string,
  n: number,
  pids: Readonly<Record<string, number>>,
  withHog = false,
): Promise<number[]> {
  await ensureNamespace(client, namespace);
  rssPeaks.enter(`time-to-IP ${namespace}`);
  const list = await client.list(Resources.services, { namespace, limit: 1 });
  const w = ipWatcher(client, namespace, list.ok ? (list.value.metadata.resourceVersion ?? '0') : '0');
  // Warm-up (JIT, connection pools, V8's heap sizing) outside the measurement, at the measured rate; the timed creates
  // start once every warm-up Service shows its IP (no backlog carried into the measurement).
  await createServices(client, namespace, 'warm', WARM, { conc: 4, rate: RATE });
  await w.waitCount(`${namespace}/warm-`, WARM, 120_000);
  await new Promise((r) => setTimeout(r, 1000));
  // The controller writes Events one at a time after the IPs: under a CPU shortage they can lag the IPs by seconds and
  // would spill into this run's window (and its CPU figures). Wait until its writes stop.
  const settled = await writesSettled(client, 'berth-controller');
  if (settled > 1500) say(`    (waited ${(settled / 1000).toFixed(1)} s for the controller's writes of earlier creates to stop)`);
  trace.clear();
  trace.prefix = `${namespace}/lat-`;
  let hog: Hog | undefined;
  if (withHog) {
    // Bounded: the creates plus the wait for the last IP, then it ends by itself (and is killed by pid below).
    hog = startHog((n / RATE) * 1000 + 150_000);
    hogs.push(hog);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const meter = cpuMeter({ ...pids, bench: process.pid, ...(hog ? { hog: hog.pid } : {}) });
  const requestsBefore = await labRequests(client);
  const loadBefore = load();
  const began = performance.now();
  const started = await createServices(client, namespace, 'lat', n, { conc: 4, rate: RATE });
  const createdIn = performance.now() - began;
  const got = await w.waitCount(`${namespace}/lat-`, n, 120_000);
  const cpu = meter.stop();
  const requestsAfter = await labRequests(client);
  await hog?.stop();
  w.stop();
  await trace.settle();
  trace.prefix = undefined;
  const lat: number[] = [];
  for (const [k, t] of started) {
    const s = w.seen.get(k);
    if (s !== undefined) lat.push(s - t);
  }
  say(
    `${label.padEnd(40)} n=${got}/${n}  ${quantiles(lat)}  ` +
      `(${(n / (createdIn / 1000)).toFixed(0)} creates/s offered ${RATE}/s; before: ${loadBefore}, after: ${load()})`,
  );
  say(
    `    CPU per Service: ${Object.entries(cpu)
      .map(([k, ms]) => `${k} ${(ms / n).toFixed(2)} ms`)
      .join(', ')} (over ${(createdIn / 1000).toFixed(1)} s of creates and the wait for the last IP)`,
  );
  for (const l of requestLines(requestsBefore, requestsAfter, n)) say(l);
  for (const l of trace.report()) say(l);
  return lat;
}

/**
 * Waits (up to 60 s) until the lab has counted no request from clients named `ua` for 1 s; returns the ms waited.
 * A lab without request counts answers at once.
 */
async function writesSettled(client: KubeClient, ua: string): Promise<number> {
  const t0 = performance.now();
  const total = async () => {
    let n = 0;
    for (const [k, v] of await labRequests(client)) if (k.startsWith(`${ua}\u0000`) && !k.includes('leases')) n += v;
    return n;
  };
  let last = await total();
  let since = performance.now();
  while (performance.now() - since < 1000 && performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await total();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
  }
  return performance.now() - t0;
}

/** The lab's request counts by `userAgent\0kind` (src/lab/server.ts REQUEST_COUNTS_PATH); empty if it has none. */
async function labRequests(client: KubeClient): Promise<Map<string, number>> {
  const r = await client.transport.request<Array<[string, string, number]>>('GET', REQUEST_COUNTS_PATH);
  return new Map(r.ok && Array.isArray(r.value) ? r.value.map(([ua, kind, n]) => [`${ua}\u0000${kind}`, n]) : []);
}

/** API requests per Service between two readings, by client (User-Agent) and kind, busiest first. */
function requestLines(before: Map<string, number>, after: Map<string, number>, n: number): string[] {
  const byUa = new Map<string, Array<[string, number]>>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d <= 0) continue;
    const [ua = '', kind = ''] = k.split('\u0000');
    const client = ua.replace(/\/.*$/, '') || '(none)';
    byUa.set(client, [...(byUa.get(client) ?? []), [kind, d]]);
  }
  const lines: string[] = [];
  for (const [ua, kinds] of [...byUa].sort((a, b) => b[1].reduce((s, x) => s + x[1], 0) - a[1].reduce((s, x) => s + x[1], 0))) {
    const total = kinds.reduce((s, x) => s + x[1], 0);
    kinds.sort((a, b) => b[1] - a[1]);
    lines.push(`    API requests per Service, ${ua}: ${(total / n).toFixed(2)} (${kinds.map(([k, d]) => `${k} ${(d / n).toFixed(2)}`).join(', ')})`);
  }
  return lines;
}

async function servicesIPs(client: KubeClient): Promise<Map<string, string>> {
  const r = await client.list<Svc>(Resources.services);
  if (!r.ok) throw new Error(r.error.message);
  const m = new Map<string, string>();
  for (const s of r.value.items) {
    const ip = s.status?.loadBalancer?.ingress?.[0]?.ip;
    if (ip) m.set(`${s.metadata?.namespace}/${s.metadata?.name}`, ip);
  }
  return m;
}

/** The controller as one ESM file (client-node stays external: imported lazily, only for exec-plugin auth). */
async function buildBundle(): Promise<string | undefined> {
  // esbuild comes with tsx (not a direct dependency): import it by a computed name so type-checking never needs it.
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    const name = 'esbuild';
    esbuild = (await import(name)) as typeof esbuild;
  } catch {
    say('esbuild not found: running the controller through tsx');
    return undefined;
  }
  const out = join(dir, 'controller.mjs');
  await esbuild.build({
    entryPoints: [join(REPO, 'src/controller/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    external: ['@kubernetes/client-node'],
    banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return out;
}

/** The image's bundle (image/bundle.ts, as `tsx image/build.ts --bundle-only` writes it) in the bench's folder. */
async function buildImageBundle(): Promise<string> {
  // Imported when asked for only: image/ is another area's, and this keeps the other runtimes independent of it.
  const { bundle } = (await import('../image/bundle.ts')) as { bundle(o: { outfile?: string }): Promise<{ outfile: string; bytes: number }> };
  const b = await bundle({ outfile: join(dir, 'image', 'berth.mjs') });
  return b.outfile;
}

interface Ctl {
  proc: ControllerProcess;
  readonly args: readonly string[];
  opts: NonNullable<Parameters<typeof startControllerProcess>[1]>;
}

/** Creates `n` more Services named `<prefix>-i` in bench-held (16 in flight) and waits until each shows an IP. */
async function fill(client: KubeClient, prefix: string, n: number): Promise<{ got: number; seconds: number }> {
  const fillStart = performance.now();
  rssPeaks.enter('fill');
  await ensureNamespace(client, 'bench-held');
  const list = await client.list(Resources.services, { namespace: 'bench-held', limit: 1 });
  const w = ipWatcher(client, 'bench-held', list.ok ? (list.value.metadata.resourceVersion ?? '0') : '0');
  await createServices(client, 'bench-held', prefix, n, { conc: 16 });
  const got = await w.waitCount(`bench-held/${prefix}-`, n, 120_000 + n * 20);
  w.stop();
  return { got, seconds: (performance.now() - fillStart) / 1000 };
}

/** Stops the controller and starts it again (same replica id): prints the rebuild time and the IPs moved (must be 0). */
async function restart(client: KubeClient, ctl: Ctl): Promise<void> {
  const before = await servicesIPs(client);
  await ctl.proc.stop();
  const spawnAt = Date.now();
  ctl.proc = await startControllerProcess(ctl.args, ctl.opts);
  procs.push(ctl.proc);
  rssPeaks.enter('restart', ctl.proc.pid);
  const loaded = await ctl.proc.waitFor(/caches synced and state loaded in (\d+) ms/, 120_000);
  const pass = await ctl.proc.waitFor(/initial reconcile of (\d+) services done in (\d+) ms \(([^)]*)\)/, 300_000);
  const total = Date.now() - spawnAt;
  // CPU time is what a restart costs whatever else runs (wall times stretch with the machine's load).
  const cpu = cpuMs(ctl.proc.pid);
  const peak = memMb(ctl.proc.pid, 'VmHWM');
  const after = await servicesIPs(client);
  let moved = 0;
  for (const [k, ip] of before) if (after.get(k) !== ip) moved++;
  say(
    `restart: state rebuilt from ${before.size} Services in ${(Number(loaded[1]) + Number(pass[2])).toFixed(0)} ms ` +
      `(list + claims into allocator ${loaded[1]} ms, reconcile pass over ${pass[1]} ${pass[2]} ms; ` +
      `process spawn to done ${total} ms incl. process start, controller CPU ${cpu.toFixed(0)} ms) — target ≤ 2000 ms at 10,000; ` +
      `IPs moved: ${moved}; ${load()}`,
  );
  rssPeaks.enter('steady wait after restart');
  const steady = await steadyRssMb(ctl.proc.pid);
  say(`controller after restart: ${pass[3]}; RSS peak ${peak.toFixed(1)} MB (VmHWM), steady ${steady.toFixed(1)} MB`);
  say(`    highest RSS sample per phase (MiB, every 200 ms): ${rssPeaks.report()}; ${rssParts(ctl.proc.pid)}`);
  await heapSnapshot(ctl.proc.pid, `restart-${before.size}`);
}

async function main(): Promise<void> {
  if (SNAP) mkdirSync(SNAP, { recursive: true });
  const bundle = RUNTIME === 'bundle' ? await buildBundle() : RUNTIME === 'image' ? await buildImageBundle() : undefined;
  const runtime =
    RUNTIME === 'image'
      ? 'the image bundle (image/bundle.ts, `berth.mjs controller`), plain node'
      : bundle
        ? 'bundled (esbuild of src/controller/main.ts), plain node'
        : 'through tsx';
  say(
    `bench:controller — lab, webhook and controller as separate processes; ` +
      `${SCALE.length ? `scale ${SCALE.join(',')} (${SCALE_LAT} timed each)` : `${HELD} held`}, ${LAT} timed at ${RATE}/s` +
      `${HOG ? ', with and without a CPU hog' : ''}; node ${process.version}; ` +
      `controller ${runtime}${NODE_ARGS.length ? ` ${NODE_ARGS.join(' ')}` : ''}; ` +
      `${cpus().length} CPUs, ${load()}`,
  );
  const lab = spawnNode(LAB_MAIN, ['--dir', join(dir, 'lab'), '--port', '0'], { nodeArgs: prof('lab') });
  procs.push(lab);
  const m = await lab.waitFor(/lab: serving (\S+) kubeconfig=(\S+)/, 60_000);
  const kubeconfig = m[2]!;
  const conn = await connect({ kubeconfig, component: 'bench', maxSockets: 64 });
  if (!conn.ok) throw new Error(conn.message);
  const client = conn.kube.client;
  for (const o of repoObjects('gitops/base/crds')) await applyObject(client, o);
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LAB_NAMESPACE } });
  // One pool big enough for everything (bench < default by name: tried first): a /16 (65,536) unless more is needed.
  const needed = Math.max(HELD, ...SCALE) + 3 * (LAT + WARM) + SCALE.length * (SCALE_LAT + WARM) + 1000;
  await applyObject(client, {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'bench', namespace: LAB_NAMESPACE },
    spec: { addresses: [needed > 65_000 ? '10.128.0.0/14' : '10.128.0.0/16'] },
  });
  const webhookConfigs = repoObjects('policies/webhooks');
  for (const o of webhookConfigs) await applyObject(client, o);
  const webhook = spawnNode(
    join(REPO, 'src/webhook/main.ts'),
    ['--kubeconfig', kubeconfig, '--namespace', LAB_NAMESPACE, '--host', '127.0.0.1', '--port', '0'],
    { onLine: trace.webhookLine, nodeArgs: prof('webhook') },
  );
  procs.push(webhook);
  const wp = Number((await webhook.waitFor(/webhook: listening on https:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);
  await applyObject(client, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'berth-webhook-service', namespace: LAB_NAMESPACE },
    spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: wp }] },
  });
  await applyObject(client, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'berth-webhook-service-bench', namespace: LAB_NAMESPACE, labels: { 'kubernetes.io/service-name': 'berth-webhook-service' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: 'https', port: wp, protocol: 'TCP' }],
  });
  await webhook.waitFor(/webhook: ready /, 60_000);
  const ctlArgs = [...(RUNTIME === 'image' ? ['controller'] : []), '--kubeconfig', kubeconfig, '--namespace', LAB_NAMESPACE, '--metrics-port', '0', '--replica-id', 'bench-ctl'];
  // glibc's per-thread malloc arenas hold on to freed buffers (the 10,000-item lists): two arenas are plenty here.
  // (The Deployment's value, as shipped; the environment may override it.)
  const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? DEPLOYMENT_ENV.get('MALLOC_ARENA_MAX') ?? '2' };
  const ctlOpts = {
    timeoutMs: 120_000,
    nodeArgs: [...NODE_ARGS, ...prof('controller'), ...snapArgs()],
    env,
    onLine: flags['controller-log'] ? teeTo(flags['controller-log'], trace.controllerLine) : trace.controllerLine,
    ...(bundle ? { script: bundle, tsx: false } : {}),
  };
  const ctl: Ctl = { proc: await startControllerProcess(ctlArgs, ctlOpts), args: ctlArgs, opts: ctlOpts };
  procs.push(ctl.proc);
  await ctl.proc.waitFor(/is leading/, 30_000);
  rssPeaks.enter('setup', ctl.proc.pid);
  rssPeaks.start();
  say(`setup ${((Date.now() - t0) / 1000).toFixed(1)} s (lab pid ${lab.pid}, webhook pid ${webhook.pid}, controller pid ${ctl.proc.pid})`);
  const pids = (): Record<string, number> => ({ lab: lab.pid, webhook: webhook.pid, controller: ctl.proc.pid });
  say('');
  say('time-to-IP (create → status.loadBalancer.ingress seen by a watch):');
  const ref = await latencyRun(client, '  webhook at admission + controller', 'bench-webhook', LAT, pids());
  if (HOG) {
    const hogged = await latencyRun(client, '  same, with one CPU hog running', 'bench-hog', LAT, pids(), true);
    const q = (v: number[], p: number) => {
      const s = [...v].sort((a, b) => a - b);
      return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] ?? NaN;
    };
    const ratio = (p: number) => `${(q(hogged, p) / q(ref, p)).toFixed(2)}x`;
    say(
      `  with hog / without (same run): p50 ${ratio(0.5)}  p90 ${ratio(0.9)}  p99 ${ratio(0.99)}  max ${ratio(1)}  ` +
        `— target p99 ≤ 50 ms with the hog (${q(hogged, 0.99).toFixed(1)} ms)`,
    );
  }

  if (SCALE.length > 0) {
    say('');
    say('scale curve (fill through the webhook; time-to-IP of the last creates at that size; then a restart):');
    for (const n of SCALE) {
      const args = [...nodeArgsFor(n), ...prof('controller'), ...snapArgs()];
      if (args.join(' ') !== (ctl.opts.nodeArgs ?? []).join(' ')) {
        // Sized for n (as a Deployment would be): restart before the fill (not measured).
        ctl.opts = { ...ctl.opts, nodeArgs: args };
        await ctl.proc.stop();
        ctl.proc = await startControllerProcess(ctl.args, ctl.opts);
        procs.push(ctl.proc);
        rssPeaks.enter(`restart sized for ${n}`, ctl.proc.pid);
        await ctl.proc.waitFor(/initial reconcile of (\d+) services done/, 300_000);
      }
      const have = (await servicesIPs(client)).size;
      const more = Math.max(0, n - have - (SCALE_LAT + WARM));
      const f = await fill(client, `s${n}`, more);
      say('');
      say(`${n} Services (controller ${args.join(' ')}): filled ${f.got}/${more} more in ${f.seconds.toFixed(1)} s (${(more / f.seconds).toFixed(0)} creates/s with IPs; ${load()})`);
      await latencyRun(client, `  time-to-IP at ${n}`, `bench-scale-${n}`, SCALE_LAT, pids());
      const held = (await servicesIPs(client)).size;
      const peak = memMb(ctl.proc.pid, 'VmHWM');
      rssPeaks.enter('steady wait');
      const rss = await steadyRssMb(ctl.proc.pid);
      say(
        `controller RSS with ${held} Services held: ${rss.toFixed(1)} MB steady, ${peak.toFixed(1)} MB peak (VmHWM since its start) ` +
          `— target ≤ 100 MB at 10,000 including peaks; ${load()}`,
      );
      say(`    highest RSS sample per phase (MiB, every 200 ms): ${rssPeaks.report()}; ${rssParts(ctl.proc.pid)}`);
      await heapSnapshot(ctl.proc.pid, `fill-${held}`);
      await restart(client, ctl);
    }
    conn.kube.close();
    return;
  }

  // Controller-only: without the webhook configurations nothing is assigned at admission.
  for (const o of webhookConfigs) {
    const r = o.kind === 'MutatingWebhookConfiguration' ? Resources.mutatingWebhookConfigurations : Resources.validatingWebhookConfigurations;
    await client.delete(r, o.metadata?.name ?? '');
  }
  await webhook.stop();
  await latencyRun(client, '  controller fallback only', 'bench-fallback', LAT, pids());

  // Fill up to HELD LoadBalancer Services.
  const have = (await servicesIPs(client)).size;
  const f = await fill(client, 'held', Math.max(0, HELD - have));
  const held = (await servicesIPs(client)).size;
  say('');
  say(`filled to ${held} Services with an IP in ${f.seconds.toFixed(1)} s (controller fallback path)`);
  const peak = memMb(ctl.proc.pid, 'VmHWM');
  rssPeaks.enter('steady wait');
  const rss = await steadyRssMb(ctl.proc.pid);
  say(
    `controller RSS with ${held} Services held: ${rss.toFixed(1)} MB steady, ${peak.toFixed(1)} MB peak (VmHWM) ` +
      `— target ≤ 100 MB${bundle ? '' : "; includes tsx's loader thread"}; ${load()}`,
  );
  say(`    highest RSS sample per phase (MiB, every 200 ms): ${rssPeaks.report()}; ${rssParts(ctl.proc.pid)}`);
  await heapSnapshot(ctl.proc.pid, `fill-${held}`);
  await restart(client, ctl);
  conn.kube.close();
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    // Children and hogs are stopped by pid, then this process ends.
    void Promise.all([...hogs.map((h) => h.stop()), ...procs.map((p) => p.stop())]).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench:controller failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all([...hogs.map((h) => h.stop()), ...procs.map((p) => p.stop())]);
    rmSync(dir, { recursive: true, force: true });
    if (PROF) {
      for (const name of ['lab', 'webhook', 'controller']) {
        let files: string[] = [];
        try {
          files = readdirSync(join(PROF, name)).filter((f) => f.endsWith('.cpuprofile'));
        } catch {
          // not started
        }
        for (const f of files) {
          say('');
          say(`${name} CPU profile ${join(PROF, name, f)}:`);
          for (const l of profileLines(join(PROF, name, f))) say(l);
        }
      }
    }
    say(`total ${((Date.now() - t0) / 1000).toFixed(1)} s; ${load()}`);
    // A failed run may leave a watch loop retrying against the stopped lab: end here, children are stopped.
    process.exit();
  });
