import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocator } from '../allocator/allocator.ts';
import type { PoolSpec, ServiceRequest } from '../allocator/types.ts';
import { newClaim, type IPAddressClaim } from '../api/claim.ts';
import { svc } from '../allocator/testing.ts';
import { claimFor, releaseHolder } from './claim-step.ts';
import { feedAllocator } from './allocator-sync.ts';
import { claimsByHolder } from './holders.ts';
import { MemoryClaimStore } from './memory-store.ts';
import type { ClaimStore } from './store.ts';

const pool = (name: string, ...addresses: string[]): PoolSpec => ({ name, addresses, autoAssign: true, avoidBuggyIPs: false });
const DEV = pool('default', '192.168.1.220-192.168.1.250');

const req = (ns: string, name: string, over: Partial<ServiceRequest> = {}): ServiceRequest => svc(`${ns}/${name}`, over);

function allocator(...pools: PoolSpec[]): Allocator {
  const a = new Allocator();
  a.setPools(pools.length ? pools : [DEV]);
  return a;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test('claims the proposed IP, records it, and is idempotent for a Service that holds its claim', async () => {
  const store = new MemoryClaimStore();
  const a = allocator();
  const r = await claimFor({ store, allocator: a }, 'shop/web', req('shop', 'web'), { dryRun: false });
  assert.deepEqual(r, { ok: true, ips: ['192.168.1.220'], pool: 'default' });
  const c = await store.get('192.168.1.220');
  assert.deepEqual(c?.spec.holders, [{ namespace: 'shop', name: 'web', service: 'shop/web', ports: [{ protocol: 'TCP', port: 80 }] }]);
  assert.equal(c?.spec.pool, 'default');
  const writes = store.writes;
  const again = await claimFor({ store, allocator: a }, 'shop/web', req('shop', 'web'), { dryRun: false });
  assert.deepEqual(again, r);
  assert.equal(store.writes, writes, 'no write for an already-held claim');
});

test('dryRun gives the same answer, writes no claim and leaves the allocator as it was', async () => {
  const store = new MemoryClaimStore();
  const a = allocator();
  const r = await claimFor({ store, allocator: a }, 'shop/web', req('shop', 'web'), { dryRun: true });
  assert.deepEqual(r, { ok: true, ips: ['192.168.1.220'], pool: 'default' });
  assert.equal(store.size, 0);
  assert.equal(a.ipsOf('shop/web'), undefined);
  // A held Service's dry run of a change does not move it either.
  await claimFor({ store, allocator: a }, 'shop/web', req('shop', 'web'), { dryRun: false });
  const moved = await claimFor({ store, allocator: a }, 'shop/web', req('shop', 'web', { requestedIPs: ['192.168.1.240'] }), {
    dryRun: true,
  });
  assert.deepEqual(moved, { ok: true, ips: ['192.168.1.240'], pool: 'default' });
  assert.deepEqual(a.ipsOf('shop/web')?.ips, ['192.168.1.220']);
  assert.equal(store.size, 1);
});

test('a claim the allocator did not know (409) is learnt and the next IP is taken', async () => {
  const store = new MemoryClaimStore();
  await store.create(
    newClaim({ ip: '192.168.1.220', pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'a', name: 'b', ports: [] }] }),
  );
  const a = allocator();
  // rng 0: no spreading after the lost round, so the answer is the next lowest free IP.
  const r = await claimFor({ store, allocator: a, rng: () => 0 }, 'shop/web', req('shop', 'web'), { dryRun: false });
  assert.deepEqual(r, { ok: true, ips: ['192.168.1.221'], pool: 'default' });
  assert.deepEqual(a.holdersOf('192.168.1.220').map((h) => h.key), ['a/b']);
});

test('after a lost race the next proposal is spread above the lowest free IP (replicas stop colliding)', async () => {
  const store = new MemoryClaimStore();
  await store.create(
    newClaim({ ip: '10.1.0.0', pool: 'big', sharingKey: '', backendKey: '', holders: [{ namespace: 'a', name: 'b', ports: [] }] }),
  );
  const r = await claimFor({ store, allocator: allocator(pool('big', '10.1.0.0/24')), rng: () => 0.5 }, 'shop/web', req('shop', 'web'), {
    dryRun: false,
  });
  // Round 1 window is 64 addresses: 10.1.0.1 + 32.
  assert.deepEqual(r, { ok: true, ips: ['10.1.0.33'], pool: 'big' });
  assert.deepEqual((await store.get('10.1.0.33'))?.spec.holders.map((h) => h.name), ['web']);
});

