// npm run bench:controller — the controller against the lab API server, each in its own process (as in a cluster):
//   1. time-to-IP (Service create → status.loadBalancer.ingress seen by a watch), p50/p99 over N Services
//      (default 1,000), with the webhook assigning at admission, then with the controller's fallback path only;
//   2. the controller's RSS with 10,000 LoadBalancer Services held;
//   3. a restarted controller: time to rebuild its state from 10,000 Services and their claims, and IPs moved (must be 0).
// Flags: --services N (held, default 10000)  --latency N (default 1000)  --rate N (timed creates per second, default
//        100: the same offered load for both paths, so the figures compare processing, not queueing)
//        --runtime bundle|tsx: run the controller as one esbuild bundle with plain node (default; what a container
//        image runs) or through tsx as `npm start` does (tsx's loader thread alone costs ~35 MB of RSS)
//        --node-args "...": node flags for the controller (default: a small young generation and a 96 MB old-space cap,
//        the memory settings a Deployment would pass in NODE_OPTIONS; "" for node's defaults)
//        --lab-main PATH: another build of the lab's main.ts (to compare lab versions)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LAB_NAMESPACE, repoObjects } from '../src/cli/lab.ts';
import { spawnNode, startControllerProcess, type ControllerProcess, type NodeProcess } from '../src/lab/processes.ts';
import { applyObject } from '../src/kube/apply.ts';
import type { KubeClient, KubeObject } from '../src/kube/client.ts';
import { connect } from '../src/kube/connect.ts';
import { Resources } from '../src/kube/resources.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    services: { type: 'string' },
    latency: { type: 'string' },
    rate: { type: 'string' },
    runtime: { type: 'string' },
    'node-args': { type: 'string' },
    'lab-main': { type: 'string' },
  },
});
const HELD = Number(flags.services ?? 10_000);
const LAT = Number(flags.latency ?? 1_000);
const RATE = Number(flags.rate ?? 100);
const RUNTIME = flags.runtime ?? 'bundle';
const NODE_ARGS = (flags['node-args'] ?? '--max-semi-space-size=1 --max-old-space-size=96').split(' ').filter((a) => a !== '');
const LAB_MAIN = flags['lab-main'] ?? join(REPO, 'src/lab/main.ts');

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const procs: NodeProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const t0 = Date.now();

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? NaN;
}

