// Header (RFC 4271 §4.1, §6.1), KEEPALIVE (§4.4), NOTIFICATION (§4.5, RFC 9003), ROUTE-REFRESH (RFC 2918, RFC 7313)
// and stream framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertContract, assertDecodeError, hex } from './testing.ts';
import {
  CeaseSubcode,
  ErrorCode,
  MessageHeaderSubcode,
  RouteRefreshSubcode,
  UpdateSubcode,
} from './constants.ts';
import { BgpDecodeError } from './errors.ts';
import { KEEPALIVE } from './keepalive.ts';
import { decode, decodeStream, encode } from './message.ts';
import { frameLength } from './header.ts';
import { newNotification, notificationFor, notificationText, shutdownCommunication } from './notification.ts';

const ctx = { fourOctetAs: true };

test('KEEPALIVE is the 19-byte header alone', () => {
  assertContract(
    KEEPALIVE,
    ctx,
    hex(`
      ffffffffffffffffffffffffffffffff  # Marker
      0013                              # Length 19
      04                                # Type KEEPALIVE
    `),
  );
});

test('NOTIFICATION Cease/Administrative Shutdown with an RFC 9003 shutdown communication', () => {
  const m = newNotification(ErrorCode.Cease, CeaseSubcode.AdministrativeShutdown, {
    shutdownCommunication: 'maintenance',
  });
  assertContract(
    m,
    ctx,
    hex(`
      ffffffffffffffffffffffffffffffff  # Marker
      0021                              # Length 33
      03                                # Type NOTIFICATION
      06                                # Error code 6 Cease
      02                                # Error subcode 2 Administrative Shutdown
      0b 6d61696e74656e616e6365         # Shutdown Communication: length 11, "maintenance" (UTF-8)
    `),
  );
  assert.equal(shutdownCommunication(m), 'maintenance');
  assert.equal(notificationText(m), 'Cease/AdministrativeShutdown: "maintenance"');
});

test('NOTIFICATION text names code and subcode and shows the data', () => {
  assert.equal(notificationText(newNotification(4, 0)), 'HoldTimerExpired/0');
  assert.equal(
    notificationText(newNotification(3, 11, { data: hex('40020401') })),
    'UpdateMessageError/MalformedAsPath (data 40 02 04 01)',
  );
  assert.equal(
    notificationText(newNotification(2, 2, { data: hex('fc57') })),
    'OpenMessageError/BadPeerAs (data fc 57)',
  );
  assert.equal(notificationText(newNotification(9, 9)), 'UNKNOWN_9/9');
  assert.throws(
    () => newNotification(6, 2, { shutdownCommunication: 'x'.repeat(256) }),
    /shutdown communication is 256 bytes, at most 255/,
  );
  assert.throws(() => newNotification(256, 0), /error code 256 must be an integer 0-255/);
});

test('notificationFor turns a decode error into the NOTIFICATION to send', () => {
  const err = new BgpDecodeError({
    code: 3,
    subcode: UpdateSubcode.MalformedAttributeList,
    data: hex('01'),
    message: 'x',
  });
  assert.deepEqual(notificationFor(err), { type: 'notification', code: 3, subcode: 1, data: hex('01') });
  assert.equal(err.label, 'UpdateMessageError/MalformedAttributeList');
});

test('ROUTE-REFRESH for IPv6 unicast, and an Enhanced Route Refresh EoRR', () => {
  assertContract(
    { type: 'route-refresh', afi: 2, safi: 1, subtype: 0 },
    ctx,
    hex(`
      ffffffffffffffffffffffffffffffff  # Marker
      0017                              # Length 23
      05                                # Type ROUTE-REFRESH
      0002                              # AFI 2 IPv6
      00                                # Reserved / Message Subtype 0 (normal request)
      01                                # SAFI 1 unicast
    `),
  );
  assertContract(
    { type: 'route-refresh', afi: 1, safi: 1, subtype: 2 },
    ctx,
    hex('ffffffffffffffffffffffffffffffff 0017 05 0001 02 01'),
  );
});

