import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient } from './client.ts';
import { FakeTransport } from './fake-transport.ts';
import { patchPoolStatus } from './pool-status.ts';
import { Resources, resourcePath } from './resources.ts';
import { patchServiceAnnotations, patchServiceIngress } from './service-writes.ts';

describe('KubeClient and resource paths', () => {
  it('builds core, group, namespaced, cluster-scoped and subresource paths', () => {
    assert.equal(resourcePath(Resources.services, { namespace: 'a', name: 'b', subresource: 'status' }), '/api/v1/namespaces/a/services/b/status');
    assert.equal(resourcePath(Resources.services), '/api/v1/services');
    assert.equal(resourcePath(Resources.ipAddressClaims, { name: 'v4-1-2-3-4' }), '/apis/berth.io/v1alpha1/ipaddressclaims/v4-1-2-3-4');
    assert.equal(resourcePath(Resources.leases, { namespace: 'metallb-system', name: 'x' }), '/apis/coordination.k8s.io/v1/namespaces/metallb-system/leases/x');
  });

  it('follows list pages and answers the last resourceVersion', async () => {
    const t = new FakeTransport((q) =>
      q.query.continue === 'p2'
        ? { ok: true, value: { metadata: { resourceVersion: '9' }, items: [{ metadata: { name: 'b' } }] } }
        : { ok: true, value: { metadata: { resourceVersion: '8', continue: 'p2' }, items: [{ metadata: { name: 'a' } }] } },
    );
    const r = await new KubeClient(t).list(Resources.services, { namespace: 'x' });
    assert.ok(r.ok);
    assert.deepEqual(r.value.items.map((i) => i.metadata?.name), ['a', 'b']);
    assert.equal(r.value.metadata.resourceVersion, '9');
    assert.equal(t.requests[0]!.query.limit, 500);
  });

  it('sends creates with apiVersion/kind and fieldManager; deletes with preconditions', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const c = new KubeClient(t, { fieldManager: 'berth-controller' });
    await c.create(Resources.leases, { metadata: { name: 'l', namespace: 'n' } }, { dryRun: true });
    await c.delete(Resources.ipAddressClaims, 'v4-1-2-3-4', { resourceVersion: '42' });
    const [create, del] = t.requests;
    assert.equal(create!.path, '/apis/coordination.k8s.io/v1/namespaces/n/leases');
    assert.deepEqual(create!.query, { fieldManager: 'berth-controller', dryRun: 'All' });
    assert.equal((create!.body as { kind: string }).kind, 'Lease');
    assert.equal((create!.body as { apiVersion: string }).apiVersion, 'coordination.k8s.io/v1');
    assert.deepEqual((del!.body as { preconditions: unknown }).preconditions, { resourceVersion: '42' });
  });

  it('writes Service status through services/status as a merge patch, and annotations on the object', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const c = new KubeClient(t);
    await patchServiceIngress(c, 'shop', 'web', [{ ip: '192.168.1.220' }]);
    await patchServiceIngress(c, 'shop', 'web', []);
    await patchServiceAnnotations(c, 'shop', 'web', { 'metallb.io/ip-allocated-from-pool': 'default', 'berth.io/assigned-ips': null });
    const [set, clear, ann] = t.requests;
    assert.equal(set!.path, '/api/v1/namespaces/shop/services/web/status');
    assert.equal(set!.contentType, 'application/merge-patch+json');
    assert.deepEqual(set!.body, { status: { loadBalancer: { ingress: [{ ip: '192.168.1.220' }] } } });
    assert.deepEqual(clear!.body, { status: { loadBalancer: { ingress: null } } });
    assert.equal(ann!.path, '/api/v1/namespaces/shop/services/web');
    assert.deepEqual(ann!.body, { metadata: { annotations: { 'metallb.io/ip-allocated-from-pool': 'default', 'berth.io/assigned-ips': null } } });
  });

  it('writes pool counters as exact int64 digits (MaxInt64 survives)', async () => {
    // Capture the raw body text (FakeTransport would parse it).
    let raw = '';
    const t = new FakeTransport(() => ({ ok: true, value: {} }));
    const request = t.request.bind(t);
    t.request = (method, path, o) => {
      raw = String(o?.body);
      return request(method, path, o);
    };
    const c = new KubeClient(t);
    await patchPoolStatus(c, 'metallb-system', 'v6', {
      assignedIPv4: 0n,
      assignedIPv6: 3n,
      availableIPv4: 0n,
      availableIPv6: 9223372036854775807n,
    });
    assert.equal(raw, '{"status":{"assignedIPv4":0,"assignedIPv6":3,"availableIPv4":0,"availableIPv6":9223372036854775807}}');
  });
});
