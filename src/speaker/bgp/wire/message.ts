// Whole BGP messages: one dispatch on the header's type (gobgp parseBody, redone), the dns-packet style
// encode / decode / encodingLength contract, and framing helpers for the session's TCP stream.
import {
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageHeaderSubcode,
  MessageType,
} from './constants.ts';
import { headerError } from './errors.ts';
import { type CodecContext, decodeHeader, encodeHeader } from './header.ts';
import type { KeepaliveMessage } from './keepalive.ts';
import {
  type NotificationMessage,
  decodeNotificationBody,
  encodeNotificationBody,
  notificationBodyLength,
} from './notification.ts';
import { type OpenMessage, decodeOpenBody, encodeOpenBody, openBodyLength } from './open.ts';
import {
  ROUTE_REFRESH_BODY_LENGTH,
  type RouteRefreshMessage,
  decodeRouteRefreshBody,
  encodeRouteRefreshBody,
} from './route-refresh.ts';
import { type UpdateMessage, decodeUpdateBody, encodeUpdateBody, updateBodyLength } from './update.ts';

export type BgpMessage =
  OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

const TYPE_CODE: Record<BgpMessage['type'], number> = {
  open: MessageType.Open,
  update: MessageType.Update,
  notification: MessageType.Notification,
  keepalive: MessageType.Keepalive,
  'route-refresh': MessageType.RouteRefresh,
};

function bodyLength(m: BgpMessage, ctx: CodecContext): number {
  switch (m.type) {
    case 'open':
      return openBodyLength(m);
    case 'update':
      return updateBodyLength(m, ctx);
    case 'notification':
      return notificationBodyLength(m);
    case 'keepalive':
      return 0;
    case 'route-refresh':
      return ROUTE_REFRESH_BODY_LENGTH;
  }
}

/**
 * Total bytes of `m` on the wire, header included. Throws RangeError when it exceeds 4096 (65535 with Extended
 * Message, RFC 8654): split the prefixes over several UPDATEs.
 */
export function encodingLength(m: BgpMessage, ctx: CodecContext): number {
  const n = HEADER_LENGTH + bodyLength(m, ctx);
  const max = ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  if (n > max)
    throw new RangeError(
      `${m.type.toUpperCase()} would be ${n} bytes, above the ${max}-byte maximum (RFC 4271 §4.1): send fewer prefixes per message`,
    );
  return n;
}

/**
 * Encodes `m` into `buf` at `offset` (a new Buffer of encodingLength(m) when omitted); returns the buffer. The
 * written length is encodingLength(m, ctx). Bad values throw RangeError naming them; nothing is decoded back.
 */
export function encode(m: BgpMessage, ctx: CodecContext, buf?: Buffer, offset = 0): Buffer {
  const length = encodingLength(m, ctx);
  const out = buf ?? Buffer.alloc(length + offset);
  if (out.length - offset < length)
    throw new RangeError(`buffer has ${out.length - offset} bytes from offset ${offset}, ${length} needed`);
  let p = encodeHeader({ length, type: TYPE_CODE[m.type] }, out, offset);
  switch (m.type) {
    case 'open':
      p = encodeOpenBody(m, out, p);
      break;
    case 'update':
      p = encodeUpdateBody(m, out, p, ctx);
      break;
    case 'notification':
      p = encodeNotificationBody(m, out, p);
      break;
    case 'keepalive':
      break;
    case 'route-refresh':
      p = encodeRouteRefreshBody(m, out, p);
      break;
  }
  if (p !== offset + length)
    throw new Error(`internal: ${m.type} wrote ${p - offset} bytes, announced ${length}`);
  return out;
}

/**
 * Decodes the message at `offset` in `buf`; `offset` of the result is just past it. Throws BgpDecodeError (and
 * nothing else, fuzz-tested) when the message must reset the session: header errors, OPEN errors, UPDATE errors
 * with 'session-reset' handling, a truncated buffer (Bad Message Length). An UPDATE with treat-as-withdraw or
 * attribute-discard errors is returned with `errors` / `treatAsWithdraw` set.
 */
export function decode(buf: Buffer, ctx: CodecContext, offset = 0): { value: BgpMessage; offset: number } {
  const h = decodeHeader(buf, offset, ctx);
  const end = offset + h.length;
  if (end > buf.length) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(h.length);
    // Only the session's framing can cut a message short; decoding it anyway would read past it.
    throw decodeHeaderShort(h.length, buf.length - offset, len);
  }
  const start = offset + HEADER_LENGTH;
  let value: BgpMessage;
  switch (h.type) {
    case MessageType.Open:
      value = decodeOpenBody(buf, start, end);
      break;
    case MessageType.Update:
      value = decodeUpdateBody(buf, start, end, ctx);
      break;
    case MessageType.Notification:
      value = decodeNotificationBody(buf, start, end);
      break;
    case MessageType.Keepalive:
      value = { type: 'keepalive' };
      break;
    default:
      value = decodeRouteRefreshBody(buf, start, end);
  }
  return { value, offset: end };
}

function decodeHeaderShort(length: number, have: number, field: Buffer) {
  return headerError(
    MessageHeaderSubcode.BadMessageLength,
    `message length ${length} but only ${have} bytes present`,
    field,
  );
}

/**
 * Splits a TCP stream buffer into whole messages: the decoded messages, and the bytes of an incomplete trailing
 * message to keep for the next read. Throws BgpDecodeError like decode() for the first bad message; messages before
 * it are lost, which is fine since the session resets.
 */
export function decodeStream(buf: Buffer, ctx: CodecContext): { messages: BgpMessage[]; rest: Buffer } {
  const messages: BgpMessage[] = [];
  let p = 0;
  while (buf.length - p >= HEADER_LENGTH) {
    const h = decodeHeader(buf, p, ctx);
    if (buf.length - p < h.length) break;
    const r = decode(buf, ctx, p);
    messages.push(r.value);
    p = r.offset;
  }
  return { messages, rest: buf.subarray(p) };
}
