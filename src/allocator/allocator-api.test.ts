// Story: the AllocatorApi contract around MetalLB's decisions: idempotency, re-deciding when the request changes,
// assign / check / restore / release, and the read accessors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { allocation, frozen, pool, runStory, svc, tcp, type Row } from './testing.ts';

const pools = [
  pool('a', ['10.0.0.0/30']),
  pool('b', ['10.0.1.0/30']),
  pool('sel', ['10.0.2.0/30'], { serviceAllocation: allocation({ serviceSelectors: [{ matchLabels: { app: 'web' } }] }) }),
];

const rows: Row[] = [
  { desc: 'pools', op: 'setPools', pools },
  { desc: 'allocate', op: 'allocate', key: 'n/x', want: ['10.0.0.0'], pool: 'a' },
  { desc: 'idempotent', op: 'allocate', key: 'n/x', want: ['10.0.0.0'], pool: 'a' },
  { desc: 'changed ports are recorded, same IP', op: 'allocate', key: 'n/x', svc: svc('n/x', { ports: [tcp(8080)] }), want: ['10.0.0.0'] },
  { desc: 'a requested IP appears: move to it', op: 'allocate', key: 'n/x', svc: svc('n/x', { requestedIPs: ['10.0.0.2'] }), want: ['10.0.0.2'] },
  { desc: 'the old IP is free again', op: 'allocate', key: 'n/y', want: ['10.0.0.0'] },
  { desc: 'the requested IP goes away: keep the IP (MetalLB does)', op: 'allocate', key: 'n/x', want: ['10.0.0.2'] },
  { desc: 'the address-pool annotation changes: move', op: 'allocate', key: 'n/x', svc: svc('n/x', { pool: 'b' }), want: ['10.0.1.0'], pool: 'b' },
  {
    desc: 'a failing re-decision keeps what the key held',
    op: 'allocate', key: 'n/x', svc: svc('n/x', { pool: 'nope' }), err: 'LB_UNKNOWN_POOL',
  },
  { desc: 'still there', op: 'check', key: 'n/x', svc: svc('n/x', { pool: 'b' }), ips: ['10.0.1.0'], want: ['10.0.1.0'], pool: 'b' },
  { desc: 'assign exact IPs (text is trimmed and canonicalised)', op: 'assign', key: 'n/z', ips: [' 10.0.1.3 '], want: ['10.0.1.3'], pool: 'b' },
  { desc: 'assign is idempotent', op: 'assign', key: 'n/z', ips: ['10.0.1.3'], want: ['10.0.1.3'] },
  { desc: 'assign another IP replaces the old one', op: 'assign', key: 'n/z', ips: ['10.0.1.2'], want: ['10.0.1.2'] },
  { desc: 'the replaced IP is free', op: 'check', key: 'n/w', ips: ['10.0.1.3'], want: ['10.0.1.3'] },
  {
    desc: 'assign onto a non-sharing holder',
    op: 'assign', key: 'n/w', ips: ['10.0.1.2'], err: 'LB_IP_IN_USE', msg: '10.0.1.2 is held by n/z, which does not allow sharing (no allow-shared-ip)',
  },
  {
    desc: 'check reports the same without changing anything',
    op: 'check', key: 'n/w', ips: ['10.0.1.2'], err: 'LB_IP_IN_USE',
  },
  {
    desc: 'assign IPs other than the requested ones',
    op: 'assign', key: 'n/w', svc: svc('n/w', { requestedIPs: ['10.0.1.1'] }), ips: ['10.0.1.3'],
    err: 'LB_BAD_REQUESTED_IP', msg: 'IPs 10.0.1.3 differ from the requested IPs 10.0.1.1',
  },
  {
    desc: 'assign outside the address-pool annotation',
    op: 'assign', key: 'n/w', svc: svc('n/w', { pool: 'a' }), ips: ['10.0.1.3'],
    err: 'LB_POOL_MISMATCH', msg: 'IP 10.0.1.3 is in pool "b", not in the requested address-pool "a"',
  },
  {
    desc: 'assign an IPv6 address to an IPv4 Service',
    op: 'assign', key: 'n/w', ips: ['fd00::1'], err: 'LB_FAMILY_MISMATCH', msg: 'IP fd00::1 is IPv6 but the Service is IPv4-only',
  },
  { desc: 'assign nothing', op: 'assign', key: 'n/w', ips: [], err: 'LB_BAD_REQUESTED_IP' },
  {
    desc: 'assign into a pool the Service may not use',
    op: 'assign', key: 'n/w', ips: ['10.0.2.1'], err: 'LB_POOL_NOT_ALLOWED', msg: /^pool "sel" does not match the Service's labels/,
  },
  {
    desc: 'restore records what a claim says, without Service policy',
    op: 'restore', key: 'n/w', ips: ['10.0.2.1'], want: ['10.0.2.1'], pool: 'sel',
  },
  { desc: 'restore still refuses a clash', op: 'restore', key: 'n/v', ips: ['10.0.2.1'], err: 'LB_IP_IN_USE' },
  { desc: 'restore refuses an IP in no pool', op: 'restore', key: 'n/v', ips: ['192.0.2.1'], err: 'LB_IP_NOT_IN_POOL' },
  { desc: 'release', op: 'release', key: 'n/w' },
  { desc: 'release of a key holding nothing is a no-op', op: 'release', key: 'n/none' },
  { desc: 'a pool-policy change is re-checked on allocate: n/q takes sel by request', op: 'allocate', key: 'n/q', svc: svc('n/q', { labels: { app: 'web' } }), want: ['10.0.2.0'], pool: 'sel' },
  { desc: 'the label goes: the held IP is no longer allowed, a new one is chosen', op: 'allocate', key: 'n/q', want: ['10.0.0.1'], pool: 'a' },
];

