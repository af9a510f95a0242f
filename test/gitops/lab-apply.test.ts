// The user path of last session's fresh-user test: `npm start`, then `kubectl apply -k gitops/dev` into that lab, then
// more metallb.io applies. The overlay gives berth's webhook Service a selector matching its Deployment's Pods; the lab
// runs no container, so those Pods are Ready but serve nothing, and the lab's EndpointSlice controller put their IPs
// next to the lab's own route (the webhook process on 127.0.0.1). Calls picked one at random, and about every other
// L2Advertisement write failed (`failed calling webhook "l2advertisementvalidationwebhook.metallb.io"`: failurePolicy
// Fail). The lab's route now wins (src/lab/admission/webhook-admission.ts), so every write reaches berth's webhook.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LAB_NAMESPACE, startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { eventually } from '../e2e/controller-harness.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const kubectlPath = findKubectl();
let dir = '';
let stack: LabStack | undefined;

function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=30s', ...args],
      { cwd: REPO, timeout: 120_000, maxBuffer: 16 << 20, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}

before(async () => {
  if (!kubectlPath) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-lab-apply-'));
  // What `npm start` runs: API server, webhook, controller, dev pool, three lab Nodes.
  stack = await startLabStack({ dir: join(dir, 'lab') });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const l2 = (name: string, extra = ''): string => `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: ${name}, namespace: ${LAB_NAMESPACE}}
spec:
  ipAddressPools: [default]
${extra}`;

test('kubectl apply -k gitops/dev into the npm start lab: later metallb.io writes still reach berth\'s webhook', { skip: kubectlPath ? false : 'kubectl not found', timeout: 300_000 }, async () => {
  const applied = await kubectl(['apply', '-k', 'gitops/dev']);
  // Everything is applied except the Prometheus Operator's kinds, whose CRDs a fresh cluster (and the lab) lacks
  // (docs/gitops.md: drop `- monitoring` from gitops/base without the operator).
  const refused = applied.out.split('\n').filter((l) => /^(resource mapping not found|error)/i.test(l));
  for (const l of refused) assert.match(l, /no matches for kind "(ServiceMonitor|PrometheusRule)" in version "monitoring\.coreos\.com\/v1"/, applied.out);
  assert.match(applied.out, /deployment\.apps\/metallb-controller (created|configured|unchanged)/, applied.out);
  assert.match(applied.out, /l2advertisement\.metallb\.io\/l2-advert (created|configured|unchanged)/, applied.out);
  assert.match(applied.out, /service\/berth-webhook-service (created|configured|unchanged)/, applied.out);

  // The state that broke the writes: the Deployment's (lab) Pods are Ready and sit behind the webhook Service.
  await eventually(async () => {
    const r = await kubectl(['get', 'endpointslices', '-n', LAB_NAMESPACE, '-l', 'kubernetes.io/service-name=berth-webhook-service', '-o', 'jsonpath={range .items[*]}{.metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}={.endpoints[*].addresses[0]}{"\\n"}{end}']);
    return /^endpointslice-controller\.k8s\.io=\S+/m.test(r.out) && /^berth-lab=127\.0\.0\.1$/m.test(r.out) ? true : undefined;
  }, 'a Pod slice next to the lab\'s slice of berth-webhook-service', 60_000);

  // Twelve writes that go through the fail-closed L2Advertisement webhook: with the Pods picked half of the time, all
  // twelve passing by chance has probability 1/4096.
  for (let i = 0; i < 12; i++) {
    const r = await kubectl(['apply', '-f', '-'], l2('l2-advert', `  interfaces: [eth${i}]\n`));
    assert.equal(r.code, 0, `apply ${i}: ${r.out}`);
    assert.match(r.out, /l2advertisement\.metallb\.io\/l2-advert configured/);
  }
  // And berth's webhook answers them (a bad one is denied with its message, not failed).
  for (let i = 0; i < 4; i++) {
    const bad = await kubectl(['apply', '-f', '-'], l2(`bad-${i}`, '  interfaces: ["eth 0"]\n'));
    assert.notEqual(bad.code, 0, bad.out);
    assert.match(bad.out, /admission webhook "l2advertisementvalidationwebhook\.metallb\.io" denied the request/, bad.out);
    assert.doesNotMatch(bad.out, /failed calling webhook/);
  }
  const back = await kubectl(['apply', '-f', 'examples/dev/l2advertisement.yaml']);
  assert.equal(back.code, 0, back.out);

  // A LoadBalancer Service gets its IP at admission (the mutating webhook is reached: no fallback warning).
  const svc = await kubectl(['create', 'service', 'loadbalancer', 'web', '--tcp=80:8080']);
  assert.equal(svc.code, 0, svc.out);
  assert.doesNotMatch(svc.out, /Warning/);
  const pool = await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.metadata.annotations.metallb\\.io/ip-allocated-from-pool}']);
  assert.equal(pool.out, 'default', 'the mutating webhook chose the pool at admission');
  await eventually(async () => {
    const r = await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    return /^192\.168\.1\.\d+$/.test(r.out) ? true : undefined;
  }, 'web to show its IP from pool default', 60_000);
});