test('a requested IP held by another Service is denied with the holder named, after learning the claim', async () => {
  const store = new MemoryClaimStore();
  const other = allocator();
  await claimFor({ store, allocator: other }, 'a/b', req('a', 'b', { requestedIPs: ['192.168.1.230'] }), { dryRun: false });
  const r = await claimFor({ store, allocator: allocator() }, 'shop/web', req('shop', 'web', { requestedIPs: ['192.168.1.230'] }), {
    dryRun: false,
  });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.code === 'LB_IP_IN_USE' && r.message.includes('a/b'), JSON.stringify(r));
});

test('shared IP: the seeds pair shares 192.168.1.230; a third Service on port 80 is refused', async () => {
  const store = new MemoryClaimStore();
  const shared = { requestedIPs: ['192.168.1.230'], sharingKey: 'my-shared-ip' };
  const http = req('default', 'my-service-http', shared);
  const https = req('default', 'my-service-https', { ...shared, ports: [{ protocol: 'TCP', port: 443 }] });
  // Each through a different replica (its own allocator), as with several webhook processes.
  assert.equal((await claimFor({ store, allocator: allocator() }, 'default/my-service-http', http, { dryRun: false })).ok, true);
  assert.equal((await claimFor({ store, allocator: allocator() }, 'default/my-service-https', https, { dryRun: false })).ok, true);
  const c = await store.get('192.168.1.230');
  assert.deepEqual(c?.spec.holders.map((h) => h.name), ['my-service-http', 'my-service-https']);
  const third = await claimFor({ store, allocator: allocator() }, 'default/third', req('default', 'third', shared), {
    dryRun: false,
  });
  assert.ok(!third.ok && third.code === 'LB_PORT_CONFLICT', JSON.stringify(third));
  assert.match(!third.ok ? third.message : '', /port TCP\/80 is already in use on 192\.168\.1\.230 by default\/my-service-http/);
  assert.equal((await store.get('192.168.1.230'))?.spec.holders.length, 2);
});

test('dual stack takes both claims or none: a lost IPv6 rolls back the IPv4 claim', async () => {
  const store = new MemoryClaimStore();
  const dual = pool('dual', '10.0.0.0/30', 'fd00::/126');
  await store.create(
    newClaim({ ip: 'fd00::', pool: 'dual', sharingKey: '', backendKey: '', holders: [{ namespace: 'x', name: 'y', ports: [] }] }),
  );
  const a = allocator(dual);
  const r = await claimFor(
    { store, allocator: a, rng: () => 0 },
    'shop/web',
    req('shop', 'web', { families: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }),
    { dryRun: false },
  );
  // Round 1 took 10.0.0.0 then lost fd00::; the IPv4 claim was given back and round 2 proposes the lowest pair again.
  assert.deepEqual(r, { ok: true, ips: ['10.0.0.0', 'fd00::1'], pool: 'dual' });
  const names = (await store.list()).map((c) => c.metadata.name).sort();
  assert.deepEqual(names, ['v4-10-0-0-0', 'v6-fd00--0', 'v6-fd00--1']);
});

