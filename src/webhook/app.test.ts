import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { buildApp, type AdmissionDecision } from './app.ts';
import { webhookMetrics } from './metrics.ts';
import { ipAddressPool, memoryWorld, reviewFor, service, type MemoryWorld } from './testing.ts';
import type { AdmissionReview } from './review.ts';

const NS = 'metallb-system';
let world: MemoryWorld;
let server: http.Server;
let base: string;
const registry = new Registry();

before(async () => {
  world = memoryWorld({ objects: [ipAddressPool(NS, 'default', ['192.168.1.220-192.168.1.250'])] });
  const app = buildApp({ ...world.deps, registry, metrics: webhookMetrics(registry) });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  world.stop();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; review: AdmissionReview }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, review: (await res.json()) as AdmissionReview };
}

function patchOf(r: AdmissionReview): unknown[] | undefined {
  return r.response.patch ? (JSON.parse(Buffer.from(r.response.patch, 'base64').toString()) as unknown[]) : undefined;
}

test('mutate: a new LoadBalancer Service gets its IP in annotations (map created when absent) and a claim', async () => {
  const body = reviewFor(service('shop', 'web'), { uid: 'u-1' });
  const { status, review } = await post('/mutate/service', body);
  assert.equal(status, 200);
  assert.equal(review.response.uid, 'u-1');
  assert.equal(review.response.allowed, true);
  assert.equal(review.response.patchType, 'JSONPatch');
  assert.deepEqual(patchOf(review), [
    {
      op: 'add',
      path: '/metadata/annotations',
      value: { 'berth.io/assigned-ips': '192.168.1.220', 'metallb.io/ip-allocated-from-pool': 'default' },
    },
  ]);
  const claim = await world.store.get('192.168.1.220');
  assert.deepEqual(claim?.spec.holders.map((h) => `${h.namespace}/${h.name}`), ['shop/web']);
});

test('mutate: an UPDATE that keeps the IP request runs no claim step; a changed one keeps the IP and patches key by key (~1)', async () => {
  const writes = world.store.writes;
  const svc = service('shop', 'web', { annotations: { team: 'a' } });
  // Same request (a label/annotation edit, or berth's own annotation write): admitted as it is.
  const same = await post('/mutate/service', reviewFor(svc, { operation: 'UPDATE', oldObject: svc }));
  assert.equal(same.review.response.allowed, true);
  assert.equal(same.review.response.patch, undefined, 'nothing decided: no patch');
  assert.equal(world.store.writes, writes, 'no claim written');
  // A changed request (ports): the Service keeps the IP it holds; existing annotations are patched key by key.
  const ports = service('shop', 'web', { annotations: { team: 'a' }, ports: [{ port: 80 }, { port: 8080 }] });
  const { review } = await post('/mutate/service', reviewFor(ports, { operation: 'UPDATE', oldObject: svc }));
  assert.deepEqual(patchOf(review), [
    { op: 'add', path: '/metadata/annotations/berth.io~1assigned-ips', value: '192.168.1.220' },
    { op: 'add', path: '/metadata/annotations/metallb.io~1ip-allocated-from-pool', value: 'default' },
  ]);
  const done = service('shop', 'web', {
    annotations: { 'berth.io/assigned-ips': '192.168.1.220', 'metallb.io/ip-allocated-from-pool': 'default' },
  });
  const again = await post('/mutate/service', reviewFor(done, { operation: 'UPDATE', oldObject: done }));
  assert.equal(again.review.response.allowed, true);
  assert.equal(again.review.response.patch, undefined, 'nothing to change: no patch');
});

test('mutate dryRun answers with the IP it would give and writes no claim', async () => {
  const writes = world.store.writes;
  const { review } = await post('/mutate/service', reviewFor(service('shop', 'dry'), { dryRun: true }));
  assert.equal(review.response.allowed, true);
  assert.deepEqual(patchOf(review), [
    { op: 'add', path: '/metadata/annotations', value: { 'berth.io/assigned-ips': '192.168.1.221', 'metallb.io/ip-allocated-from-pool': 'default' } },
  ]);
  assert.equal(world.store.writes, writes);
  assert.equal(await world.store.get('192.168.1.221'), undefined);
});

