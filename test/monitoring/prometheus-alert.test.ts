// End to end through a real Prometheus (Debian package `prometheus`, installed by .ci/run): it scrapes the lab's
// controller (job metallb-controller, as the ServiceMonitor names it) and webhook (job berth-webhook) on loopback,
// evaluates gitops/base/monitoring/rules/berth.rules.yaml, and the test fills a 2-address pool with the real kubectl
// until MetalLBIPPoolFull fires for that pool in Prometheus's HTTP API (/api/v1/alerts).
// The rules are loaded with every `for:` set to 0s so the test takes seconds: the durations are checked by
// `promtool test rules` (promtool.test.ts); this test checks the live path metrics → PromQL → alert.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { RULES_FILE } from './monitoring-files.ts';
import { eventually as poll } from '../e2e/controller-harness.ts';
import { runKubectl } from '../helpers/kubectl.ts';
import { freePort } from '../helpers/net.ts';

const version = await new Promise<boolean>((resolve) => execFile('prometheus', ['--version'], (err) => resolve(!err)));
const kubectlPath = findKubectl();
const skip = !version ? 'prometheus not found (apt-get install prometheus; .ci/run installs it)' : !kubectlPath ? 'kubectl not found' : undefined;
if (skip) console.log(`# skipping the Prometheus end-to-end test: ${skip}`);

let dir = '';
let stack: LabStack | undefined;
let prom: ChildProcess | undefined;
let promOut = '';
let promPort = 0;

function getJson<T>(path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: promPort, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
    req.on('error', reject);
  });
}

interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}
const alerts = async (): Promise<Alert[]> => (await getJson<{ data: { alerts: Alert[] } }>('/api/v1/alerts')).data.alerts;
const firing = (all: Alert[], name: string, pool?: string): boolean =>
  all.some((a) => a.state === 'firing' && a.labels['alertname'] === name && (pool === undefined || a.labels['pool'] === pool));

/** The value of an instant query's first sample, or undefined when it has none. */
async function query(expr: string): Promise<number | undefined> {
  const r = await getJson<{ data: { result: Array<{ value: [number, string] }> } }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  const v = r.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  poll(fn, what, timeoutMs).catch((e: Error) => {
    throw new Error(`${e.message}\nprometheus output:\n${promOut.slice(-3000)}`);
  });

const kubectl = (args: string[], input?: string): Promise<{ code: number; out: string }> =>
  runKubectl(kubectlPath!, stack!.lab.kubeconfigPath, dir, args, input);

const SMALL_POOL = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: small, namespace: metallb-system}
spec:
  addresses: [10.10.0.1-10.10.0.2]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: small, namespace: metallb-system}
spec:
  ipAddressPools: [small]
`;
const svc = (name: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: {metallb.io/address-pool: small}
spec:
  type: LoadBalancer
  ports: [{port: 80, protocol: TCP}]
`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-prometheus-'));
  stack = await startLabStack({ dir: join(dir, 'lab') });
  writeFileSync(join(dir, 'rules.yaml'), readFileSync(RULES_FILE, 'utf8').replace(/^(\s+for:) \S+$/gm, '$1 0s'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [rules.yaml]
scrape_configs:
  - job_name: metallb-controller
    static_configs: [{targets: ['127.0.0.1:${stack.controller!.metricsPort!}']}]
  - job_name: berth-webhook
    scheme: https
    # the lab webhook's self-signed bootstrap certificate, on loopback
    tls_config: {insecure_skip_verify: true}
    static_configs: [{targets: ['127.0.0.1:${stack.webhookPort!}']}]
`,
  );
  promPort = await freePort();
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  const keep = (b: Buffer): void => {
    promOut = (promOut + b.toString()).slice(-20_000);
  };
  prom.stdout?.on('data', keep);
  prom.stderr?.on('data', keep);
  await eventually('Prometheus ready', async () => ((await getJson<{ status: string }>('/api/v1/status/buildinfo')).status === 'success' ? true : undefined));
});

after(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    const t = setTimeout(() => prom?.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('MetalLBIPPoolFull fires in a real Prometheus once the lab fills a 2-address pool, and only for that pool', { skip: skip ?? false }, async () => {
  const applied = await kubectl(['apply', '-f', '-'], SMALL_POOL);
  assert.equal(applied.code, 0, applied.out);
  const one = await kubectl(['apply', '-f', '-'], svc('fill-1'));
  assert.equal(one.code, 0, one.out);
  // Half full, scraped and evaluated: quiet.
  await eventually('metallb_allocator_addresses_in_use_total{pool="small"} = 1 in Prometheus', async () =>
    (await query('metallb_allocator_addresses_in_use_total{job="metallb-controller",pool="small"}')) === 1 ? true : undefined,
  );
  // The first evaluations may run before the first scrape (absent(up == 1) is then true): once the controller's
  // metrics are evaluated, the "down" and "missing" alerts resolve.
  let now = await eventually('MetalLBControllerDown and MetalLBMetricsMissing resolved', async () => {
    const a = await alerts();
    return !firing(a, 'MetalLBControllerDown') && !firing(a, 'MetalLBMetricsMissing') && firing(a, 'MetalLBAllSpeakersDown') ? a : undefined;
  });
  assert.equal(firing(now, 'MetalLBIPPoolFull'), false, JSON.stringify(now));
  assert.equal(firing(now, 'MetalLBIPPoolExhausted'), false, JSON.stringify(now));

  const two = await kubectl(['apply', '-f', '-'], svc('fill-2'));
  assert.equal(two.code, 0, two.out);
  // The pool alerts live in groups Prometheus evaluates at their own offsets: wait until all three have fired.
  now = await eventually('MetalLBIPPoolFull, MetalLBIPPoolExhausted and MetalLBIPPoolLowFree firing for pool small', async () => {
    const a = await alerts();
    const all = ['MetalLBIPPoolFull', 'MetalLBIPPoolExhausted', 'MetalLBIPPoolLowFree'].every((n) => firing(a, n, 'small'));
    return all ? a : undefined;
  });
  const full = now.filter((a) => a.labels['alertname'] === 'MetalLBIPPoolFull');
  assert.deepEqual(full.map((a) => a.labels['pool']), ['small'], 'the default pool (31 addresses, 0 used) is not full');
  assert.equal(full[0]!.labels['severity'], 'critical');
  assert.ok(firing(now, 'MetalLBIPPoolExhausted', 'small') && firing(now, 'MetalLBIPPoolLowFree', 'small'), JSON.stringify(now));
  // berth has no speaker yet: "all speakers down" is what a real Prometheus says about this lab.
  assert.ok(firing(now, 'MetalLBAllSpeakersDown'), JSON.stringify(now));

  // A third Service asking for the full pool is denied at admission, and the denial is counted by reason.
  const three = await kubectl(['apply', '-f', '-'], svc('fill-3'));
  assert.notEqual(three.code, 0, three.out);
  assert.match(three.out, /denied the request/);
  await eventually('the denial counted by reason in Prometheus', async () =>
    ((await query('sum(berth_webhook_decisions_total{job="berth-webhook",result="denied",reason="LB_POOL_EXHAUSTED"})')) ?? 0) >= 1 ? true : undefined,
  );
});
