// MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), optional non-transitive (RFC 4760 §3, §4).
//
//   MP_REACH_NLRI                                   MP_UNREACH_NLRI
//   +--------------------------------------------+  +--------------------------------------------+
//   | Address Family Identifier (2)              |  | Address Family Identifier (2)              |
//   | Subsequent Address Family Identifier (1)   |  | Subsequent Address Family Identifier (1)   |
//   | Length of Next Hop Network Address (1)     |  | Withdrawn Routes (variable)                |
//   | Network Address of Next Hop (variable)     |  +--------------------------------------------+
//   | Reserved (1)                               |
//   | Network Layer Reachability Information     |
//   +--------------------------------------------+
//
// Next hop: IPv4 unicast 4 bytes; IPv6 unicast 16 (global) or 32 (global + link-local, RFC 2545 §3); IPv4 NLRI with
// an IPv6 next hop of 16/32 bytes (RFC 8950 §3). NLRI of AFI 1/2 with SAFI 1/2 are decoded; other families are kept
// raw in `opaque` (everything after the SAFI).
// RFC 7606 §7.11 / §5.3: a malformed MP_REACH_NLRI or MP_UNREACH_NLRI (bad next-hop length, truncated, bad NLRI)
// → session reset (berth does not do AFI/SAFI disable).
import { Afi, AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';
import {
  type Prefix,
  addressToBytes,
  decodeAddress,
  decodePrefixes,
  encodeAddress,
  encodePrefix,
  prefixLength,
} from '../prefix.ts';

export interface MpReachNlriAttribute {
  type: 'MP_REACH_NLRI';
  afi: number;
  safi: number;
  /** Canonical next hop (IPv4, or IPv6 global); '' for an opaque family. */
  nextHop: string;
  /** IPv6 link-local next hop when the next hop field is 32 bytes (RFC 2545 §3). */
  linkLocalNextHop?: string;
  nlri: Prefix[];
  /** Families berth does not decode: the raw bytes after the SAFI. */
  opaque?: Buffer;
}

export interface MpUnreachNlriAttribute {
  type: 'MP_UNREACH_NLRI';
  afi: number;
  safi: number;
  withdrawnRoutes: Prefix[];
  opaque?: Buffer;
}

/** AFI 1/2 with SAFI 1 (unicast) or 2 (multicast): the families whose NLRI are plain prefixes. */
export function isPrefixFamily(afi: number, safi: number): boolean {
  return (afi === Afi.IPv4 || afi === Afi.IPv6) && (safi === 1 || safi === 2);
}

function nextHopBytes(a: MpReachNlriAttribute): number {
  return addressToBytes(a.nextHop).length + (a.linkLocalNextHop !== undefined ? 16 : 0);
}

export function mpReachValueLength(a: MpReachNlriAttribute): number {
  if (a.opaque) return 3 + a.opaque.length;
  return 3 + 1 + nextHopBytes(a) + 1 + a.nlri.reduce((n, p) => n + prefixLength(p), 0);
}

export function mpUnreachValueLength(a: MpUnreachNlriAttribute): number {
  if (a.opaque) return 3 + a.opaque.length;
  return 3 + a.withdrawnRoutes.reduce((n, p) => n + prefixLength(p), 0);
}

function writeAfiSafi(afi: number, safi: number, buf: Buffer, offset: number): number {
  if (!Number.isInteger(afi) || afi < 0 || afi > 0xffff)
    throw new RangeError(`AFI ${afi} must be an integer 0-65535`);
  if (!Number.isInteger(safi) || safi < 0 || safi > 0xff)
    throw new RangeError(`SAFI ${safi} must be an integer 0-255`);
  buf.writeUInt16BE(afi, offset);
  buf[offset + 2] = safi;
  return offset + 3;
}

/** Writes the MP_REACH_NLRI value; returns the new offset. Throws RangeError for a next hop that does not fit the AFI. */
export function encodeMpReachValue(a: MpReachNlriAttribute, buf: Buffer, offset: number): number {
  let p = writeAfiSafi(a.afi, a.safi, buf, offset);
  if (a.opaque) {
    a.opaque.copy(buf, p);
    return p + a.opaque.length;
  }
  if (!isPrefixFamily(a.afi, a.safi))
    throw new RangeError(`MP_REACH_NLRI AFI ${a.afi} SAFI ${a.safi} needs an opaque value`);
  const nh = addressToBytes(a.nextHop).length;
  if (a.afi === Afi.IPv6 && nh !== 16)
    throw new RangeError(`MP_REACH_NLRI IPv6 next hop ${JSON.stringify(a.nextHop)} must be an IPv6 address`);
  if (a.linkLocalNextHop !== undefined && (nh !== 16 || addressToBytes(a.linkLocalNextHop).length !== 16)) {
    throw new RangeError(
      `MP_REACH_NLRI link-local next hop ${JSON.stringify(a.linkLocalNextHop)} needs an IPv6 global next hop and IPv6 link-local`,
    );
  }
  buf[p] = nextHopBytes(a);
  p = encodeAddress(a.nextHop, buf, p + 1);
  if (a.linkLocalNextHop !== undefined) p = encodeAddress(a.linkLocalNextHop, buf, p);
  buf[p] = 0; // Reserved
  p += 1;
  for (const x of a.nlri) p = encodePrefix(x, a.afi, buf, p);
  return p;
}

export function encodeMpUnreachValue(a: MpUnreachNlriAttribute, buf: Buffer, offset: number): number {
  let p = writeAfiSafi(a.afi, a.safi, buf, offset);
  if (a.opaque) {
    a.opaque.copy(buf, p);
    return p + a.opaque.length;
  }
  if (!isPrefixFamily(a.afi, a.safi))
    throw new RangeError(`MP_UNREACH_NLRI AFI ${a.afi} SAFI ${a.safi} needs an opaque value`);
  for (const x of a.withdrawnRoutes) p = encodePrefix(x, a.afi, buf, p);
  return p;
}

function malformed(
  type: 'MP_REACH_NLRI' | 'MP_UNREACH_NLRI',
  why: string,
  raw: Buffer,
  subcode: number = UpdateSubcode.OptionalAttributeError,
) {
  return updateError(subcode, 'session-reset', `malformed ${type}: ${why}`, raw, AttributeType[type]);
}

export function decodeMpReachValue(value: Buffer, raw: Buffer): MpReachNlriAttribute {
  const t = 'MP_REACH_NLRI';
  if (value.length < 5) throw malformed(t, `length ${value.length} is below 5`, raw);
  const afi = value.readUInt16BE(0);
  const safi = value[2]!;
  if (!isPrefixFamily(afi, safi))
    return { type: t, afi, safi, nextHop: '', nlri: [], opaque: Buffer.from(value.subarray(3)) };
  const nhLen = value[3]!;
  if (5 + nhLen > value.length) throw malformed(t, `next hop length ${nhLen} overruns the attribute`, raw);
  const allowed = afi === Afi.IPv4 ? [4, 16, 32] : [16, 32];
  if (!allowed.includes(nhLen))
    throw malformed(
      t,
      `next hop length ${nhLen} for AFI ${afi} is not ${allowed.join('/')} (RFC 4760, RFC 2545, RFC 8950)`,
      raw,
    );
  const nhAfi = nhLen === 4 ? Afi.IPv4 : Afi.IPv6;
  const out: MpReachNlriAttribute = { type: t, afi, safi, nextHop: decodeAddress(value, 4, nhAfi), nlri: [] };
  if (nhLen === 32) out.linkLocalNextHop = decodeAddress(value, 20, Afi.IPv6);
  // Reserved octet at 4 + nhLen: ignored on receipt (RFC 4760 §3).
  out.nlri = decodePrefixes(value, 5 + nhLen, value.length, afi, (m) =>
    malformed(t, m, raw, UpdateSubcode.InvalidNetworkField),
  );
  return out;
}

export function decodeMpUnreachValue(value: Buffer, raw: Buffer): MpUnreachNlriAttribute {
  const t = 'MP_UNREACH_NLRI';
  if (value.length < 3) throw malformed(t, `length ${value.length} is below 3`, raw);
  const afi = value.readUInt16BE(0);
  const safi = value[2]!;
  if (!isPrefixFamily(afi, safi))
    return { type: t, afi, safi, withdrawnRoutes: [], opaque: Buffer.from(value.subarray(3)) };
  const withdrawnRoutes = decodePrefixes(value, 3, value.length, afi, (m) =>
    malformed(t, m, raw, UpdateSubcode.InvalidNetworkField),
  );
  return { type: t, afi, safi, withdrawnRoutes };
}
