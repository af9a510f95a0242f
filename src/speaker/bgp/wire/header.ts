// The BGP message header (RFC 4271 §4.1) and the framing of a TCP byte stream into messages.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                                                               |
//   +                                                               +
//   |                           Marker (16 octets, all ones)        |
//   +                                                               +
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Length               |      Type     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import {
  HEADER_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageHeaderSubcode,
  MessageType,
} from './constants.ts';
import { headerError } from './errors.ts';

/** Options every decoder and encoder takes: what the OPEN exchange negotiated (defaults: nothing). */
export interface CodecContext {
  /** RFC 6793: both sides advertised the 4-octet AS capability (AS_PATH/AGGREGATOR carry 4-byte ASNs). */
  fourOctetAs: boolean;
  /** The session is iBGP (same AS): LOCAL_PREF is expected; from eBGP it is discarded (RFC 7606 §7.5). */
  ibgp?: boolean;
  /** RFC 8654 Extended Message negotiated: messages up to 65535 bytes. */
  extendedMessage?: boolean;
  // ADD-PATH (RFC 7911) is never negotiated by berth, so NLRI never carry Path Identifiers.
}

/** The context of a session before (or without) OPEN negotiation: 2-octet AS, eBGP, 4096-byte messages. */
export const DEFAULT_CONTEXT: CodecContext = { fourOctetAs: false };

export interface MessageHeader {
  /** Total message length including the 19-byte header. */
  length: number;
  type: number;
}

/** Minimum total length per message type (RFC 4271 §4.2-4.5, RFC 2918 §3). */
const MIN_LENGTH: Record<number, number> = {
  [MessageType.Open]: 29,
  [MessageType.Update]: 23,
  [MessageType.Notification]: 21,
  [MessageType.Keepalive]: 19,
  [MessageType.RouteRefresh]: 23,
};

/** Writes the marker, `length` and `type` at `offset`; returns offset + 19. */
export function encodeHeader(h: MessageHeader, buf: Buffer, offset: number): number {
  buf.fill(0xff, offset, offset + 16);
  buf.writeUInt16BE(h.length, offset + 16);
  buf[offset + 18] = h.type;
  return offset + HEADER_LENGTH;
}

/**
 * Reads and checks the header at `offset` (at least 19 bytes must be there). Throws BgpDecodeError (session reset):
 * Connection Not Synchronized when the marker is not all ones; Bad Message Length (data: the length field) when the
 * length is below 19, above 4096 (65535 with Extended Message) or below the type's minimum (KEEPALIVE exactly 19);
 * Bad Message Type (data: the type octet) for an unknown type. Source: RFC 4271 §6.1.
 */
export function decodeHeader(buf: Buffer, offset: number, ctx: CodecContext): MessageHeader {
  if (buf.length - offset < HEADER_LENGTH) {
    throw headerError(
      MessageHeaderSubcode.BadMessageLength,
      `header needs 19 bytes, ${buf.length - offset} present`,
    );
  }
  for (let i = 0; i < 16; i++) {
    // RFC 4271 §6.1: the marker must be all ones.
    if (buf[offset + i] !== 0xff)
      throw headerError(MessageHeaderSubcode.ConnectionNotSynchronized, 'marker is not all ones');
  }
  const length = buf.readUInt16BE(offset + 16);
  const type = buf[offset + 18]!;
  const lengthField = buf.subarray(offset + 16, offset + 18);
  const max = ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  if (length < HEADER_LENGTH || length > max) {
    throw headerError(
      MessageHeaderSubcode.BadMessageLength,
      `message length ${length} is outside 19-${max}`,
      Buffer.from(lengthField),
    );
  }
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    throw headerError(
      MessageHeaderSubcode.BadMessageType,
      `message type ${type} is not OPEN, UPDATE, NOTIFICATION, KEEPALIVE or ROUTE-REFRESH`,
      Buffer.from([type]),
    );
  }
  if (length < min || (type === MessageType.Keepalive && length !== HEADER_LENGTH)) {
    throw headerError(
      MessageHeaderSubcode.BadMessageLength,
      `message length ${length} is ${type === MessageType.Keepalive ? 'not 19 for KEEPALIVE' : `below ${min} for type ${type}`}`,
      Buffer.from(lengthField),
    );
  }
  return { length, type };
}

/**
 * Framing for a TCP stream: the total length of the message starting at `offset` once its header is complete,
 * undefined while fewer than 19 bytes are buffered. The header is checked (decodeHeader's errors); the body may
 * still be incomplete, so wait until `buf.length - offset >= length`.
 */
export function frameLength(buf: Buffer, offset: number, ctx: CodecContext): number | undefined {
  if (buf.length - offset < HEADER_LENGTH) return undefined;
  return decodeHeader(buf, offset, ctx).length;
}
