// UPDATE (RFC 4271 §4.3) with every path attribute berth knows: golden bytes commented per field, round trips,
// End-of-RIB (RFC 4724 §2), and the RFC 7606 revised error handling table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract, assertDecodeError, hex, rawUpdate as update } from './testing.ts';
import { ErrorCode, UpdateSubcode, WellKnownCommunity } from './constants.ts';
import type { CodecContext } from './header.ts';
import { decode, encode } from './message.ts';
import { parsePrefix } from './prefix.ts';
import {
  type UpdateMessage,
  announcedPrefixes,
  effectiveAsPath,
  endOfRib,
  endOfRibFamily,
  routeUpdate,
  routeUpdates,
  withdrawUpdate,
  withdrawUpdates,
  withdrawnPrefixes,
} from './update.ts';
import { community, formatCommunityValue, linkBandwidth, parseCommunityValue } from './attributes/index.ts';

const TWO: CodecContext = { fourOctetAs: false };
const FOUR: CodecContext = { fourOctetAs: true };
const IBGP: CodecContext = { fourOctetAs: true, ibgp: true };

test('an IPv4 eBGP UPDATE on a 2-octet AS session: AS_TRANS + AS4_PATH, communities of all three kinds', () => {
  const u = routeUpdate(
    [parsePrefix('198.51.100.10/32')],
    {
      asPath: [4200000000],
      nextHop: '198.51.100.2',
      communities: [community(64500, 1), WellKnownCommunity.NO_EXPORT],
      largeCommunities: [{ globalAdministrator: 64500, localData1: 1, localData2: 2 }],
      extendedCommunities: [linkBandwidth(64500, 125_000_000)],
    },
    TWO,
  );
  assertContract(
    u,
    TWO,
    hex(`
      ffffffffffffffffffffffffffffffff  # Marker
      005c                              # Length 92
      02                                # Type UPDATE
      0000                              # Withdrawn Routes Length 0
      0040                              # Total Path Attribute Length 64
      40 01 01 00                       # ORIGIN (well-known transitive), length 1: IGP
      40 02 04 02 01 5ba0               # AS_PATH, length 4: AS_SEQUENCE of 1 2-octet ASN: AS_TRANS 23456
      40 03 04 c6336402                 # NEXT_HOP, length 4: 198.51.100.2
      c0 08 08 fbf40001 ffffff01        # COMMUNITIES (optional transitive), length 8: 64500:1, NO_EXPORT
      c0 10 08 40 04 fbf4 4cee6b28      # EXTENDED_COMMUNITIES, length 8: link bandwidth (0x40/0x04), AS 64500, 125e6 B/s (float32)
      c0 11 06 02 01 fa56ea00           # AS4_PATH, length 6: AS_SEQUENCE of 1 4-octet ASN: 4200000000
      c0 20 0c 0000fbf4 00000001 00000002  # LARGE_COMMUNITY, length 12: 64500:1:2
      20 c633640a                       # NLRI: 198.51.100.10/32
    `),
  );
});

test('effectiveAsPath merges AS4_PATH on a 2-octet session and ignores it on a 4-octet one', () => {
  const u = routeUpdate(
    [parsePrefix('198.51.100.10/32')],
    { asPath: [64501, 4200000000], nextHop: '198.51.100.1' },
    TWO,
  );
  const back = decode(encode(u, TWO), TWO).value as UpdateMessage;
  assert.deepEqual(
    back.attributes.find((a) => a.type === 'AS_PATH'),
    { type: 'AS_PATH', segments: [{ type: 'AS_SEQUENCE', asns: [64501, 23456] }] },
  );
  assert.deepEqual(effectiveAsPath(back, TWO), [{ type: 'AS_SEQUENCE', asns: [64501, 4200000000] }]);
  const four = routeUpdate(
    [parsePrefix('198.51.100.10/32')],
    { asPath: [64501, 4200000000], nextHop: '198.51.100.1' },
    FOUR,
  );
  assert.deepEqual(effectiveAsPath(decode(encode(four, FOUR), FOUR).value as UpdateMessage, FOUR), [
    { type: 'AS_SEQUENCE', asns: [64501, 4200000000] },
  ]);
  assert.equal(effectiveAsPath(endOfRib(), FOUR), undefined);
});