test('a ROUTE-REFRESH longer than 23 bytes: RFC 7313 error for BoRR/EoRR, header error otherwise', () => {
  assertDecodeError(hex('ffffffffffffffffffffffffffffffff 0018 05 0001 01 01 00'), ctx, {
    code: ErrorCode.RouteRefreshMessageError,
    subcode: RouteRefreshSubcode.InvalidMessageLength,
  });
  assertDecodeError(hex('ffffffffffffffffffffffffffffffff 0018 05 0001 00 01 00'), ctx, {
    code: ErrorCode.MessageHeaderError,
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0018'),
  });
});

const headerErrors: { desc: string; bytes: Buffer; subcode: number; data?: Buffer }[] = [
  {
    desc: 'a marker that is not all ones',
    bytes: hex('fffffffffffffffffffffffffffffffe 0013 04'),
    subcode: MessageHeaderSubcode.ConnectionNotSynchronized,
  },
  {
    desc: 'length 18',
    bytes: hex('ffffffffffffffffffffffffffffffff 0012 04'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0012'),
  },
  {
    desc: 'length 4097',
    bytes: hex('ffffffffffffffffffffffffffffffff 1001 02'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('1001'),
  },
  {
    desc: 'a KEEPALIVE of 20 bytes',
    bytes: hex('ffffffffffffffffffffffffffffffff 0014 04 00'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0014'),
  },
  {
    desc: 'an OPEN of 28 bytes',
    bytes: hex('ffffffffffffffffffffffffffffffff 001c 01 04fbf4005ac6336401'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('001c'),
  },
  {
    desc: 'an UPDATE of 22 bytes',
    bytes: hex('ffffffffffffffffffffffffffffffff 0016 02 000000'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0016'),
  },
  {
    desc: 'a NOTIFICATION of 20 bytes',
    bytes: hex('ffffffffffffffffffffffffffffffff 0014 03 06'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0014'),
  },
  {
    desc: 'type 6',
    bytes: hex('ffffffffffffffffffffffffffffffff 0013 06'),
    subcode: MessageHeaderSubcode.BadMessageType,
    data: hex('06'),
  },
  {
    desc: 'an UPDATE whose length (32) is beyond the 23 bytes present',
    bytes: hex('ffffffffffffffffffffffffffffffff 0020 02 00000000'),
    subcode: MessageHeaderSubcode.BadMessageLength,
    data: hex('0020'),
  },
  { desc: 'fewer than 19 bytes', bytes: hex('ffffffffffff'), subcode: MessageHeaderSubcode.BadMessageLength },
];
for (const c of headerErrors) {
  test(`header: ${c.desc} is a Message Header Error`, () => {
    assertDecodeError(c.bytes, ctx, { code: ErrorCode.MessageHeaderError, subcode: c.subcode, data: c.data });
  });
}

test('an UPDATE of 4097 bytes is accepted with RFC 8654 Extended Message', () => {
  const update = Buffer.alloc(4097);
  hex('ffffffffffffffffffffffffffffffff 1001 02 0000').copy(update);
  update.writeUInt16BE(4097 - 23, 21);
  // 4074 bytes of attributes: one unknown optional attribute with extended length.
  hex('d0 63 0fe6').copy(update, 23);
  const m = decode(update, { fourOctetAs: true, extendedMessage: true }).value;
  assert.equal(m.type === 'update' && m.attributes[0]?.type, 'UNKNOWN');
  assert.throws(() => encode(m, ctx), /UPDATE would be 4097 bytes, above the 4096-byte maximum/);
});

test('decodeStream splits a TCP read into messages and keeps a partial one', () => {
  const ka = encode(KEEPALIVE, ctx);
  const n = encode(newNotification(6, 4), ctx);
  const stream = Buffer.concat([ka, n, ka.subarray(0, 7)]);
  const r = decodeStream(stream, ctx);
  assert.deepEqual(
    r.messages.map((m) => m.type),
    ['keepalive', 'notification'],
  );
  assert.equal(r.rest.toString('hex'), ka.subarray(0, 7).toString('hex'));
  assert.equal(frameLength(r.rest, 0, ctx), undefined, 'header incomplete');
  assert.equal(
    frameLength(Buffer.concat([n.subarray(0, 19)]), 0, ctx),
    n.length,
    'length known once the header is in',
  );
  assert.throws(() => decodeStream(Buffer.concat([ka, hex('00'.repeat(19))]), ctx), BgpDecodeError);
});