test('mutate skips what is not ours: ClusterIP Services and another loadBalancerClass pass untouched', async () => {
  for (const svc of [service('shop', 'cip', { type: 'ClusterIP' }), service('shop', 'other', { loadBalancerClass: 'example.com/lb' })]) {
    const { review } = await post('/mutate/service', reviewFor(svc));
    assert.equal(review.response.allowed, true);
    assert.equal(review.response.patch, undefined);
  }
});

test('mutate denies a loadBalancerIP outside every pool, naming the IP and the pools, and claims nothing', async () => {
  const n = world.store.size;
  const { review } = await post('/mutate/service', reviewFor(service('shop', 'bad', { ip: '192.168.1.99' })));
  assert.equal(review.response.allowed, false);
  assert.equal(review.response.status?.code, 403);
  assert.equal(review.response.status?.message, '192.168.1.99 is not in any IPAddressPool (default: 192.168.1.220-192.168.1.250)');
  assert.equal(world.store.size, n);
});

test('mutate denies loadBalancerIP together with the loadBalancerIPs annotation', async () => {
  const svc = service('shop', 'both', { ip: '192.168.1.230', annotations: { 'metallb.io/loadBalancerIPs': '192.168.1.231' } });
  const { review } = await post('/mutate/service', reviewFor(svc));
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status!.message, /192\.168\.1\.230.*192\.168\.1\.231/);
});

test('deprecated metallb.universe.tf keys are accepted with a warning; the seeds pair shares, a third on port 80 is denied', async () => {
  const shared = { 'metallb.universe.tf/allow-shared-ip': 'my-shared-ip' };
  const httpSvc = service('default', 'my-service-http', { ip: '192.168.1.230', annotations: shared, ports: [{ port: 80 }] });
  const httpsSvc = service('default', 'my-service-https', { ip: '192.168.1.230', annotations: shared, ports: [{ port: 443 }] });
  const a = await post('/mutate/service', reviewFor(httpSvc));
  assert.equal(a.review.response.allowed, true);
  assert.ok(a.review.response.warnings?.some((w) => w.includes('metallb.universe.tf/allow-shared-ip')), JSON.stringify(a.review.response));
  const b = await post('/mutate/service', reviewFor(httpsSvc));
  assert.equal(b.review.response.allowed, true);
  const third = service('default', 'third', { ip: '192.168.1.230', annotations: shared, ports: [{ port: 80 }] });
  const c = await post('/mutate/service', reviewFor(third));
  assert.equal(c.review.response.allowed, false);
  assert.match(c.review.response.status!.message, /port TCP\/80 is already in use on 192\.168\.1\.230 by default\/my-service-http/);
});

test('validate: a Service whose annotation names an IP it does not own is denied; its own claim passes', async () => {
  const mine = service('shop', 'web', { annotations: { 'berth.io/assigned-ips': '192.168.1.220' } });
  assert.equal((await post('/validate/service', reviewFor(mine))).review.response.allowed, true);
  const thief = service('shop', 'thief', { annotations: { 'berth.io/assigned-ips': '192.168.1.220' } });
  const { review } = await post('/validate/service', reviewFor(thief));
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status!.message, /192\.168\.1\.220 is held by shop\/web/);
  const unclaimed = service('shop', 'ghost', { annotations: { 'berth.io/assigned-ips': '192.168.1.249' } });
  const g = await post('/validate/service', reviewFor(unclaimed));
  assert.equal(g.review.response.allowed, false);
  assert.match(g.review.response.status!.message, /192\.168\.1\.249 .* has no IPAddressClaim/);
  // A dry run wrote no claim at mutation: only the pool and sharing rules are checked.
  assert.equal((await post('/validate/service', reviewFor(unclaimed, { dryRun: true }))).review.response.allowed, true);
});

