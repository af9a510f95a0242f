// berth.io/bgp-link-bandwidth values: the default rate, SI units, and refusals naming the value and the rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PER_ENDPOINT_BITS_PER_SECOND, parseLinkBandwidth } from './link-bandwidth.ts';

test('per-endpoint alone: 1 Gbit/s per endpoint', () => {
  assert.deepEqual(parseLinkBandwidth('per-endpoint'), { ok: true, perEndpointBitsPerSecond: 1e9 });
  assert.equal(DEFAULT_PER_ENDPOINT_BITS_PER_SECOND, 1e9);
});

test('per-endpoint:<rate> in bits per second with SI multiples', () => {
  for (const [v, bits] of [
    ['per-endpoint:10Gbps', 10e9],
    ['per-endpoint:2.5Gbps', 2.5e9],
    ['per-endpoint:100Mbps', 100e6],
    ['per-endpoint:64kbps', 64e3],
    ['per-endpoint:1Tbps', 1e12],
    ['per-endpoint:9600bps', 9600],
    [' per-endpoint:1Gbps ', 1e9],
  ] as const) {
    assert.deepEqual(parseLinkBandwidth(v), { ok: true, perEndpointBitsPerSecond: bits }, v);
  }
});

test('bad values are refused with a message naming the value and the rule', () => {
  for (const v of [
    '',
    'true',
    '10G',
    'per-endpoint:10G',
    'per-endpoint:-1Gbps',
    'per-endpoint:1e3bps',
    'per-endpoint:10GBps',
  ]) {
    const r = parseLinkBandwidth(v);
    assert.equal(r.ok, false, v);
    if (!r.ok)
      assert.match(
        r.message,
        new RegExp(
          `invalid link bandwidth ${JSON.stringify(JSON.stringify(v)).slice(1, -1)}: expected "per-endpoint"`,
        ),
      );
  }
  for (const v of ['per-endpoint:0bps', 'per-endpoint:0.0Gbps', 'per-endpoint:2000Tbps']) {
    const r = parseLinkBandwidth(v);
    assert.equal(r.ok, false, v);
    if (!r.ok) assert.match(r.message, /must be above 0 and at most 1000Tbps/);
  }
  assert.equal(parseLinkBandwidth(7 as unknown as string).ok, false);
});