test('an IPv6 iBGP UPDATE: MP_REACH_NLRI first, empty AS_PATH, LOCAL_PREF', () => {
  const u = routeUpdate(
    [parsePrefix('2001:db8::10/128')],
    { asPath: [], nextHop: '2001:db8::2', localPref: 100 },
    IBGP,
  );
  assertContract(
    u,
    IBGP,
    hex(`
      ffffffffffffffffffffffffffffffff  # Marker
      004e                              # Length 78
      02                                # Type UPDATE
      0000                              # Withdrawn Routes Length 0
      0037                              # Total Path Attribute Length 55
      80 0e 26                          # MP_REACH_NLRI (optional non-transitive), length 38
         0002 01                        #   AFI 2 IPv6, SAFI 1 unicast
         10 20010db8000000000000000000000002  # next hop length 16: 2001:db8::2
         00                             #   Reserved
         80 20010db8000000000000000000000010  # NLRI 2001:db8::10/128
      40 01 01 00                       # ORIGIN IGP
      40 02 00                          # AS_PATH, empty (iBGP)
      40 05 04 00000064                 # LOCAL_PREF 100
    `),
  );
});

test('IPv6 next hop with a link-local (32 bytes), MED, ATOMIC_AGGREGATE, AGGREGATOR, route target, raw extended community', () => {
  const u: UpdateMessage = {
    type: 'update',
    withdrawnRoutes: [parsePrefix('203.0.113.0/24')],
    attributes: [
      {
        type: 'MP_REACH_NLRI',
        afi: 2,
        safi: 1,
        nextHop: '2001:db8:77::2',
        linkLocalNextHop: 'fe80::2',
        nlri: [parsePrefix('2001:db8:ff::/48'), parsePrefix('::/0')],
      },
      { type: 'ORIGIN', origin: 'INCOMPLETE' },
      {
        type: 'AS_PATH',
        segments: [
          { type: 'AS_SEQUENCE', asns: [64500, 4200000000] },
          { type: 'AS_SET', asns: [1, 2] },
        ],
      },
      { type: 'MULTI_EXIT_DISC', med: 0xffffffff },
      { type: 'ATOMIC_AGGREGATE' },
      { type: 'AGGREGATOR', asn: 4200000000, address: '198.51.100.1' },
      {
        type: 'EXTENDED_COMMUNITIES',
        communities: [
          { kind: 'route-target', asn: 64500, localAdministrator: 7 },
          { kind: 'raw', typeHigh: 0x03, typeLow: 0x0c, value: hex('000000000008') },
          linkBandwidth(64500, 1e6, true),
        ],
      },
      { type: 'UNKNOWN', code: 99, flags: 0xe0, value: hex('0102') },
    ],
    nlri: [],
  };
  const bytes = assertContract(
    u,
    FOUR,
    hex(`
      ffffffffffffffffffffffffffffffff 009b 02   # header: length 155, UPDATE
      0004 18 cb0071                             # Withdrawn Routes Length 4: 203.0.113.0/24
      0080                                       # Total Path Attribute Length 128
      80 0e 2d                                   # MP_REACH_NLRI, length 45
         0002 01                                 #   AFI 2, SAFI 1
         20                                      #   next hop length 32 (global + link-local, RFC 2545 §3)
         20010db8007700000000000000000002        #   2001:db8:77::2
         fe800000000000000000000000000002        #   fe80::2
         00                                      #   Reserved
         30 20010db800ff                         #   2001:db8:ff::/48
         00                                      #   ::/0 (length 0, no prefix bytes)
      40 01 01 02                                # ORIGIN INCOMPLETE
      40 02 14                                   # AS_PATH, length 20 (4-octet session)
         02 02 0000fbf4 fa56ea00                 #   AS_SEQUENCE 64500 4200000000
         01 02 00000001 00000002                 #   AS_SET {1, 2}
      80 04 04 ffffffff                          # MULTI_EXIT_DISC (optional non-transitive) 4294967295
      40 06 00                                   # ATOMIC_AGGREGATE, empty
      c0 07 08 fa56ea00 c6336401                 # AGGREGATOR (4-octet session): AS 4200000000, 198.51.100.1
      c0 10 18                                   # EXTENDED_COMMUNITIES, length 24
         00 02 fbf4 00000007                     #   route target (0x00/0x02) 64500:7
         03 0c 000000000008                      #   raw: type 0x03 sub-type 0x0c, value 000000000008
         00 04 fbf4 49742400                     #   transitive link bandwidth (0x00/0x04) AS 64500, 1e6 B/s
      e0 63 02 0102                              # unknown type 99, optional transitive partial, kept as is
    `),
  );
  assert.equal(bytes[19 + 2], 24, 'withdrawn 203.0.113.0/24: length byte');
  const back = decode(bytes, FOUR).value as UpdateMessage;
  assert.deepEqual(
    withdrawnPrefixes(back).map((p) => `${p.prefix}/${p.length}`),
    ['203.0.113.0/24'],
  );
  assert.deepEqual(
    announcedPrefixes(back).map((p) => `${p.prefix}/${p.length}`),
    ['2001:db8:ff::/48', '::/0'],
  );
});

