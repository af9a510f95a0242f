import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Allocator } from '../allocator/index.ts';
import { pool, svc } from '../allocator/testing.ts';
import { DEFAULT_POLICY } from './policy.ts';
import { exhaustedAction, pendingWarning } from './service-policy.ts';

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

test('exhausted: the allocator message (with its remedies, once), then that the Service waits until an IP is free', () => {
  const a = new Allocator();
  a.setPools([pool('tiny', ['10.0.0.1/32'])]);
  assert.ok(a.allocate('shop/one', svc('shop/one')).ok);
  const r = a.allocate('shop/two', svc('shop/two'));
  assert.ok(!r.ok);
  const w = pendingWarning(r.code, r.message);
  assert.ok(w.startsWith('no available IPs: pool "tiny" 1/1 in use'), w);
  assert.equal(w.split('To fix:').length, 2, w);
  assert.match(w, /metallb\.io\/allow-shared-ip/);
  assert.match(w, /stays <pending>: it gets an IP as soon as one is free$/);
  // A message without remedies (another writer's text) gets them.
  const bare = pendingWarning('LB_POOL_EXHAUSTED', 'pool "x" is exhausted: 2/2 addresses in use');
  assert.match(bare, /^pool "x" is exhausted: 2\/2 addresses in use\. To fix: add addresses to the pool/);
});

test('other codes: the message and that the Service waits until it is fixed', () => {
  assert.equal(
    pendingWarning('LB_UNKNOWN_POOL', 'unknown pool "p" (pools: a)'),
    'unknown pool "p" (pools: a); the Service stays <pending> until this is fixed',
  );
});
