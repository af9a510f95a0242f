import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocator } from '../allocator/index.ts';
import { pool, svc } from '../allocator/testing.ts';
import { DEFAULT_POLICY } from './policy.ts';
import { exhaustedAction, pendingWarning, WARNING_LIMIT } from './service-policy.ts';

test('no pools: the warning says no IPAddressPool is configured yet and when the Service gets an IP, not "until an IP is free"', () => {
  const r = new Allocator().allocate('shop/web', svc('shop/web'));
  assert.ok(!r.ok);
  assert.equal(exhaustedAction(DEFAULT_POLICY, r.code), 'pending');
  const w = pendingWarning(r.code, r.message);
  assert.ok(w.startsWith('no IPAddressPool is configured'), w);
  assert.match(w, /^no IPAddressPool is configured yet: the Service is admitted without an IP \(<pending>\)/);
  assert.match(w, /gets one as soon as an IPAddressPool with a usable range for it .* is created$/);
  assert.doesNotMatch(w, /until an IP is free/);
});

test('exhausted: the allocator message head, that the Service waits until an IP is free, the other pools, the remedies', () => {
  const a = new Allocator();
  a.setPools([pool('tiny', ['10.0.0.1/32']), pool('manual', ['10.0.1.0/29'], { autoAssign: false })]);
  assert.ok(a.allocate('shop/one', svc('shop/one')).ok);
  const r = a.allocate('shop/two', svc('shop/two'));
  assert.ok(!r.ok);
  assert.equal(
    pendingWarning(r.code, r.message),
    'no available IPs: pool "tiny" 1/1 in use; the Service stays <pending> until an IP is free. Other pools: pool ' +
      '"manual" has 8 free but autoAssign is false (request it with metallb.io/address-pool: manual). To fix: enlarge ' +
      'the pool or use allow-shared-ip',
  );
  // A message without hints (another writer's text) gets the remedies.
  assert.equal(
    pendingWarning('LB_POOL_EXHAUSTED', 'pool "x" is exhausted: 2/2 addresses in use'),
    'pool "x" is exhausted: 2/2 addresses in use; the Service stays <pending> until an IP is free. To fix: add ' +
      'addresses to the pool, or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)',
  );
});

test('exhausted: the warning fits the API server limit, dropping whole pool entries, never the <pending> part', () => {
  const a = new Allocator();
  const others = Array.from({ length: 9 }, (_, i) => pool(`m${i}`, [`10.0.${i + 1}.0/29`], { autoAssign: false }));
  a.setPools([pool('tiny', ['10.0.0.1/32']), ...others]);
  assert.ok(a.allocate('shop/one', svc('shop/one')).ok);
  const r = a.allocate('shop/two', svc('shop/two'));
  assert.ok(!r.ok);
  assert.ok(r.message.length > WARNING_LIMIT);
  const w = pendingWarning(r.code, r.message);
  assert.ok(w.length <= WARNING_LIMIT, `${w.length}: ${w}`);
  assert.ok(w.startsWith('no available IPs: pool "tiny" 1/1 in use; the Service stays <pending> until an IP is free. Other pools: '), w);
  assert.match(w, /\(request it with metallb\.io\/address-pool: m0\)/);
  assert.match(w, /\)\. To fix: enlarge the pool or use allow-shared-ip$/);
});

test('other codes: the message and that the Service waits until it is fixed', () => {
  assert.equal(
    pendingWarning('LB_UNKNOWN_POOL', 'unknown pool "p" (pools: a)'),
    'unknown pool "p" (pools: a); the Service stays <pending> until this is fixed',
  );
});
