// canonicalPrefix: the caller's own string when it is canonical, the canonical text otherwise, RangeError when bad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Afi } from './constants.ts';
import { addressToBytes, canonicalPrefix, encodeAddress, encodePrefix, formatPrefix, parsePrefix } from './prefix.ts';

test('canonicalPrefix returns canonical input as is and rewrites the rest as formatPrefix(parsePrefix(x)) does', () => {
  for (const text of ['198.51.100.10/32', '0.0.0.0/0', '2001:db8:100::a/128', '2001:db8::/32', '192.0.2.0/24']) {
    assert.equal(canonicalPrefix(text), text);
    assert.equal(canonicalPrefix(text), formatPrefix(parsePrefix(text)));
  }
  for (const [text, want] of [
    ['2001:DB8:100::A/128', '2001:db8:100::a/128'],
    ['2001:db8:100:0::a/128', '2001:db8:100::a/128'],
    ['198.51.100.10/032', '198.51.100.10/32'],
    ['::ffff:0:0/96', '::ffff:0:0/96'],
  ] as const) {
    assert.equal(canonicalPrefix(text), want, text);
  }
  assert.throws(() => canonicalPrefix('198.51.100.10'), RangeError);
  assert.throws(() => canonicalPrefix('198.51.100.10/33'), /length must be/);
  assert.throws(() => canonicalPrefix('198.51.100.10/24'), /host bits/);
  assert.throws(() => canonicalPrefix('2001:db8::/1x'), RangeError);
});

test('addresses memoised as packed bytes still encode and parse to the same values (each caller gets its own array)', () => {
  const a = addressToBytes('2001:db8:100::a');
  assert.deepEqual(a, [0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
  assert.notEqual(addressToBytes('2001:db8:100::a'), a, 'a fresh array per call: callers may not edit a shared one');
  assert.deepEqual(addressToBytes('198.51.100.255'), [198, 51, 100, 255]);
  const buf = Buffer.alloc(20);
  assert.equal(encodeAddress('2001:DB8:100::A', buf, 2), 18);
  assert.deepEqual([...buf.subarray(2, 18)], a);
  assert.equal(encodePrefix(parsePrefix('203.0.113.128/25'), Afi.IPv4, buf, 0), 5);
  assert.deepEqual([...buf.subarray(0, 5)], [25, 203, 0, 113, 128]);
  assert.deepEqual(parsePrefix('2001:DB8:100:0::b/128'), { prefix: '2001:db8:100::b', length: 128 });
  assert.equal(parsePrefix('2001:db8:100::c/128').prefix, '2001:db8:100::c');
  assert.throws(() => encodePrefix({ prefix: '198.51.100.1', length: 24 }, Afi.IPv4, buf, 0), /host bits after \/24/);
  assert.throws(() => encodePrefix({ prefix: '198.51.100.0', length: 24 }, Afi.IPv6, buf, 0), /not of AFI 2/);
  assert.throws(() => addressToBytes('198.51.100'), /"198\.51\.100" is not an IPv4 dotted quad or an IPv6 address/);
});
