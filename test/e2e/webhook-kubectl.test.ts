// The admission webhooks through the lab API server, driven by the real kubectl: the lab calls the webhook process
// exactly as kube-apiserver would (webhook configurations from policies/webhooks, clientConfig.service resolved through
// an EndpointSlice to the process's port, caBundle written by the webhook's own TLS bootstrap).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestLab } from '../../src/lab/testing.ts';
import type { WebhookProcess } from '../../src/lab/processes.ts';
import { repoPath } from '../../src/webhook/testing-process.ts';
import { kubectlOk, startWebhookLab } from '../helpers/webhook.ts';

const NS = 'metallb-system';
let t: TestLab | undefined;
let hook: WebhookProcess | undefined;
let skip: string | undefined;
let controller: ChildProcess | undefined;
let controllerOut = '';

async function kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return t!.kubectl(args, input !== undefined ? { input } : {});
}

const ok = kubectlOk(() => t!);

async function claimNames(): Promise<string[]> {
  const out = await ok(['get', 'ipaddressclaims.berth.io', '-o', 'json']);
  return (JSON.parse(out) as { items: Array<{ metadata: { name: string } }> }).items.map((c) => c.metadata.name).sort();
}

async function claim(name: string): Promise<{ spec: { ip: string; pool: string; holders: Array<{ namespace: string; name: string }> } } | undefined> {
  const r = await kubectl(['get', 'ipaddressclaims.berth.io', name, '-o', 'json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

const svcYaml = (name: string, extra: { ip?: string; annotations?: Record<string, string>; port?: number } = {}) => `
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
${extra.annotations ? `  annotations:\n${Object.entries(extra.annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : ''}spec:
  type: LoadBalancer
${extra.ip ? `  loadBalancerIP: ${extra.ip}\n` : ''}  selector: { app: ${name} }
  ports:
  - port: ${extra.port ?? 80}
    targetPort: 8080
`;

before(async () => {
  // The webhook Service and its endpoint: the lab resolves clientConfig.service through EndpointSlices.
  ({ t, hook, skip } = await startWebhookLab(NS, { pool: { path: 'examples/dev/ipaddresspool.yaml' }, readyTimeoutMs: 20_000 }));
});

after(async () => {
  if (controller && controller.exitCode === null) {
    const exited = new Promise((r) => controller!.once('exit', r));
    controller.kill('SIGTERM');
    await exited;
  }
  await hook?.stop();
  await t?.stop();
});

test('a bad loadBalancerIP is refused at apply, naming the IP and the pools, and nothing is stored', async (c) => {
  if (skip) return c.skip(skip);
  const r = await kubectl(['apply', '-f', '-'], svcYaml('bad', { ip: '192.168.1.99' }));
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /admission webhook "service-ip\.berth\.io" denied the request: 192\.168\.1\.99 is not in any IPAddressPool \(default: 192\.168\.1\.220-192\.168\.1\.250\)/,
  );
  assert.match((await kubectl(['get', 'svc', 'bad', '-n', 'shop'])).stderr, /NotFound|not found/);
  assert.deepEqual(await claimNames(), []);
});

test('a good Service gets its IP at admission: annotation and claim', async (c) => {
  if (skip) return c.skip(skip);
  await ok(['apply', '-f', '-'], svcYaml('web'));
  const svc = JSON.parse(await ok(['get', 'svc', 'web', '-n', 'shop', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
  assert.equal(svc.metadata.annotations['berth.io/assigned-ips'], '192.168.1.220');
  assert.equal(svc.metadata.annotations['metallb.io/ip-allocated-from-pool'], 'default');
  const cl = await claim('v4-192-168-1-220');
  assert.deepEqual(cl?.spec.holders.map((h) => `${h.namespace}/${h.name}`), ['shop/web']);
  // `kubectl get ipaddressclaims` names holders as namespace/name (two Services named web in two namespaces differ).
  const table = await ok(['get', 'ipaddressclaims.berth.io', 'v4-192-168-1-220']);
  assert.match(table, /^NAME\s+IP\s+POOL\s+HOLDERS\s+AGE$/m);
  assert.match(table, /^v4-192-168-1-220\s+192\.168\.1\.220\s+default\s+shop\/web\s+/m);
  // Applying the same manifest again changes nothing (idempotent).
  await ok(['apply', '-f', '-'], svcYaml('web'));
  assert.deepEqual(await claimNames(), ['v4-192-168-1-220']);
});

test('kubectl apply --dry-run=server answers with an IP and writes no claim', async (c) => {
  if (skip) return c.skip(skip);
  const before = await claimNames();
  const out = await ok(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], svcYaml('dry'));
  const svc = JSON.parse(out) as { metadata: { annotations?: Record<string, string> } };
  assert.equal(svc.metadata.annotations?.['berth.io/assigned-ips'], '192.168.1.221');
  assert.deepEqual(await claimNames(), before);
  assert.match((await kubectl(['get', 'svc', 'dry', '-n', 'shop'])).stderr, /NotFound|not found/);
});

test("the seeds' shared-IP pair is admitted on 192.168.1.230; a third Service on port 80 is refused", async (c) => {
  if (skip) return c.skip(skip);
  const seeds = readFileSync(repoPath('examples/services/shared-ip.yaml'), 'utf8');
  const r = await kubectl(['apply', '-n', 'shop', '-f', '-'], seeds);
  assert.equal(r.code, 0, r.stderr);
  // Deprecated annotation keys are accepted with a warning.
  assert.match(r.stderr, /Warning: metallb\.universe\.tf\/allow-shared-ip is deprecated/);
  const cl = await claim('v4-192-168-1-230');
  assert.deepEqual(cl?.spec.holders.map((h) => h.name).sort(), ['my-service-http', 'my-service-https']);
  const third = await kubectl(
    ['apply', '-f', '-'],
    svcYaml('third', { ip: '192.168.1.230', annotations: { 'metallb.io/allow-shared-ip': 'my-shared-ip' }, port: 80 }),
  );
  assert.notEqual(third.code, 0);
  assert.match(third.stderr, /denied the request: port TCP\/80 is already in use on 192\.168\.1\.230 by shop\/my-service-http/);
  const other = await kubectl(['apply', '-f', '-'], svcYaml('other', { ip: '192.168.1.230', port: 8443 }));
  assert.match(other.stderr, /192\.168\.1\.230 is held by shop\/my-service-http, shop\/my-service-https/);
});

test('an overlapping pool and an orphaning pool edit are refused with their messages', async (c) => {
  if (skip) return c.skip(skip);
  const overlap = await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: other, namespace: ${NS}}\nspec: {addresses: [192.168.1.240/28]}\n`,
  );
  assert.notEqual(overlap.code, 0);
  assert.match(
    overlap.stderr,
    /admission webhook "ipaddresspoolvalidationwebhook\.metallb\.io" denied the request: CIDR "192\.168\.1\.240\/28" in pool "other" overlaps with already defined CIDR/,
  );
  // The seeds' prod range would leave shop/web (192.168.1.220) and the shared pair outside every pool.
  const shrink = await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: default, namespace: ${NS}}\nspec: {addresses: [192.168.1.240-192.168.1.250]}\n`,
  );
  assert.notEqual(shrink.code, 0);
  assert.match(shrink.stderr, /would orphan .*shop\/web \(192\.168\.1\.220\)/);
  assert.match(shrink.stderr, /berth\.io\/allow-orphaning: "true"/);
  const del = await kubectl(['delete', 'ipaddresspool', 'default', '-n', NS]);
  assert.notEqual(del.code, 0);
  assert.match(del.stderr, /deleting IPAddressPool "default" would orphan/);
  const elsewhere = await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: stray, namespace: shop}\nspec: {addresses: [10.0.0.0/24]}\n`,
  );
  assert.match(elsewhere.stderr, /denied the request: resource must be created in metallb-system namespace/);
});

test('with the controller running, the admitted Service has its IP in status.loadBalancer.ingress', async (c) => {
  if (skip) return c.skip(skip);
  controller = spawn(
    process.execPath,
    ['--import', 'tsx', repoPath('src/controller/main.ts'), '--kubeconfig', t!.lab.kubeconfigPath, '--metrics-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  controller.stdout!.on('data', (b: Buffer) => (controllerOut += b.toString()));
  controller.stderr!.on('data', (b: Buffer) => (controllerOut += b.toString()));
  const deadline = Date.now() + 20_000;
  let ingress: string[] = [];
  while (Date.now() < deadline) {
    const svc = JSON.parse(await ok(['get', 'svc', 'web', '-n', 'shop', '-o', 'json'])) as {
      status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
    };
    ingress = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
    if (ingress.length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(ingress, ['192.168.1.220'], `controller output:\n${controllerOut}`);
  // kubectl shows it as EXTERNAL-IP.
  assert.match(await ok(['get', 'svc', 'web', '-n', 'shop']), /192\.168\.1\.220/);
});