test('PreferDualStack adding its second family after a lost race keeps the IP it already holds', async () => {
  const store = new MemoryClaimStore();
  const dual = pool('dual', '10.0.0.0/24', 'fd00::/120');
  const a = allocator(dual);
  const single = req('shop', 'web', { families: ['IPv4'], ipFamilyPolicy: 'PreferDualStack' });
  assert.deepEqual(await claimFor({ store, allocator: a }, 'shop/web', single, { dryRun: false }), {
    ok: true,
    ips: ['10.0.0.0'],
    pool: 'dual',
  });
  // Another writer took fd00:: behind the allocator's back: the first round loses it.
  await store.create(
    newClaim({ ip: 'fd00::', pool: 'dual', sharingKey: '', backendKey: '', holders: [{ namespace: 'x', name: 'y', ports: [] }] }),
  );
  const both = req('shop', 'web', { families: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' });
  // rng close to 1: the retry spreads as far as it can; only the new IPv6 may move.
  const r = await claimFor({ store, allocator: a, rng: () => 0.99 }, 'shop/web', both, { dryRun: false });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.ips[0], '10.0.0.0', 'the held IPv4 did not move');
  assert.notEqual(r.ips[1], 'fd00::');
  assert.ok((await store.get('10.0.0.0'))?.spec.holders.some((h) => h.name === 'web'));
});

test('dual stack rollback keeps nothing when no pair can be claimed', async () => {
  const store = new MemoryClaimStore();
  const dual = pool('dual', '10.0.0.0/31', 'fd00::/128');
  await store.create(
    newClaim({ ip: 'fd00::', pool: 'dual', sharingKey: '', backendKey: '', holders: [{ namespace: 'x', name: 'y', ports: [] }] }),
  );
  const r = await claimFor(
    { store, allocator: allocator(dual) },
    'shop/web',
    req('shop', 'web', { families: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }),
    { dryRun: false },
  );
  assert.equal(r.ok, false);
  assert.deepEqual((await store.list()).map((c) => c.metadata.name), ['v6-fd00--0']);
});

test('bounded retries: a store where every IP is always taken ends with LB_CLAIM_CONFLICT', async () => {
  const inner = new MemoryClaimStore();
  // Every create loses, and the claim read back always names someone else (a hostile or racing world).
  const store: ClaimStore = {
    list: () => inner.list(),
    create: async () => ({ ok: false, reason: 'AlreadyExists' }),
    get: async (ip) => ({
      ...newClaim({ ip, pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'z', name: `z${ip}`, ports: [] }] }),
      metadata: { name: 'x', resourceVersion: '1' },
    }),
    update: (c) => inner.update(c),
    delete: (ip, o) => inner.delete(ip, o),
  };
  const r = await claimFor({ store, allocator: allocator(), maxAttempts: 3, backoff: async () => undefined }, 'shop/web', req('shop', 'web'), { dryRun: false });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.code === 'LB_CLAIM_CONFLICT', JSON.stringify(r));
  assert.match(!r.ok ? r.message : '', /after 3 attempts/);
});

test('adding a holder to a shared claim survives a concurrent update (409 → re-read → re-check)', async () => {
  let bumped = false;
  const inner = new MemoryClaimStore();
  const store: ClaimStore = {
    list: () => inner.list(),
    get: (ip) => inner.get(ip),
    create: (c, o) => inner.create(c, o),
    delete: (ip, o) => inner.delete(ip, o),
    update: async (c) => {
      if (!bumped) {
        // Someone else adds a holder between our read and our write.
        bumped = true;
        const cur = (await inner.get(c.spec.ip))!;
        await inner.update({
          ...cur,
          spec: { ...cur.spec, holders: [...cur.spec.holders, { namespace: 'q', name: 'dns', ports: [{ protocol: 'UDP', port: 53 }] }] },
        });
      }
      return inner.update(c);
    },
  };
  const shared = { requestedIPs: ['192.168.1.230'], sharingKey: 'k' };
  await claimFor({ store, allocator: allocator() }, 'a/one', req('a', 'one', shared), { dryRun: false });
  const r = await claimFor({ store, allocator: allocator() }, 'a/two', req('a', 'two', { ...shared, ports: [{ protocol: 'TCP', port: 443 }] }), {
    dryRun: false,
  });
  assert.equal(r.ok, true);
  assert.deepEqual((await inner.get('192.168.1.230'))?.spec.holders.map((h) => h.name), ['one', 'dns', 'two']);
});

