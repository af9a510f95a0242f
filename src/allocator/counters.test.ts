import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { MAX_INT64, metallbCounters } from './counters.ts';
import { pool, svc } from './testing.ts';

describe('metallbCounters', () => {
  it('passes small pools through exactly', () => {
    const a = new Allocator();
    a.setPools([pool('p', ['10.0.0.0/24', 'fd00::/120'], { avoidBuggyIPs: true })]);
    a.allocate('n/a', svc('n/a'));
    a.allocate('n/b', svc('n/b', { families: ['IPv6'] }));
    assert.deepEqual(metallbCounters(a.stats()[0]!), {
      pool: 'p',
      addressesTotal: 254n + 256n,
      ipv4AddressesTotal: 254n,
      ipv6AddressesTotal: 256n,
      addressesInUse: 2,
      assignedIPv4: 1,
      assignedIPv6: 1,
      availableIPv4: 253n,
      availableIPv6: 255n,
    });
  });

  it('saturates IPv6 at MaxInt64 from 62 host bits, as MetalLB poolCount', () => {
    const a = new Allocator();
    a.setPools([pool('huge', ['10.0.0.0/30', 'fd00::/64']), pool('edge', ['fd01::/66']), pool('below', ['fd02::/67'])]);
    a.allocate('n/a', svc('n/a', { families: ['IPv6'], pool: 'huge' }));
    const [below, edge, huge] = a.stats().map(metallbCounters);
    assert.equal(a.stats()[2]!.ipv6Total, 1n << 64n, 'stats keep the exact bigint');
    assert.equal(huge!.ipv6AddressesTotal, MAX_INT64);
    assert.equal(huge!.addressesTotal, MAX_INT64);
    assert.equal(huge!.ipv4AddressesTotal, 4n, 'the IPv4 part stays exact');
    assert.equal(huge!.availableIPv6, MAX_INT64 - 1n);
    assert.equal(edge!.ipv6AddressesTotal, MAX_INT64, '/66 = 62 host bits saturates');
    assert.equal(below!.ipv6AddressesTotal, 1n << 61n, '/67 does not');
    assert.equal(Number(huge!.ipv6AddressesTotal), 2 ** 63, 'as a gauge: float64(MaxInt64) rounds to 2^63');
  });
});