test('AGGREGATOR with a 2-octet AS and AS4_AGGREGATOR on a 2-octet AS session (RFC 6793 §3)', () => {
  assertContract(
    {
      type: 'update',
      withdrawnRoutes: [],
      attributes: [
        { type: 'AGGREGATOR', asn: 64500, address: '198.51.100.1' },
        { type: 'AS4_AGGREGATOR', asn: 4200000000, address: '198.51.100.1' },
      ],
      nlri: [],
    },
    TWO,
    hex(`
      ffffffffffffffffffffffffffffffff 002b 02   # header: length 43, UPDATE
      0000 0014                                  # no withdrawn routes; attributes 20 bytes
      c0 07 06 fbf4 c6336401                     # AGGREGATOR, length 6: AS 64500 (2 octets), 198.51.100.1
      c0 12 08 fa56ea00 c6336401                 # AS4_AGGREGATOR, length 8: AS 4200000000, 198.51.100.1
    `),
  );
});

test('a long AS_PATH uses the Extended Length flag', () => {
  const asns = Array.from({ length: 100 }, (_, i) => 64512 + i);
  const u = routeUpdate([parsePrefix('198.51.100.0/24')], { asPath: asns, nextHop: '198.51.100.2' }, FOUR);
  const bytes = assertContract(u, FOUR);
  // ORIGIN (4 bytes) then AS_PATH: flags 0x50 = well-known transitive + Extended Length, 2-byte length 402.
  assert.equal(bytes.subarray(27, 31).toString('hex'), '50020192');
});

test('End-of-RIB: an empty UPDATE for IPv4, an empty MP_UNREACH_NLRI for IPv6 (RFC 4724 §2)', () => {
  assertContract(endOfRib(), FOUR, hex('ffffffffffffffffffffffffffffffff 0017 02  0000 0000'));
  assertContract(
    endOfRib(2, 1),
    FOUR,
    hex(`
      ffffffffffffffffffffffffffffffff 001d 02   # header, length 29, UPDATE
      0000                                       # Withdrawn Routes Length 0
      0006                                       # Total Path Attribute Length 6
      80 0f 03 0002 01                           # MP_UNREACH_NLRI, length 3: AFI 2, SAFI 1, no withdrawn routes
    `),
  );
  assert.deepEqual(endOfRibFamily(endOfRib()), { afi: 1, safi: 1 });
  assert.deepEqual(endOfRibFamily(endOfRib(2, 1)), { afi: 2, safi: 1 });
  assert.equal(endOfRibFamily(withdrawUpdate([parsePrefix('2001:db8::/32')])), undefined);
  assert.equal(endOfRibFamily(withdrawUpdate([parsePrefix('198.51.100.0/24')])), undefined);
});

