// WebhookAdmission against a local HTTPS webhook: selection (rules, subresources, selectors, matchConditions),
// ordering, patches, denials, invalid replies and failurePolicy. The webhook answers from a per-test script.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { WebhookAdmission } from './webhook-admission.ts';
import { Store } from '../store.ts';
import { Registry } from '../registry.ts';
import { createCa, issueCert } from '../certs.ts';
import { isFailure, type Failure } from '../status.ts';
import type { AdmissionAttributes } from '../rest.ts';
import type { KubeObject } from '../types.ts';

type Reply = (review: { request: Record<string, unknown> }, path: string) => unknown;
let server: Server;
let port = 0;
let caBundle = '';
let reply: Reply = () => undefined;
const calls: string[] = [];

before(async () => {
  const ca = await createCa('unit-ca');
  const cert = await issueCert(ca, { dnsNames: ['hooks.sys.svc'], ips: ['127.0.0.1'] });
  caBundle = Buffer.from(ca.certPem).toString('base64');
  server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: Record<string, unknown> };
      calls.push(`${req.url}`);
      const out = reply(review, req.url ?? '');
      if (typeof out === 'string') {
        res.writeHead(500);
        res.end(out);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : 0;
});

after(() => {
  server.close();
});

const allow = (uid: unknown, extra: Record<string, unknown> = {}) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, ...extra } });
const b64 = (ops: unknown) => Buffer.from(JSON.stringify(ops)).toString('base64');

function setup(configs: Array<{ kind: 'mutating' | 'validating'; name: string; webhooks: Array<Record<string, unknown>> }>) {
  const store = new Store();
  const registry = new Registry();
  store.put('core/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', env: 'prod' } } });
  for (const c of configs) {
    const key = c.kind === 'mutating' ? 'admissionregistration.k8s.io/mutatingwebhookconfigurations' : 'admissionregistration.k8s.io/validatingwebhookconfigurations';
    store.put(key, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: c.kind === 'mutating' ? 'MutatingWebhookConfiguration' : 'ValidatingWebhookConfiguration',
      metadata: { name: c.name },
      webhooks: c.webhooks.map((w) => ({
        clientConfig: { url: `https://127.0.0.1:${port}/${w['name']}`, caBundle },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['services'] }],
        ...w,
      })),
    });
  }
  const logs: string[] = [];
  const adm = new WebhookAdmission({ store, registry, log: (l) => logs.push(l) });
  const attrs = (over: Partial<AdmissionAttributes> = {}): AdmissionAttributes => ({
    type: registry.resolve('', 'v1', 'services')!,
    version: 'v1',
    subresource: '',
    operation: 'CREATE',
    namespace: 'shop',
    name: 'web',
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } }, spec: { type: 'LoadBalancer' } },
    oldObject: null,
    dryRun: false,
    options: {},
    ...over,
  });
  return { adm, attrs, logs, store };
}

const msg = (f: unknown) => (isFailure(f) ? `${f.code} ${f.status.reason}: ${f.status.message}` : 'allowed');

test('mutating webhooks run in configuration-name order, each seeing the previous patch; warnings collected', async () => {
  calls.length = 0;
  reply = (r, path) => {
    const obj = r.request['object'] as KubeObject;
    const ann = obj.metadata.annotations ?? {};
    if (path.startsWith('/first')) return allow(r.request['uid'], { patchType: 'JSONPatch', patch: b64([{ op: 'add', path: '/metadata/annotations', value: { order: 'first' } }]), warnings: ['w1'] });
    return allow(r.request['uid'], { patchType: 'JSONPatch', patch: b64([{ op: 'replace', path: '/metadata/annotations/order', value: `${ann['order']},second` }]) });
  };
  const { adm, attrs } = setup([
    { kind: 'mutating', name: 'b-config', webhooks: [{ name: 'second' }] },
    { kind: 'mutating', name: 'a-config', webhooks: [{ name: 'first' }] },
  ]);
  let redefaults = 0;
  const r = await adm.mutate(attrs(), () => redefaults++);
  assert.ok(!isFailure(r));
  assert.deepEqual(r.object?.metadata.annotations, { order: 'first,second' });
  assert.deepEqual(r.warnings, ['w1']);
  assert.equal(redefaults, 2, 'scheme defaults re-run after every patch');
  assert.deepEqual(calls, ['/first?timeout=10s', '/second?timeout=10s']);
  adm.close();
});

