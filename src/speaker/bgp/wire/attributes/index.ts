// Path attributes (RFC 4271 §4.3): the common header, dispatch per type, and the RFC 7606 error handling of the
// Path Attributes field as a whole.
//
//    0                   1
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Attr. Flags  |Attr. Type Code|   then Attribute Length: 1 octet, or 2 when Extended Length (0x10) is set,
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   then the value
//   Flags: Optional 0x80, Transitive 0x40, Partial 0x20, Extended Length 0x10.
import { AttributeFlag, AttributeType, UpdateSubcode } from '../constants.ts';
import { BgpDecodeError, type ErrorHandling, updateError } from '../errors.ts';
import type { CodecContext } from '../header.ts';
import {
  type AggregatorAttribute,
  type AtomicAggregateAttribute,
  aggregatorValueLength,
  decodeAggregatorValue,
  decodeAtomicAggregateValue,
  encodeAggregatorValue,
} from './aggregator.ts';
import {
  type As4PathAttribute,
  type AsPathAttribute,
  asPathValueLength,
  decodeAsPathValue,
  encodeAsPathValue,
} from './as-path.ts';
import {
  type CommunitiesAttribute,
  communitiesValueLength,
  decodeCommunitiesValue,
  encodeCommunitiesValue,
} from './communities.ts';
import {
  type ExtendedCommunitiesAttribute,
  decodeExtendedCommunitiesValue,
  encodeExtendedCommunitiesValue,
  extendedCommunitiesValueLength,
} from './extended-communities.ts';
import {
  type LargeCommunityAttribute,
  decodeLargeCommunitiesValue,
  encodeLargeCommunitiesValue,
  largeCommunitiesValueLength,
} from './large-communities.ts';
import {
  type MpReachNlriAttribute,
  type MpUnreachNlriAttribute,
  decodeMpReachValue,
  decodeMpUnreachValue,
  encodeMpReachValue,
  encodeMpUnreachValue,
  mpReachValueLength,
  mpUnreachValueLength,
} from './mp-nlri.ts';
import { type NextHopAttribute, decodeNextHopValue, encodeNextHopValue } from './next-hop.ts';
import { type OriginAttribute, decodeOriginValue, encodeOriginValue } from './origin.ts';
import {
  type LocalPrefAttribute,
  type MultiExitDiscAttribute,
  decodeUint32Value,
  encodeUint32Value,
} from './preference.ts';

/** An attribute berth does not interpret (ORIGINATOR_ID, CLUSTER_LIST, AIGP, ...): kept with its flags and bytes. */
export interface UnknownAttribute {
  type: 'UNKNOWN';
  /** Attribute Type Code. */
  code: number;
  /** Optional / Transitive / Partial bits as received (Extended Length is recomputed on encode). */
  flags: number;
  value: Buffer;
}

export type PathAttribute =
  | OriginAttribute
  | AsPathAttribute
  | NextHopAttribute
  | MultiExitDiscAttribute
  | LocalPrefAttribute
  | AtomicAggregateAttribute
  | AggregatorAttribute
  | CommunitiesAttribute
  | MpReachNlriAttribute
  | MpUnreachNlriAttribute
  | ExtendedCommunitiesAttribute
  | As4PathAttribute
  | LargeCommunityAttribute
  | UnknownAttribute;

const O = AttributeFlag.Optional;
const T = AttributeFlag.Transitive;

/** The Optional and Transitive bits each recognised attribute must carry (RFC 4271 §5, RFC 4760, RFC 6793, ...). */
const EXPECTED_FLAGS: Record<number, number> = {
  [AttributeType.ORIGIN]: T,
  [AttributeType.AS_PATH]: T,
  [AttributeType.NEXT_HOP]: T,
  [AttributeType.MULTI_EXIT_DISC]: O,
  [AttributeType.LOCAL_PREF]: T,
  [AttributeType.ATOMIC_AGGREGATE]: T,
  [AttributeType.AGGREGATOR]: O | T,
  [AttributeType.COMMUNITIES]: O | T,
  [AttributeType.MP_REACH_NLRI]: O,
  [AttributeType.MP_UNREACH_NLRI]: O,
  [AttributeType.EXTENDED_COMMUNITIES]: O | T,
  [AttributeType.AS4_PATH]: O | T,
  [AttributeType.AS4_AGGREGATOR]: O | T,
  [AttributeType.LARGE_COMMUNITY]: O | T,
};

