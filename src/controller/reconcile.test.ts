// Story tests of the per-Service reconcile (MetalLB's controller_test.go style: each step builds on the last), with the
// real allocator, the in-memory claim store and recording fakes for Service writes and events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from '../allocator/allocator.ts';
import type { PoolSpec } from '../allocator/types.ts';
import { feedAllocator, loadClaims } from '../claims/allocator-sync.ts';
import { newClaim } from '../api/claim.ts';
import { claimFor } from '../claims/claim-step.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import { serviceRequestFrom, type ServiceLike } from '../config/service.ts';
import { ClaimIndex } from './claim-index.ts';
import type { ReconcileDeps, SyncResult } from './deps.ts';
import { FakeRecorder, FakeServiceApi, lbService, MapCache } from './fakes.ts';
import { reconcileService } from './reconcile.ts';

const DEV: PoolSpec = { name: 'default', addresses: ['192.168.1.220-192.168.1.250'], autoAssign: true, avoidBuggyIPs: false };

function harness(pools: PoolSpec[] = [DEV]) {
  const store = new MemoryClaimStore();
  const services = new MapCache<ServiceLike>();
  const api = new FakeServiceApi(services);
  const rec = new FakeRecorder();
  const allocator = new Allocator();
  allocator.setPools(pools);
  const lookup = (key: string) => {
    const s = services.getByKey(key);
    const r = s ? serviceRequestFrom(s) : undefined;
    return r?.ok ? r.req : undefined;
  };
  feedAllocator(allocator, store.asCache(), { lookup });
  const index = new ClaimIndex(store.asCache());
  const additional = new Map<string, string>();
  const deps: ReconcileDeps = { allocator, store, claims: index, writer: api, recorder: rec, lookup, additionalFailures: additional };
  // The controller hands a deleted Service's last version to reconcile (its informer's delete event carries it).
  const lastSeen = new Map<string, ServiceLike>();
  const run = (key: string): Promise<SyncResult> => {
    const svc = services.getByKey(key);
    if (svc) lastSeen.set(key, svc);
    const deleted = svc ? undefined : lastSeen.get(key);
    return reconcileService(deps, { key, svc, configLoaded: true, ...(deleted ? { deleted } : {}) });
  };
  const claims = () =>
    store
      .listSync()
      .map((c) => `${c.spec.ip}=${c.spec.holders.map((h) => `${h.namespace}/${h.name}${h.uid ? '+uid' : ''}`).join('&')}`)
      .sort();
  const ingress = (key: string) => (services.getByKey(key)?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
  const ann = (key: string) => services.getByKey(key)?.metadata?.annotations ?? {};
  return { store, services, api, rec, allocator, index, deps, run, claims, ingress, ann, additional };
}

describe('reconcileService', () => {
  it('fallback allocation: a LoadBalancer Service with no claim gets an IP through the claim step', async () => {
    const h = harness();
    h.services.put(lbService('default', 'web'));
    const r = await h.run('default/web');
    assert.deepEqual(r, { state: 'success', freed: false });
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.220']);
    assert.equal(h.ann('default/web')['metallb.io/ip-allocated-from-pool'], 'default');
    assert.equal(h.ann('default/web')['berth.io/assigned-ips'], '192.168.1.220');
    assert.deepEqual(h.claims(), ['192.168.1.220=default/web+uid'], 'claim holds the Service, uid bound');
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated default/web: Assigned IP ["192.168.1.220"]']);
    assert.deepEqual(h.api.writes, [
      'status default/web 192.168.1.220',
      'annotations default/web {"metallb.io/ip-allocated-from-pool":"default","berth.io/assigned-ips":"192.168.1.220"}',
    ]);

    // Converged: a second pass writes nothing and says nothing.
    const writes = h.api.writes.length;
    const claimWrites = h.store.writes;
    assert.deepEqual(await h.run('default/web'), { state: 'success', freed: false });
    assert.equal(h.api.writes.length, writes);
    assert.equal(h.store.writes, claimWrites);
    assert.deepEqual(h.rec.take(), []);
  });

  it('webhook path: the IP decided at admission (annotation + claim) is published in status and the uid bound', async () => {
    const h = harness();
    // What the webhook did at admission: its own allocator proposed, the claim was created, annotations patched.
    const webhookAlloc = new Allocator();
    webhookAlloc.setPools([DEV]);
    const svc = lbService('shop', 'web');
    const req = serviceRequestFrom(svc);
    assert.ok(req.ok);
    const taken = await claimFor({ store: h.store, allocator: webhookAlloc }, 'shop/web', req.req, { dryRun: false });
    assert.ok(taken.ok);
    svc.metadata!.annotations = { 'berth.io/assigned-ips': taken.ips.join(','), 'metallb.io/ip-allocated-from-pool': taken.pool };
    h.services.put(svc);
    const storeWrites = h.store.writes;
    await h.run('shop/web');
    assert.deepEqual(h.ingress('shop/web'), ['192.168.1.220']);
    assert.deepEqual(h.api.writes, ['status shop/web 192.168.1.220'], 'annotations already right: status only');
    assert.equal(h.store.writes, storeWrites + 1, 'one claim write: the uid binding');
    assert.deepEqual(h.claims(), ['192.168.1.220=shop/web+uid']);
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated shop/web: Assigned IP ["192.168.1.220"]']);
  });

  it('an unbound entry of an earlier CREATE of the name is not inherited by a Service its webhook did not assign', async () => {
    // Chaos seed 4: a CREATE of shop/web asked for 192.168.2.1 from the non-autoAssign pool "manual" (claimed at
    // admission, entry not bound yet), was changed and deleted before any controller bound it; a new shop/web created
    // while the webhook was down (no berth.io/assigned-ips) was given that IP by the controller.
    const h = harness([DEV, { name: 'manual', addresses: ['192.168.2.0/30'], autoAssign: false, avoidBuggyIPs: false }]);
    await h.store.create(newClaim({ ip: '192.168.2.1', pool: 'manual', sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name: 'web', ports: [{ protocol: 'TCP', port: 80 }] }] }));
    h.services.put(lbService('shop', 'web'));
    const r = await h.run('shop/web');
    assert.equal(r.state, 'success');
    assert.deepEqual(h.ingress('shop/web'), ['192.168.1.220'], 'inherited the unbound entry of an earlier Service of the name');
  });

  it('requested IP changes: the old claim is released, the new IP claimed; not LoadBalancer any more: all cleared', async () => {
    const h = harness();
    h.services.put(lbService('shop', 'db', { loadBalancerIP: '192.168.1.230' }));
    await h.run('shop/db');
    assert.deepEqual(h.ingress('shop/db'), ['192.168.1.230']);
    const svc = structuredClone(h.services.getByKey('shop/db')!);
    svc.spec!.loadBalancerIP = '192.168.1.231';
    h.services.put(svc);
    const r = await h.run('shop/db');
    assert.equal(r.state, 'success');
    assert.equal(r.freed, true);
    assert.deepEqual(h.ingress('shop/db'), ['192.168.1.231']);
    assert.deepEqual(h.claims(), ['192.168.1.231=shop/db+uid']);
    assert.equal(h.ann('shop/db')['berth.io/assigned-ips'], '192.168.1.231');

    const cip = structuredClone(h.services.getByKey('shop/db')!);
    cip.spec!.type = 'ClusterIP';
    h.services.put(cip);
    h.api.writes.length = 0;
    const c = await h.run('shop/db');
    assert.deepEqual(c, { state: 'success', freed: true });
    assert.deepEqual(h.claims(), []);
    assert.deepEqual(h.ingress('shop/db'), []);
    assert.deepEqual(h.ann('shop/db'), {});
    assert.equal(h.allocator.ipsOf('shop/db'), undefined);
  });

  it('deleted Service: its claims are released (a shared IP keeps its other holder)', async () => {
    const h = harness();
    const shared = { 'metallb.io/allow-shared-ip': 'k', 'metallb.io/loadBalancerIPs': '192.168.1.230' };
    h.services.put(lbService('default', 'http', { annotations: shared, ports: [80] }));
    h.services.put(lbService('default', 'https', { annotations: shared, ports: [443] }));
    await h.run('default/http');
    await h.run('default/https');
    assert.deepEqual(h.claims(), ['192.168.1.230=default/http+uid&default/https+uid']);
    h.services.remove('default/http');
    const r = await h.run('default/http');
    assert.deepEqual(r, { state: 'success', freed: true });
    assert.deepEqual(h.claims(), ['192.168.1.230=default/https+uid']);
    h.services.remove('default/https');
    await h.run('default/https');
    assert.deepEqual(h.claims(), []);
  });

  it('pool exhausted: AllocationFailed with the allocator message, state pending, status stays empty', async () => {
    const h = harness([{ name: 'tiny', addresses: ['10.0.0.1/32'], autoAssign: true, avoidBuggyIPs: false }]);
    h.services.put(lbService('a', 'one'));
    h.services.put(lbService('a', 'two'));
    await h.run('a/one');
    h.rec.take();
    const r = await h.run('a/two');
    assert.equal(r.state, 'pending');
    assert.deepEqual(h.ingress('a/two'), []);
    const ev = h.rec.take();
    assert.equal(ev.length, 1);
    assert.match(ev[0]!, /^Warning AllocationFailed a\/two: Failed to allocate IP for "a\/two": .*tiny.*1\/1/);
    // Capacity appears: the pending Service gets the freed IP.
    h.services.remove('a/one');
    assert.equal((await h.run('a/one')).freed, true);
    assert.equal((await h.run('a/two')).state, 'success');
    assert.deepEqual(h.ingress('a/two'), ['10.0.0.1']);
  });

  it('restart: a fresh allocator rebuilt from the claims moves no IP and writes nothing', async () => {
    const h = harness();
    for (const n of ['a', 'b', 'c']) h.services.put(lbService('default', n));
    for (const n of ['a', 'b', 'c']) await h.run(`default/${n}`);
    const before = ['a', 'b', 'c'].map((n) => h.ingress(`default/${n}`)[0]);
    // Free the first IP so a naive restart would hand .220 to whoever comes first.
    h.services.remove('default/a');
    await h.run('default/a');

    const fresh = new Allocator();
    fresh.setPools([DEV]);
    loadClaims(fresh, h.store.listSync());
    const writes = h.api.writes.length;
    const storeWrites = h.store.writes;
    const deps: ReconcileDeps = { ...h.deps, allocator: fresh };
    // New Service first, then the holders: the claims already keep .221/.222 out of its reach.
    h.services.put(lbService('default', 'd'));
    await reconcileService(deps, { key: 'default/d', svc: h.services.getByKey('default/d'), configLoaded: true });
    for (const n of ['b', 'c']) await reconcileService(deps, { key: `default/${n}`, svc: h.services.getByKey(`default/${n}`), configLoaded: true });
    assert.deepEqual(['b', 'c'].map((n) => h.ingress(`default/${n}`)[0]), before.slice(1));
    assert.deepEqual(h.ingress('default/d'), ['192.168.1.220']);
    assert.deepEqual(h.api.writes.slice(writes).filter((w) => !w.includes('default/d')), [], 'holders: no write');
    assert.equal(h.store.writes, storeWrites + 1, 'd: one claim create (the controller writes the uid with it)');
  });

  it('an admission in flight for a newer version: its claim is kept, no event; once stored, the old IP is released', async () => {
    const h = harness();
    h.services.put(lbService('default', 'web'));
    await h.run('default/web');
    const v1 = h.services.getByKey('default/web')!;
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.220']);
    h.rec.take();
    // The webhook admits v2 (requests .225) over v1's resourceVersion; v2 is not stored yet.
    const v2req = serviceRequestFrom({ ...v1, spec: { ...v1.spec, loadBalancerIP: '192.168.1.225' } });
    assert.ok(v2req.ok);
    const r = await claimFor({ store: h.store, allocator: h.allocator }, 'default/web', v2req.req, {
      dryRun: false,
      identity: { uid: v1.metadata!.uid!, admittedOn: v1.metadata!.resourceVersion!, stored: ['192.168.1.220'] },
    });
    assert.ok(r.ok);
    // A reconcile of the cached v1 (a resync, a claim event) must not undo it.
    await h.run('default/web');
    assert.deepEqual(h.claims(), ['192.168.1.220=default/web+uid', '192.168.1.225=default/web+uid']);
    assert.deepEqual(h.rec.take(), [], 'no ClearAssignment for an IP a newer admission added');
    // v2 is stored: .225 is the Service's, .220 goes.
    h.services.put({
      ...v1,
      metadata: { ...v1.metadata, resourceVersion: '9999', annotations: { ...v1.metadata!.annotations, 'berth.io/assigned-ips': '192.168.1.225' } },
      spec: { ...v1.spec, loadBalancerIP: '192.168.1.225' },
    });
    await h.run('default/web');
    assert.deepEqual(h.claims(), ['192.168.1.225=default/web+uid']);
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.225']);
  });

  it('missing claim of a live Service is recreated for the same IP (annotation says it, the claim is gone)', async () => {
    const h = harness();
    h.services.put(lbService('default', 'web'));
    await h.run('default/web');
    await h.store.delete('192.168.1.220');
    assert.deepEqual(h.claims(), []);
    h.api.writes.length = 0;
    await h.run('default/web');
    assert.deepEqual(h.claims(), ['192.168.1.220=default/web+uid']);
    assert.deepEqual(h.api.writes, [], 'status and annotations unchanged');
  });

  it('a Service whose status was written by MetalLB (no claim, no annotation) keeps its IP', async () => {
    const h = harness();
    h.services.put(lbService('legacy', 'app', { ingress: ['192.168.1.240'] }));
    await h.run('legacy/app');
    assert.deepEqual(h.claims(), ['192.168.1.240=legacy/app+uid']);
    assert.deepEqual(h.ingress('legacy/app'), ['192.168.1.240']);
    assert.equal(h.ann('legacy/app')['berth.io/assigned-ips'], '192.168.1.240');
    assert.deepEqual(h.rec.take(), [], 'not a new allocation: no IPAllocated');
  });

  it('held IP taken out of every pool: ClearAssignment, a new IP from the remaining pools', async () => {
    const h = harness([DEV, { name: 'other', addresses: ['10.1.0.0/30'], autoAssign: true, avoidBuggyIPs: false }]);
    h.services.put(lbService('default', 'web', { annotations: { 'metallb.io/address-pool': 'default' } }));
    await h.run('default/web');
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.220']);
    h.rec.take();
    h.allocator.setPools([{ ...DEV, addresses: ['192.168.1.221-192.168.1.250'] }]);
    const r = await h.run('default/web');
    assert.equal(r.state, 'success');
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.221']);
    assert.deepEqual(h.claims(), ['192.168.1.221=default/web+uid']);
    const ev = h.rec.take();
    assert.match(ev[0]!, /^Normal ClearAssignment default\/web: current IP for "default\/web" not allowed by config, will attempt for new IP assignment: /);
    assert.equal(ev[1], 'Normal IPAllocated default/web: Assigned IP ["192.168.1.221"]');
  });

  it('bad requested IP: AllocationFailed naming the value, no retry; deprecated annotations warn on write', async () => {
    const h = harness();
    h.services.put(lbService('default', 'bad', { loadBalancerIP: '300.1.1.1' }));
    const r = await h.run('default/bad');
    assert.equal(r.state, 'errorNoRetry');
    assert.deepEqual(h.rec.take(), [
      'Warning AllocationFailed default/bad: Failed to allocate IP for "default/bad": "300.1.1.1" in spec.loadBalancerIP is not a valid IP address',
    ]);
    h.services.put(lbService('default', 'old', { annotations: { 'metallb.universe.tf/address-pool': 'default' } }));
    await h.run('default/old');
    assert.deepEqual(h.rec.take(), [
      'Warning deprecatedAnnotation default/old: Service uses deprecated annotation metallb.universe.tf/address-pool',
      'Normal IPAllocated default/old: Assigned IP ["192.168.1.220"]',
    ]);
  });

  it('other loadBalancerClass: ignored; config not loaded: nothing done', async () => {
    const h = harness();
    h.services.put(lbService('default', 'theirs', { lbClass: 'other.io/lb' }));
    assert.deepEqual(await h.run('default/theirs'), { state: 'success' });
    h.services.put(lbService('default', 'early'));
    const r = await reconcileService(h.deps, { key: 'default/early', svc: h.services.getByKey('default/early'), configLoaded: false });
    assert.deepEqual(r, { state: 'success' });
    assert.deepEqual(h.claims(), []);
    assert.deepEqual(h.api.writes, []);
  });

  it('dual stack: both families from one pool, status v4 first', async () => {
    const h = harness([{ name: 'dual', addresses: ['10.2.0.0/30', 'fd00:2::/126'], autoAssign: true, avoidBuggyIPs: false }]);
    h.services.put(lbService('default', 'ds', { dual: true }));
    await h.run('default/ds');
    assert.deepEqual(h.ingress('default/ds'), ['10.2.0.0', 'fd00:2::']);
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated default/ds: Assigned IP ["10.2.0.0" "fd00:2::"]']);
    assert.deepEqual(h.claims(), ['10.2.0.0=default/ds+uid', 'fd00:2::=default/ds+uid']);
  });

  it('a failed status write is an error to retry; a Service gone meanwhile is not', async () => {
    const h = harness();
    h.services.put(lbService('default', 'web'));
    h.api.failNext.set('default/web', 'Error');
    const r = await h.run('default/web');
    assert.equal(r.state, 'error');
    const again = await h.run('default/web');
    assert.equal(again.state, 'success');
    assert.deepEqual(h.ingress('default/web'), ['192.168.1.220'], 'the retry keeps the IP already claimed');
    h.api.failNext.set('default/web', 'NotFound');
    const svc = structuredClone(h.services.getByKey('default/web')!);
    svc.spec!.ports = [{ protocol: 'TCP', port: 8080 }];
    svc.status = {};
    h.services.put(svc);
    assert.equal((await h.run('default/web')).state, 'success');
  });
});