test('selection: services vs services/status, operations, namespaceSelector, objectSelector, matchConditions', async () => {
  calls.length = 0;
  reply = (r) => allow(r.request['uid']);
  const { adm, attrs } = setup([
    {
      kind: 'validating',
      name: 'v',
      webhooks: [
        { name: 'plain' },
        { name: 'status-only', rules: [{ operations: ['*'], apiGroups: [''], apiVersions: ['*'], resources: ['services/status'] }] },
        { name: 'ns-dev', namespaceSelector: { matchLabels: { env: 'dev' } } },
        { name: 'obj-db', objectSelector: { matchLabels: { app: 'db' } } },
        { name: 'cond', matchConditions: [{ name: 'lb', expression: "object.spec.type == 'LoadBalancer' && request.operation == 'CREATE'" }] },
        { name: 'cluster-scope', rules: [{ operations: ['CREATE'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], scope: 'Cluster' }] },
      ],
    },
  ]);
  assert.equal(msg(await adm.validate(attrs())), 'allowed');
  assert.deepEqual(calls, ['/plain?timeout=10s', '/cond?timeout=10s']);
  calls.length = 0;
  await adm.validate(attrs({ subresource: 'status', operation: 'UPDATE' }));
  assert.deepEqual(calls, ['/status-only?timeout=10s']);
  calls.length = 0;
  await adm.validate(attrs({ operation: 'DELETE', object: null, oldObject: attrs().object }));
  assert.deepEqual(calls, [], 'no rule lists DELETE');
  adm.close();
});

test('denials carry the webhook status code (at least 400) and the API server message', async () => {
  reply = (r, path) =>
    path.startsWith('/deny403')
      ? { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: r.request['uid'], allowed: false, status: { code: 403, reason: 'Forbidden', message: '192.168.1.99 is not in any IPAddressPool' } } }
      : { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: r.request['uid'], allowed: false, status: { code: 200 } } };
  const a = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'deny403' }] }]);
  assert.equal(msg(await a.adm.validate(a.attrs())), '403 Forbidden: admission webhook "deny403" denied the request: 192.168.1.99 is not in any IPAddressPool');
  a.adm.close();
  const b = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'bare' }] }]);
  assert.equal(msg(await b.adm.validate(b.attrs())), '400 : admission webhook "bare" denied the request without explanation');
  b.adm.close();
});

