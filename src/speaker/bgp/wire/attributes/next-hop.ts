// NEXT_HOP (type 3, well-known; mandatory with IPv4 NLRI in the UPDATE's NLRI field; RFC 4271 §4.3 c, §5.1.3):
// a 4-octet IPv4 address. RFC 7606 §7.3: length other than 4 → treat-as-withdraw. (Semantic checks such as "next
// hop is our own address" belong to the session, RFC 4271 §6.3.)
import { AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';
import { decodeAddress, encodeAddress } from '../prefix.ts';
import ipaddr from 'ipaddr.js';

export interface NextHopAttribute {
  type: 'NEXT_HOP';
  /** Dotted-quad IPv4 address. */
  nextHop: string;
}

export function nextHopValueLength(): number {
  return 4;
}

export function encodeNextHopValue(a: NextHopAttribute, buf: Buffer, offset: number): number {
  if (!ipaddr.IPv4.isValidFourPartDecimal(a.nextHop)) {
    throw new RangeError(
      `NEXT_HOP ${JSON.stringify(a.nextHop)} must be an IPv4 address (IPv6 next hops go in MP_REACH_NLRI)`,
    );
  }
  return encodeAddress(a.nextHop, buf, offset);
}

export function decodeNextHopValue(value: Buffer, raw: Buffer): NextHopAttribute {
  if (value.length !== 4) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `NEXT_HOP length ${value.length} is not 4`,
      raw,
      AttributeType.NEXT_HOP,
    );
  }
  return { type: 'NEXT_HOP', nextHop: decodeAddress(value, 0, 1) };
}
