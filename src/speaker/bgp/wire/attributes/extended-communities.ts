// EXTENDED_COMMUNITIES (type 16, optional transitive; RFC 4360 §2): a list of 8-octet values
//   Type high (1) | Type low / Sub-Type (1) | Value (6).
// Type high bit 0x40 set = non-transitive across ASes. Decoded specially:
//   - link bandwidth (draft-ietf-idr-link-bandwidth §2): type 0x40 (non-transitive two-octet AS specific), sub-type
//     0x04, Global Administrator = 2-octet AS, then the bandwidth as a 4-octet IEEE 754 float in bytes per second.
//     Also the transitive form, type 0x00 sub-type 0x04 (IANA; FRR 8's `set extcommunity bandwidth` sends this one,
//     see test/fixtures/bgp/frr.json);
//   - route target / route origin, 2-octet AS specific (RFC 4360 §4: type 0x00, sub-types 0x02 / 0x03).
// Everything else is kept raw.
//   RFC 7606 §7.14: length 0 or not a multiple of 8 → treat-as-withdraw.
import { AttributeType, LINK_BANDWIDTH, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';

export type ExtendedCommunity =
  | {
      kind: 'link-bandwidth';
      asn: number;
      /** Bytes per second (IEEE float32 on the wire). */
      bandwidth: number;
      /** Type 0x00 (transitive) instead of 0x40 (non-transitive). */
      transitive: boolean;
    }
  | { kind: 'route-target' | 'route-origin'; asn: number; localAdministrator: number }
  | {
      kind: 'raw';
      /** Type high octet. */
      typeHigh: number;
      /** Sub-type (type low octet). */
      typeLow: number;
      /** The 6 value bytes. */
      value: Buffer;
    };

export interface ExtendedCommunitiesAttribute {
  type: 'EXTENDED_COMMUNITIES';
  communities: ExtendedCommunity[];
}

/**
 * The link-bandwidth community for `bytesPerSecond` (>= 0, finite; stored as float32) of `asn` (0-65535; an ASN above
 * 65535 is sent as AS_TRANS as FRR does). Throws RangeError naming a bad value.
 */
export function linkBandwidth(asn: number, bytesPerSecond: number, transitive = false): ExtendedCommunity {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0)
    throw new RangeError(`link bandwidth ${bytesPerSecond} must be a finite number of bytes/s >= 0`);
  if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff)
    throw new RangeError(`link bandwidth ASN ${asn} must be an integer 0-4294967295`);
  return {
    kind: 'link-bandwidth',
    asn: asn > 0xffff ? 23456 : asn,
    bandwidth: Math.fround(bytesPerSecond),
    transitive,
  };
}

export function extendedCommunitiesValueLength(a: ExtendedCommunitiesAttribute): number {
  return 8 * a.communities.length;
}

function check(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new RangeError(`extended community ${name} ${v} must be an integer 0-${max}`);
}

export function encodeExtendedCommunitiesValue(
  a: ExtendedCommunitiesAttribute,
  buf: Buffer,
  offset: number,
): number {
  if (a.communities.length === 0)
    throw new RangeError('EXTENDED_COMMUNITIES must hold at least one community (RFC 7606 §7.14)');
  let p = offset;
  for (const c of a.communities) {
    switch (c.kind) {
      case 'link-bandwidth':
        check('ASN', c.asn, 0xffff);
        if (!Number.isFinite(c.bandwidth) || c.bandwidth < 0)
          throw new RangeError(`link bandwidth ${c.bandwidth} must be a finite number >= 0`);
        buf[p] = c.transitive ? LINK_BANDWIDTH.type & ~0x40 : LINK_BANDWIDTH.type;
        buf[p + 1] = LINK_BANDWIDTH.subtype;
        buf.writeUInt16BE(c.asn, p + 2);
        buf.writeFloatBE(c.bandwidth, p + 4);
        break;
      case 'route-target':
      case 'route-origin':
        check('ASN', c.asn, 0xffff);
        check('local administrator', c.localAdministrator, 0xffffffff);
        buf[p] = 0x00;
        buf[p + 1] = c.kind === 'route-target' ? 0x02 : 0x03;
        buf.writeUInt16BE(c.asn, p + 2);
        buf.writeUInt32BE(c.localAdministrator, p + 4);
        break;
      case 'raw':
        check('type', c.typeHigh, 0xff);
        check('sub-type', c.typeLow, 0xff);
        if (c.value.length !== 6)
          throw new RangeError(`extended community value is ${c.value.length} bytes, must be 6`);
        buf[p] = c.typeHigh;
        buf[p + 1] = c.typeLow;
        c.value.copy(buf, p + 2);
        break;
    }
    p += 8;
  }
  return p;
}

export function decodeExtendedCommunitiesValue(value: Buffer, raw: Buffer): ExtendedCommunitiesAttribute {
  if (value.length === 0 || value.length % 8 !== 0) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'treat-as-withdraw',
      `EXTENDED_COMMUNITIES length ${value.length} is not a non-zero multiple of 8`,
      raw,
      AttributeType.EXTENDED_COMMUNITIES,
    );
  }
  const communities: ExtendedCommunity[] = [];
  for (let p = 0; p < value.length; p += 8) {
    const hi = value[p]!;
    const lo = value[p + 1]!;
    if (
      (hi === LINK_BANDWIDTH.type || hi === (LINK_BANDWIDTH.type & ~0x40)) &&
      lo === LINK_BANDWIDTH.subtype
    ) {
      const bandwidth = value.readFloatBE(p + 4);
      // Negative, NaN, infinite or -0 bandwidths are not link bandwidths: kept raw so that they re-encode exactly.
      if (Number.isFinite(bandwidth) && bandwidth >= 0 && !Object.is(bandwidth, -0)) {
        communities.push({
          kind: 'link-bandwidth',
          asn: value.readUInt16BE(p + 2),
          bandwidth,
          transitive: hi !== LINK_BANDWIDTH.type,
        });
        continue;
      }
    } else if (hi === 0x00 && (lo === 0x02 || lo === 0x03)) {
      communities.push({
        kind: lo === 0x02 ? 'route-target' : 'route-origin',
        asn: value.readUInt16BE(p + 2),
        localAdministrator: value.readUInt32BE(p + 4),
      });
      continue;
    }
    communities.push({
      kind: 'raw',
      typeHigh: hi,
      typeLow: lo,
      value: Buffer.from(value.subarray(p + 2, p + 8)),
    });
  }
  return { type: 'EXTENDED_COMMUNITIES', communities };
}
