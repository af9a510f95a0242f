import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommunity } from './community.ts';

test('standard and large communities parse to canonical text', () => {
  assert.deepEqual(parseCommunity('65535:65282'), {
    ok: true,
    value: { kind: 'standard', high: 65535, low: 65282 },
    text: '65535:65282',
  });
  assert.deepEqual(parseCommunity('large:4294967295:0:07'), {
    ok: true,
    value: { kind: 'large', global: 4294967295, local1: 0, local2: 7 },
    text: 'large:4294967295:0:7',
  });
});

test('refusals carry strconv-style reasons', () => {
  const r = (c: string) => {
    const x = parseCommunity(c);
    return x.ok ? 'ok' : x.message;
  };
  assert.equal(
    r('1:x'),
    'invalid community value: invalid section "x" of community "1:x", err: strconv.ParseUint: parsing "x": invalid syntax',
  );
  assert.equal(
    r('large:1:2:4294967296'),
    'invalid community value: invalid section "4294967296" of community "large:1:2:4294967296", err: strconv.ParseUint: parsing "4294967296": value out of range',
  );
  assert.equal(r('1:2:3'), 'invalid community format: 1:2:3');
  assert.equal(
    r('-1:2'),
    'invalid community value: invalid section "-1" of community "-1:2", err: strconv.ParseUint: parsing "-1": invalid syntax',
  );
});