test('withdrawUpdate: Withdrawn Routes for IPv4, MP_UNREACH_NLRI for IPv6', () => {
  assertContract(
    withdrawUpdate([parsePrefix('198.51.100.10/32'), parsePrefix('203.0.113.0/24')]),
    FOUR,
    hex(`
      ffffffffffffffffffffffffffffffff 0020 02   # header, length 32, UPDATE
      0009                                       # Withdrawn Routes Length 9
      20 c633640a                                # 198.51.100.10/32
      18 cb0071                                  # 203.0.113.0/24
      0000                                       # Total Path Attribute Length 0
    `),
  );
  const w6 = withdrawUpdate([parsePrefix('2001:db8::10/128')]);
  assertContract(w6, FOUR);
  assert.deepEqual(withdrawnPrefixes(w6), [parsePrefix('2001:db8::10/128')]);
});

test('encoders refuse bad values with the value and the rule', () => {
  const p4 = [parsePrefix('198.51.100.10/32')];
  assert.throws(
    () => routeUpdate(p4, { asPath: [], nextHop: '198.51.100.2', localPref: 100 }, FOUR),
    /LOCAL_PREF 100 is for iBGP sessions only/,
  );
  assert.throws(
    () => routeUpdate([parsePrefix('2001:db8::10/128')], { asPath: [], nextHop: '198.51.100.2' }, FOUR),
    /next hop 198.51.100.2 is not of the prefixes' family/,
  );
  assert.throws(
    () => routeUpdate([...p4, parsePrefix('2001:db8::/32')], { asPath: [], nextHop: '198.51.100.2' }, FOUR),
    /all be IPv4 or all IPv6/,
  );
  assert.throws(() => parsePrefix('198.51.100.10/24'), /host bits after \/24 must be zero/);
  assert.throws(() => parsePrefix('198.51.100.0/33'), /length must be 0-32/);
  assert.throws(
    () => parsePrefix('not-an-ip/8'),
    /address "not-an-ip" is not an IPv4 dotted quad or an IPv6 address/,
  );
  const twoOctet: UpdateMessage = {
    type: 'update',
    withdrawnRoutes: [],
    attributes: [{ type: 'AS_PATH', segments: [{ type: 'AS_SEQUENCE', asns: [4200000000] }] }],
    nlri: [],
  };
  assert.throws(
    () => encode(twoOctet, TWO),
    /AS_PATH ASN 4200000000 must be 0-65535 on a 2-octet AS session/,
  );
  assert.throws(
    () => encode({ ...twoOctet, nlri: [parsePrefix('2001:db8::/32')] }, FOUR),
    /prefix 2001:db8::\/32 is not of AFI 1/,
  );
  const many = Array.from({ length: 1000 }, (_, i) => parsePrefix(`198.51.${i >> 8}.${i & 0xff}/32`));
  assert.throws(
    () => encode(routeUpdate(many, { asPath: [], nextHop: '198.51.100.2' }, FOUR), FOUR),
    /UPDATE would be \d+ bytes, above the 4096-byte maximum/,
  );
});

test('communities print and parse as A:B or their well-known names', () => {
  assert.equal(formatCommunityValue(community(64500, 100)), '64500:100');
  assert.equal(formatCommunityValue(WellKnownCommunity.NO_EXPORT), 'no-export');
  assert.equal(formatCommunityValue(WellKnownCommunity.BLACKHOLE), 'blackhole');
  assert.equal(parseCommunityValue('no-advertise'), WellKnownCommunity.NO_ADVERTISE);
  assert.equal(parseCommunityValue('65535:65281'), WellKnownCommunity.NO_EXPORT);
  assert.throws(
    () => parseCommunityValue('65536:1'),
    /community half 65536 of 65536:1 must be an integer 0-65535/,
  );
  assert.throws(() => parseCommunityValue('x'), /community "x" is not "A:B"/);
});