/**
 * RFC 7606 handling for a malformed attribute of each type (§7.x; RFC 6793 §6 for AS4_*; RFC 8092 §6). Used for
 * attribute flags errors too (RFC 7606 §3 c). Types not listed: treat-as-withdraw (§3 default).
 */
const MALFORMED_HANDLING: Record<number, ErrorHandling> = {
  [AttributeType.ATOMIC_AGGREGATE]: 'attribute-discard',
  [AttributeType.AGGREGATOR]: 'attribute-discard',
  [AttributeType.AS4_PATH]: 'attribute-discard',
  [AttributeType.AS4_AGGREGATOR]: 'attribute-discard',
  [AttributeType.MP_REACH_NLRI]: 'session-reset',
  [AttributeType.MP_UNREACH_NLRI]: 'session-reset',
};

/** The Attribute Type Code of `a`. */
export function attributeCode(a: PathAttribute): number {
  return a.type === 'UNKNOWN' ? a.code : AttributeType[a.type];
}

function valueLength(a: PathAttribute, ctx: CodecContext): number {
  switch (a.type) {
    case 'ORIGIN':
      return 1;
    case 'AS_PATH':
    case 'AS4_PATH':
      return asPathValueLength(a, ctx);
    case 'NEXT_HOP':
    case 'MULTI_EXIT_DISC':
    case 'LOCAL_PREF':
      return 4;
    case 'ATOMIC_AGGREGATE':
      return 0;
    case 'AGGREGATOR':
    case 'AS4_AGGREGATOR':
      return aggregatorValueLength(a, ctx);
    case 'COMMUNITIES':
      return communitiesValueLength(a);
    case 'MP_REACH_NLRI':
      return mpReachValueLength(a);
    case 'MP_UNREACH_NLRI':
      return mpUnreachValueLength(a);
    case 'EXTENDED_COMMUNITIES':
      return extendedCommunitiesValueLength(a);
    case 'LARGE_COMMUNITY':
      return largeCommunitiesValueLength(a);
    case 'UNKNOWN':
      return a.value.length;
  }
}

/** Bytes the attribute takes with its header (3, or 4 with Extended Length for values over 255 bytes). */
export function attributeLength(a: PathAttribute, ctx: CodecContext): number {
  const n = valueLength(a, ctx);
  if (n > 0xffff) throw new RangeError(`${a.type} value is ${n} bytes, at most 65535`);
  return (n > 255 ? 4 : 3) + n;
}

/**
 * Writes one attribute (flags, type, length, value) at `offset`; returns the new offset. Flags are the standard ones
 * for the type (UNKNOWN keeps its own, with Extended Length recomputed). Bad values throw RangeError naming them.
 */
export function encodeAttribute(a: PathAttribute, buf: Buffer, offset: number, ctx: CodecContext): number {
  const n = valueLength(a, ctx);
  if (n > 0xffff) throw new RangeError(`${a.type} value is ${n} bytes, at most 65535`);
  const code = attributeCode(a);
  if (!Number.isInteger(code) || code < 0 || code > 255)
    throw new RangeError(`attribute type code ${code} must be 0-255`);
  const ext = n > 255;
  const base = a.type === 'UNKNOWN' ? a.flags & 0xe0 : EXPECTED_FLAGS[code]!;
  buf[offset] = base | (ext ? AttributeFlag.ExtendedLength : 0);
  buf[offset + 1] = code;
  let p = offset + 2;
  if (ext) {
    buf.writeUInt16BE(n, p);
    p += 2;
  } else {
    buf[p] = n;
    p += 1;
  }
  const end = encodeValue(a, buf, p, ctx);
  if (end !== p + n) throw new Error(`internal: ${a.type} wrote ${end - p} bytes, announced ${n}`);
  return end;
}

function encodeValue(a: PathAttribute, buf: Buffer, p: number, ctx: CodecContext): number {
  switch (a.type) {
    case 'ORIGIN':
      return encodeOriginValue(a, buf, p);
    case 'AS_PATH':
    case 'AS4_PATH':
      return encodeAsPathValue(a, buf, p, ctx);
    case 'NEXT_HOP':
      return encodeNextHopValue(a, buf, p);
    case 'MULTI_EXIT_DISC':
    case 'LOCAL_PREF':
      return encodeUint32Value(a, buf, p);
    case 'ATOMIC_AGGREGATE':
      return p;
    case 'AGGREGATOR':
    case 'AS4_AGGREGATOR':
      return encodeAggregatorValue(a, buf, p, ctx);
    case 'COMMUNITIES':
      return encodeCommunitiesValue(a, buf, p);
    case 'MP_REACH_NLRI':
      return encodeMpReachValue(a, buf, p);
    case 'MP_UNREACH_NLRI':
      return encodeMpUnreachValue(a, buf, p);
    case 'EXTENDED_COMMUNITIES':
      return encodeExtendedCommunitiesValue(a, buf, p);
    case 'LARGE_COMMUNITY':
      return encodeLargeCommunitiesValue(a, buf, p);
    case 'UNKNOWN':
      a.value.copy(buf, p);
      return p + a.value.length;
  }
}