test('validate without an assignment answers what allocation would say now', async () => {
  const { review } = await post('/validate/service', reviewFor(service('shop', 'v', { ip: '10.9.9.9' })));
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status!.message, /10\.9\.9\.9 is not in any IPAddressPool/);
});

test('pools: overlap denied with MetalLB-style text, wrong namespace denied, orphaning edit and delete denied', async () => {
  const overlap = await post('/validate/ipaddresspool', reviewFor(ipAddressPool(NS, 'other', ['192.168.1.240/28'])));
  assert.equal(overlap.review.response.allowed, false);
  assert.match(overlap.review.response.status!.message, /overlaps/);
  assert.match(overlap.review.response.status!.message, /192\.168\.1\.240\/28/);

  const elsewhere = await post('/validate/ipaddresspool', reviewFor(ipAddressPool('default', 'x', ['10.0.0.0/24'])));
  assert.equal(elsewhere.review.response.status?.message, 'resource must be created in metallb-system namespace');

  const shrink = ipAddressPool(NS, 'default', ['192.168.1.240-192.168.1.250']);
  const edit = await post('/validate/ipaddresspool', reviewFor(shrink, { operation: 'UPDATE', oldObject: world.objects[0] }));
  assert.equal(edit.review.response.allowed, false);
  assert.match(edit.review.response.status!.message, /would orphan .*shop\/web \(192\.168\.1\.220\)/);
  assert.match(edit.review.response.status!.message, /berth\.io\/allow-orphaning: "true"/);

  const del = await post('/validate/ipaddresspool', reviewFor(world.objects[0]!, { operation: 'DELETE' }));
  assert.equal(del.review.response.allowed, false);
  assert.match(del.review.response.status!.message, /deleting IPAddressPool "default" would orphan/);

  const optOut = ipAddressPool(NS, 'default', ['192.168.1.240-192.168.1.250'], { 'berth.io/allow-orphaning': 'true' });
  const ok = await post('/validate/ipaddresspool', reviewFor(optOut, { operation: 'UPDATE', oldObject: world.objects[0] }));
  assert.equal(ok.review.response.allowed, true);
  assert.ok(ok.review.response.warnings?.some((w) => w.includes('shop/web')));

  const fine = await post('/validate/ipaddresspool', reviewFor(ipAddressPool(NS, 'prod', ['10.0.0.0/24'])));
  assert.equal(fine.review.response.allowed, true);
  // MetalLB's path for the same webhook answers the same.
  const alias = await post('/validate-metallb-io-v1beta1-ipaddresspool', reviewFor(ipAddressPool(NS, 'other', ['192.168.1.240/28'])));
  assert.equal(alias.review.response.allowed, false);
});

test('undecodable input still gets a review: bad JSON, wrong shapes, oversized bodies; the server keeps serving', async () => {
  const bad = await post('/mutate/service', '{"apiVersion": "admission.k8s.io/v1", "kind": "Adm');
  assert.equal(bad.status, 200);
  assert.equal(bad.review.kind, 'AdmissionReview');
  assert.equal(bad.review.response.allowed, false);
  assert.equal(bad.review.response.status?.code, 400);

  const noUid = await post('/validate/service', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } });
  assert.equal(noUid.review.response.status?.code, 400);

  const wrongOp = await post('/mutate/service', {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'w', kind: { group: '', version: 'v1', kind: 'Service' }, operation: 'EXPLODE', object: {} },
  });
  assert.equal(wrongOp.review.response.uid, 'w', 'uid echoed even when the rest is wrong');
  assert.equal(wrongOp.review.response.status?.code, 400);

  const huge = await post('/mutate/service', JSON.stringify({ pad: 'x'.repeat(7 * 1024 * 1024) }));
  assert.equal(huge.review.response.allowed, false);
  assert.equal(huge.review.response.status?.code, 413);

  const weird = await post('/mutate/service', reviewFor({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'w', namespace: 'x' }, spec: { type: 'LoadBalancer', ports: 'nope', ipFamilies: 7 } } as never));
  assert.equal(weird.review.kind, 'AdmissionReview');

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
});

