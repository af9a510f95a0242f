import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaim } from '../api/claim.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import type { ServiceLike } from '../config/service.ts';
import { lbService } from './fakes.ts';
import { entryOrphaned, holderOrphaned, newRepairState, repairClaims } from './repair.ts';

const T0 = Date.UTC(2025, 0, 1);

async function setup() {
  let now = T0;
  const store = new MemoryClaimStore({ now: () => new Date(now) });
  const claim = (ip: string, ...holders: string[]) =>
    store.create(
      newClaim({
        ip,
        pool: 'default',
        sharingKey: holders.length > 1 ? 'k' : '',
        backendKey: '',
        holders: holders.map((h) => ({ namespace: h.split('/')[0]!, name: h.split('/')[1]!, ports: [] })),
      }),
    );
  const services = new Map<string, ServiceLike>();
  const deps = { claims: { list: () => store.listSync() }, service: (k: string) => services.get(k), store, graceMs: 60_000 };
  return { store, claim, services, deps, setNow: (t: number) => (now = t) };
}

describe('claim repair loop', () => {
  it('deletes a claim whose Service does not exist, only once the claim is older than the grace period', async () => {
    const s = await setup();
    await s.claim('192.168.1.220', 'default/gone');
    await s.claim('192.168.1.221', 'default/live');
    s.services.set('default/live', lbService('default', 'live', { annotations: { 'berth.io/assigned-ips': '192.168.1.221' } }));
    const st = newRepairState();
    // The loop runs every few seconds, so it first sees the orphan right after the claim was created.
    const early = await repairClaims(s.deps, st, T0 + 1_000);
    assert.deepEqual(early.released, []);
    assert.equal(early.waiting, 1);
    assert.equal(early.nextDueAt, T0 + 61_000);
    assert.deepEqual((await repairClaims(s.deps, st, T0 + 60_999)).released, []);
    const due = await repairClaims(s.deps, st, T0 + 61_000);
    assert.deepEqual(due.released, [{ ip: '192.168.1.220', holder: 'default/gone', deleted: true }]);
    assert.deepEqual(s.store.listSync().map((c) => c.spec.ip), ['192.168.1.221']);
  });

  it('a cache that lags the stored Service releases nothing: the decision waits until the cache has caught up', async () => {
    const s = await setup();
    await s.claim('192.168.1.240', 'default/a');
    // The cached Service (rv 1) does not name the IP yet; the stored one (rv 2) does: the leader wrote it.
    const stale = lbService('default', 'a');
    stale.metadata = { ...stale.metadata, uid: 'u-a', resourceVersion: '1' };
    s.services.set('default/a', stale);
    let stored = { uid: 'u-a', resourceVersion: '2' };
    const deps = { ...s.deps, graceMs: 4_000, current: async () => stored };
    const st = newRepairState();
    await repairClaims(deps, st, T0 + 1_000);
    const due = await repairClaims(deps, st, T0 + 10_000);
    assert.deepEqual(due.released, [], 'released a live claim on a lagging cache');
    assert.equal(due.waiting, 1);
    assert.equal(s.store.size, 1);
    // Once the cache is current and still does not name the IP, the entry is a leak after all.
    stored = { uid: 'u-a', resourceVersion: '1' };
    const later = await repairClaims(deps, st, T0 + 11_000);
    assert.deepEqual(later.released, [{ ip: '192.168.1.240', holder: 'default/a', deleted: true }]);
    // A Service that no longer exists is released without waiting for the cache.
    await s.claim('192.168.1.241', 'default/gone');
    const gone = { ...deps, current: async () => undefined };
    await repairClaims(gone, st, T0 + 12_000);
    assert.deepEqual((await repairClaims(gone, st, T0 + 20_000)).released, [{ ip: '192.168.1.241', holder: 'default/gone', deleted: true }]);
  });

  it('an old claim whose holder is first seen orphaned now still gets the full grace (admission in flight)', async () => {
    const s = await setup();
    await s.claim('192.168.1.230', 'default/a', 'default/b');
    const named = { annotations: { 'berth.io/assigned-ips': '192.168.1.230' } };
    s.services.set('default/a', lbService('default', 'a', named));
    const st = newRepairState();
    // The claim is 10 minutes old; b was just added by an admission whose Service is not stored yet.
    const first = await repairClaims(s.deps, st, T0 + 600_000);
    assert.deepEqual(first.released, []);
    assert.equal(first.nextDueAt, T0 + 660_000);
    // b's Service appears: nothing to do, and the orphan mark is forgotten.
    s.services.set('default/b', lbService('default', 'b', named));
    await repairClaims(s.deps, st, T0 + 630_000);
    assert.equal(st.orphanSince.size, 0);
    s.services.delete('default/b');
    const later = await repairClaims(s.deps, st, T0 + 700_000);
    assert.deepEqual(later.released, [], 'grace restarts from the new observation');
    const done = await repairClaims(s.deps, st, T0 + 760_000);
    assert.deepEqual(done.released, [{ ip: '192.168.1.230', holder: 'default/b', deleted: false }]);
    assert.deepEqual(s.store.listSync()[0]!.spec.holders.map((h) => h.name), ['a'], 'the shared claim keeps its live holder');
  });

  it('an entry its live Service does not name, or of an earlier Service of the same name, is released after the grace', async () => {
    const s = await setup();
    await s.claim('198.51.100.1', 'default/web');
    await s.claim('198.51.100.2', 'default/web');
    await s.claim('198.51.100.3', 'default/old');
    const c = (await s.store.get('198.51.100.3'))!;
    await s.store.update({ ...c, spec: { ...c.spec, holders: [{ ...c.spec.holders[0]!, uid: 'uid-earlier' }] } });
    // web names .1 only (an admission that added .2 was refused later in the chain); old is a new Service now.
    s.services.set('default/web', lbService('default', 'web', { annotations: { 'berth.io/assigned-ips': '198.51.100.1' } }));
    s.services.set('default/old', lbService('default', 'old', { ingress: ['198.51.100.3'] }));
    const st = newRepairState();
    assert.equal((await repairClaims(s.deps, st, T0 + 1_000)).waiting, 2);
    const due = await repairClaims(s.deps, st, T0 + 61_000);
    assert.deepEqual(
      due.released.map((r) => r.ip),
      ['198.51.100.2', '198.51.100.3'],
    );
    assert.deepEqual(s.store.listSync().map((x) => x.spec.ip), ['198.51.100.1']);
  });

  it('a holder whose Service is no longer a LoadBalancer of our class counts as orphaned', () => {
    assert.equal(holderOrphaned(undefined), true);
    assert.equal(holderOrphaned(lbService('a', 'b', { type: 'ClusterIP' })), true);
    assert.equal(holderOrphaned(lbService('a', 'b', { lbClass: 'x.io/lb' })), true);
    assert.equal(holderOrphaned(lbService('a', 'b', { lbClass: 'x.io/lb' }), 'x.io/lb'), false);
    assert.equal(holderOrphaned(lbService('a', 'b')), false);
  });
});

