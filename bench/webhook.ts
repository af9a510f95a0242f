// npm run bench:webhook — AdmissionReview load over HTTPS against berth's webhook, with 10,000 IPs already held.
// Prints figures, never asserts them. Targets (issue 4): p99 ≤ 2 ms and ≥ 2,000 reviews/s on a 2-core machine.
//
// The webhook runs in a child process (its own event loop and core, like a real replica; autocannon runs here).
//  1. memory: claims in a MemoryClaimStore (the pure HTTP + admission figure).
//  2. lab:    claims in the lab API server (a separate process), through KubeClaimStore and the claim informer.
// Workloads, each for DURATION seconds:
//  - mutate:   CREATE of a new LoadBalancer Service per request (unique names: a new IP and claim each time);
//  - validate: CREATE of a Service whose berth.io/assigned-ips names the IP it holds (pool, sharing and claim checks).
// Each at 1 and 4 connections (latency), and 16 (saturation). Where the time goes: the server's handler-time
// histogram (decode → reply, excluding TLS and HTTP parsing), and a --cpu-prof of the memory run summarised by area.
// Flags: --duration S (default 8), --held N (default 10000), --only memory|lab.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error autocannon ships no types (and @types/autocannon is not installed)
import autocannon from 'autocannon';
import { Registry } from 'prom-client';
import type { ServiceRequest } from '../src/allocator/types.ts';
import { svc } from '../src/allocator/testing.ts';
import { claimFor } from '../src/claims/claim-step.ts';
import { feedAllocator } from '../src/claims/allocator-sync.ts';
import { buildApp } from '../src/webhook/app.ts';
import { webhookMetrics } from '../src/webhook/metrics.ts';
import { serve } from '../src/webhook/server.ts';
import { createCa, issueServing, servingNames } from '../src/webhook/tls.ts';
import { ipAddressPool, memoryWorld, reviewFor, service } from '../src/webhook/testing.ts';
import { repoPath, yamlFilesIn, yamlObjects } from '../src/webhook/testing-process.ts';

const SELF = fileURLToPath(import.meta.url);
const NS = 'metallb-system';
const POOL = '10.64.0.0/14'; // 262,144 addresses: room for the held IPs and every mutate request

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}

const req = (name: string): ServiceRequest => svc(`held/${name}`);

// ---------------------------------------------------------------- server role (child process)

async function runServer(): Promise<void> {
  const mode = arg('mode', 'memory');
  const held = Number(arg('held', '10000'));
  const world = memoryWorld({ objects: [ipAddressPool(NS, 'bench', [POOL])] });
  let deps = world.deps;
  let close = async () => undefined as void;
  const t0 = performance.now();
  if (mode === 'lab') {
    const { connect } = await import('../src/kube/connect.ts');
    const { KubeClaimCache, KubeClaimStore } = await import('../src/kube/claims.ts');
    const conn = await connect({ kubeconfig: arg('kubeconfig', ''), component: 'bench-webhook', maxSockets: 64 });
    if (!conn.ok) throw new Error(conn.message);
    const store = new KubeClaimStore(conn.kube.client);
    const cache = new KubeClaimCache(conn.kube.client);
    await cache.start();
    world.stop();
    feedAllocator(world.allocator, cache);
    deps = { ...deps, service: { ...deps.service, store, claims: cache } };
    close = async () => {
      await cache.stop();
      conn.kube.close();
    };
  }
  // Hold `held` IPs through the real claim step (64 at a time).
  const step = { store: deps.service.store, allocator: deps.service.allocator };
  for (let i = 0; i < held; i += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, held - i) }, (_, j) => claimFor(step, `held/s${i + j}`, req(`s${i + j}`), { dryRun: false })),
    );
  }
  const setupMs = performance.now() - t0;
  const registry = new Registry();
  const app = buildApp({ ...deps, registry, metrics: webhookMetrics(registry) });
  const ca = await createCa(new Date());
  const cert = await issueServing(ca, servingNames('berth-webhook-service', NS), new Date());
  const server = await serve(app, { host: '127.0.0.1', port: 0, cert });
  process.stdout.write(
    JSON.stringify({ port: server.port, caPem: cert.caPem, setupMs, held: world.allocator.stats()[0]?.ipv4InUse }) + '\n',
  );
  const stop = async () => {
    await server.close();
    await close();
    world.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

// ---------------------------------------------------------------- load role (this process)

interface Started {
  child: ChildProcess;
  port: number;
  caPem: string;
  setupMs: number;
  held: number;
}

function startServer(args: string[], nodeArgs: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', SELF, '--role', 'server', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ child, ...(JSON.parse(buf.slice(0, nl)) as Omit<Started, 'child'>) });
    });
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  mismatches: number;
}