function decodeValue(
  code: number,
  flags: number,
  value: Buffer,
  raw: Buffer,
  ctx: CodecContext,
): PathAttribute {
  switch (code) {
    case AttributeType.ORIGIN:
      return decodeOriginValue(value, raw);
    case AttributeType.AS_PATH:
      return decodeAsPathValue('AS_PATH', value, raw, ctx);
    case AttributeType.AS4_PATH:
      return decodeAsPathValue('AS4_PATH', value, raw, ctx);
    case AttributeType.NEXT_HOP:
      return decodeNextHopValue(value, raw);
    case AttributeType.MULTI_EXIT_DISC:
      return decodeUint32Value('MULTI_EXIT_DISC', value, raw);
    case AttributeType.LOCAL_PREF:
      return decodeUint32Value('LOCAL_PREF', value, raw);
    case AttributeType.ATOMIC_AGGREGATE:
      return decodeAtomicAggregateValue(value, raw);
    case AttributeType.AGGREGATOR:
      return decodeAggregatorValue('AGGREGATOR', value, raw, ctx);
    case AttributeType.AS4_AGGREGATOR:
      return decodeAggregatorValue('AS4_AGGREGATOR', value, raw, ctx);
    case AttributeType.COMMUNITIES:
      return decodeCommunitiesValue(value, raw);
    case AttributeType.MP_REACH_NLRI:
      return decodeMpReachValue(value, raw);
    case AttributeType.MP_UNREACH_NLRI:
      return decodeMpUnreachValue(value, raw);
    case AttributeType.EXTENDED_COMMUNITIES:
      return decodeExtendedCommunitiesValue(value, raw);
    case AttributeType.LARGE_COMMUNITY:
      return decodeLargeCommunitiesValue(value, raw);
    default:
      return { type: 'UNKNOWN', code, flags: flags & 0xe0, value: Buffer.from(value) };
  }
}

/** What decodeAttributes found: the attributes kept, and the RFC 7606 actions taken (treat-as-withdraw, discards). */
export interface AttributesResult {
  attributes: PathAttribute[];
  /** Non-fatal errors, in order: each one's `handling` is 'treat-as-withdraw' or 'attribute-discard'. */
  errors: BgpDecodeError[];
  /** Some error requires treating the UPDATE's routes as withdrawn (RFC 7606 §2). */
  treatAsWithdraw: boolean;
}

/**
 * Decodes the Path Attributes field `buf[start, end)` of an UPDATE. Throws BgpDecodeError only for errors that reset
 * the session: an unrecognized well-known attribute (RFC 4271 §6.3), MP_REACH/MP_UNREACH malformed or repeated
 * (RFC 7606 §3 g, §7.11). Everything else is collected in `errors`:
 *   - an attribute header or length running past the field → treat-as-withdraw, parsing stops (RFC 7606 §4);
 *   - Optional/Transitive bits in conflict with the type → the type's malformed handling (RFC 7606 §3 c);
 *   - a repeated attribute other than MP_* → later copies discarded (RFC 7606 §3 g);
 *   - per-attribute rules in the attribute files; LOCAL_PREF from eBGP → discarded (RFC 7606 §7.5);
 *   - AS4_PATH / AS4_AGGREGATOR on a 4-octet AS session → discarded (RFC 6793 §4.1).
 */
