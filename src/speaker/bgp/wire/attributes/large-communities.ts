// LARGE_COMMUNITY (type 32, optional transitive; RFC 8092 §3): a list of 12-octet values
//   Global Administrator (4) | Local Data Part 1 (4) | Local Data Part 2 (4).
//   RFC 8092 §6: length 0 or not a multiple of 12 → treat-as-withdraw (RFC 7606).
import { AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';

export interface LargeCommunity {
  globalAdministrator: number;
  localData1: number;
  localData2: number;
}

export interface LargeCommunityAttribute {
  type: 'LARGE_COMMUNITY';
  communities: LargeCommunity[];
}

/** `64500:1:2` (RFC 8092 §4 canonical text). */
export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c.globalAdministrator}:${c.localData1}:${c.localData2}`;
}

export function largeCommunitiesValueLength(a: LargeCommunityAttribute): number {
  return 12 * a.communities.length;
}

export function encodeLargeCommunitiesValue(a: LargeCommunityAttribute, buf: Buffer, offset: number): number {
  if (a.communities.length === 0)
    throw new RangeError('LARGE_COMMUNITY must hold at least one community (RFC 8092 §6)');
  let p = offset;
  for (const c of a.communities) {
    for (const v of [c.globalAdministrator, c.localData1, c.localData2]) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
        throw new RangeError(`large community part ${v} of ${formatLargeCommunity(c)} must be 0-4294967295`);
      buf.writeUInt32BE(v, p);
      p += 4;
    }
  }
  return p;
}

export function decodeLargeCommunitiesValue(value: Buffer, raw: Buffer): LargeCommunityAttribute {
  if (value.length === 0 || value.length % 12 !== 0) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `LARGE_COMMUNITY length ${value.length} is not a non-zero multiple of 12`,
      raw,
      AttributeType.LARGE_COMMUNITY,
    );
  }
  const communities: LargeCommunity[] = [];
  for (let p = 0; p < value.length; p += 12) {
    communities.push({
      globalAdministrator: value.readUInt32BE(p),
      localData1: value.readUInt32BE(p + 4),
      localData2: value.readUInt32BE(p + 8),
    });
  }
  return { type: 'LARGE_COMMUNITY', communities };
}