describe('entryOrphaned', () => {
  const svc = (annotation: string | undefined, ingress: string[]): ServiceLike => ({
    metadata: { name: 'web', namespace: 'shop', uid: 'u-1', ...(annotation !== undefined ? { annotations: { 'berth.io/assigned-ips': annotation } } : {}) },
    spec: { type: 'LoadBalancer' },
    ...(ingress.length > 0 ? { status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } } } : {}),
  });
  const entry = { namespace: 'shop', name: 'web', uid: 'u-1', ports: [] };
  it('an IP the Service names (annotation alone, in a list, status alone, another spelling) is not orphaned', () => {
    assert.equal(entryOrphaned(svc('192.0.2.1', []), entry, '192.0.2.1'), false);
    assert.equal(entryOrphaned(svc('192.0.2.9, 2001:db8::1', []), entry, '2001:db8::1'), false);
    assert.equal(entryOrphaned(svc(undefined, ['192.0.2.1']), entry, '192.0.2.1'), false);
    assert.equal(entryOrphaned(svc('2001:DB8:0::1', []), entry, '2001:db8::1'), false);
  });
  it('an IP the Service does not name, or an earlier Service of that name, is orphaned', () => {
    assert.equal(entryOrphaned(svc('192.0.2.2', ['192.0.2.2']), entry, '192.0.2.1'), true);
    assert.equal(entryOrphaned(svc(undefined, []), entry, '192.0.2.1'), true);
    assert.equal(entryOrphaned(svc('192.0.2.1', []), { ...entry, uid: 'u-0' }, '192.0.2.1'), true);
  });
});
