import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newClaim } from '../api/claim.ts';
import { MemoryClaimStore } from './memory-store.ts';
import type { ClaimEvent } from './store.ts';

const claim = (ip: string, holders = [{ namespace: 'shop', name: 'web', ports: [{ protocol: 'TCP' as const, port: 80 }] }]) =>
  newClaim({ ip, pool: 'default', sharingKey: '', backendKey: '', holders });

test('create is create-only: the second create of one IP gets AlreadyExists', async () => {
  const s = new MemoryClaimStore({ now: () => new Date('2026-01-01T00:00:00Z') });
  const a = await s.create(claim('192.168.1.221'));
  assert.equal(a.ok, true);
  assert.ok(a.ok && a.claim.metadata.uid && a.claim.metadata.resourceVersion);
  assert.equal(a.ok && a.claim.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z');
  assert.deepEqual(await s.create(claim('192.168.1.221')), { ok: false, reason: 'AlreadyExists' });
  assert.equal(s.size, 1);
});

test('get accepts any textual form of the IP', async () => {
  const s = new MemoryClaimStore();
  await s.create(claim('2001:db8::1'));
  assert.equal((await s.get('2001:0db8:0:0::1'))?.metadata.name, 'v6-2001-db8--1');
  assert.equal(await s.get('2001:db8::2'), undefined);
});

test('dryRun create answers like a create and writes nothing', async () => {
  const s = new MemoryClaimStore();
  const r = await s.create(claim('10.0.0.1'), { dryRun: true });
  assert.equal(r.ok, true);
  assert.equal(s.size, 0);
  assert.equal(s.writes, 0);
});

test('update needs the current resourceVersion: a stale one is a Conflict, a missing claim NotFound', async () => {
  const s = new MemoryClaimStore();
  const a = await s.create(claim('10.0.0.1'));
  assert.ok(a.ok);
  const next = structuredClone(a.claim);
  next.spec.holders.push({ namespace: 'shop', name: 'api', ports: [] });
  const u = await s.update(next);
  assert.ok(u.ok);
  assert.notEqual(u.claim.metadata.resourceVersion, a.claim.metadata.resourceVersion);
  assert.equal(u.claim.metadata.uid, a.claim.metadata.uid);
  assert.deepEqual(await s.update(next), { ok: false, reason: 'Conflict' });
  await s.delete('10.0.0.1');
  assert.deepEqual(await s.update(u.claim), { ok: false, reason: 'NotFound' });
});

test('update without a resourceVersion is a bug and throws', async () => {
  const s = new MemoryClaimStore();
  await s.create(claim('10.0.0.1'));
  await assert.rejects(s.update(claim('10.0.0.1')), /without metadata.resourceVersion/);
});

test('delete honours the resourceVersion precondition', async () => {
  const s = new MemoryClaimStore();
  const a = await s.create(claim('10.0.0.1'));
  assert.ok(a.ok);
  assert.deepEqual(await s.delete('10.0.0.1', { resourceVersion: '999' }), { ok: false, reason: 'Conflict' });
  assert.deepEqual(await s.delete('10.0.0.1', { resourceVersion: a.claim.metadata.resourceVersion! }), { ok: true });
  assert.deepEqual(await s.delete('10.0.0.1'), { ok: false, reason: 'NotFound' });
});

test('returned claims are copies: mutating them does not change the store', async () => {
  const s = new MemoryClaimStore();
  await s.create(claim('10.0.0.1'));
  const got = await s.get('10.0.0.1');
  got!.spec.holders.length = 0;
  assert.equal((await s.get('10.0.0.1'))!.spec.holders.length, 1);
});

test('the cache view follows every write, in order', async () => {
  const s = new MemoryClaimStore();
  const seen: string[] = [];
  const cache = s.asCache();
  const off = cache.subscribe((e: ClaimEvent) => seen.push(`${e.type} ${e.claim.metadata.name}`));
  const a = await s.create(claim('10.0.0.1'));
  assert.ok(a.ok);
  await s.update({ ...a.claim, spec: { ...a.claim.spec, holders: [] } });
  await s.delete('10.0.0.1');
  off();
  await s.create(claim('10.0.0.2'));
  assert.deepEqual(seen, ['added v4-10-0-0-1', 'modified v4-10-0-0-1', 'deleted v4-10-0-0-1']);
  assert.equal(cache.get('10.0.0.2')?.spec.ip, '10.0.0.2');
  assert.equal(cache.list().length, 1);
});
