// canonicalPrefix: the caller's own string when it is canonical, the canonical text otherwise, RangeError when bad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalPrefix, formatPrefix, parsePrefix } from './prefix.ts';

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