/** Every /32 of the three IPv4 documentation ranges (768 prefixes). */
const DOC_V4 = ['192.0.2', '198.51.100', '203.0.113'].flatMap((n) =>
  Array.from({ length: 256 }, (_, i) => parsePrefix(`${n}.${i}/32`)),
);
/** 10,000 IPv6 /128s in 2001:db8::/32. */
const DOC_V6 = Array.from({ length: 10_000 }, (_, i) => parsePrefix(`2001:db8::${i.toString(16)}/128`));

test('routeUpdates / withdrawUpdates split many prefixes into UPDATEs of at most 4096 bytes, in order', () => {
  const attrs = {
    asPath: [64500],
    nextHop: '198.51.100.2',
    communities: Array.from({ length: 60 }, (_, i) => community(64500, i)),
  };
  const cases = [
    { prefixes: DOC_V4, updates: routeUpdates(DOC_V4, attrs, FOUR), min: 2 },
    {
      prefixes: DOC_V6,
      updates: routeUpdates(DOC_V6, { ...attrs, nextHop: '2001:db8::2' }, FOUR),
      min: 10_000 / 240,
    },
    { prefixes: DOC_V4, updates: withdrawUpdates(DOC_V4, FOUR), min: 1 },
    { prefixes: DOC_V6, updates: withdrawUpdates(DOC_V6, FOUR), min: 10_000 / 240 },
  ];
  for (const c of cases) {
    assert.ok(c.updates.length >= c.min, `${c.updates.length} UPDATEs`);
    const got: string[] = [];
    for (const u of c.updates) {
      const bytes = encode(u, FOUR);
      assert.ok(bytes.length <= 4096, `${bytes.length} bytes`);
      const back = decode(bytes, FOUR).value as UpdateMessage;
      assert.equal(back.errors, undefined);
      got.push(
        ...[...announcedPrefixes(back), ...withdrawnPrefixes(back)].map((p) => `${p.prefix}/${p.length}`),
      );
    }
    assert.deepEqual(
      got,
      c.prefixes.map((p) => `${p.prefix}/${p.length}`),
    );
    // Packed tight: when split, the first message could not take one more prefix.
    if (c.updates.length > 1)
      assert.ok(
        encode(c.updates[0]!, FOUR).length > 4096 - 17 - 3,
        `first UPDATE is ${encode(c.updates[0]!, FOUR).length} bytes`,
      );
  }
  assert.equal(
    routeUpdates(DOC_V6, { ...attrs, nextHop: '2001:db8::2' }, { ...FOUR, extendedMessage: true }).length,
    3,
    'RFC 8654: 65535-byte UPDATEs',
  );
  assert.deepEqual(routeUpdates([], attrs, FOUR), []);
});

// ---- RFC 7606 table ----------------------------------------------------------------------------------------------

const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fbf4'; // AS_SEQUENCE [64500], 4-octet
const NEXT_HOP = '40 03 04 c6336402';
const MP_REACH = '80 0e 1c 0002 01 10 20010db8000000000000000000000002 00 30 20010db800ff'; // 2001:db8:ff::/48 via 2001:db8::2

interface Case {
  desc: string;
  bytes: Buffer;
  ctx?: CodecContext;
  /** Session reset with this UPDATE subcode. */
  reset?: number;
  /** Non-fatal errors: [subcode, handling]. */
  errors?: [number, 'treat-as-withdraw' | 'attribute-discard'][];
  /** Types of the attributes kept. */
  kept?: string[];
  /** NOTIFICATION data of the first error. */
  data?: string;
}