let seq = 0;

/** `body` with every `@ID@` replaced by a fresh number per request (autocannon's idReplacement miscounts lengths). */
async function load(s: Started, path: string, body: string, connections: number, seconds: number): Promise<Figures> {
  const parts = body.split('@ID@');
  const r = await autocannon({
    url: `https://127.0.0.1:${s.port}`,
    connections,
    duration: seconds,
    servername: 'berth-webhook-service.metallb-system.svc',
    tlsOptions: { ca: s.caPem },
    requests: [
      {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
        body,
        ...(parts.length > 1 ? { setupRequest: (r: Record<string, unknown>) => ({ ...r, body: parts.join(String(++seq)) }) } : {}),
      },
    ],
    // Every answer must be an allowed review (a denial or an error would flatter the figures).
    verifyBody: (b: string) => b.includes('"allowed":true'),
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
    mismatches: (r as unknown as { mismatches?: number }).mismatches ?? 0,
  };
}

async function handlerTimes(s: Started): Promise<Map<string, { count: number; sum: number }>> {
  const https = await import('node:https');
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: s.port, path: '/metrics', ca: s.caPem, servername: 'berth-webhook-service.metallb-system.svc' }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      })
      .on('error', reject);
  });
  const out = new Map<string, { count: number; sum: number }>();
  for (const m of text.matchAll(/berth_webhook_request_duration_seconds_(sum|count)\{webhook="([^"]+)"\} ([\d.e+-]+)/g)) {
    const e = out.get(m[2]!) ?? { count: 0, sum: 0 };
    if (m[1] === 'sum') e.sum = Number(m[3]);
    else e.count = Number(m[3]);
    out.set(m[2]!, e);
  }
  return out;
}