describe('reconcileService: IP families (spec §3.1 steps 7, 8, 12)', () => {
  const MIXED: PoolSpec = { name: 'mixed', addresses: ['10.2.0.0/30', 'fd00:2::/128'], autoAssign: true, avoidBuggyIPs: false };
  const prefer = { dual: true, ipFamilyPolicy: 'PreferDualStack' } as const;

  it('PreferDualStack holding one family gets the other from its pool when one frees up; says why not once meanwhile', async () => {
    const h = harness([MIXED]);
    h.services.put(lbService('default', 'a', prefer));
    h.services.put(lbService('default', 'b', prefer));
    await h.run('default/a');
    assert.deepEqual(h.ingress('default/a'), ['10.2.0.0', 'fd00:2::'], 'a takes the only IPv6');
    const fresh = await h.run('default/b');
    assert.deepEqual(fresh, { state: 'success', freed: false });
    assert.deepEqual(h.ingress('default/b'), ['10.2.0.1'], 'PreferDualStack: one family is enough');
    h.rec.take();

    // Resync: b tries the other family, there is none free: one Normal event, nothing written, IP kept.
    const writes = h.api.writes.length;
    const claimWrites = h.store.writes;
    assert.deepEqual(await h.run('default/b'), { state: 'success', freed: false });
    assert.deepEqual(h.rec.take(), [
      'Normal AdditionalAssignFailed default/b: cannot assign additional IP in PreferDualStack: ' +
        'no available IPv6 IPs in pool "mixed" (1/1 in use)',
    ]);
    assert.deepEqual(h.ingress('default/b'), ['10.2.0.1']);
    assert.equal(h.api.writes.length, writes);
    assert.equal(h.store.writes, claimWrites);
    assert.deepEqual([...h.additional.keys()], ['default/b'], 'the controller requeues it when capacity appears');

    // Nothing changed: the next resync says nothing (no event flood).
    await h.run('default/b');
    assert.deepEqual(h.rec.take(), []);

    // a goes away: b's next pass adds the IPv6 from the same pool; status v4 first, annotation, claims bound.
    h.services.remove('default/a');
    assert.equal((await h.run('default/a')).freed, true);
    h.api.writes.length = 0;
    assert.deepEqual(await h.run('default/b'), { state: 'success', freed: false });
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated default/b: Assigned additional IP "fd00:2::"']);
    assert.deepEqual(h.ingress('default/b'), ['10.2.0.1', 'fd00:2::']);
    assert.equal(h.ann('default/b')['berth.io/assigned-ips'], '10.2.0.1,fd00:2::');
    assert.equal(h.ann('default/b')['metallb.io/ip-allocated-from-pool'], 'mixed');
    assert.deepEqual(h.api.writes, [
      'status default/b 10.2.0.1,fd00:2::',
      'annotations default/b {"berth.io/assigned-ips":"10.2.0.1,fd00:2::"}',
    ]);
    assert.deepEqual(h.claims(), ['10.2.0.1=default/b+uid', 'fd00:2::=default/b+uid']);
    assert.deepEqual(h.allocator.ipsOf('default/b'), { ips: ['10.2.0.1', 'fd00:2::'], pool: 'mixed' });
    assert.equal(h.additional.size, 0);

    // Converged.
    h.api.writes.length = 0;
    await h.run('default/b');
    assert.deepEqual(h.api.writes, []);
    assert.deepEqual(h.rec.take(), []);
  });

  it('the other family comes from the same pool only, never from another pool that has it', async () => {
    const v4: PoolSpec = { name: 'v4', addresses: ['10.3.0.0/30'], autoAssign: true, avoidBuggyIPs: false };
    const v6: PoolSpec = { name: 'v6', addresses: ['fd00:3::/126'], autoAssign: true, avoidBuggyIPs: false };
    const h = harness([v4, v6]);
    h.services.put(lbService('default', 'web', prefer));
    await h.run('default/web');
    assert.deepEqual(h.ingress('default/web'), ['10.3.0.0']);
    h.rec.take();
    await h.run('default/web');
    assert.deepEqual(h.rec.take(), [
      'Normal AdditionalAssignFailed default/web: cannot assign additional IP in PreferDualStack: pool "v4" has no IPv6 addresses',
    ]);
    assert.deepEqual(h.claims(), ['10.3.0.0=default/web+uid']);
    assert.deepEqual(h.allocator.ipsOf('default/web'), { ips: ['10.3.0.0'], pool: 'v4' });
  });

  it('a Service MetalLB left with one IP (status only) is adopted and completed in one pass; IPv6-primary too', async () => {
    const h = harness([{ ...MIXED, addresses: ['10.2.0.0/30', 'fd00:2::/126'] }]);
    h.services.put(lbService('legacy', 'v4', { ...prefer, ingress: ['10.2.0.2'] }));
    await h.run('legacy/v4');
    assert.deepEqual(h.ingress('legacy/v4'), ['10.2.0.2', 'fd00:2::']);
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated legacy/v4: Assigned additional IP "fd00:2::"']);
    assert.deepEqual(h.claims(), ['10.2.0.2=legacy/v4+uid', 'fd00:2::=legacy/v4+uid']);

    h.services.put(lbService('legacy', 'v6', { ...prefer, ingress: ['fd00:2::3'] }));
    await h.run('legacy/v6');
    assert.deepEqual(h.ingress('legacy/v6'), ['10.2.0.0', 'fd00:2::3'], 'v4 first in status');
    assert.deepEqual(h.rec.take(), ['Normal IPAllocated legacy/v6: Assigned additional IP "10.2.0.0"']);
  });

  it('held IPs with no computable family (two IPv4 in claims, three in status): nolbIPsIPFamily, then a fresh IP', async () => {
    const h = harness();
    h.services.put(lbService('default', 'web'));
    // Entries bound to this Service (its uid): its own IPs, odd as they are.
    const uid = h.services.getByKey('default/web')!.metadata!.uid!;
    for (const ip of ['192.168.1.230', '192.168.1.231']) {
      const c = await h.store.create(newClaim({ ip, pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'default', name: 'web', uid, ports: [{ protocol: 'TCP', port: 80 }] }] }));
      assert.ok(c.ok);
    }
    const r = await h.run('default/web');
    assert.equal(r.state, 'success');
    assert.equal(r.freed, true);
    assert.deepEqual(h.rec.take(), [
      'Warning nolbIPsIPFamily default/web: Failed to retrieve LBIPs IPFamily for "default/web": ' +
        'IPs ["192.168.1.230" "192.168.1.231"] are both IPv4: a dual-stack Service holds one of each family',
      'Normal IPAllocated default/web: Assigned IP ["192.168.1.220"]',
    ]);
    assert.deepEqual(h.claims(), ['192.168.1.220=default/web+uid']);
    assert.deepEqual(h.allocator.holdersOf('192.168.1.230'), [], 'the odd IPs are free again');

    h.services.put(lbService('legacy', 'three', { ingress: ['192.168.1.240', '192.168.1.241', '192.168.1.242'] }));
    await h.run('legacy/three');
    assert.deepEqual(h.rec.take(), [
      'Warning nolbIPsIPFamily legacy/three: Failed to retrieve LBIPs IPFamily for "legacy/three": ' +
        '3 IPs ["192.168.1.240" "192.168.1.241" "192.168.1.242"]: a Service holds at most one IPv4 and one IPv6 address',
      'Normal IPAllocated legacy/three: Assigned IP ["192.168.1.221"]',
    ]);
    assert.deepEqual(h.ingress('legacy/three'), ['192.168.1.221']);
  });

  it('RequireDualStack with one ClusterIP: Warning not enough clusterips, state cleared, nothing allocated', async () => {
    const h = harness([MIXED]);
    h.services.put(lbService('default', 'ds', { dual: true }));
    await h.run('default/ds');
    assert.deepEqual(h.ingress('default/ds'), ['10.2.0.0', 'fd00:2::']);
    h.rec.take();
    const svc = structuredClone(h.services.getByKey('default/ds')!);
    svc.spec!.clusterIPs = [svc.spec!.clusterIPs![0]!];
    h.services.put(svc);
    const r = await h.run('default/ds');
    assert.deepEqual(r, { state: 'errorNoRetry', message: 'not enough clusterips', freed: true });
    assert.deepEqual(h.rec.take(), [
      `Warning not enough clusterips default/ds: Service requires dual stack but not enough clusterips ["${svc.spec!.clusterIP!}"]`,
    ]);
    assert.deepEqual(h.claims(), []);
    assert.deepEqual(h.ingress('default/ds'), []);
    assert.deepEqual(h.ann('default/ds'), {});
    assert.equal(h.allocator.ipsOf('default/ds'), undefined);
  });
});

