import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  HEARTBEAT_MAX_BYTES,
  HEARTBEAT_MIN_BYTES,
  HeartbeatDecodeError,
  decode,
  encode,
  encodingLength,
  heartbeatKey,
  tryDecode,
  type Heartbeat,
} from './heartbeat.ts';

const key = heartbeatKey(Buffer.from('0123456789abcdef0123456789abcdef'));
const other = heartbeatKey(Buffer.from('another-secret-of-32-bytes-xxxxx'));

const hb: Heartbeat = {
  version: 1,
  node: 'lab-node-1',
  incarnation: 1_764_556_800_123,
  seq: 42,
  sentAtMs: 1_764_556_900_000,
  state: 'alive',
  macs: ['02:00:00:00:00:01', 'aa:bb:cc:dd:ee:ff'],
  intervalMs: 100,
  lagMs: 7,
};

test('round trip: every field survives, length as announced', () => {
  const buf = encode(hb, key);
  assert.equal(buf.length, encodingLength(hb));
  assert.deepEqual(decode(buf, key), hb);
  assert.deepEqual(decode(encode({ ...hb, state: 'leaving', macs: [] }, key), key), {
    ...hb,
    state: 'leaving',
    macs: [],
  });
});

test('round trip property: any valid heartbeat', () => {
  const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
  fc.assert(
    fc.property(
      fc.record({
        node: fc.array(label, { minLength: 1, maxLength: 4 }).map((p) => p.join('.')),
        incarnation: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        sentAtMs: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        state: fc.constantFrom('alive' as const, 'leaving' as const),
        macs: fc
          .array(fc.uint8Array({ minLength: 6, maxLength: 6 }), { maxLength: 64 })
          .map((ms) => ms.map((m) => [...m].map((b) => b.toString(16).padStart(2, '0')).join(':'))),
        intervalMs: fc.nat({ max: 0xffff }),
        lagMs: fc.nat({ max: 0xffff }),
      }),
      (h) => {
        const buf = encode(h, key);
        assert.ok(buf.length >= HEARTBEAT_MIN_BYTES && buf.length <= HEARTBEAT_MAX_BYTES);
        assert.deepEqual(decode(buf, key), { version: 1, ...h });
      },
    ),
    { numRuns: 200 },
  );
});

test('a secret shorter than 16 bytes is refused with its length', () => {
  assert.throws(() => heartbeatKey(Buffer.from('short')), /5 bytes; it must be at least 16 bytes/);
});

test('encode names the bad value', () => {
  assert.throws(
    () => encode({ ...hb, node: 'Bad_Name' }, key),
    /node "Bad_Name" is not a DNS-1123 subdomain/,
  );
  assert.throws(() => encode({ ...hb, macs: ['AA:BB:CC:DD:EE:FF'] }, key), /MAC "AA:BB:CC:DD:EE:FF"/);
  assert.throws(() => encode({ ...hb, seq: -1 }, key), /seq -1 must be an integer/);
  assert.throws(
    () => encode({ ...hb, macs: Array(65).fill('02:00:00:00:00:01') }, key),
    /65 MACs; at most 64/,
  );
});

function reason(buf: Buffer, k = key): string {
  const r = tryDecode(buf, k);
  assert.equal(r.ok, false);
  return r.ok ? '' : r.reason;
}

test('forged, truncated, oversized, foreign and corrupted datagrams are typed drops, never other throws', () => {
  const good = encode(hb, key);
  assert.equal(reason(good, other), 'bad-mac');
  for (let n = 0; n < HEARTBEAT_MIN_BYTES; n++) assert.equal(reason(good.subarray(0, n)), 'truncated');
  assert.equal(reason(good.subarray(0, good.length - 1)), 'bad-mac');
  assert.equal(reason(Buffer.alloc(HEARTBEAT_MAX_BYTES + 1)), 'oversized');
  const magic = Buffer.from(good);
  magic[0] = 0x58;
  assert.equal(reason(magic), 'bad-magic');
  const v2 = Buffer.from(good);
  v2[4] = 2;
  assert.equal(reason(v2), 'unsupported-version');
  // every single-bit flip of the authenticated part or the tag is caught
  for (let i = 5; i < good.length; i++) {
    const b = Buffer.from(good);
    b[i] = b[i]! ^ 0x01;
    assert.equal(reason(b), 'bad-mac', `bit flip at ${i}`);
  }
  const e = (() => {
    try {
      decode(good, other);
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  assert.ok(e instanceof HeartbeatDecodeError && e.reason === 'bad-mac' && e.offset === good.length - 32);
});

test('random bytes never throw out of tryDecode', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
      const r = tryDecode(Buffer.from(bytes), key);
      assert.equal(r.ok, false);
    }),
    { numRuns: 500 },
  );
});

test('authenticated but invalid fields are malformed (a buggy sender holding the key)', async () => {
  const { createHmac } = await import('node:crypto');
  const resign = (b: Buffer): Buffer => {
    const end = b.length - 32;
    createHmac('sha256', key.bytes).update(b.subarray(0, end)).digest().copy(b, end);
    return b;
  };
  const flags = Buffer.from(encode(hb, key));
  flags[5] = 0x82;
  assert.equal(reason(resign(flags)), 'malformed');
  const name = Buffer.from(encode(hb, key));
  name[35] = 0x41; // 'A': not a DNS-1123 name
  assert.equal(reason(resign(name)), 'malformed');
  const count = Buffer.from(encode(hb, key));
  count[35 + hb.node.length] = 3; // says 3 MACs, carries 2
  assert.equal(reason(resign(count)), 'malformed');
  const big = Buffer.from(encode(hb, key));
  big.writeBigUInt64BE(2n ** 60n, 18);
  assert.equal(reason(resign(big)), 'malformed');
});
