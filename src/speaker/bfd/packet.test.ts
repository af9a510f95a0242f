import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BfdDecodeError,
  checkControlPacket,
  controlPacketLength,
  decodeControlPacket,
  Diag,
  diagName,
  encodeControlPacket,
  serializeControlPacket,
  SessionState,
  stateName,
  type BfdDropReason,
  type ControlPacket,
} from './packet.ts';

// FRR bfdd's first packet to a new peer (shape as bfdd sends it: Down, no diag, 1 s slow timers until Up,
// its configured RX, echo RX 50 ms). Byte by byte:
const FRR_DOWN = Buffer.from(
  [
    '20', //       Vers=1 (001), Diag=0 (00000)
    '40', //       Sta=1 Down (01), P=0 F=0 C=0 A=0 D=0 M=0
    '03', //       Detect Mult 3
    '18', //       Length 24
    '12345678', // My Discriminator 0x12345678
    '00000000', // Your Discriminator 0 (remote not yet known)
    '000f4240', // Desired Min TX 1,000,000 µs (1 s while not Up, RFC 5880 §6.8.3)
    '000186a0', // Required Min RX 100,000 µs
    '0000c350', // Required Min Echo RX 50,000 µs
  ].join(''),
  'hex',
);

// berth answering a Poll while Up: Final set, 100 ms timers.
const BERTH_FINAL = Buffer.from(
  [
    '20', //       Vers=1, Diag=0
    'd0', //       Sta=3 Up (11), P=0, F=1 (0x10)
    '03', //       Detect Mult 3
    '18', //       Length 24
    '00000001', // My Discriminator 1
    '12345678', // Your Discriminator 0x12345678
    '000186a0', // Desired Min TX 100,000 µs
    '000186a0', // Required Min RX 100,000 µs
    '00000000', // Required Min Echo RX 0 (no echo)
  ].join(''),
  'hex',
);

function pkt(over: Partial<ControlPacket> = {}): ControlPacket {
  return {
    version: 1,
    diag: 0,
    state: SessionState.Down,
    poll: false,
    final: false,
    controlPlaneIndependent: false,
    authPresent: false,
    demand: false,
    multipoint: false,
    detectMult: 3,
    myDiscriminator: 0x12345678,
    yourDiscriminator: 0,
    desiredMinTxInterval: 1_000_000,
    requiredMinRxInterval: 100_000,
    requiredMinEchoRxInterval: 50_000,
    ...over,
  };
}

/** style.md codec contract: decode(encode(x)) = x, re-encode is byte-identical, length = bytes written, offset works. */
function contract(p: ControlPacket): void {
  const b = serializeControlPacket(p);
  assert.equal(b.length, controlPacketLength(p));
  const d = decodeControlPacket(b);
  assert.deepEqual(d.value, p);
  assert.equal(d.offset, b.length);
  assert.deepEqual(serializeControlPacket(d.value), b);
  const big = Buffer.alloc(10 + b.length + 5, 0xee);
  assert.equal(encodeControlPacket(p, big, 10), 10 + b.length);
  assert.deepEqual(big.subarray(10, 10 + b.length), b);
  assert.deepEqual(decodeControlPacket(big, 10), { value: p, offset: 10 + b.length });
}

test('golden: FRR-shaped Down packet decodes field by field', () => {
  const { value } = decodeControlPacket(FRR_DOWN);
  assert.deepEqual(value, pkt());
  assert.deepEqual(serializeControlPacket(value), FRR_DOWN);
  contract(value);
});

test('golden: a Final while Up encodes to the expected bytes', () => {
  const p = pkt({
    state: SessionState.Up,
    final: true,
    myDiscriminator: 1,
    yourDiscriminator: 0x12345678,
    desiredMinTxInterval: 100_000,
    requiredMinEchoRxInterval: 0,
  });
  assert.deepEqual(serializeControlPacket(p), BERTH_FINAL);
  contract(p);
});

test('golden: every flag bit lands on its own bit', () => {
  const flags: Array<[keyof ControlPacket, number]> = [
    ['poll', 0x20],
    ['final', 0x10],
    ['controlPlaneIndependent', 0x08],
    ['demand', 0x02],
  ];
  for (const [k, bit] of flags) {
    const b = serializeControlPacket(pkt({ [k]: true, state: SessionState.AdminDown }));
    assert.equal(b[1], bit, `${k}`);
    contract(pkt({ [k]: true }));
  }
  // Diag 7 (AdministrativelyDown) in the low five bits of byte 0.
  assert.equal(serializeControlPacket(pkt({ diag: Diag.AdministrativelyDown }))[0], 0x27);
});

test('an auth section is decoded raw (type + bytes) and refused by the reception check', () => {
  // Simple Password (type 1), Auth Len 7: Auth Key ID 1 + "pass"
  const p = pkt({ authPresent: true, auth: { type: 1, data: Buffer.from([1, 0x70, 0x61, 0x73, 0x73]) } });
  const b = serializeControlPacket(p);
  assert.equal(b[3], 31); // Length 24 + 7
  assert.equal(b[1]! & 0x04, 0x04); // A bit
  assert.deepEqual(
    b.subarray(24),
    Buffer.from('01070170617373', 'hex') /* type 1, len 7, key ID 1, "pass" */,
  );
  contract(p);
  const r = checkControlPacket(b);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'auth-unsupported');
  assert.match(!r.ok ? r.message : '', /SimplePassword/);
});