test('releaseHolder removes one holder, deletes the claim with the last one, and tolerates absence', async () => {
  const store = new MemoryClaimStore();
  const shared = { requestedIPs: ['192.168.1.230'], sharingKey: 'k' };
  await claimFor({ store, allocator: allocator() }, 'a/one', req('a', 'one', shared), { dryRun: false });
  await claimFor({ store, allocator: allocator() }, 'a/two', req('a', 'two', { ...shared, ports: [] }), { dryRun: false });
  assert.deepEqual(await releaseHolder(store, '192.168.1.230', { namespace: 'a', name: 'one' }), { ok: true, action: 'updated' });
  assert.deepEqual(await releaseHolder(store, '192.168.1.230', { namespace: 'a', name: 'one' }), { ok: true, action: 'absent' });
  assert.deepEqual(await releaseHolder(store, '192.168.1.230', { namespace: 'a', name: 'two' }), { ok: true, action: 'deleted' });
  assert.equal(store.size, 0);
  assert.deepEqual(await releaseHolder(store, '192.168.1.230', { namespace: 'a', name: 'two' }), { ok: true, action: 'absent' });
});

test('claimsByHolder indexes dual-stack and shared holders, IPv4 first', () => {
  const h = (ns: string, name: string) => ({ namespace: ns, name, ports: [] });
  const claims: IPAddressClaim[] = [
    newClaim({ ip: 'fd00::1', pool: 'p', sharingKey: '', backendKey: '', holders: [h('a', 'web')] }),
    newClaim({ ip: '10.0.0.1', pool: 'p', sharingKey: 'k', backendKey: '', holders: [h('a', 'web'), h('b', 'dns')] }),
  ];
  const idx = claimsByHolder(claims);
  assert.deepEqual(idx.get('a/web')?.ips, ['10.0.0.1', 'fd00::1']);
  assert.deepEqual(idx.get('b/dns')?.ips, ['10.0.0.1']);
  assert.equal(idx.size, 2);
});

test('three allocators racing on one store never give one IP to two Services', async () => {
  // Every store call yields to the event loop, so the replicas' requests interleave like network round trips.
  const store = new MemoryClaimStore({ pause: tick });
  const replicas = [0, 1, 2].map(() => allocator(pool('big', '10.1.0.0/24')));
  // Each replica follows the store's events, as the webhook's claim informer does.
  const offs = replicas.map((a) => feedAllocator(a, store.asCache()));
  const N = 150;
  const results = await Promise.all(
    Array.from({ length: N }, (_, i) =>
      claimFor({ store, allocator: replicas[i % 3]! }, `ns/s${i}`, req('ns', `s${i}`), { dryRun: false }),
    ),
  );
  offs.forEach((off) => off());
  const ips = results.map((r) => (r.ok ? r.ips[0] : `fail:${!r.ok && r.code}`));
  assert.equal(results.filter((r) => !r.ok).length, 0, ips.filter((x) => x?.startsWith('fail')).join(' '));
  assert.equal(new Set(ips).size, N, 'all IPs distinct');
  const claims = await store.list();
  assert.equal(claims.length, N);
  for (const c of claims) assert.equal(c.spec.holders.length, 1, `${c.spec.ip} has one holder`);
  for (let i = 0; i < N; i++) {
    const r = results[i]!;
    assert.ok(r.ok);
    const c = claims.find((x) => x.spec.ip === r.ips[0]);
    assert.equal(c?.spec.holders[0]?.name, `s${i}`);
  }
});

/** A store whose create rejects for some IPs (an API server answering 422, or unreachable). */
function failingCreates(inner: MemoryClaimStore, bad: (ip: string) => boolean): ClaimStore {
  return {
    list: () => inner.list(),
    get: (ip) => inner.get(ip),
    create: async (c, o) => {
      if (bad(c.spec.ip)) throw new Error(`create ipaddressclaim ${c.metadata.name}: HTTP 422`);
      return inner.create(c, o);
    },
    update: (c) => inner.update(c),
    delete: (ip, o) => inner.delete(ip, o),
  };
}

