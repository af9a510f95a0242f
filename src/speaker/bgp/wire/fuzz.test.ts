// Bounded fuzzing (fast-check): random bytes and single-byte mutations of valid messages never make the decoder
// throw anything but BgpDecodeError; whatever decodes re-encodes and decodes to the same value; random valid
// UPDATE / OPEN values round-trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { BgpDecodeError } from './errors.ts';
import type { CodecContext } from './header.ts';
import { type BgpMessage, decode, encode } from './message.ts';
import { KEEPALIVE } from './keepalive.ts';
import { newNotification } from './notification.ts';
import { newOpen } from './open.ts';
import { endOfRib, routeUpdate, withdrawUpdate } from './update.ts';
import { type Prefix, parsePrefix } from './prefix.ts';
import type { PathAttribute } from './attributes/index.ts';
import ipaddr from 'ipaddr.js';

const CTXS: CodecContext[] = [
  { fourOctetAs: true },
  { fourOctetAs: false },
  { fourOctetAs: true, ibgp: true },
];

const DIR = fileURLToPath(new URL('../../../../test/fixtures/bgp/', import.meta.url));
const captured = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) =>
    (JSON.parse(readFileSync(DIR + f, 'utf8')) as { messages: { hex: string }[] }).messages.map((m) =>
      Buffer.from(m.hex, 'hex'),
    ),
  );

const samples: Buffer[] = [
  ...captured,
  encode(KEEPALIVE, CTXS[0]!),
  encode(newNotification(6, 2, { shutdownCommunication: 'bye' }), CTXS[0]!),
  encode({ type: 'route-refresh', afi: 2, safi: 1, subtype: 1 }, CTXS[0]!),
  encode(
    newOpen({
      asn: 4200000000,
      holdTime: 90,
      bgpIdentifier: '198.51.100.2',
      capabilities: [
        { type: 'multiprotocol', afi: 2, safi: 1 },
        {
          type: 'graceful-restart',
          restartState: true,
          notification: true,
          restartTime: 90,
          families: [{ afi: 1, safi: 1, forwardingState: true }],
        },
      ],
    }),
    CTXS[0]!,
  ),
  encode(
    routeUpdate(
      [parsePrefix('198.51.100.10/32'), parsePrefix('203.0.113.0/24')],
      {
        asPath: [4200000000, 64500],
        nextHop: '198.51.100.2',
        med: 5,
        communities: [1, 2],
        largeCommunities: [{ globalAdministrator: 1, localData1: 2, localData2: 3 }],
        extendedCommunities: [{ kind: 'link-bandwidth', asn: 1, bandwidth: 1000, transitive: false }],
      },
      CTXS[1]!,
    ),
    CTXS[1]!,
  ),
  encode(
    routeUpdate(
      [parsePrefix('2001:db8::/64')],
      { asPath: [], nextHop: '2001:db8::1', linkLocalNextHop: 'fe80::1', localPref: 7 },
      CTXS[2]!,
    ),
    CTXS[2]!,
  ),
  encode(withdrawUpdate([parsePrefix('2001:db8::/64')]), CTXS[0]!),
  encode(endOfRib(2, 1), CTXS[0]!),
];

/** Decodes; fails the property on anything thrown but BgpDecodeError; checks re-encoding of what decodes. */
function check(bytes: Buffer, ctx: CodecContext): void {
  let m: BgpMessage;
  try {
    m = decode(bytes, ctx).value;
  } catch (e) {
    if (e instanceof BgpDecodeError) {
      assert.ok(e.code >= 1 && e.code <= 7, `code ${e.code}`);
      assert.ok(['session-reset', 'treat-as-withdraw', 'attribute-discard'].includes(e.handling));
      return;
    }
    throw e;
  }
  if (m.type === 'update')
    assert.ok((m.errors ?? []).every((e) => e instanceof BgpDecodeError && e.handling !== 'session-reset'));
  // What was accepted must be encodable again and decode to the same value (non-fatal errors aside).
  const strip = (x: BgpMessage) =>
    x.type === 'update' ? { ...x, errors: undefined, treatAsWithdraw: undefined } : x;
  let again: Buffer;
  try {
    again = encode(strip(m), ctx);
  } catch (e) {
    // Re-encoding can only fail by exceeding 4096 bytes, which a decoded message cannot.
    throw new Error(`re-encoding a decoded ${m.type} failed: ${String(e)}`);
  }
  const m2 = decode(again, ctx).value;
  assert.deepEqual(strip(m2), strip(m));
}

