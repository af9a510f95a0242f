// Chaos seed 5 (120 s), replayed on the controller's reconcile with the real allocator and claim store: invariant d)
// failed — chaos-a/svc-7, settled on 192.0.2.17, was moved to 192.0.2.14 with no user write after it settled.
// What happened (writes.log, events): svc-7 shared 192.0.2.17 under allow-shared-ip "k2" with chaos-a/svc-10; an
// update dropping svc-7's key passed while every webhook was down (failurePolicy Ignore), so the claim still said
// "k2"; svc-10 was deleted and created again on another IP, leaving its admission's unbound entry on 192.0.2.17.
// The next leader then (1) refused svc-7 its own IP because of that stale entry (ClearAssignment: "held by
// chaos-a/svc-10@192.0.2.17") and (2) gave gen-cf62v (key "k2") 192.0.2.17 on the claim's stale key.
// Both halves are checked here: a settled Service is never moved for an entry that is no live Service's, and a
// newcomer never joins a claim on a key its live holder no longer carries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Allocator } from '../../src/allocator/allocator.ts';
import type { PoolSpec } from '../../src/allocator/types.ts';
import { newClaim } from '../../src/api/claim.ts';
import { feedAllocator } from '../../src/claims/allocator-sync.ts';
import { MemoryClaimStore } from '../../src/claims/memory-store.ts';
import { serviceRequestFrom, type ServiceLike } from '../../src/config/service.ts';
import { ClaimIndex } from '../../src/controller/claim-index.ts';
import type { ReconcileDeps } from '../../src/controller/deps.ts';
import { FakeRecorder, FakeServiceApi, lbService, MapCache } from '../../src/controller/fakes.ts';
import { reconcileService } from '../../src/controller/reconcile.ts';

const POOLS: PoolSpec[] = [
  { name: 'dual', addresses: ['192.0.2.16/28'], autoAssign: true, avoidBuggyIPs: false },
  { name: 'spare', addresses: ['192.0.2.64/28'], autoAssign: true, avoidBuggyIPs: false },
];