const malformed: Array<{ desc: string; bytes: Buffer; reason: BfdDropReason; offset: number }> = [
  { desc: 'empty datagram', bytes: Buffer.alloc(0), reason: 'truncated', offset: 0 },
  { desc: 'version 0', bytes: patch(FRR_DOWN, 0, 0x00), reason: 'bad-version', offset: 0 },
  { desc: 'version 2', bytes: patch(FRR_DOWN, 0, 0x40), reason: 'bad-version', offset: 0 },
  { desc: 'Length 23', bytes: patch(FRR_DOWN, 3, 23), reason: 'bad-length', offset: 3 },
  { desc: 'A set and Length 24', bytes: patch(FRR_DOWN, 1, 0x44), reason: 'bad-length', offset: 3 },
  { desc: 'Length 25 but 24 bytes received', bytes: patch(FRR_DOWN, 3, 25), reason: 'truncated', offset: 3 },
  { desc: '20 of 24 bytes', bytes: FRR_DOWN.subarray(0, 20), reason: 'truncated', offset: 3 },
  { desc: 'Detect Mult 0', bytes: patch(FRR_DOWN, 2, 0), reason: 'zero-detect-mult', offset: 2 },
  { desc: 'Multipoint bit', bytes: patch(FRR_DOWN, 1, 0x41), reason: 'multipoint', offset: 1 },
  {
    desc: 'My Discriminator 0',
    bytes: Buffer.concat([FRR_DOWN.subarray(0, 4), Buffer.alloc(4), FRR_DOWN.subarray(8)]),
    reason: 'zero-my-discriminator',
    offset: 4,
  },
  {
    desc: 'Auth Len beyond Length',
    bytes: Buffer.concat([patch(patch(FRR_DOWN, 1, 0x44), 3, 26), Buffer.from([1, 9])]),
    reason: 'bad-length',
    offset: 25,
  },
];

function patch(b: Buffer, at: number, v: number): Buffer {
  const c = Buffer.from(b);
  c[at] = v;
  return c;
}

for (const m of malformed) {
  test(`malformed: ${m.desc} is dropped as ${m.reason}`, () => {
    assert.throws(
      () => decodeControlPacket(m.bytes),
      (e: unknown) => e instanceof BfdDecodeError && e.reason === m.reason && e.offset === m.offset,
    );
    const r = checkControlPacket(m.bytes);
    assert.deepEqual(r.ok ? 'ok' : r.reason, m.reason);
  });
}

test('RFC 5881 §5: a received TTL other than 255 is dropped, 255 passes', () => {
  const r = checkControlPacket(FRR_DOWN, { ttl: 254 });
  assert.equal(r.ok ? 'ok' : r.reason, 'bad-ttl');
  assert.equal(checkControlPacket(FRR_DOWN, { ttl: 255 }).ok, true);
});

test('encode refuses values that do not fit, naming the field', () => {
  assert.throws(
    () => serializeControlPacket(pkt({ myDiscriminator: 2 ** 32 })),
    /myDiscriminator 4294967296/,
  );
  assert.throws(() => serializeControlPacket(pkt({ detectMult: 256 })), /detectMult 256/);
  assert.throws(() => serializeControlPacket(pkt({ diag: 32 })), /diag 32/);
});

test('names with UNKNOWN fallback', () => {
  assert.equal(stateName(3), 'Up');
  assert.equal(diagName(1), 'ControlDetectionTimeExpired');
  assert.equal(diagName(20), 'UNKNOWN_20');
});

const arbPacket = fc.record({
  version: fc.constant(1),
  diag: fc.integer({ min: 0, max: 31 }),
  state: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
  poll: fc.boolean(),
  final: fc.boolean(),
  controlPlaneIndependent: fc.boolean(),
  authPresent: fc.constant(false),
  demand: fc.boolean(),
  multipoint: fc.constant(false),
  detectMult: fc.integer({ min: 1, max: 255 }),
  myDiscriminator: fc.integer({ min: 1, max: 0xffffffff }),
  yourDiscriminator: fc.integer({ min: 0, max: 0xffffffff }),
  desiredMinTxInterval: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinRxInterval: fc.integer({ min: 0, max: 0xffffffff }),
  requiredMinEchoRxInterval: fc.integer({ min: 0, max: 0xffffffff }),
});

test('property: every valid packet satisfies the codec contract', () => {
  fc.assert(
    fc.property(arbPacket, (p) => contract({ ...p })),
    { numRuns: 500, seed: 5880 },
  );
});

test('fuzz: random and mutated datagrams only ever raise BfdDecodeError, and the check never throws', () => {
  const mutated = fc
    .tuple(
      arbPacket,
      fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(40),
    )
    .map(([p, edits, cut]) => {
      const b = Buffer.concat([serializeControlPacket(p), Buffer.alloc(8)]);
      for (const [i, v] of edits) if (i < b.length) b[i] = v;
      return b.subarray(0, cut);
    });
  const random = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(fc.oneof(mutated, random), (b) => {
      try {
        const d = decodeControlPacket(b);
        assert.ok(d.offset <= b.length);
        assert.ok(d.value.myDiscriminator !== 0 && d.value.detectMult !== 0);
      } catch (e) {
        assert.ok(e instanceof BfdDecodeError, `unexpected ${String(e)}`);
      }
      const r = checkControlPacket(b);
      assert.ok(typeof r.ok === 'boolean');
    }),
    { numRuns: 2000, seed: 5881 },
  );
});
