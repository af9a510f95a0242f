// OPEN (RFC 4271 §4.2) with capabilities (RFC 5492, 4760, 2918, 4724, 6793, 7313): golden bytes, round trips, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract, assertDecodeError, hex } from './testing.ts';
import { ErrorCode, OpenSubcode } from './constants.ts';
import { decode, encode } from './message.ts';
import { type OpenMessage, negotiate, newOpen, openAsn } from './open.ts';
import { fqdnOf } from './capabilities.ts';

const ctx = { fourOctetAs: false };

const GOLDEN = hex(`
  ffffffffffffffffffffffffffffffff  # Marker
  0035                              # Length 53
  01                                # Type OPEN
  04                                # Version 4
  5ba0                              # My Autonomous System: AS_TRANS 23456 (the ASN needs 4 octets)
  005a                              # Hold Time 90 s
  c6336402                          # BGP Identifier 198.51.100.2
  18                                # Opt Parm Len 24
  02 16                             # Optional Parameter: type 2 Capabilities, length 22
  01 04 0001 00 01                  #   Multiprotocol: AFI 1 IPv4, Reserved, SAFI 1 unicast
  02 00                             #   Route Refresh
  40 06 8078 0001 01 80             #   Graceful Restart: R=1, time 120 s; AFI 1 SAFI 1 F=1 (forwarding state kept)
  41 04 fa56ea00                    #   4-octet AS: 4200000000
`);

const open: OpenMessage = {
  type: 'open',
  version: 4,
  myAutonomousSystem: 23456,
  holdTime: 90,
  bgpIdentifier: '198.51.100.2',
  capabilities: [
    { type: 'multiprotocol', afi: 1, safi: 1 },
    { type: 'route-refresh' },
    {
      type: 'graceful-restart',
      restartState: true,
      notification: false,
      restartTime: 120,
      families: [{ afi: 1, safi: 1, forwardingState: true }],
    },
    { type: 'four-octet-as', asn: 4200000000 },
  ],
};

test('an OPEN with a 4-octet ASN encodes to the golden bytes and round-trips', () => {
  assertContract(open, ctx, GOLDEN);
  assert.equal(openAsn(open), 4200000000);
});

test('newOpen puts AS_TRANS in My Autonomous System and adds the 4-octet AS capability', () => {
  const o = newOpen({
    asn: 4200000000,
    holdTime: 90,
    bgpIdentifier: '198.51.100.2',
    capabilities: open.capabilities.slice(0, 3),
  });
  assert.deepEqual(o, open);
  const small = newOpen({ asn: 64500, holdTime: 0, bgpIdentifier: '198.51.100.2' });
  assert.equal(small.myAutonomousSystem, 64500);
  assert.deepEqual(small.capabilities, [{ type: 'four-octet-as', asn: 64500 }]);
});

test('newOpen refuses bad values with the value and the rule', () => {
  assert.throws(
    () => newOpen({ asn: 0, holdTime: 90, bgpIdentifier: '198.51.100.2' }),
    /ASN 0 must be an integer 1-4294967295/,
  );
  assert.throws(
    () => newOpen({ asn: 64500, holdTime: 2, bgpIdentifier: '198.51.100.2' }),
    /hold time 2 must be 0 or 3-65535/,
  );
  assert.throws(
    () => newOpen({ asn: 64500, holdTime: 90, bgpIdentifier: '2001:db8::1' }),
    /BGP Identifier "2001:db8::1" must be a dotted-quad/,
  );
});

test('enhanced route refresh, graceful restart with N bit and several families, unknown capabilities round-trip', () => {
  assertContract(
    {
      ...open,
      capabilities: [
        { type: 'enhanced-route-refresh' },
        {
          type: 'graceful-restart',
          restartState: false,
          notification: true,
          restartTime: 4095,
          families: [
            { afi: 1, safi: 1, forwardingState: false },
            { afi: 2, safi: 1, forwardingState: true },
          ],
        },
        { type: 'unknown', code: 73, value: Buffer.from('\x02vm\x00', 'latin1') },
      ],
    },
    ctx,
  );
});

test('capabilities spread over several Optional Parameters decode into one list (FRR style)', () => {
  const bytes = hex(`
    ffffffffffffffffffffffffffffffff 0029 01   # header, length 41
    04 fbf4 0009 c6336401                     # version 4, AS 64500, hold 9, id 198.51.100.1
    0c                                        # Opt Parm Len 12
    02 06 01 04 0002 00 01                    # param: Multiprotocol AFI 2 SAFI 1
    02 02 02 00                               # param: Route Refresh
  `);
  const m = decode(bytes, ctx).value;
  assert.deepEqual(m.type === 'open' && m.capabilities, [
    { type: 'multiprotocol', afi: 2, safi: 1 },
    { type: 'route-refresh' },
  ]);
});