async function seed5() {
  const store = new MemoryClaimStore();
  const services = new MapCache<ServiceLike>();
  const api = new FakeServiceApi(services);
  const rec = new FakeRecorder();
  const allocator = new Allocator();
  allocator.setPools(POOLS);
  const lookup = (key: string) => {
    const s = services.getByKey(key);
    const r = s ? serviceRequestFrom(s) : undefined;
    return r?.ok ? r.req : undefined;
  };
  feedAllocator(allocator, store.asCache(), { lookup });
  const deps: ReconcileDeps = { allocator, store, claims: new ClaimIndex(store.asCache()), writer: api, recorder: rec, lookup };
  const run = (key: string) => reconcileService(deps, { key, svc: services.getByKey(key), configLoaded: true });
  /** Reconciles `svc` as a lagging cache holds it (the store keeps the newer version). */
  const reconcile = (key: string, svc: ServiceLike) => reconcileService(deps, { key, svc, configLoaded: true });

  // svc-10 as created again: k2, on 192.0.2.67 (admitted and bound).
  const svc10 = lbService('chaos-a', 'svc-10', {
    ports: [8080],
    annotations: { 'metallb.io/allow-shared-ip': 'k2', 'berth.io/assigned-ips': '192.0.2.67', 'metallb.io/ip-allocated-from-pool': 'spare' },
    ingress: ['192.0.2.67'],
  });
  services.put(svc10);
  await store.create(newClaim({ ip: '192.0.2.67', pool: 'spare', sharingKey: 'k2', backendKey: '', holders: [{ namespace: 'chaos-a', name: 'svc-10', service: 'chaos-a/svc-10', uid: svc10.metadata!.uid!, ports: [{ protocol: 'TCP', port: 8080 }] }] }));
  // The pool's first address is taken (in the run, the lower ones were): 192.0.2.17 is the allocator's first pick for k2.
  const other = lbService('chaos-b', 'other', { ports: [80], annotations: { 'berth.io/assigned-ips': '192.0.2.16', 'metallb.io/ip-allocated-from-pool': 'dual' }, ingress: ['192.0.2.16'] });
  services.put(other);
  await store.create(newClaim({ ip: '192.0.2.16', pool: 'dual', sharingKey: '', backendKey: '', holders: [{ namespace: 'chaos-b', name: 'other', service: 'chaos-b/other', uid: other.metadata!.uid!, ports: [{ protocol: 'TCP', port: 80 }] }] }));
  // svc-7 after its unseen update: no sharing key any more, still on 192.0.2.17 (settled: status, annotation, bound).
  const svc7 = lbService('chaos-a', 'svc-7', {
    ports: [53],
    annotations: { 'berth.io/assigned-ips': '192.0.2.17', 'metallb.io/ip-allocated-from-pool': 'dual' },
    ingress: ['192.0.2.17'],
  });
  services.put(svc7);
  // The claim of 192.0.2.17 as the next leader found it: key "k2", svc-7 bound, the earlier svc-10's admission entry.
  await store.create(
    newClaim({
      ip: '192.0.2.17',
      pool: 'dual',
      sharingKey: 'k2',
      backendKey: '',
      holders: [
        { namespace: 'chaos-a', name: 'svc-7', service: 'chaos-a/svc-7', uid: svc7.metadata!.uid!, ports: [{ protocol: 'TCP', port: 53 }] },
        { namespace: 'chaos-a', name: 'svc-10', ports: [{ protocol: 'TCP', port: 8080 }] },
      ],
    }),
  );
  // gen-cf62v: created while the webhooks were down, k2, no IP yet (the controller allocates it).
  services.put(lbService('chaos-a', 'gen-cf62v', { ports: [443], annotations: { 'metallb.io/allow-shared-ip': 'k2' } }));
  const ingress = (key: string) => (services.getByKey(key)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
  return { store, rec, run, reconcile, ingress, services };
}

test('chaos seed 5: a settled Service keeps its IP next to a stale entry of a deleted Service (no ClearAssignment)', async () => {
  const h = await seed5();
  const r = await h.run('chaos-a/svc-7');
  assert.equal(r.state, 'retry', JSON.stringify(r));
  assert.deepEqual(h.ingress('chaos-a/svc-7'), ['192.0.2.17']);
  assert.deepEqual(h.rec.take(), [], 'no ClearAssignment for an entry that is no live Service’s');
  // svc-10's own pass releases the stale entry (its Service holds 192.0.2.67); svc-7 then keeps its IP, and its
  // claim carries its key now.
  assert.equal((await h.run('chaos-a/svc-10')).state, 'success');
  assert.equal((await h.run('chaos-a/svc-7')).state, 'success');
  assert.deepEqual(h.ingress('chaos-a/svc-7'), ['192.0.2.17']);
  const c = await h.store.get('192.0.2.17');
  assert.deepEqual(c?.spec.holders.map((x) => x.name), ['svc-7']);
  assert.equal(c?.spec.sharingKey, '');
});

test('chaos seed 5: a newcomer is not given an IP on a sharing key its live holder no longer carries', async () => {
  const h = await seed5();
  // The order the next leader ran them in: the newcomer first.
  assert.equal((await h.run('chaos-a/gen-cf62v')).state, 'success');
  assert.ok(!h.ingress('chaos-a/gen-cf62v').includes('192.0.2.17'), `gen-cf62v got ${h.ingress('chaos-a/gen-cf62v').join(',')}`);
  assert.equal((await h.run('chaos-a/svc-10')).state, 'success');
  assert.equal((await h.run('chaos-a/svc-7')).state, 'success');
  assert.deepEqual(h.ingress('chaos-a/svc-7'), ['192.0.2.17'], 'svc-7 was moved');
  assert.deepEqual(h.rec.take().filter((e) => / chaos-a\/svc-7: /.test(e)), [], 'an event about svc-7');
});

test('chaos seed 3: a lagging cache never writes back the allow-shared-ip a Service dropped into its claim', async () => {
  // chaos-b/svc-11 held 2001:db8:100::3 alone and dropped allow-shared-ip "k1" (the claim said "" then); a leader whose
  // informer lagged reconciled the older version and wrote "k1" back into the claim; newcomers with "k1" were admitted
  // onto the IP and svc-11 was moved off it.
  const h = await seed5();
  const svc16 = h.services.getByKey('chaos-b/other')!;
  const stale = structuredClone(svc16);
  stale.metadata!.annotations = { ...stale.metadata!.annotations, 'metallb.io/allow-shared-ip': 'k1' };
  stale.metadata!.resourceVersion = String(Number(svc16.metadata!.resourceVersion) - 1);
  const r = await h.reconcile('chaos-b/other', stale);
  assert.equal(r.state, 'retry', JSON.stringify(r));
  assert.equal((await h.store.get('192.0.2.16'))?.spec.sharingKey, '', 'the stale key was written into the claim');
  // The current version converges without a write to the claim's key.
  assert.equal((await h.run('chaos-b/other')).state, 'success');
  assert.equal((await h.store.get('192.0.2.16'))?.spec.sharingKey, '');
});