/** Self time of a .cpuprofile summed by area of the code. */
function profileSummary(file: string): Array<[string, number]> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const area = (id: number): string => {
    const n = byId.get(id);
    if (!n) return 'other';
    const { url, functionName: fn } = n.callFrame;
    if (fn === '(idle)') return 'idle';
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)') return 'V8/native (program)';
    if (url.includes('/src/allocator/')) return 'berth allocator';
    if (url.includes('/src/claims/')) return 'berth claim step + memory store';
    if (url.includes('/src/webhook/') || url.includes('/src/config/')) return 'berth webhook handlers';
    if (/node_modules\/(express|router|body-parser|raw-body|iconv-lite|type-is|content-type|finalhandler|send|on-finished|qs|mime|accepts|negotiator)/.test(url)) {
      return 'express + body-parser';
    }
    if (url.includes('prom-client')) return 'prom-client';
    // TLSWrap encrypts inside the native write/read calls of the socket.
    if (/^(writev|writeUtf8String|writeBuffer|onStreamRead)$/.test(fn)) return 'TLS encrypt/decrypt + socket I/O';
    if (/node:(_tls|tls|internal\/tls|crypto|internal\/crypto)|_tls_/.test(url)) return 'TLS (JS side)';
    if (/node:(_http|http|internal\/http)|_http_/.test(url) || fn === 'parserOnHeadersComplete' || fn === 'execute') return 'HTTP parsing/writing';
    if (url === '' && /^(parse|stringify)$/.test(fn)) return 'JSON parse/stringify';
    if (url.startsWith('node:') || url === '') return 'node core / builtins';
    return 'other';
  };
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => totals.set(area(id), (totals.get(area(id)) ?? 0) + (p.timeDeltas[i] ?? 0)));
  if (process.env['BENCH_PROFILE_TOP']) {
    const fns = new Map<string, number>();
    p.samples.forEach((id, i) => {
      const n = byId.get(id);
      const k = `${area(id)} | ${n?.callFrame.functionName} ${n?.callFrame.url.replace(/.*node_modules\//, '')}`;
      fns.set(k, (fns.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
    });
    for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`      ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function row(label: string, f: Figures): string {
  const flag = f.errors + f.mismatches > 0 ? `  (!) ${f.errors} errors, ${f.mismatches} not allowed` : '';
  return `  ${label.padEnd(34)} ${f.rps.toFixed(0).padStart(7)} reviews/s   p50 ${String(f.p50).padStart(3)} ms   p99 ${String(f.p99).padStart(3)} ms${flag}`;
}

async function runLoad(): Promise<void> {
  const seconds = Number(arg('duration', '8'));
  const held = Number(arg('held', '10000'));
  const only = arg('only', '');
  // The profiler costs ~10-20% and adds pauses: figures are measured without it, then a profiled pass says where
  // the time goes (--no-profile skips it).
  const profile = !process.argv.includes('--no-profile');
  const profDir = mkdtempSync(join(tmpdir(), 'berth-bench-prof-'));
  const validateBody = (s: string) =>
    JSON.stringify(reviewFor(service('held', s, { annotations: { 'berth.io/assigned-ips': '10.64.0.7' } }), { uid: 'bench' }));
  const mutateBody = JSON.stringify(reviewFor(service('bench', 'svc-@ID@'), { uid: 'u-@ID@' }));
  console.log(`berth webhook bench: ${held} IPs held, ${seconds} s per run, node ${process.version}`);
  const lab: { dir?: string; child?: ChildProcess; kubeconfig?: string } = {};
  try {
    for (const mode of ['memory', 'lab'] as const) {
      if (only && only !== mode) continue;
      const args = ['--mode', mode, '--held', String(held)];
      if (mode === 'lab') {
        lab.dir = mkdtempSync(join(tmpdir(), 'berth-bench-lab-'));
        lab.child = spawn(process.execPath, ['--import', 'tsx', repoPath('src/lab/main.ts'), '--dir', lab.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
        lab.kubeconfig = await new Promise<string>((resolve, reject) => {
          let b = '';
          lab.child!.stdout!.on('data', (x: Buffer) => {
            b += x.toString();
            const m = /kubeconfig=(\S+)/.exec(b);
            if (m) resolve(m[1]!);
          });
          lab.child!.once('exit', () => reject(new Error('lab exited')));
        });
        const { connect } = await import('../src/kube/connect.ts');
        const { Resources } = await import('../src/kube/resources.ts');
        const conn = await connect({ kubeconfig: lab.kubeconfig, component: 'bench' });
        if (!conn.ok) throw new Error(conn.message);
        for (const crd of yamlObjects(yamlFilesIn(repoPath('gitops/base/crds')))) {
          await conn.kube.client.create(Resources.customResourceDefinitions, crd as never);
        }
        conn.kube.close();
        args.push('--kubeconfig', lab.kubeconfig);
      }
      const s = await startServer(args);
      console.log(`\n[${mode}] claims in ${mode === 'memory' ? 'a MemoryClaimStore' : 'the lab API server'}; ${s.held} IPs held (set up in ${(s.setupMs / 1000).toFixed(1)} s)`);
      for (const c of [1, 4]) console.log(row(`mutate   (new Service), ${c} conn`, await load(s, '/mutate/service', mutateBody, c, seconds)));
      for (const c of [1, 4]) console.log(row(`validate (held Service), ${c} conn`, await load(s, '/validate/service', validateBody('s7'), c, seconds)));
      console.log(row('mutate   saturation, 16 conn', await load(s, '/mutate/service', mutateBody, 16, seconds)));
      console.log(row('validate saturation, 16 conn', await load(s, '/validate/service', validateBody('s7'), 16, seconds)));
      const ht = await handlerTimes(s);
      for (const [w, e] of ht) {
        if (e.count > 0) console.log(`  handler time ${w.padEnd(17)} mean ${((e.sum / e.count) * 1000).toFixed(3)} ms over ${e.count} reviews (decode → reply; TLS/HTTP excluded)`);
      }
      await stopChild(s.child);
      if (mode === 'memory' && profile) {
        // A separate profiled pass (the profiler slows the server down): same workloads, 4 connections.
        const p = await startServer(args, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
        await load(p, '/mutate/service', mutateBody, 4, Math.min(seconds, 4));
        await load(p, '/validate/service', validateBody('s7'), 4, Math.min(seconds, 4));
        await stopChild(p.child);
        const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          const sum = profileSummary(join(profDir, file));
          const busy = sum.filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
          console.log('  where the server CPU goes (profiled pass, --cpu-prof self time, idle excluded):');
          for (const [k, v] of sum) if (k !== 'idle') console.log(`    ${k.padEnd(34)} ${((100 * v) / busy).toFixed(1).padStart(5)} %`);
        }
      }
      if (lab.child) {
        await stopChild(lab.child);
        lab.child = undefined;
      }
    }
  } finally {
    if (lab.child) await stopChild(lab.child);
    if (lab.dir) rmSync(lab.dir, { recursive: true, force: true });
    rmSync(profDir, { recursive: true, force: true });
  }
}

if (arg('role', 'load') === 'server') await runServer();
else await runLoad();