test('RFC 9072 extended Optional Parameters Length is decoded', () => {
  const bytes = hex(`
    ffffffffffffffffffffffffffffffff 0027 01   # header, length 39
    04 fbf4 0009 c6336401                     # version, AS 64500, hold 9, id
    ff ff 0007                                # Non-Ext OP Len 255, Non-Ext OP Type 255, Extended Opt. Parm. Length 7
    02 0004 41 02 0000                        # param type 2, 2-byte length 4: capability 65 ... (bad length 2)
  `);
  // The 4-octet AS capability inside has length 2: a recognized but malformed capability.
  assertDecodeError(bytes, ctx, { code: ErrorCode.OpenMessageError, subcode: OpenSubcode.Unspecific });
  const good = hex(`
    ffffffffffffffffffffffffffffffff 0029 01   # header, length 41
    04 fbf4 0009 c6336401                     # version, AS 64500, hold 9, id
    ff ff 0009                                # extended Optional Parameters, length 9
    02 0006 41 04 0000fbf4                    # param type 2, length 6: 4-octet AS 64500
  `);
  const m = decode(good, ctx).value;
  assert.deepEqual(m.type === 'open' && m.capabilities, [{ type: 'four-octet-as', asn: 64500 }]);
});

// RFC 4271 §6.2 errors, each with its subcode and NOTIFICATION data.
const openErrors: { desc: string; bytes: Buffer; subcode: number; data?: Buffer }[] = [
  {
    desc: 'version 3 is Unsupported Version Number with data 0x0004',
    bytes: hex('ffffffffffffffffffffffffffffffff 001d 01   03 fbf4 005a c6336401 00'),
    subcode: OpenSubcode.UnsupportedVersionNumber,
    data: hex('0004'),
  },
  {
    desc: 'hold time 2 is Unacceptable Hold Time',
    bytes: hex('ffffffffffffffffffffffffffffffff 001d 01   04 fbf4 0002 c6336401 00'),
    subcode: OpenSubcode.UnacceptableHoldTime,
  },
  {
    desc: 'BGP Identifier 0.0.0.0 is Bad BGP Identifier',
    bytes: hex('ffffffffffffffffffffffffffffffff 001d 01   04 fbf4 005a 00000000 00'),
    subcode: OpenSubcode.BadBgpIdentifier,
  },
  {
    desc: 'optional parameter type 1 (Authentication) is Unsupported Optional Parameter',
    bytes: hex('ffffffffffffffffffffffffffffffff 0020 01   04 fbf4 005a c6336401 03  01 01 00'),
    subcode: OpenSubcode.UnsupportedOptionalParameter,
  },
  {
    desc: 'Opt Parm Len longer than the message is Unspecific',
    bytes: hex('ffffffffffffffffffffffffffffffff 001d 01   04 fbf4 005a c6336401 05'),
    subcode: OpenSubcode.Unspecific,
  },
  {
    desc: 'a Multiprotocol capability of length 3 is Unspecific',
    bytes: hex('ffffffffffffffffffffffffffffffff 0022 01   04 fbf4 005a c6336401 05  02 03 01 01 00'),
    subcode: OpenSubcode.Unspecific,
  },
  {
    desc: 'a capability running past its parameter is Unspecific',
    bytes: hex('ffffffffffffffffffffffffffffffff 0021 01   04 fbf4 005a c6336401 04  02 02 41 04'),
    subcode: OpenSubcode.Unspecific,
  },
];
for (const c of openErrors) {
  test(`OPEN: ${c.desc}`, () => {
    assertDecodeError(c.bytes, ctx, { code: ErrorCode.OpenMessageError, subcode: c.subcode, data: c.data });
  });
}

test('negotiate: min hold time, keepalive = hold/3, 4-octet AS only when both send it, common families', () => {
  const ours = newOpen({
    asn: 64500,
    holdTime: 90,
    bgpIdentifier: '198.51.100.2',
    capabilities: [
      { type: 'multiprotocol', afi: 1, safi: 1 },
      { type: 'multiprotocol', afi: 2, safi: 1 },
      { type: 'route-refresh' },
      { type: 'graceful-restart', restartState: false, notification: false, restartTime: 120, families: [] },
    ],
  });
  const theirs: OpenMessage = { ...open, holdTime: 9, capabilities: open.capabilities };
  const n = negotiate(ours, theirs);
  assert.equal(n.holdTime, 9);
  assert.equal(n.keepaliveTime, 3);
  assert.equal(n.fourOctetAs, true);
  assert.deepEqual(n.families, [{ afi: 1, safi: 1 }]);
  assert.equal(n.routeRefresh, true);
  assert.equal(n.enhancedRouteRefresh, false);
  assert.equal(n.peerGracefulRestart?.restartTime, 120);
  const old = negotiate(ours, { ...theirs, capabilities: [] });
  assert.equal(old.fourOctetAs, false);
  assert.deepEqual(old.families, [], 'we sent Multiprotocol, they sent none: only what both advertised');
  assert.equal(
    negotiate({ ...ours, capabilities: [] }, { ...theirs, capabilities: [] }).families.length,
    1,
    'IPv4 unicast by default',
  );
});

test('fqdnOf reads the FQDN capability (draft-walton-bgp-hostname-capability)', () => {
  assert.deepEqual(fqdnOf({ type: 'unknown', code: 73, value: hex('02 766d 03 6c6162') }), {
    hostname: 'vm',
    domainName: 'lab',
  });
  assert.equal(fqdnOf({ type: 'unknown', code: 73, value: hex('09 7676') }), undefined, 'truncated');
  assert.equal(fqdnOf({ type: 'route-refresh' }), undefined);
});

test('encode refuses more than 255 bytes of optional parameters without RFC 9072', () => {
  const many = Array.from({ length: 70 }, (_, i) => ({ type: 'multiprotocol' as const, afi: 1, safi: i }));
  assert.throws(
    () => encode({ ...open, capabilities: many }, ctx),
    /optional parameters take \d+ bytes, at most 255/,
  );
});