/** RSS once it stops falling: V8's memory reducer hands back what a burst used after some idle seconds. */
async function steadyRssMb(pid: number): Promise<number> {
  let last = rssMb(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 2000));
    const now = rssMb(pid);
    if (i >= 11 && Math.abs(now - last) < 1) return now;
    last = now;
  }
  return last;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Svc {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

/** Follows Services with a raw watch and notes when each first shows an ingress IP. */
function ipWatcher(client: KubeClient, fromRv: string) {
  const seen = new Map<string, number>();
  let rv = fromRv;
  let stopped = false;
  let current: { abort(): void } | undefined;
  const waiters: Array<() => void> = [];
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const h = client.watch(Resources.services, { resourceVersion: rv, timeoutSeconds: 300 }, (e) => {
        const o = e.object as Svc;
        if (o?.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
        if ((e.type === 'ADDED' || e.type === 'MODIFIED') && (o.status?.loadBalancer?.ingress?.length ?? 0) > 0) {
          const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
          if (!seen.has(key)) {
            seen.set(key, performance.now());
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
      started.set(`${namespace}/${name}`, performance.now());
      const r = await client.create(Resources.services, service(namespace, name), { namespace });
      if (!r.ok) throw new Error(`create ${namespace}/${name}: ${r.error.message}`);
    }
  };
  await Promise.all(Array.from({ length: pace.rate ? 64 : pace.conc }, worker));
  return started;
}

async function latencyRun(client: KubeClient, label: string, namespace: string): Promise<void> {
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  // Warm-up (JIT, connection pools) outside the measurement.
  await createServices(client, namespace, 'warm', 50, { conc: 4 });
  const list = await client.list(Resources.services, { namespace, limit: 1 });
  const w = ipWatcher(client, list.ok ? (list.value.metadata.resourceVersion ?? '0') : '0');
  const began = performance.now();
  const started = await createServices(client, namespace, 'lat', LAT, { conc: 4, rate: RATE });
  const createdIn = performance.now() - began;
  const got = await w.waitCount(`${namespace}/lat-`, LAT, 120_000);
  w.stop();
  const lat: number[] = [];
  for (const [k, t] of started) {
    const s = w.seen.get(k);
    if (s !== undefined) lat.push(s - t);
  }
  lat.sort((a, b) => a - b);
  say(
    `${label.padEnd(34)} n=${got}/${LAT}  p50 ${pct(lat, 0.5).toFixed(1)} ms  p99 ${pct(lat, 0.99).toFixed(1)} ms  ` +
      `max ${pct(lat, 1).toFixed(1)} ms  (${(LAT / (createdIn / 1000)).toFixed(0)} creates/s offered ${RATE}/s)`,
  );
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

async function main(): Promise<void> {
  const bundle = RUNTIME === 'bundle' ? await buildBundle() : undefined;
  say(
    `bench:controller — lab, webhook and controller as separate processes; ${HELD} held, ${LAT} timed, node ${process.version}; ` +
      `controller ${bundle ? 'bundled (esbuild), plain node' : 'through tsx'}${NODE_ARGS.length ? ` ${NODE_ARGS.join(' ')}` : ''}`,
  );
  const lab = spawnNode(LAB_MAIN, ['--dir', join(dir, 'lab'), '--port', '0']);
  procs.push(lab);
  const m = await lab.waitFor(/lab: serving (\S+) kubeconfig=(\S+)/, 60_000);
  const kubeconfig = m[2]!;
  const conn = await connect({ kubeconfig, component: 'bench', maxSockets: 64 });
  if (!conn.ok) throw new Error(conn.message);
  const client = conn.kube.client;
  for (const o of repoObjects('gitops/base/crds')) await applyObject(client, o);
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: LAB_NAMESPACE } });
  // One pool big enough for everything (bench < default by name: tried first).
  await applyObject(client, {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'bench', namespace: LAB_NAMESPACE },
    spec: { addresses: ['10.128.0.0/16'] },
  });
  const webhookConfigs = repoObjects('policies/webhooks');
  for (const o of webhookConfigs) await applyObject(client, o);
  const webhook = spawnNode(join(REPO, 'src/webhook/main.ts'), ['--kubeconfig', kubeconfig, '--namespace', LAB_NAMESPACE, '--host', '127.0.0.1', '--port', '0']);
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
  const ctlArgs = ['--kubeconfig', kubeconfig, '--namespace', LAB_NAMESPACE, '--metrics-port', '0', '--replica-id', 'bench-ctl'];
  // glibc's per-thread malloc arenas hold on to freed buffers (the 10,000-item lists): two arenas are plenty here.
  const env = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };
  const ctlOpts = { timeoutMs: 60_000, nodeArgs: NODE_ARGS, env, ...(bundle ? { script: bundle, tsx: false } : {}) };
  let ctl: ControllerProcess = await startControllerProcess(ctlArgs, ctlOpts);
  procs.push(ctl);
  await ctl.waitFor(/is leading/, 30_000);
  say(`setup ${((Date.now() - t0) / 1000).toFixed(1)} s (lab pid ${lab.pid}, webhook pid ${webhook.pid}, controller pid ${ctl.pid})`);
  say('');
  say('time-to-IP (create → status.loadBalancer.ingress seen by a watch):');
  await latencyRun(client, '  webhook at admission + controller', 'bench-webhook');
  // Controller-only: without the webhook configurations nothing is assigned at admission.
  for (const o of webhookConfigs) {
    const r = o.kind === 'MutatingWebhookConfiguration' ? Resources.mutatingWebhookConfigurations : Resources.validatingWebhookConfigurations;
    await client.delete(r, o.metadata?.name ?? '');
  }
  await webhook.stop();
  await latencyRun(client, '  controller fallback only', 'bench-fallback');

  // Fill up to HELD LoadBalancer Services.
  const have = (await servicesIPs(client)).size;
  const fill = Math.max(0, HELD - have);
  const fillStart = performance.now();
  await applyObject(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench-held' } });
  await createServices(client, 'bench-held', 'held', fill, { conc: 16 });
  let held = 0;
  for (let i = 0; i < 600 && held < HELD; i++) {
    held = (await servicesIPs(client)).size;
    if (held < HELD) await new Promise((r) => setTimeout(r, 500));
  }
  say('');
  say(`filled to ${held} Services with an IP in ${((performance.now() - fillStart) / 1000).toFixed(1)} s (controller fallback path)`);
  const peak = rssMb(ctl.pid);
  const rss = await steadyRssMb(ctl.pid);
  say(
    `controller RSS with ${held} Services held: ${rss.toFixed(1)} MB steady (${peak.toFixed(1)} MB right after the fill) ` +
      `— target ≤ 100 MB${bundle ? '' : "; includes tsx's loader thread"}`,
  );

  // Restart: same replica id; the old one releases its Lease on SIGTERM.
  const before = await servicesIPs(client);
  await ctl.stop();
  const spawnAt = Date.now();
  ctl = await startControllerProcess(ctlArgs, ctlOpts);
  procs.push(ctl);
  const loaded = await ctl.waitFor(/caches synced and state loaded in (\d+) ms/, 60_000);
  const pass = await ctl.waitFor(/initial reconcile of (\d+) services done in (\d+) ms \(([^)]*)\)/, 120_000);
  const total = Date.now() - spawnAt;
  const after = await servicesIPs(client);
  let moved = 0;
  for (const [k, ip] of before) if (after.get(k) !== ip) moved++;
  say(
    `restart: state rebuilt from ${before.size} Services in ${(Number(loaded[1]) + Number(pass[2])).toFixed(0)} ms ` +
      `(list + claims into allocator ${loaded[1]} ms, reconcile pass over ${pass[1]} ${pass[2]} ms; ` +
      `process spawn to done ${total} ms incl. process start) — target ≤ 2000 ms; IPs moved: ${moved}`,
  );
  say(`controller after restart: ${pass[3]}; RSS steady ${(await steadyRssMb(ctl.pid)).toFixed(1)} MB`);
  conn.kube.close();
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench:controller failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
    say(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