export function decodeAttributes(
  buf: Buffer,
  start: number,
  end: number,
  ctx: CodecContext,
): AttributesResult {
  const attributes: PathAttribute[] = [];
  const errors: BgpDecodeError[] = [];
  const seen = new Set<number>();
  let p = start;
  while (p < end) {
    if (end - p < 3) {
      errors.push(
        updateError(
          UpdateSubcode.MalformedAttributeList,
          'treat-as-withdraw',
          `attribute header at offset ${p - start} is truncated (RFC 7606 §4)`,
        ),
      );
      break;
    }
    const flags = buf[p]!;
    const code = buf[p + 1]!;
    const ext = (flags & AttributeFlag.ExtendedLength) !== 0;
    if (ext && end - p < 4) {
      errors.push(
        updateError(
          UpdateSubcode.MalformedAttributeList,
          'treat-as-withdraw',
          `extended attribute header at offset ${p - start} is truncated (RFC 7606 §4)`,
        ),
      );
      break;
    }
    const len = ext ? buf.readUInt16BE(p + 2) : buf[p + 2]!;
    const v = p + (ext ? 4 : 3);
    if (v + len > end) {
      // MP_* that do not fit cannot be parsed at all: RFC 7606 §7.11 says session reset for them.
      const handling: ErrorHandling =
        code === AttributeType.MP_REACH_NLRI || code === AttributeType.MP_UNREACH_NLRI
          ? 'session-reset'
          : 'treat-as-withdraw';
      const err = updateError(
        UpdateSubcode.AttributeLengthError,
        handling,
        `attribute ${code} of length ${len} overruns the path attributes (RFC 7606 §4)`,
        Buffer.from(buf.subarray(p, end)),
        code,
      );
      if (handling === 'session-reset') throw err;
      errors.push(err);
      break;
    }
    const raw = Buffer.from(buf.subarray(p, v + len));
    const value = buf.subarray(v, v + len);
    p = v + len;
    const expected = EXPECTED_FLAGS[code];
    if (expected === undefined && (flags & AttributeFlag.Optional) === 0) {
      throw updateError(
        UpdateSubcode.UnrecognizedWellKnownAttribute,
        'session-reset',
        `unrecognized well-known attribute ${code}`,
        raw,
        code,
      );
    }
    if (seen.has(code)) {
      if (code === AttributeType.MP_REACH_NLRI || code === AttributeType.MP_UNREACH_NLRI) {
        throw updateError(
          UpdateSubcode.MalformedAttributeList,
          'session-reset',
          `attribute ${code} appears twice (RFC 7606 §3 g)`,
          raw,
          code,
        );
      }
      errors.push(
        updateError(
          UpdateSubcode.MalformedAttributeList,
          'attribute-discard',
          `attribute ${code} appears twice: later copy discarded (RFC 7606 §3 g)`,
          raw,
          code,
        ),
      );
      continue;
    }
    seen.add(code);
    // RFC 7606 §7.5: LOCAL_PREF from an external peer is discarded (whatever its shape).
    // RFC 6793 §4.1: a NEW speaker ignores AS4_PATH / AS4_AGGREGATOR from another NEW speaker.
    if (
      (code === AttributeType.LOCAL_PREF && !ctx.ibgp) ||
      ((code === AttributeType.AS4_PATH || code === AttributeType.AS4_AGGREGATOR) && ctx.fourOctetAs)
    ) {
      const why =
        code === AttributeType.LOCAL_PREF
          ? 'LOCAL_PREF from an external peer (RFC 7606 §7.5)'
          : `attribute ${code} on a 4-octet AS session (RFC 6793 §4.1)`;
      errors.push(
        updateError(UpdateSubcode.OptionalAttributeError, 'attribute-discard', `${why} discarded`, raw, code),
      );
      continue;
    }
    if (expected !== undefined && (flags & (O | T)) !== expected) {
      const handling = MALFORMED_HANDLING[code] ?? 'treat-as-withdraw';
      const err = updateError(
        UpdateSubcode.AttributeFlagsError,
        handling,
        `attribute ${code} has flags 0x${flags.toString(16)}, expected 0x${expected.toString(16)} (RFC 7606 §3 c)`,
        raw,
        code,
      );
      if (handling === 'session-reset') throw err;
      errors.push(err);
      continue;
    }
    try {
      attributes.push(decodeValue(code, flags, value, raw, ctx));
    } catch (e) {
      if (!(e instanceof BgpDecodeError) || e.handling === 'session-reset') throw e;
      errors.push(e);
    }
  }
  return { attributes, errors, treatAsWithdraw: errors.some((e) => e.handling === 'treat-as-withdraw') };
}

/** The first attribute of a given type, typed. */
export function findAttribute<K extends PathAttribute['type']>(
  attributes: readonly PathAttribute[],
  type: K,
): Extract<PathAttribute, { type: K }> | undefined {
  return attributes.find((a) => a.type === type) as Extract<PathAttribute, { type: K }> | undefined;
}

export * from './aggregator.ts';
export * from './as-path.ts';
export * from './communities.ts';
export * from './extended-communities.ts';
export * from './large-communities.ts';
export * from './mp-nlri.ts';
export * from './next-hop.ts';
export * from './origin.ts';
export * from './preference.ts';