test('fuzz: random bytes after a valid marker and length only ever throw BgpDecodeError', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.constantFrom(...CTXS),
      (type, body, ctx) => {
        const h = Buffer.alloc(19, 0xff);
        h.writeUInt16BE(19 + body.length, 16);
        h[18] = type;
        check(Buffer.concat([h, Buffer.from(body)]), ctx);
      },
    ),
    { numRuns: 3000, seed: 7 },
  );
});

test('fuzz: fully random bytes only ever throw BgpDecodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...CTXS), (bytes, ctx) =>
      check(Buffer.from(bytes), ctx),
    ),
    { numRuns: 1000, seed: 11 },
  );
});

test('fuzz: single-byte mutations of captured and golden messages only ever throw BgpDecodeError', () => {
  assert.ok(captured.length > 0, 'fixtures found');
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(...CTXS),
      (msg, at, byte, ctx) => {
        const m = Buffer.from(msg);
        m[19 + (at % Math.max(1, m.length - 19))] = byte; // body bytes: the header is covered by the tests above
        check(m, ctx);
      },
    ),
    { numRuns: 4000, seed: 3 },
  );
});

test('fuzz: truncations and extensions of valid messages (with the length fixed up) only throw BgpDecodeError', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.integer({ min: -40, max: 8 }),
      fc.constantFrom(...CTXS),
      (msg, delta, ctx) => {
        const len = Math.max(19, Math.min(msg.length + delta, 4096));
        const m = Buffer.alloc(len, 0);
        msg.copy(m, 0, 0, Math.min(len, msg.length));
        m.writeUInt16BE(len, 16);
        check(m, ctx);
      },
    ),
    { numRuns: 1500, seed: 5 },
  );
});

// ---- random valid values round-trip ------------------------------------------------------------------------------

const u32 = fc.nat({ max: 0xffffffff });
const prefix4: fc.Arbitrary<Prefix> = fc
  .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
  .map(([b, len]) => {
    const bytes = [...b].map((x, i) =>
      i * 8 >= len ? 0 : i * 8 + 8 <= len ? x : x & (0xff << (8 - (len - i * 8))),
    );
    return { prefix: ipaddr.fromByteArray(bytes).toString(), length: len };
  });
const prefix6: fc.Arbitrary<Prefix> = fc
  .tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, len]) => {
    const bytes = [...b].map((x, i) =>
      i * 8 >= len ? 0 : i * 8 + 8 <= len ? x : x & (0xff << (8 - (len - i * 8))),
    );
    return { prefix: ipaddr.fromByteArray(bytes).toString(), length: len };
  });
const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => [...b].join('.'));
const v6 = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => ipaddr.fromByteArray([...b]).toString());