test('readyz, healthz and metrics', async () => {
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const m = await (await fetch(`${base}/metrics`)).text();
  assert.match(m, /berth_webhook_requests_total\{webhook="mutate-service",operation="CREATE",result="patched"\} \d+/);
  assert.match(m, /result="denied"/);
});

test('decision log: one record per review with operation, service, IPs, pool, result, code/reason, warnings, duration', async () => {
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'default', ['192.168.7.10-192.168.7.10'])] });
  const decisions: AdmissionDecision[] = [];
  const app = buildApp({ ...w.deps, decision: (d) => decisions.push(d) });
  const srv = http.createServer(app);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const send = async (path: string, body: unknown) =>
    (await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
  try {
    await send('/mutate/service', reviewFor(service('shop', 'web'), { uid: 'd-1' }));
    await send('/mutate/service', reviewFor(service('shop', 'far', { ip: '10.9.9.9' }), { uid: 'd-2' }));
    await send('/mutate/service', 'not a review');
    assert.equal(decisions.length, 3);
    const [ok, denied, bad] = decisions;
    assert.deepEqual({ ...ok!, durationMs: 0 }, {
      webhook: 'mutate-service',
      operation: 'CREATE',
      uid: 'd-1',
      kind: 'Service',
      namespace: 'shop',
      name: 'web',
      result: 'allowed',
      patched: true,
      ips: ['192.168.7.10'],
      pool: 'default',
      warnings: 0,
      dryRun: false,
      durationMs: 0,
    });
    assert.ok(ok!.durationMs >= 0);
    assert.equal(denied!.result, 'denied');
    assert.equal(denied!.name, 'far');
    assert.equal(denied!.status, 403);
    assert.match(denied!.code ?? '', /^LB_/);
    assert.match(denied!.reason ?? '', /10\.9\.9\.9/);
    assert.equal(denied!.ips, undefined);
    assert.equal(bad!.result, 'error');
    assert.equal(bad!.operation, 'unknown');
  } finally {
    w.stop();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test('while the webhook cannot decide (caches not synced), reviews get a 503 error naming why, never a decision', async () => {
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'default', ['192.168.7.10-192.168.7.10'])] });
  let waiting: string | undefined = 'informer caches are not synced';
  const decisions: AdmissionDecision[] = [];
  const app = buildApp({ ...w.deps, notDeciding: () => waiting, decision: (d) => decisions.push(d) });
  const srv = http.createServer(app);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const send = async (uid: string) =>
    (await (
      await fetch(url + '/mutate/service', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reviewFor(service('shop', 'web'), { uid })) })
    ).json()) as AdmissionReview;
  try {
    const early = await send('w-1');
    assert.equal(early.response.uid, 'w-1');
    assert.equal(early.response.allowed, false);
    assert.equal(early.response.status?.code, 503);
    assert.equal(early.response.status?.message, 'berth webhook is not ready: informer caches are not synced');
    assert.equal(await w.store.get('192.168.7.10'), undefined, 'no claim taken');
    assert.equal(decisions[0]!.result, 'error');
    waiting = undefined;
    const later = await send('w-2');
    assert.equal(later.response.allowed, true);
    assert.ok(later.response.patch);
  } finally {
    w.stop();
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test('admission paths: the query the API server appends (?timeout=) is no part of the path; other methods and paths are not reviews', async () => {
  const { status, review } = await post('/validate/service?timeout=10s', reviewFor(service('shop', 'plain', { type: 'ClusterIP' }), { uid: 'u-q' }));
  assert.equal(status, 200);
  assert.equal(review.response.uid, 'u-q');
  assert.equal(review.response.allowed, true);
  // A GET on an admission path, and a POST elsewhere, are express's: 404, not a review.
  assert.equal((await fetch(`${base}/mutate/service`)).status, 404);
  const other = await fetch(`${base}/mutate/services`, { method: 'POST', body: '{}' });
  assert.equal(other.status, 404);
});
