// Metric coverage: every metric name the alert rules, the seed's PromQL, the Grafana dashboard and docs/metrics.md use is exported by a
// running process of the lab. Starts the lab stack (API server + webhook + controller, dev pool `default`,
// src/cli/lab.ts startLabStack), creates one Service that gets an IP and one the webhook denies with the real
// kubectl, then scrapes the controller's /metrics (HTTP) and the webhook's /metrics (HTTPS, loopback).
// Names that only the speaker exports are listed in SPEAKER_METRICS_PENDING: berth has no speaker yet (the speaker
// issues); the test prints them and fails if one of them turns up, so the list cannot go stale.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { dashboardQueries } from '../../src/metrics/dashboard.ts';
import { alertRules, REPO, seed000 } from './monitoring-files.ts';
import { eventually as poll } from '../e2e/controller-harness.ts';

/** Speaker metrics (shared/spec/metallb-compat.md §7, "Emitted by: speaker"), pending the speaker issues. */
export const SPEAKER_METRICS_PENDING: ReadonlySet<string> = new Set([
  'metallb_speaker_announced',
  'metallb_layer2_requests_received',
  'metallb_layer2_responses_sent',
  'metallb_layer2_gratuitous_sent',
  'metallb_bgp_session_up',
  'metallb_bgp_updates_total',
  'metallb_bgp_announced_prefixes_total',
  'metallb_bgp_pending_prefixes_total',
  'metallb_bfd_session_up',
  'berth_l2_owner_changes_total',
  'berth_l2_failover_seconds',
  'berth_l2_ip_conflicts',
  'berth_l2_frames_dropped_total',
]);

/**
 * berth metrics that docs/metrics.md documents as defined (src/metrics/controller-metrics.ts) but that the
 * controller process does not export until its hooks are wired (src/controller/controller.ts, main.ts).
 */
export const CONTROLLER_METRICS_PENDING: ReadonlySet<string> = new Set<string>([]);

const NAME = /\b((?:metallb|berth)_[a-z0-9_]+)\b/g;

function namesIn(text: string): string[] {
  return [...text.matchAll(NAME)].map((m) => m[1]!);
}

/** Metric names used, with where: the rules' expressions, the seed's PromQL block, docs/metrics.md. */
function usedNames(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const add = (name: string, where: string): void => {
    const s = used.get(name) ?? new Set<string>();
    s.add(where);
    used.set(name, s);
  };
  for (const r of alertRules()) for (const n of namesIn(r.expr)) add(n, `rule ${r.alert}`);
  const seed = seed000();
  if (seed) {
    const from = seed.indexOf('**Métriques clés**');
    const block = seed.slice(seed.indexOf('```promql', from), seed.indexOf('```\n', seed.indexOf('```promql', from) + 3));
    assert.ok(block.length > 0, 'seed 000: the "Métriques clés" promql block was not found');
    for (const n of namesIn(block)) add(n, 'seed 000 PromQL');
  }
  for (const q of dashboardQueries()) for (const n of namesIn(q)) add(n.replace(/_(bucket|sum|count)$/, ''), 'Grafana dashboard');
  // docs: names in backticks only (prose mentions of prefixes such as `metallb_bgp_*` are not names).
  const docs = readFileSync(join(REPO, 'docs/metrics.md'), 'utf8');
  for (const m of docs.matchAll(/`((?:metallb|berth)_[a-z0-9_]+)(?:\{[^`]*\})?`/g)) add(m[1]!, 'docs/metrics.md');
  return used;
}

/** Sample names of a Prometheus text exposition, with histogram/summary base names (x for x_bucket/_sum/_count). */
function exported(text: string): Set<string> {
  const out = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) continue;
    out.add(m[1]!);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (base !== m[1] && (types.get(base) === 'histogram' || types.get(base) === 'summary')) out.add(base);
  }
  return out;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => poll(fn, what, timeoutMs);

const kubectlPath = findKubectl();
let dir = '';
let stack: LabStack | undefined;

function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=20s', ...args],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}

const svc = (name: string, annotations: Record<string, string> = {}): string =>
  `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: ${JSON.stringify(annotations)}
spec:
  type: LoadBalancer
  ports: [{port: 80, protocol: TCP}]
`;

before(async () => {
  if (!kubectlPath) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-metric-coverage-'));
  stack = await startLabStack({ dir: join(dir, 'lab') });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('every metric name used by the rules, the seed and docs/metrics.md is exported by the lab controller or webhook', { skip: kubectlPath ? false : 'kubectl not found' }, async (t) => {
  const s = stack!;
  const allowed = await kubectl(['apply', '-f', '-'], svc('coverage-ok'));
  assert.equal(allowed.code, 0, allowed.out);
  const denied = await kubectl(['apply', '-f', '-'], svc('coverage-denied', { 'metallb.io/loadBalancerIPs': '10.9.9.9' }));
  assert.notEqual(denied.code, 0, `a Service asking for 10.9.9.9 (outside every pool) was accepted:\n${denied.out}`);
  assert.match(denied.out, /denied the request/);

  const controllerUrl = `http://127.0.0.1:${s.controller!.metricsPort!}/metrics`;
  const webhookUrl = `https://127.0.0.1:${s.webhookPort!}/metrics`;
  // The controller has reconciled the Service: the pool gauge counts its IP, and the claim cache its claim.
  const controllerText = await eventually('metallb_allocator_addresses_in_use_total and berth_claims_held {pool="default"} 1 on the controller', async () => {
    const text = await get(controllerUrl);
    const ok = /^metallb_allocator_addresses_in_use_total\{pool="default"\} 1$/m.test(text) && /^berth_claims_held\{pool="default"\} 1$/m.test(text);
    return ok ? text : undefined;
  });
  const webhookText = await get(webhookUrl);
  assert.match(webhookText, /^berth_webhook_decisions_total\{webhook="mutate-service",result="allowed",reason="none"\} [1-9]/m);
  assert.match(webhookText, /^berth_webhook_decisions_total\{webhook="mutate-service",result="denied",reason="LB_[A-Z_]+"\} [1-9]/m);

  const byProcess = { controller: exported(controllerText), webhook: exported(webhookText) };
  const used = usedNames();
  assert.ok(used.has('metallb_allocator_addresses_in_use_total') && used.has('metallb_allocator_addresses_total'), [...used.keys()].join(' '));
  const missing: string[] = [];
  const pending: string[] = [];
  for (const [name, where] of [...used].sort(([a], [b]) => a.localeCompare(b))) {
    const by = Object.entries(byProcess).filter(([, names]) => names.has(name)).map(([p]) => p);
    const line = `${name} (${[...where].join(', ')})`;
    if (SPEAKER_METRICS_PENDING.has(name) || CONTROLLER_METRICS_PENDING.has(name)) {
      assert.deepEqual(by, [], `${name} is listed as pending but is exported by ${by.join(', ')}: remove it from the pending list`);
      pending.push(`${line}: ${SPEAKER_METRICS_PENDING.has(name) ? 'speaker metric, pending the speaker issues' : 'berth controller metric, pending its controller hook'}`);
    } else if (by.length === 0) missing.push(line);
    else t.diagnostic(`exported by ${by.join(' and ')}: ${line}`);
  }
  for (const p of pending) t.diagnostic(`NOT CHECKED: ${p}`);
  assert.deepEqual(missing, [], `used but exported by no lab process:\n${missing.join('\n')}`);
});