const optionalAttrs: fc.Arbitrary<PathAttribute>[] = [
  u32.map((med) => ({ type: 'MULTI_EXIT_DISC' as const, med })),
  fc.constant({ type: 'ATOMIC_AGGREGATE' as const }),
  fc.record({ asn: u32, address: v4 }).map((r) => ({ type: 'AGGREGATOR' as const, ...r })),
  fc
    .array(u32, { minLength: 1, maxLength: 10 })
    .map((communities) => ({ type: 'COMMUNITIES' as const, communities })),
  fc
    .array(
      fc.oneof(
        fc
          .record({
            asn: fc.nat({ max: 0xffff }),
            bandwidth: fc
              .float({ min: 0, max: Math.fround(1e12), noNaN: true, noDefaultInfinity: true })
              .filter((x) => !Object.is(x, -0)),
            transitive: fc.boolean(),
          })
          .map((r) => ({ kind: 'link-bandwidth' as const, ...r })),
        fc
          .record({
            kind: fc.constantFrom('route-target' as const, 'route-origin' as const),
            asn: fc.nat({ max: 0xffff }),
            localAdministrator: u32,
          })
          .map((r) => ({ ...r })),
        fc
          .record({
            typeHigh: fc.integer({ min: 1, max: 255 }),
            typeLow: fc.integer({ min: 5, max: 255 }),
            value: fc.uint8Array({ minLength: 6, maxLength: 6 }),
          })
          .filter((r) => r.typeHigh !== 0x40 && r.typeHigh !== 0x00)
          .map((r) => ({
            kind: 'raw' as const,
            typeHigh: r.typeHigh,
            typeLow: r.typeLow,
            value: Buffer.from(r.value),
          })),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((communities) => ({ type: 'EXTENDED_COMMUNITIES' as const, communities })),
  fc
    .array(fc.record({ globalAdministrator: u32, localData1: u32, localData2: u32 }), {
      minLength: 1,
      maxLength: 4,
    })
    .map((communities) => ({
      type: 'LARGE_COMMUNITY' as const,
      communities: communities.map((c) => ({ ...c })),
    })),
  fc
    .record({ code: fc.constantFrom(9, 10, 26, 40, 99, 200), value: fc.uint8Array({ maxLength: 300 }) })
    .map((r) => ({ type: 'UNKNOWN' as const, code: r.code, flags: 0xc0, value: Buffer.from(r.value) })),
];

test('property: random valid UPDATEs round-trip (4-octet AS, eBGP)', () => {
  const ctx: CodecContext = { fourOctetAs: true };
  fc.assert(
    fc.property(
      fc.array(prefix4, { maxLength: 20 }),
      fc.array(prefix4, { maxLength: 20 }),
      fc.option(fc.record({ nextHop: v6, nlri: fc.array(prefix6, { maxLength: 10 }) }), { nil: undefined }),
      fc.array(
        fc
          .record({
            type: fc.constantFrom('AS_SEQUENCE' as const, 'AS_SET' as const),
            asns: fc.array(u32, { minLength: 1, maxLength: 8 }),
          })
          .map((s) => ({ ...s })),
        { maxLength: 3 },
      ),
      fc.constantFrom('IGP' as const, 'EGP' as const, 'INCOMPLETE' as const),
      v4,
      fc.uniqueArray(fc.oneof(...optionalAttrs), {
        selector: (a) => (a.type === 'UNKNOWN' ? `u${a.code}` : a.type),
        maxLength: 6,
      }),
      (withdrawn, nlri, mp, segments, origin, nextHop, extra) => {
        const attributes: PathAttribute[] = [];
        if (mp)
          attributes.push({ type: 'MP_REACH_NLRI', afi: 2, safi: 1, nextHop: mp.nextHop, nlri: mp.nlri });
        attributes.push(
          { type: 'ORIGIN', origin },
          { type: 'AS_PATH', segments },
          { type: 'NEXT_HOP', nextHop },
          ...extra,
        );
        const m: BgpMessage = { type: 'update', withdrawnRoutes: withdrawn, attributes, nlri };
        const back = decode(encode(m, ctx), ctx).value;
        assert.deepEqual(back, m);
      },
    ),
    { numRuns: 500, seed: 13 },
  );
});

test('property: random valid OPENs round-trip', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
      v4.filter((x) => x !== '0.0.0.0'),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
      (asn, holdTime, bgpIdentifier, safis) => {
        const m = newOpen({
          asn,
          holdTime,
          bgpIdentifier,
          capabilities: safis.map((safi) => ({ type: 'multiprotocol' as const, afi: 2, safi })),
        });
        const ctx = CTXS[0]!;
        assert.deepEqual(decode(encode(m, ctx), ctx).value, m);
      },
    ),
    { numRuns: 300, seed: 17 },
  );
});

test('fuzz: UPDATEs made of random attribute TLVs (known and unknown types, random flags and values)', () => {
  const tlv = fc
    .record({
      flags: fc.oneof(
        fc.constantFrom(0x40, 0x80, 0xc0, 0xe0, 0x50, 0x90, 0xd0),
        fc.integer({ min: 0, max: 255 }),
      ),
      code: fc.oneof(
        fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 32),
        fc.integer({ min: 0, max: 255 }),
      ),
      value: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        // MP_REACH / MP_UNREACH-looking values: AFI 1/2, SAFI 1, a next-hop length, random rest.
        fc
          .tuple(fc.constantFrom(1, 2), fc.constantFrom(4, 16, 32, 5), fc.uint8Array({ maxLength: 60 }))
          .map(([afi, nh, rest]) => Uint8Array.from([0, afi, 1, nh, ...rest])),
      ),
    })
    .map(({ flags, code, value }) => {
      const ext = (flags & 0x10) !== 0;
      const h = ext
        ? [flags, code, value.length >> 8, value.length & 0xff]
        : [flags, code, value.length & 0xff];
      return Uint8Array.from([...h, ...value]);
    });
  fc.assert(
    fc.property(
      fc.array(tlv, { maxLength: 8 }),
      fc.uint8Array({ maxLength: 20 }),
      fc.uint8Array({ maxLength: 10 }),
      fc.constantFrom(...CTXS),
      (attrs, nlri, withdrawn, ctx) => {
        const a = Buffer.concat(attrs.map((x) => Buffer.from(x)));
        const body = Buffer.concat([
          Buffer.from([withdrawn.length >> 8, withdrawn.length & 0xff]),
          Buffer.from(withdrawn),
          Buffer.from([a.length >> 8, a.length & 0xff]),
          a,
          Buffer.from(nlri),
        ]);
        if (19 + body.length > 4096) return;
        const h = Buffer.alloc(19, 0xff);
        h.writeUInt16BE(19 + body.length, 16);
        h[18] = 2;
        check(Buffer.concat([h, body]), ctx);
      },
    ),
    { numRuns: 3000, seed: 23 },
  );
});