describe('allocator story: API contract', () => {
  it('idempotency, re-decisions, assign, check, restore, release', () => {
    const a = new Allocator();
    runStory(a, rows);
    assert.deepEqual(a.allocations(), [
      { key: 'n/q', ips: ['10.0.0.1'], pool: 'a' },
      { key: 'n/x', ips: ['10.0.1.0'], pool: 'b' },
      { key: 'n/y', ips: ['10.0.0.0'], pool: 'a' },
      { key: 'n/z', ips: ['10.0.1.2'], pool: 'b' },
    ]);
    assert.deepEqual(a.holdersOf('10.0.1.0'), [{ key: 'n/x', sharingKey: '', backendKey: '', ports: [tcp(80)] }]);
    assert.deepEqual(a.holdersOf('10.0.3.0'), []);
    assert.deepEqual(a.holdersOf('garbage'), []);
    assert.equal(a.poolOf('10.0.2.3'), 'sel');
    assert.equal(a.poolOf('10.0.3.0'), undefined);
    assert.equal(a.ipsOf('n/none'), undefined);
  });

  it('never mutates its inputs (deep-frozen pools and requests)', () => {
    const a = new Allocator();
    a.setPools(frozen([pool('a', ['10.0.0.0/30', 'fd00::/126'], { serviceAllocation: allocation({ priority: 1 }) })]));
    const req = frozen(svc('n/x', { families: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack', sharingKey: 'k', ports: [tcp(80)] }));
    assert.deepEqual(a.allocate('n/x', req), { ok: true, ips: ['10.0.0.0', 'fd00::'], pool: 'a' });
    assert.equal(a.assign('n/x', req, frozen(['fd00::', '10.0.0.0'])).ok, true);
    assert.equal(a.check('n/y', frozen(svc('n/y', { sharingKey: 'k', ports: [tcp(443)] })), frozen(['10.0.0.0'])).ok, true);
    assert.equal(a.planPools(frozen([pool('b', ['10.0.0.0/31'])])).orphaned.length, 1);
  });

  it('what holdersOf returns cannot corrupt the allocator', () => {
    const a = new Allocator();
    a.setPools([pool('a', ['10.0.0.0/30'])]);
    const ports = [tcp(80)];
    a.allocate('n/x', svc('n/x', { ports }));
    ports.push(tcp(443)); // the caller's array changes after the call: the allocator kept a copy
    assert.deepEqual(a.holdersOf('10.0.0.0')[0]?.ports, [tcp(80)]);
  });

  it('holders with the same ports share one frozen list (not a copy per holder); another list is its own', () => {
    const a = new Allocator();
    a.setPools([pool('a', ['10.0.0.0/29'])]);
    a.allocate('n/x', svc('n/x', { ports: [tcp(80), tcp(443)] }));
    a.allocate('n/y', svc('n/y', { ports: [tcp(80), tcp(443)] }));
    a.allocate('n/z', svc('n/z', { ports: [tcp(443), tcp(80)] }));
    const x = a.holdersOf('10.0.0.0')[0]!.ports;
    const y = a.holdersOf('10.0.0.1')[0]!.ports;
    const z = a.holdersOf('10.0.0.2')[0]!.ports;
    assert.equal(x, y);
    assert.ok(Object.isFrozen(x) && Object.isFrozen(x[0]));
    assert.deepEqual(z, [tcp(443), tcp(80)], 'order kept: a list of its own');
    assert.notEqual(z, x);
    assert.throws(() => (x as { protocol: string; port: number }[]).push(tcp(8080)), TypeError);
    assert.equal(a.ipsOf('n/y')?.ips[0], '10.0.0.1', 'the entry formats its text when asked');
  });

  it('an IP\'s holders: one, then sharers in the order they came, back to one, then none (the IP is free again)', () => {
    const a = new Allocator();
    a.setPools([pool('a', ['10.0.0.0/30'])]);
    const share = (key: string, port: number) => svc(key, { sharingKey: 'k', ports: [tcp(port)], requestedIPs: ['10.0.0.1'] });
    assert.equal(a.allocate('n/a', share('n/a', 80)).ok, true);
    assert.deepEqual(a.holdersOf('10.0.0.1').map((h) => h.key), ['n/a']);
    assert.equal(a.allocate('n/b', share('n/b', 81)).ok, true);
    assert.equal(a.allocate('n/c', share('n/c', 82)).ok, true);
    assert.deepEqual(a.holdersOf('10.0.0.1').map((h) => h.key), ['n/a', 'n/b', 'n/c']);
    a.release('n/b');
    assert.deepEqual(a.holdersOf('10.0.0.1').map((h) => h.key), ['n/a', 'n/c']);
    a.release('n/a');
    assert.deepEqual(a.holdersOf('10.0.0.1').map((h) => h.key), ['n/c']);
    assert.equal(a.allocate('n/d', share('n/d', 82)).ok, false, 'port 82 is still taken by n/c');
    a.release('n/c');
    assert.deepEqual(a.holdersOf('10.0.0.1'), []);
    assert.deepEqual(a.allocate('n/e', svc('n/e', { requestedIPs: ['10.0.0.1'] })), { ok: true, ips: ['10.0.0.1'], pool: 'a' });
  });
});
