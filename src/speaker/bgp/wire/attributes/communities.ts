// COMMUNITIES (type 8, optional transitive; RFC 1997 §3): a list of 32-bit values, by convention
// (high 16 bits: AS number) : (low 16 bits: value). Well-known values: RFC 1997 §2 and IANA "BGP Well-known
// Communities" (constants.ts WellKnownCommunity).
//   RFC 7606 §7.8: length 0 or not a multiple of 4 → treat-as-withdraw.
import { AttributeType, UpdateSubcode, WellKnownCommunity } from '../constants.ts';
import { updateError } from '../errors.ts';

export interface CommunitiesAttribute {
  type: 'COMMUNITIES';
  /** 32-bit community values; see community() / formatCommunityValue(). */
  communities: number[];
}

/** The 32-bit value of `high:low` (each 0-65535). Throws RangeError naming a bad half. */
export function community(high: number, low: number): number {
  for (const v of [high, low]) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff)
      throw new RangeError(`community half ${v} of ${high}:${low} must be an integer 0-65535`);
  }
  return ((high << 16) >>> 0) + low;
}

const WELL_KNOWN_NAMES = new Map<number, string>(
  Object.entries(WellKnownCommunity).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')] as const),
);

/** `64500:100`, or the well-known name (`no-export`, `no-advertise`, `graceful-shutdown`, `blackhole`, ...). */
export function formatCommunityValue(v: number): string {
  return WELL_KNOWN_NAMES.get(v) ?? `${v >>> 16}:${v & 0xffff}`;
}

/** Parses `64500:100` or a well-known name as formatCommunityValue prints it. Throws RangeError naming the text. */
export function parseCommunityValue(text: string): number {
  for (const [v, name] of WELL_KNOWN_NAMES) if (name === text) return v;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m)
    throw new RangeError(
      `community ${JSON.stringify(text)} is not "A:B" (two 0-65535 numbers) or a well-known name`,
    );
  return community(Number(m[1]), Number(m[2]));
}

export function communitiesValueLength(a: CommunitiesAttribute): number {
  return 4 * a.communities.length;
}

export function encodeCommunitiesValue(a: CommunitiesAttribute, buf: Buffer, offset: number): number {
  if (a.communities.length === 0)
    throw new RangeError('COMMUNITIES must hold at least one community (RFC 7606 §7.8)');
  let p = offset;
  for (const c of a.communities) {
    if (!Number.isInteger(c) || c < 0 || c > 0xffffffff)
      throw new RangeError(`community ${c} must be a 32-bit unsigned integer`);
    buf.writeUInt32BE(c, p);
    p += 4;
  }
  return p;
}

export function decodeCommunitiesValue(value: Buffer, raw: Buffer): CommunitiesAttribute {
  if (value.length === 0 || value.length % 4 !== 0) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `COMMUNITIES length ${value.length} is not a non-zero multiple of 4`,
      raw,
      AttributeType.COMMUNITIES,
    );
  }
  const communities: number[] = [];
  for (let p = 0; p < value.length; p += 4) communities.push(value.readUInt32BE(p));
  return { type: 'COMMUNITIES', communities };
}