test('a rejected claim create leaves the claims and the allocator as they were (dual stack rolls back the other family)', async () => {
  const inner = new MemoryClaimStore();
  const a = allocator(pool('dual', '198.51.100.0/28', '2001:db8:22::/124'));
  const store = failingCreates(inner, (ip) => ip.includes(':'));
  const dual = req('shop', 'web', { families: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' });
  await assert.rejects(claimFor({ store, allocator: a }, 'shop/web', dual, { dryRun: false }), /HTTP 422/);
  assert.equal(inner.size, 0, 'the IPv4 claim taken in the same round was released');
  assert.equal(a.ipsOf('shop/web'), undefined, 'the allocator does not keep the address');
  assert.equal(a.holdersOf('198.51.100.0').length, 0);
  // A Service that held an IP before keeps exactly that record.
  const held = await claimFor({ store: inner, allocator: a }, 'shop/old', req('shop', 'old'), { dryRun: false });
  assert.ok(held.ok);
  const boom = failingCreates(inner, () => true);
  await assert.rejects(
    claimFor({ store: boom, allocator: a }, 'shop/old', req('shop', 'old', { requestedIPs: ['198.51.100.9'] }), { dryRun: false }),
  );
  assert.deepEqual(a.ipsOf('shop/old')?.ips, held.ips);
});

test('a Service created again under the same name does not inherit the earlier one’s IP; it may take it over when it asks for it', async () => {
  const store = new MemoryClaimStore();
  const small: PoolSpec = { ...pool('small', '203.0.113.10/32'), autoAssign: false };
  const a = allocator(small, pool('default', '198.51.100.0/30'));
  const first = await claimFor({ store, allocator: a }, 'ns/a', req('ns', 'a', { pool: 'small' }), {
    dryRun: false,
    identity: { creating: true },
  });
  assert.deepEqual(first.ok && first.ips, ['203.0.113.10']);
  // Bound by the controller.
  const c = (await store.get('203.0.113.10'))!;
  await store.update({ ...c, spec: { ...c.spec, holders: [{ ...c.spec.holders[0]!, uid: 'uid-1' }] } });
  // Deleted and created again without the pool annotation, before the controller released the claim.
  const again = await claimFor({ store, allocator: a }, 'ns/a', req('ns', 'a'), { dryRun: false, identity: { creating: true } });
  assert.deepEqual(again.ok && again.ips, ['198.51.100.0']);
  assert.equal((await store.get('203.0.113.10'))?.spec.holders[0]?.uid, 'uid-1', 'the earlier entry is left to the controller');
  assert.ok(a.holdersOf('203.0.113.10').length > 0, 'the earlier IP stays taken in the allocator');
  // Created a third time asking for the old IP explicitly: the earlier entry is taken over.
  const third = await claimFor({ store, allocator: a }, 'ns/b', req('ns', 'b'), { dryRun: false, identity: { creating: true } });
  assert.ok(third.ok);
  const asks = await claimFor({ store, allocator: a }, 'ns/a', req('ns', 'a', { requestedIPs: ['203.0.113.10'], pool: 'small' }), {
    dryRun: false,
    identity: { creating: true },
  });
  assert.deepEqual(asks.ok && asks.ips, ['203.0.113.10']);
  const taken = (await store.get('203.0.113.10'))!.spec.holders;
  assert.equal(taken.length, 1);
  assert.equal(taken[0]!.uid, undefined, 'the entry is the new Service’s now (its uid is bound later)');
});

test('an UPDATE keeps the stored IPs whatever this replica’s allocator remembers, and stamps IPs it adds', async () => {
  const store = new MemoryClaimStore();
  const a = allocator(pool('default', '198.51.100.0/28'));
  const r = await claimFor({ store, allocator: a }, 'ns/web', req('ns', 'web'), { dryRun: false, identity: { creating: true } });
  assert.deepEqual(r.ok && r.ips, ['198.51.100.0']);
  // A second replica whose allocator never saw the claim (its informer lags).
  const stale = allocator(pool('default', '198.51.100.0/28'));
  const upd = await claimFor({ store, allocator: stale }, 'ns/web', req('ns', 'web', { ports: [{ protocol: 'TCP', port: 8080 }] }), {
    dryRun: false,
    identity: { uid: 'u1', admittedOn: '41', stored: ['198.51.100.0'] },
  });
  assert.deepEqual(upd.ok && upd.ips, ['198.51.100.0'], 'never moves to the lowest free IP of a stale view');
  const kept = (await store.get('198.51.100.0'))!.spec.holders[0]!;
  assert.equal(kept.admittedOn, undefined, 'an IP the stored version holds is not stamped');
  assert.deepEqual(kept.ports, [{ protocol: 'TCP', port: 8080 }]);
  // A changed request moving to another IP stamps the new entry with the stored version's resourceVersion.
  const moved = await claimFor({ store, allocator: stale }, 'ns/web', req('ns', 'web', { requestedIPs: ['198.51.100.7'] }), {
    dryRun: false,
    identity: { uid: 'u1', admittedOn: '42', stored: ['198.51.100.0'] },
  });
  assert.deepEqual(moved.ok && moved.ips, ['198.51.100.7']);
  const stamped = (await store.get('198.51.100.7'))!.spec.holders[0]!;
  assert.equal(stamped.admittedOn, '42');
  assert.equal(stamped.uid, 'u1');
  // Toggling back to an IP it still holds an entry on re-stamps it (the controller must not release it meanwhile).
  const back = await claimFor({ store, allocator: stale }, 'ns/web', req('ns', 'web', { requestedIPs: ['198.51.100.0'] }), {
    dryRun: false,
    identity: { uid: 'u1', admittedOn: '43', stored: ['198.51.100.7'] },
  });
  assert.deepEqual(back.ok && back.ips, ['198.51.100.0']);
  assert.equal((await store.get('198.51.100.0'))!.spec.holders[0]!.admittedOn, '43');
});

test('releaseHolder with a match keeps an entry that changed hands', async () => {
  const store = new MemoryClaimStore();
  await store.create(
    newClaim({ ip: '198.51.100.1', pool: 'p', sharingKey: '', backendKey: '', holders: [{ namespace: 'ns', name: 'a', uid: 'new', ports: [] }] }),
  );
  const r = await releaseHolder(store, '198.51.100.1', { namespace: 'ns', name: 'a' }, { match: (h) => h.uid === 'old' });
  assert.deepEqual(r, { ok: true, action: 'kept' });
  assert.ok(await store.get('198.51.100.1'));
  const d = await releaseHolder(store, '198.51.100.1', { namespace: 'ns', name: 'a' }, { match: (h) => h.uid === 'new' });
  assert.deepEqual(d, { ok: true, action: 'deleted' });
});

test('a newcomer does not join a claim on a sharing key or port its live holder no longer carries (chaos seed 5)', async () => {
  const store = new MemoryClaimStore();
  const a = allocator(pool('doc', '192.0.2.17/32', '192.0.2.18/32'));
  feedAllocator(a, store.asCache());
  // The claim says "k2", but chaos-a/svc-7's Service dropped the key in an update no webhook saw.
  await store.create(newClaim({ ip: '192.0.2.17', pool: 'doc', sharingKey: 'k2', backendKey: '', holders: [{ namespace: 'chaos-a', name: 'svc-7', uid: 'u7', ports: [{ protocol: 'TCP', port: 53 }] }] }));
  await tick();
  const live = new Map([['chaos-a/svc-7', req('chaos-a', 'svc-7', { sharingKey: '', ports: [{ protocol: 'TCP', port: 53 }] })]]);
  const gen = req('chaos-a', 'gen', { sharingKey: 'k2', ports: [{ protocol: 'TCP', port: 443 }] });
  const r = await claimFor({ store, allocator: a, lookup: (k) => live.get(k) }, 'chaos-a/gen', gen, { dryRun: false });
  assert.deepEqual(r, { ok: true, ips: ['192.0.2.18'], pool: 'doc' });
  assert.deepEqual((await store.get('192.0.2.17'))?.spec.holders.map((h) => h.name), ['svc-7']);
  // Its live key matches again, but it now serves the newcomer's port: still refused; with no live view, the claim decides.
  live.set('chaos-a/svc-7', req('chaos-a', 'svc-7', { sharingKey: 'k2', ports: [{ protocol: 'TCP', port: 443 }] }));
  const b = req('chaos-a', 'b', { sharingKey: 'k2', requestedIPs: ['192.0.2.17'], ports: [{ protocol: 'TCP', port: 443 }] });
  const refused = await claimFor({ store, allocator: a, lookup: (k) => live.get(k), maxAttempts: 1 }, 'chaos-a/b', b, { dryRun: false });
  assert.equal(refused.ok, false);
  const joined = await claimFor({ store, allocator: a, maxAttempts: 1 }, 'chaos-a/b', b, { dryRun: false });
  assert.deepEqual(joined, { ok: true, ips: ['192.0.2.17'], pool: 'doc' });
});
