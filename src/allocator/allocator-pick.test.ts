// Story: how the free IP is picked (spec §3.3) and how capacity is counted with avoidBuggyIPs (§3.4).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { pool, runStory, svc, type Row } from './testing.ts';

const to = (name: string) => (key: string) => svc(key, { pool: name });

describe('allocator story: free-IP choice (§3.3)', () => {
  it('walks CIDRs in configuration order from the network address; no stickiness', () => {
    const net = to('net');
    const order = to('order');
    const range = to('range');
    const rows: Row[] = [
      {
        desc: 'pools', op: 'setPools',
        pools: [
          pool('net', ['1.2.3.0/30']),
          pool('order', ['10.0.1.0/31', '10.0.0.0/31']),
          pool('range', ['10.5.0.6-10.5.0.9', '10.5.1.0/32']),
        ],
      },
      { desc: 'the network address is allocatable', op: 'allocate', key: 'n/a', svc: net('n/a'), want: ['1.2.3.0'] },
      { desc: 'then upward', op: 'allocate', key: 'n/b', svc: net('n/b'), want: ['1.2.3.1'] },
      { desc: 'upward', op: 'allocate', key: 'n/c', svc: net('n/c'), want: ['1.2.3.2'] },
      { desc: 'the broadcast address is allocatable', op: 'allocate', key: 'n/d', svc: net('n/d'), want: ['1.2.3.3'] },
      { desc: 'free one in the middle', op: 'release', key: 'n/b' },
      { desc: 'it is the lowest free again', op: 'allocate', key: 'n/e', svc: net('n/e'), want: ['1.2.3.1'] },
      { desc: 'first CIDR as configured, not lowest address', op: 'allocate', key: 'o/a', svc: order('o/a'), want: ['10.0.1.0'] },
      { desc: 'first CIDR', op: 'allocate', key: 'o/b', svc: order('o/b'), want: ['10.0.1.1'] },
      { desc: 'second CIDR', op: 'allocate', key: 'o/c', svc: order('o/c'), want: ['10.0.0.0'] },
      { desc: 'a range is its summarised CIDRs ascending (.6/31, .8/31)', op: 'allocate', key: 'r/a', svc: range('r/a'), want: ['10.5.0.6'] },
      { desc: 'range', op: 'allocate', key: 'r/b', svc: range('r/b'), want: ['10.5.0.7'] },
      { desc: 'range', op: 'allocate', key: 'r/c', svc: range('r/c'), want: ['10.5.0.8'] },
      { desc: 'range end', op: 'allocate', key: 'r/d', svc: range('r/d'), want: ['10.5.0.9'] },
      { desc: 'then the next entry', op: 'allocate', key: 'r/e', svc: range('r/e'), want: ['10.5.1.0'] },
      { desc: 'release the range start', op: 'release', key: 'r/a' },
      { desc: 'the first entry is tried first again', op: 'allocate', key: 'r/f', svc: range('r/f'), want: ['10.5.0.6'] },
      { desc: 'idempotent', op: 'allocate', key: 'r/f', svc: range('r/f'), want: ['10.5.0.6'] },
    ];
    runStory(new Allocator(), rows);
  });

  it('avoidBuggyIPs skips .0 and .255, across /24 boundaries and in small CIDRs', () => {
    const b = to('buggy');
    runStory(new Allocator(), [
      { desc: 'pools', op: 'setPools', pools: [pool('buggy', ['10.9.0.254-10.9.1.1', '10.9.2.0/31'], { avoidBuggyIPs: true })] },
      { desc: '.254 first', op: 'allocate', key: 'b/a', svc: b('b/a'), want: ['10.9.0.254'] },
      { desc: '.255 and .0 skipped', op: 'allocate', key: 'b/b', svc: b('b/b'), want: ['10.9.1.1'] },
      { desc: '10.9.2.0 skipped', op: 'allocate', key: 'b/c', svc: b('b/c'), want: ['10.9.2.1'] },
      {
        desc: 'three usable addresses, all taken',
        op: 'allocate', key: 'b/d', svc: b('b/d'), err: 'LB_POOL_EXHAUSTED', msg: /^pool "buggy" is exhausted: 3\/3 addresses in use\. To fix: add addresses to /,
      },
      {
        desc: 'explicitly requesting a buggy IP fails as not in any pool, and says why',
        op: 'allocate', key: 'b/e', svc: svc('b/e', { requestedIPs: ['10.9.0.255'] }),
        err: 'LB_IP_NOT_IN_POOL',
        msg:
          '10.9.0.255 is not in any IPAddressPool (buggy: 10.9.0.254-10.9.1.1, 10.9.2.0/31): pool "buggy" contains it ' +
          'but has avoidBuggyIPs: true, which excludes addresses ending in .0 and .255',
      },
      { desc: 'assign is refused the same way', op: 'assign', key: 'b/e', ips: ['10.9.1.0'], err: 'LB_IP_NOT_IN_POOL' },
    ]);
    const a = new Allocator();
    a.setPools([pool('buggy', ['10.9.0.0/24'], { avoidBuggyIPs: true })]);
    assert.equal(a.poolOf('10.9.0.255'), 'buggy', 'poolOf ignores avoidBuggyIPs');
    assert.equal(a.poolOf('10.9.1.1'), undefined);
    assert.equal(a.poolOf('not an ip'), undefined);
  });

  it('without avoidBuggyIPs the same addresses are ordinary', () => {
    runStory(new Allocator(), [
      { desc: 'pools', op: 'setPools', pools: [pool('p', ['10.9.0.255-10.9.1.0'])] },
      { desc: '.255', op: 'allocate', key: 'a/a', want: ['10.9.0.255'] },
      { desc: '.0', op: 'allocate', key: 'a/b', want: ['10.9.1.0'] },
    ]);
  });
});

describe('allocator: capacity counting (§3.4)', () => {
  it('matches MetalLB poolCount for every CIDR shape', () => {
    const a = new Allocator();
    const buggy = { avoidBuggyIPs: true };
    a.setPools([
      pool('a-23', ['10.0.0.0/23'], buggy), // 512 - 2 per /24 = 508
      pool('b-25-low', ['10.0.2.0/25'], buggy), // first is .0: 127
      pool('c-25-high', ['10.0.2.128/25'], buggy), // last is .255: 127
      pool('d-32-zero', ['10.0.3.0/32'], buggy), // 0
      pool('e-31-edge', ['10.0.3.254/31'], buggy), // .254 only: 1
      pool('f-range', ['10.0.4.250-10.0.5.5'], buggy), // 12 addresses minus .255 and .0 = 10
      pool('g-plain', ['10.0.6.0/24']), // 256
      pool('h-v6', ['fd00::/64', '10.0.7.0/30'], buggy), // 2^64 v6 (no effect on IPv6), 3 v4
    ]);
    assert.deepEqual(
      a.stats().map((s) => [s.pool, s.ipv4Total, s.ipv6Total]),
      [
        ['a-23', 508n, 0n],
        ['b-25-low', 127n, 0n],
        ['c-25-high', 127n, 0n],
        ['d-32-zero', 0n, 0n],
        ['e-31-edge', 1n, 0n],
        ['f-range', 10n, 0n],
        ['g-plain', 256n, 0n],
        ['h-v6', 3n, 1n << 64n],
      ],
    );
    const r = a.allocate('n/x', svc('n/x', { pool: 'd-32-zero' }));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'LB_POOL_EXHAUSTED');
    assert.match(!r.ok ? r.message : '', /^pool "d-32-zero" is exhausted: 0\/0 addresses in use\. Other pools: pool "a-23" has 508 free /);
  });
});
