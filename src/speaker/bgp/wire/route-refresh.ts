// ROUTE-REFRESH message (RFC 2918 §3) with the Message Subtype of Enhanced Route Refresh (RFC 7313 §3.2).
//
//    0       7      15      23      31
//   +-------+-------+-------+-------+
//   |      AFI      | Subt. | SAFI  |
//   +-------+-------+-------+-------+
//   Subtype (was Reserved): 0 normal route refresh, 1 BoRR (Beginning of RIB Refresh), 2 EoRR (End of RIB Refresh).
import { ErrorCode, MessageHeaderSubcode, RouteRefreshSubcode } from './constants.ts';
import { BgpDecodeError, headerError } from './errors.ts';

export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  /** 0 request, 1 BoRR, 2 EoRR (RFC 7313); other values: the session ignores the message (RFC 7313 §5). */
  subtype: number;
}

export const ROUTE_REFRESH_BODY_LENGTH = 4;

/** Writes the 4-byte body; returns the new offset. Throws RangeError naming an out-of-range field. */
export function encodeRouteRefreshBody(m: RouteRefreshMessage, buf: Buffer, offset: number): number {
  for (const [n, v, max] of [
    ['AFI', m.afi, 0xffff],
    ['SAFI', m.safi, 0xff],
    ['subtype', m.subtype, 0xff],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > max)
      throw new RangeError(`ROUTE-REFRESH ${n} ${v} must be an integer 0-${max}`);
  }
  buf.writeUInt16BE(m.afi, offset);
  buf[offset + 2] = m.subtype;
  buf[offset + 3] = m.safi;
  return offset + 4;
}

/**
 * Decodes the body `buf[start, end)` (header check: at least 4 bytes). A body longer than 4 bytes is an error:
 * ROUTE-REFRESH Message Error / Invalid Message Length (data: the whole message) for subtypes 1-2 (RFC 7313 §5),
 * Message Header Error / Bad Message Length otherwise. Both reset the session.
 */
export function decodeRouteRefreshBody(buf: Buffer, start: number, end: number): RouteRefreshMessage {
  const subtype = buf[start + 2]!;
  if (end - start !== ROUTE_REFRESH_BODY_LENGTH) {
    if (subtype === 1 || subtype === 2) {
      throw new BgpDecodeError({
        code: ErrorCode.RouteRefreshMessageError,
        subcode: RouteRefreshSubcode.InvalidMessageLength,
        data: Buffer.from(buf.subarray(start - 19, end)),
        message: `ROUTE-REFRESH body is ${end - start} bytes, not 4 (RFC 7313 §5)`,
      });
    }
    const len = Buffer.alloc(2);
    len.writeUInt16BE(end - start + 19);
    throw headerError(
      MessageHeaderSubcode.BadMessageLength,
      `ROUTE-REFRESH length ${end - start + 19} is not 23 (RFC 2918 §3)`,
      len,
    );
  }
  return { type: 'route-refresh', afi: buf.readUInt16BE(start), safi: buf[start + 3]!, subtype };
}