const A = UpdateSubcode;
const cases: Case[] = [
  {
    desc: 'a well-formed UPDATE has no errors',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP),
    errors: [],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'ORIGIN value 3 → treat-as-withdraw, Invalid ORIGIN (§7.1)',
    bytes: update('40 01 01 03' + AS_PATH + NEXT_HOP),
    errors: [[A.InvalidOriginAttribute, 'treat-as-withdraw']],
    data: '40010103',
  },
  {
    desc: 'ORIGIN length 2 → treat-as-withdraw, Attribute Length Error (§7.1)',
    bytes: update('40 01 02 0000' + AS_PATH + NEXT_HOP),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'ORIGIN with the Optional bit → treat-as-withdraw, Attribute Flags Error (§3 c)',
    bytes: update('c0 01 01 00' + AS_PATH + NEXT_HOP),
    errors: [[A.AttributeFlagsError, 'treat-as-withdraw']],
  },
  {
    desc: 'AS_PATH segment type 5 → treat-as-withdraw, Malformed AS_PATH (§7.2)',
    bytes: update(ORIGIN + '40 02 06 05 01 0000fbf4' + NEXT_HOP),
    errors: [[A.MalformedAsPath, 'treat-as-withdraw']],
  },
  {
    desc: 'AS_PATH segment overrunning the attribute → treat-as-withdraw (§7.2)',
    bytes: update(ORIGIN + '40 02 06 02 02 0000fbf4' + NEXT_HOP),
    errors: [[A.MalformedAsPath, 'treat-as-withdraw']],
  },
  {
    desc: 'AS_PATH zero-length segment → treat-as-withdraw (§7.2)',
    bytes: update(ORIGIN + '40 02 02 02 00' + NEXT_HOP),
    errors: [[A.MalformedAsPath, 'treat-as-withdraw']],
  },
  {
    desc: 'AS_PATH with 2-octet ASNs read on a 4-octet session (odd size) → treat-as-withdraw',
    bytes: update(ORIGIN + '40 02 04 02 01 fbf4' + NEXT_HOP),
    errors: [[A.MalformedAsPath, 'treat-as-withdraw']],
  },
  {
    desc: 'NEXT_HOP length 5 → treat-as-withdraw (§7.3)',
    bytes: update(ORIGIN + AS_PATH + '40 03 05 c633640200'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'MED length 3 → treat-as-withdraw (§7.4)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '80 04 03 000001'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'ATOMIC_AGGREGATE length 1 → attribute-discard (§7.6)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 06 01 00'),
    errors: [[A.AttributeLengthError, 'attribute-discard']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'AGGREGATOR of 6 bytes on a 4-octet session → attribute-discard (§7.7)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'c0 07 06 fbf4 c6336401'),
    errors: [[A.AttributeLengthError, 'attribute-discard']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'AGGREGATOR marked well-known → attribute-discard (§3 c, §7.7)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 07 08 0000fbf4 c6336401'),
    errors: [[A.AttributeFlagsError, 'attribute-discard']],
  },
  {
    desc: 'AGGREGATOR of 6 bytes on a 2-octet session is fine',
    ctx: TWO,
    bytes: update(ORIGIN + '40 02 04 02 01 fbf4' + NEXT_HOP + 'c0 07 06 fbf4 c6336401'),
    errors: [],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP', 'AGGREGATOR'],
  },
  {
    desc: 'COMMUNITIES length 5 → treat-as-withdraw (§7.8)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'c0 08 05 fbf4000100'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'EXTENDED_COMMUNITIES length 7 → treat-as-withdraw (§7.14)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'c0 10 07 00020000000000'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'LARGE_COMMUNITY length 11 → treat-as-withdraw (RFC 8092 §6)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'c0 20 0b 0000fbf4000000010000'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'a repeated ORIGIN: the later copy is discarded (§3 g)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 01 01 02'),
    errors: [[A.MalformedAttributeList, 'attribute-discard']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'a repeated MP_REACH_NLRI → session reset, Malformed Attribute List (§3 g)',
    bytes: update(MP_REACH + MP_REACH + ORIGIN + AS_PATH, ''),
    reset: A.MalformedAttributeList,
  },
  {
    desc: 'MP_REACH_NLRI next hop length 5 → session reset (§7.11)',
    bytes: update('80 0e 0a 0002 01 05 2001db8000 00 00' + ORIGIN + AS_PATH, ''),
    reset: A.OptionalAttributeError,
  },
  {
    desc: 'MP_REACH_NLRI with an IPv6 prefix length 129 → session reset (§5.3)',
    bytes: update('80 0e 16 0002 01 10 20010db8000000000000000000000002 00 81' + ORIGIN + AS_PATH, ''),
    reset: A.InvalidNetworkField,
  },
  {
    desc: 'MP_REACH_NLRI marked transitive → session reset (§3 c, §7.11)',
    bytes: update(
      'c0 0e 1c 0002 01 10 20010db8000000000000000000000002 00 30 20010db800ff' + ORIGIN + AS_PATH,
      '',
    ),
    reset: A.AttributeFlagsError,
  },
  {
    desc: 'MP_UNREACH_NLRI of 2 bytes → session reset (§7.12)',
    bytes: update('80 0f 02 0002', ''),
    reset: A.OptionalAttributeError,
  },
  {
    desc: 'MP_REACH_NLRI whose length overruns the attributes → session reset',
    bytes: update('80 0e 30 0002 01 10', ''),
    reset: A.AttributeLengthError,
  },
  {
    desc: 'an unrecognized well-known attribute → session reset, Unrecognized Well-known Attribute',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 63 01 00'),
    reset: A.UnrecognizedWellKnownAttribute,
  },
  {
    desc: 'an unrecognized optional transitive attribute is kept',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'e0 63 01 00'),
    errors: [],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP', 'UNKNOWN'],
  },
  {
    desc: 'ORIGIN missing with NLRI → treat-as-withdraw, Missing Well-known Attribute, data = type 1',
    bytes: update(AS_PATH + NEXT_HOP),
    errors: [[A.MissingWellKnownAttribute, 'treat-as-withdraw']],
    data: '01',
  },
  {
    desc: 'NEXT_HOP missing with NLRI → treat-as-withdraw, data = type 3',
    bytes: update(ORIGIN + AS_PATH),
    errors: [[A.MissingWellKnownAttribute, 'treat-as-withdraw']],
    data: '03',
  },
  {
    desc: 'NEXT_HOP is not needed with MP_REACH_NLRI only',
    bytes: update(MP_REACH + ORIGIN + AS_PATH, ''),
    errors: [],
  },
  { desc: 'no attributes and no NLRI (End-of-RIB) is fine', bytes: update('', ''), errors: [] },
  {
    desc: 'an attribute length running past the attributes → treat-as-withdraw, NLRI still read (§4)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '80 04 0a 0000'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'a truncated attribute header (2 bytes) → treat-as-withdraw (§4)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '80 04'),
    errors: [[A.MalformedAttributeList, 'treat-as-withdraw']],
  },
  {
    desc: 'LOCAL_PREF from an external peer is discarded (§7.5)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 05 04 00000064'),
    errors: [[A.OptionalAttributeError, 'attribute-discard']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'a malformed LOCAL_PREF from an external peer is only discarded (§7.5)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 05 03 000064'),
    errors: [[A.OptionalAttributeError, 'attribute-discard']],
  },
  {
    desc: 'LOCAL_PREF from an internal peer is kept',
    ctx: IBGP,
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 05 04 00000064'),
    errors: [],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP', 'LOCAL_PREF'],
  },
  {
    desc: 'LOCAL_PREF of 3 bytes from an internal peer → treat-as-withdraw (§7.5)',
    ctx: IBGP,
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + '40 05 03 000064'),
    errors: [[A.AttributeLengthError, 'treat-as-withdraw']],
  },
  {
    desc: 'AS4_PATH on a 4-octet session is discarded (RFC 6793 §4.1)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP + 'c0 11 06 02 01 fa56ea00'),
    errors: [[A.OptionalAttributeError, 'attribute-discard']],
    kept: ['ORIGIN', 'AS_PATH', 'NEXT_HOP'],
  },
  {
    desc: 'a malformed AS4_PATH on a 2-octet session → attribute-discard (RFC 6793 §6)',
    ctx: TWO,
    bytes: update(ORIGIN + '40 02 04 02 01 5ba0' + NEXT_HOP + 'c0 11 06 02 02 fa56ea00'),
    errors: [[A.OptionalAttributeError, 'attribute-discard']],
  },
  {
    desc: 'AS4_PATH with a confederation segment → attribute-discard (RFC 6793 §6)',
    ctx: TWO,
    bytes: update(ORIGIN + '40 02 04 02 01 5ba0' + NEXT_HOP + 'c0 11 06 03 01 fa56ea00'),
    errors: [[A.OptionalAttributeError, 'attribute-discard']],
  },
  {
    desc: 'AS4_AGGREGATOR of 6 bytes → attribute-discard (RFC 6793 §6)',
    ctx: TWO,
    bytes: update(ORIGIN + '40 02 04 02 01 5ba0' + NEXT_HOP + 'c0 12 06 fbf4 c6336401'),
    errors: [[A.AttributeLengthError, 'attribute-discard']],
  },
  {
    desc: 'Withdrawn Routes Length past the message → session reset, Malformed Attribute List',
    bytes: hex('ffffffffffffffffffffffffffffffff 0017 02 0005 0000'),
    reset: A.MalformedAttributeList,
  },
  {
    desc: 'Total Path Attribute Length past the message → session reset, Malformed Attribute List',
    bytes: hex('ffffffffffffffffffffffffffffffff 0017 02 0000 0001'),
    reset: A.MalformedAttributeList,
  },
  {
    desc: 'an NLRI prefix length 33 → session reset, Invalid Network Field (§5.3)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP, '21 c633640a00'),
    reset: A.InvalidNetworkField,
  },
  {
    desc: 'an NLRI prefix running past the message → session reset (§5.3)',
    bytes: update(ORIGIN + AS_PATH + NEXT_HOP, '20 c63364'),
    reset: A.InvalidNetworkField,
  },
  {
    desc: 'a withdrawn prefix running past its field → session reset (§5.3)',
    bytes: update('', '', '20 c63364'),
    reset: A.InvalidNetworkField,
  },
];