/**
 * Counts every call a reconcile makes into its seams (claim index, claim store, allocator, Service writer): the work
 * of one reconcile, measured without a clock. A scan of all claims or Services would show up as list()/stats() calls or
 * as a count that grows with the number of Services.
 */
function countingDeps(d: ReconcileDeps): { deps: ReconcileDeps; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrap = <T extends object>(name: string, o: T): T =>
    new Proxy(o, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          const k = `${name}.${String(prop)}`;
          calls.set(k, (calls.get(k) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return {
    deps: {
      ...d,
      allocator: wrap('allocator', d.allocator),
      store: wrap('store', d.store),
      claims: wrap('claims', d.claims),
      writer: wrap('writer', d.writer),
    },
    calls,
  };
}

describe('reconcileService cost (issue 12: a pass over N settled Services is O(N))', () => {
  /** N Services settled (allocated, status written, uid bound), then one more pass over all of them, counted. */
  async function settledPass(n: number): Promise<{ calls: Map<string, number>; recorded: number; writes: number }> {
    const h = harness([{ name: 'big', addresses: ['198.18.0.0/16'], autoAssign: true, avoidBuggyIPs: false }]);
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      h.services.put(lbService('scale', `s${i}`, i % 10 === 0 ? { dual: false, ports: [80, 443] } : {}));
      keys.push(`scale/s${i}`);
    }
    for (const k of keys) assert.equal((await h.run(k)).state, 'success');
    const recordedBefore = h.allocator.recorded;
    const writesBefore = h.api.writes.length + h.store.writes;
    const { deps, calls } = countingDeps(h.deps);
    for (const k of keys) {
      const svc = h.services.getByKey(k);
      assert.deepEqual(await reconcileService(deps, { key: k, svc, configLoaded: true }), { state: 'success', freed: false });
    }
    return { calls, recorded: h.allocator.recorded - recordedBefore, writes: h.api.writes.length + h.store.writes - writesBefore };
  }

  it('a settled Service costs the same few calls whatever N; nothing written, nothing re-recorded, nothing listed', async () => {
    const small = await settledPass(100);
    const large = await settledPass(400);
    for (const r of [small, large]) {
      assert.equal(r.writes, 0, 'a pass over settled Services writes nothing');
      assert.equal(r.recorded, 0, 'the allocator keeps its records (no old-generation garbage per pass)');
      for (const k of ['claims.list', 'store.list', 'allocator.stats', 'allocator.allocations', 'allocator.setPools']) {
        assert.equal(r.calls.get(k) ?? 0, 0, `${k} called during a pass`);
      }
    }
    // Every seam is called exactly 4× as often for 4× the Services: per-Service work does not depend on N.
    const names = new Set([...small.calls.keys(), ...large.calls.keys()]);
    for (const k of names) assert.equal(large.calls.get(k) ?? 0, 4 * (small.calls.get(k) ?? 0), `${k}: ${small.calls.get(k)} → ${large.calls.get(k)}`);
    const perService = [...small.calls.values()].reduce((a, b) => a + b, 0) / 100;
    assert.ok(perService <= 8, `a settled Service costs ${perService} seam calls (${JSON.stringify([...small.calls])})`);
  });
});
