// ATOMIC_AGGREGATE (type 6, well-known discretionary, empty; RFC 4271 §5.1.6), AGGREGATOR (type 7, optional
// transitive; RFC 4271 §5.1.7: last AS number 2 or 4 octets per session + IPv4 address of the aggregating speaker)
// and AS4_AGGREGATOR (type 18, optional transitive, RFC 6793 §3: 4-octet AS + IPv4 address).
//   RFC 7606 §7.6: ATOMIC_AGGREGATE length other than 0 → attribute-discard.
//   RFC 7606 §7.7: AGGREGATOR length other than 6 (2-octet session) or 8 (4-octet) → attribute-discard.
//   RFC 6793 §6: malformed AS4_AGGREGATOR (length other than 8) → attribute-discard.
import ipaddr from 'ipaddr.js';
import { AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';
import type { CodecContext } from '../header.ts';
import { decodeAddress, encodeAddress } from '../prefix.ts';

export interface AtomicAggregateAttribute {
  type: 'ATOMIC_AGGREGATE';
}

export interface AggregatorAttribute {
  type: 'AGGREGATOR' | 'AS4_AGGREGATOR';
  asn: number;
  /** IPv4 address (BGP Identifier) of the speaker that formed the aggregate. */
  address: string;
}

export function aggregatorValueLength(a: AggregatorAttribute, ctx: CodecContext): number {
  return a.type === 'AS4_AGGREGATOR' || ctx.fourOctetAs ? 8 : 6;
}

export function encodeAggregatorValue(
  a: AggregatorAttribute,
  buf: Buffer,
  offset: number,
  ctx: CodecContext,
): number {
  const size = aggregatorValueLength(a, ctx) - 4;
  const max = size === 4 ? 0xffffffff : 0xffff;
  if (!Number.isInteger(a.asn) || a.asn < 0 || a.asn > max) {
    throw new RangeError(
      `${a.type} ASN ${a.asn} must be 0-${max}${size === 2 ? ' on a 2-octet AS session (send AS_TRANS + AS4_AGGREGATOR)' : ''}`,
    );
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(a.address))
    throw new RangeError(`${a.type} address ${JSON.stringify(a.address)} must be IPv4`);
  if (size === 4) buf.writeUInt32BE(a.asn, offset);
  else buf.writeUInt16BE(a.asn, offset);
  return encodeAddress(a.address, buf, offset + size);
}

export function decodeAggregatorValue(
  type: 'AGGREGATOR' | 'AS4_AGGREGATOR',
  value: Buffer,
  raw: Buffer,
  ctx: CodecContext,
): AggregatorAttribute {
  const want = type === 'AS4_AGGREGATOR' || ctx.fourOctetAs ? 8 : 6;
  if (value.length !== want) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'attribute-discard',
      `${type} length ${value.length} is not ${want}`,
      raw,
      AttributeType[type],
    );
  }
  const asn = want === 8 ? value.readUInt32BE(0) : value.readUInt16BE(0);
  return { type, asn, address: decodeAddress(value, want - 4, 1) };
}

export function decodeAtomicAggregateValue(value: Buffer, raw: Buffer): AtomicAggregateAttribute {
  if (value.length !== 0) {
    throw updateError(
      UpdateSubcode.AttributeLengthError,
      'attribute-discard',
      `ATOMIC_AGGREGATE length ${value.length} is not 0`,
      raw,
      AttributeType.ATOMIC_AGGREGATE,
    );
  }
  return { type: 'ATOMIC_AGGREGATE' };
}