for (const c of cases) {
  test(`RFC 7606: ${c.desc}`, () => {
    const ctx = c.ctx ?? FOUR;
    if (c.reset !== undefined) {
      assertDecodeError(c.bytes, ctx, { code: ErrorCode.UpdateMessageError, subcode: c.reset });
      return;
    }
    const m = decode(c.bytes, ctx).value;
    assert.equal(m.type, 'update');
    if (m.type !== 'update') return;
    const got = (m.errors ?? []).map((e) => [e.subcode, e.handling]);
    assert.deepEqual(got, c.errors, (m.errors ?? []).map((e) => e.message).join('; '));
    for (const e of m.errors ?? []) assert.equal(e.code, ErrorCode.UpdateMessageError);
    const taw = (c.errors ?? []).some(([, h]) => h === 'treat-as-withdraw');
    assert.equal(m.treatAsWithdraw ?? false, taw);
    if (c.kept)
      assert.deepEqual(
        m.attributes.map((a) => a.type),
        c.kept,
      );
    if (c.data) assert.equal(m.errors?.[0]?.data.toString('hex'), c.data);
    const routes = [...m.nlri, ...(m.attributes.find((a) => a.type === 'MP_REACH_NLRI')?.nlri ?? [])];
    if (taw) {
      assert.deepEqual(announcedPrefixes(m), []);
      assert.deepEqual(
        withdrawnPrefixes(m),
        routes,
        'treat-as-withdraw: the announced prefixes are withdrawn',
      );
    } else {
      assert.deepEqual(announcedPrefixes(m), routes);
    }
  });
}
