import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { canonicalIp, familyOf, formatIp, parseIp } from './ip.ts';

/** What parseIp answered before its canonical-IPv4 fast path: ipaddr.js alone. */
function reference(text: string): { family: 'IPv4' | 'IPv6'; value: bigint } | undefined {
  const s = text.trim();
  if (s === '' || s.includes('/') || s.includes('%')) return undefined;
  const big = (b: number[]) => b.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return { family: 'IPv4', value: big(ipaddr.IPv4.parse(s).toByteArray()) };
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) return { family: 'IPv6', value: big(ipaddr.IPv6.parse(s).toByteArray()) };
  return undefined;
}

describe('ip parsing', () => {
  it('parseIp, canonicalIp and familyOf agree with ipaddr.js on IPv4-like text (fast path included)', () => {
    const part = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map(String),
      fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0')),
      fc.constantFrom('256', '-1', '', ' 1', '1 ', '0x1', '01', '00', '+1'),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), fc.constantFrom('', ' ', '\t'), (parts, pad) => {
        const text = pad + parts.join('.') + pad;
        const want = reference(text);
        assert.deepEqual(parseIp(text), want, text);
        assert.equal(familyOf(text), want?.family, text);
        assert.equal(canonicalIp(text), want ? formatIp(want.family, want.value) : undefined, text);
      }),
      { numRuns: 2000 },
    );
  });

  it('canonical IPv4 text is its own canonical form; IPv6 and non-canonical forms are normalised', () => {
    assert.equal(canonicalIp('192.0.2.1'), '192.0.2.1');
    assert.equal(canonicalIp('255.255.255.255'), '255.255.255.255');
    assert.deepEqual(parseIp('255.255.255.255'), { family: 'IPv4', value: 0xffffffffn });
    assert.equal(canonicalIp(' 198.51.100.7 '), '198.51.100.7');
    assert.equal(canonicalIp('192.0.2.01'), undefined, 'leading zero: not four-part decimal');
    assert.equal(canonicalIp('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(familyOf('2001:db8::1'), 'IPv6');
    assert.equal(familyOf('::ffff:192.0.2.1'), 'IPv6');
    assert.equal(parseIp('192.0.2.0/24'), undefined);
  });
});
