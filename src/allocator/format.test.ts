import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatIp, parseIp } from '../shared/ip.ts';
import { formatAddress } from './format.ts';

describe('formatAddress', () => {
  it('matches formatIp on edge cases', () => {
    for (const ip of [
      '0.0.0.0', '255.255.255.255', '10.0.0.1', '::', '::1', '1::', 'fd00::', '1:0:0:1:0:0:0:1', '1:0:0:1:0:0:1:1',
      '0:1:0:1:0:1:0:1', '1:0:1:0:1:0:1:0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::ffff:1.2.3.4', '2001:db8::a:0:0:1',
    ]) {
      const p = parseIp(ip)!;
      assert.equal(formatAddress(p.family, p.value), formatIp(p.family, p.value), ip);
    }
  });

  it('matches formatIp on random addresses', () => {
    // Groups drawn mostly from {0, small, big} so that zero runs of every length and position occur.
    const group = fc.oneof(fc.constant(0n), fc.constant(0n), fc.bigInt(1n, 0xfn), fc.bigInt(0n, 0xffffn));
    const v6 = fc.array(group, { minLength: 8, maxLength: 8 }).map((gs) => gs.reduce((acc, g) => (acc << 16n) | g, 0n));
    fc.assert(
      fc.property(v6, fc.bigInt(0n, 0xffffffffn), (a, b) => {
        assert.equal(formatAddress('IPv6', a), formatIp('IPv6', a));
        assert.equal(formatAddress('IPv4', b), formatIp('IPv4', b));
      }),
      { numRuns: 2000, seed: 5 },
    );
  });
});