test('invalid replies and transport errors go through failurePolicy; a patch that does not apply is a 500', async () => {
  const cases: Array<[string, Reply, RegExp]> = [
    ['uid', () => allow('someone-else'), /received invalid webhook response: expected response.uid=".*", got "someone-else"/],
    ['gvk', (r) => ({ apiVersion: 'v1', kind: 'Status', response: { uid: r.request['uid'], allowed: true } }), /expected webhook response of admission.k8s.io\/v1, Kind=AdmissionReview/],
    ['absent', () => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /webhook response was absent/],
    ['http500', () => 'boom', /failed to call webhook: an error on the server \("boom"\)/],
    ['nopatchtype', (r) => allow(r.request['uid'], { patch: b64([]) + 'x' }), /webhook returned response.patch but not response.patchType/],
  ];
  for (const [name, fn, re] of cases) {
    reply = fn;
    const { adm, attrs } = setup([{ kind: 'mutating', name: 'm', webhooks: [{ name }] }]);
    const r = await adm.mutate(attrs(), () => undefined);
    assert.ok(isFailure(r), name);
    assert.equal((r as Failure).code, 500);
    assert.match((r as Failure).status.message, new RegExp(`^Internal error occurred: failed calling webhook "${name}": `));
    assert.match((r as Failure).status.message, re, name);
    adm.close();
    const ign = setup([{ kind: 'mutating', name: 'm', webhooks: [{ name, failurePolicy: 'Ignore' }] }]);
    assert.ok(!isFailure(await ign.adm.mutate(ign.attrs(), () => undefined)), `${name} ignored`);
    assert.equal(ign.logs.length, 1);
    ign.adm.close();
  }
  // Validating webhooks may not patch.
  reply = (r) => allow(r.request['uid'], { patchType: 'JSONPatch', patch: b64([]) });
  const v = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'patcher' }] }]);
  assert.match(msg(await v.adm.validate(v.attrs())), /validating webhook may not return response.patch/);
  v.adm.close();
  // A decodable patch that does not apply: internal error even with Ignore.
  reply = (r) => allow(r.request['uid'], { patchType: 'JSONPatch', patch: b64([{ op: 'add', path: '/metadata/annotations/x', value: 'y' }]) });
  const p = setup([{ kind: 'mutating', name: 'm', webhooks: [{ name: 'badpatch', failurePolicy: 'Ignore' }] }]);
  const pr = await p.adm.mutate(p.attrs(), () => undefined);
  assert.equal(isFailure(pr) && pr.code, 500);
  p.adm.close();
  // Unreachable service: no endpoints.
  reply = (r) => allow(r.request['uid']);
  const s = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'svc', clientConfig: { service: { namespace: 'sys', name: 'hooks' }, caBundle } }] }]);
  assert.match(msg(await s.adm.validate(s.attrs())), /failed calling webhook "svc": failed to call webhook: Post "https:\/\/hooks.sys.svc:443\/\?timeout=10s": service "hooks" not found/);
  s.adm.close();
});

test('matchCondition errors follow failurePolicy; dry run is refused for webhooks with side effects', async () => {
  reply = (r) => allow(r.request['uid']);
  const bad = [{ name: 'c', expression: 'object.spec.nothere == 1' }];
  const f = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'fail', matchConditions: bad }] }]);
  assert.match(msg(await f.adm.validate(f.attrs())), /failed calling webhook "fail": failed evaluating match conditions: expression 'c' resulted in error: no such key: nothere/);
  f.adm.close();
  const i = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'ign', failurePolicy: 'Ignore', matchConditions: bad }] }]);
  assert.equal(msg(await i.adm.validate(i.attrs())), 'allowed');
  i.adm.close();
  const d = setup([{ kind: 'mutating', name: 'm', webhooks: [{ name: 'effects', sideEffects: 'Some' }, { name: 'clean', sideEffects: 'NoneOnDryRun' }] }]);
  assert.equal(msg(await d.adm.mutate(d.attrs({ dryRun: true }), () => undefined)), '400 BadRequest: admission webhook "effects" does not support dry run');
  d.adm.close();
});

test('a changed configuration takes effect at the next call (webhooks read once per stored object, not cached past it)', async () => {
  calls.length = 0;
  reply = (r) => allow(r.request['uid']);
  const { adm, attrs, store } = setup([{ kind: 'validating', name: 'v', webhooks: [{ name: 'one' }] }]);
  assert.equal(msg(await adm.validate(attrs())), 'allowed');
  assert.equal(msg(await adm.validate(attrs())), 'allowed');
  const key = 'admissionregistration.k8s.io/validatingwebhookconfigurations';
  const cfg = store.get(key, undefined, 'v')!;
  const hooks = cfg['webhooks'] as Array<Record<string, unknown>>;
  store.put(key, { ...cfg, webhooks: [{ ...hooks[0], name: 'two', clientConfig: { url: `https://127.0.0.1:${port}/two`, caBundle } }] });
  assert.equal(msg(await adm.validate(attrs())), 'allowed');
  store.put(key, { ...cfg, webhooks: [{ ...hooks[0], name: 'three', clientConfig: { url: `https://127.0.0.1:${port}/three`, caBundle }, matchConditions: [{ name: 'never', expression: 'false' }] }] });
  assert.equal(msg(await adm.validate(attrs())), 'allowed');
  assert.deepEqual(calls, ['/one?timeout=10s', '/one?timeout=10s', '/two?timeout=10s']);
  adm.close();
});
