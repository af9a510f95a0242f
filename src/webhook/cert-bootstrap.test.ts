import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import {
  caBundleProblems,
  ensureTls,
  injectCaBundle,
  type SecretIo,
  type WebhookConfigIo,
  type WebhookConfigRef,
} from './cert-bootstrap.ts';
import { renewalReason, servingNames } from './tls.ts';

const DAY = 86_400_000;
const names = servingNames('berth-webhook-service', 'metallb-system');

/** A Secret in memory with resourceVersion semantics; `pause` lets two replicas interleave. */
function memorySecret(pause: () => Promise<void> = async () => undefined) {
  let cur: { data: Record<string, string>; resourceVersion: string } | undefined;
  let rv = 0;
  let writes = 0;
  const io: SecretIo = {
    async read() {
      await pause();
      return cur && { data: { ...cur.data }, resourceVersion: cur.resourceVersion };
    },
    async create(data) {
      await pause();
      if (cur) return 'exists';
      writes++;
      cur = { data, resourceVersion: String(++rv) };
      return 'ok';
    },
    async replace(data, resourceVersion) {
      await pause();
      if (!cur || cur.resourceVersion !== resourceVersion) return 'conflict';
      writes++;
      cur = { data, resourceVersion: String(++rv) };
      return 'ok';
    },
  };
  return { io, get: () => cur, writes: () => writes };
}

test('first start creates CA and certificate in the Secret; the next start reuses them', async () => {
  const s = memorySecret();
  const now = new Date('2026-03-01T00:00:00Z');
  const a = await ensureTls(s.io, names, () => now);
  assert.equal(a.action, 'created');
  assert.equal(renewalReason(a.material, names, now), undefined);
  assert.ok(s.get()?.data['ca.key']);
  const b = await ensureTls(s.io, names, () => now);
  assert.equal(b.action, 'reused');
  assert.equal(b.material.certPem, a.material.certPem);
  assert.equal(s.writes(), 1);
});

test('renewal near expiry keeps the CA, so the caBundle stays valid', async () => {
  const s = memorySecret();
  const t0 = new Date('2026-03-01T00:00:00Z');
  const a = await ensureTls(s.io, names, () => t0);
  const later = new Date(t0.getTime() + 340 * DAY);
  const b = await ensureTls(s.io, names, () => later);
  assert.equal(b.action, 'renewed');
  assert.match(b.reason ?? '', /expires/);
  assert.equal(b.material.caPem, a.material.caPem);
  assert.notEqual(b.material.certPem, a.material.certPem);
});

test('a certificate missing a required DNS name is replaced', async () => {
  const s = memorySecret();
  const now = new Date('2026-03-01T00:00:00Z');
  await ensureTls(s.io, servingNames('old-name', 'metallb-system'), () => now);
  const b = await ensureTls(s.io, names, () => now);
  assert.equal(b.action, 'renewed');
  assert.match(b.reason ?? '', /lacks DNS name berth-webhook-service\.metallb-system\.svc/);
});

test('two replicas starting together end up serving the same Secret', async () => {
  const s = memorySecret(() => new Promise((r) => setImmediate(r)));
  const now = new Date('2026-03-01T00:00:00Z');
  const [a, b] = await Promise.all([ensureTls(s.io, names, () => now), ensureTls(s.io, names, () => now)]);
  assert.equal(a.material.certPem, b.material.certPem);
  assert.equal(s.writes(), 1);
  assert.deepEqual([a.action, b.action].sort(), ['created', 'reused']);
});

function memoryConfigs(objs: Map<string, KubeObject>): WebhookConfigIo & { replaced: number } {
  let rv = 1;
  const io = {
    replaced: 0,
    async get(ref: WebhookConfigRef) {
      const o = objs.get(`${ref.kind}/${ref.name}`);
      return o && structuredClone(o);
    },
    async replace(ref: WebhookConfigRef, obj: KubeObject) {
      const k = `${ref.kind}/${ref.name}`;
      const cur = objs.get(k);
      if (!cur) return 'notfound' as const;
      if (cur.metadata.resourceVersion !== obj.metadata.resourceVersion) return 'conflict' as const;
      io.replaced++;
      objs.set(k, { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } });
      return 'ok' as const;
    },
  };
  return io;
}

test('the CA is written into every webhook of both configurations, once, and missing ones are reported', async () => {
  const s = memorySecret();
  const { material } = await ensureTls(s.io, names, () => new Date());
  const cfg = (kind: string, hooks: string[]): KubeObject =>
    ({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind,
      metadata: { name: 'berth-webhook-configuration', resourceVersion: '1' },
      webhooks: hooks.map((name) => ({ name, clientConfig: { service: { name: 'x', namespace: 'y' } } })),
    }) as unknown as KubeObject;
  const objs = new Map([['MutatingWebhookConfiguration/berth-webhook-configuration', cfg('MutatingWebhookConfiguration', ['a'])]]);
  const refs: WebhookConfigRef[] = [
    { kind: 'MutatingWebhookConfiguration', name: 'berth-webhook-configuration' },
    { kind: 'ValidatingWebhookConfiguration', name: 'berth-webhook-configuration' },
  ];
  const io = memoryConfigs(objs);
  assert.match(caBundleProblems(refs[0]!, await io.get(refs[0]!), material.caPem)[0] ?? '', /does not have the serving CA/);
  const r = await injectCaBundle(io, refs, material.caPem);
  assert.deepEqual(r, {
    patched: ['MutatingWebhookConfiguration/berth-webhook-configuration'],
    unchanged: [],
    missing: ['ValidatingWebhookConfiguration/berth-webhook-configuration'],
  });
  assert.deepEqual(caBundleProblems(refs[0]!, await io.get(refs[0]!), material.caPem), []);
  assert.match(caBundleProblems(refs[1]!, await io.get(refs[1]!), material.caPem)[0] ?? '', /does not exist/);
  objs.set('ValidatingWebhookConfiguration/berth-webhook-configuration', cfg('ValidatingWebhookConfiguration', ['b', 'c']));
  const again = await injectCaBundle(io, refs, material.caPem);
  assert.deepEqual(again.unchanged, ['MutatingWebhookConfiguration/berth-webhook-configuration']);
  assert.deepEqual(again.patched, ['ValidatingWebhookConfiguration/berth-webhook-configuration']);
  assert.equal(io.replaced, 2);
});
