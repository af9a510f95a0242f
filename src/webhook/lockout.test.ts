// The UPDATE rule of the Service webhooks (issue 7 §1): an update is denied only for a problem it introduces; one that
// leaves the IP request as it was is admitted, with a warning saying why the Service holds no IP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mutateService } from './mutate-service.ts';
import { validateService } from './validate-service.ts';
import { decodeReview, type AdmissionRequest } from './review.ts';
import type { KubeObject, ObjectMeta } from '../api/object.ts';
import { ipAddressPool, memoryWorld, reviewFor, service } from './testing.ts';

const NS = 'metallb-system';

function request(body: Record<string, unknown>): AdmissionRequest {
  const r = decodeReview(body);
  if (!r.ok) throw new Error(r.message);
  return r.request;
}

function withMeta(o: KubeObject, meta: Partial<ObjectMeta>): KubeObject {
  return { ...o, metadata: { ...o.metadata, ...meta } };
}

test('a Service that holds no IP can still be labelled and annotated; a change of its IP request that cannot be met is denied', async () => {
  const world = memoryWorld({ objects: [ipAddressPool(NS, 'default', ['198.51.100.10/32'])] });
  try {
    const s1 = await mutateService(world.deps.service, request(reviewFor(service('shop', 's1'))));
    assert.equal(s1.allowed, true);
    // s2 was stored while the webhook was down (or lost its IP to an orphaning edit): no IP, none free.
    const stored = withMeta(service('shop', 's2'), { uid: 'uid-s2', resourceVersion: '7' });
    const labelled = withMeta(stored, { labels: { team: 'x' }, annotations: { note: 'hello' } });
    for (const hook of [mutateService, validateService]) {
      const r = await hook(world.deps.service, request(reviewFor(labelled, { operation: 'UPDATE', oldObject: stored })));
      assert.equal(r.allowed, true, `${hook.name} admits an update that keeps the IP request`);
    }
    const m = await mutateService(world.deps.service, request(reviewFor(labelled, { operation: 'UPDATE', oldObject: stored })));
    assert.match(m.warnings?.join('\n') ?? '', /shop\/s2 has no IP \(<pending>\): no available IPs: pool "default" 1\/1 in use/);
    // Its ports or externalTrafficPolicy may change too: the pool was full before, the update did not cause it.
    const ports = withMeta(service('shop', 's2', { ports: [{ port: 8081 }] }), { uid: 'uid-s2', resourceVersion: '7' });
    for (const hook of [mutateService, validateService]) {
      const r = await hook(world.deps.service, request(reviewFor(ports, { operation: 'UPDATE', oldObject: stored })));
      assert.equal(r.allowed, true, `${hook.name} admits a port change of a <pending> Service: ${r.status?.message ?? ''}`);
    }
    // A stale berth.io/assigned-ips (its claim released by an orphaning edit) does not lock it either.
    const stale = withMeta(stored, { annotations: { 'berth.io/assigned-ips': '198.51.100.99' } });
    const staleLabelled = withMeta(stale, { labels: { team: 'x' } });
    for (const hook of [mutateService, validateService]) {
      const r = await hook(world.deps.service, request(reviewFor(staleLabelled, { operation: 'UPDATE', oldObject: stale })));
      assert.equal(r.allowed, true, `${hook.name}: ${r.status?.message ?? ''}`);
    }
    // Asking for an IP that is taken is a problem the update introduces: denied, naming it.
    const asks = withMeta(service('shop', 's2', { ip: '198.51.100.10' }), { uid: 'uid-s2', resourceVersion: '7' });
    const denied = await mutateService(world.deps.service, request(reviewFor(asks, { operation: 'UPDATE', oldObject: stored })));
    assert.equal(denied.allowed, false);
    assert.match(denied.status?.message ?? '', /198\.51\.100\.10/);
  } finally {
    world.stop();
  }
});

test('an unchanged request never moves an IP, and rewriting berth.io/assigned-ips to an IP not held is refused without telling the user to remove it', async () => {
  const world = memoryWorld({ objects: [ipAddressPool(NS, 'default', ['198.51.100.0/29'])] });
  try {
    const created = await mutateService(world.deps.service, request(reviewFor(service('shop', 'web'))));
    assert.equal(created.allowed, true);
    const stored = withMeta(service('shop', 'web'), {
      uid: 'uid-web',
      resourceVersion: '3',
      annotations: { 'berth.io/assigned-ips': '198.51.100.0', 'metallb.io/ip-allocated-from-pool': 'default' },
    });
    const other = await mutateService(world.deps.service, request(reviewFor(service('shop', 'other'))));
    assert.equal(other.allowed, true);
    const stolen = withMeta(stored, { annotations: { 'berth.io/assigned-ips': '198.51.100.1' } });
    const v = await validateService(world.deps.service, request(reviewFor(stolen, { operation: 'UPDATE', oldObject: stored })));
    assert.equal(v.allowed, false);
    assert.match(v.status?.message ?? '', /198\.51\.100\.1 .*claimed by shop\/other/);
    assert.doesNotMatch(v.status?.message ?? '', /remove/);
  } finally {
    world.stop();
  }
});
