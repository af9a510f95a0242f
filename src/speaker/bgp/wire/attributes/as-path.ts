// AS_PATH (type 2, well-known mandatory; RFC 4271 §4.3 b, §5.1.2) and AS4_PATH (type 17, optional transitive;
// RFC 6793 §3). A sequence of path segments:
//
//   +-----------------+-----------------+----------------------------------+
//   | segment type (1)| segment len (1) | ASNs: len × 2 octets (AS_PATH on |
//   | 1 AS_SET        | (number of ASNs)|   a 2-octet session) or 4 octets |
//   | 2 AS_SEQUENCE   |                 |   (4-octet session, and AS4_PATH)|
//   | 3/4 CONFED_SEQ/SET (RFC 5065)     |                                  |
//   +-----------------+-----------------+----------------------------------+
//
// RFC 7606 §7.2: an AS_PATH with an unknown segment type, a zero-length segment or a segment overrunning the
// attribute is malformed → treat-as-withdraw. RFC 6793 §6: a malformed AS4_PATH (also one with confederation
// segments) → attribute-discard.
import { AS_TRANS, AsPathSegmentType, AttributeType, UpdateSubcode } from '../constants.ts';
import { updateError } from '../errors.ts';
import type { CodecContext } from '../header.ts';

export type AsPathSegmentTypeName = keyof typeof AsPathSegmentType;

export interface AsPathSegment {
  type: AsPathSegmentTypeName;
  asns: number[];
}

export interface AsPathAttribute {
  type: 'AS_PATH';
  segments: AsPathSegment[];
}

export interface As4PathAttribute {
  type: 'AS4_PATH';
  segments: AsPathSegment[];
}

function segmentsLength(segments: readonly AsPathSegment[], asnSize: number): number {
  return segments.reduce((n, s) => n + 2 + asnSize * s.asns.length, 0);
}

export function asPathValueLength(a: AsPathAttribute | As4PathAttribute, ctx: CodecContext): number {
  return segmentsLength(a.segments, a.type === 'AS4_PATH' || ctx.fourOctetAs ? 4 : 2);
}

/**
 * Writes the segments; returns the new offset. Throws RangeError for an empty or >255-ASN segment, an unknown
 * segment type, or an ASN above 65535 in a 2-octet AS_PATH (use downgradeAsPath: AS_TRANS + AS4_PATH).
 */
export function encodeAsPathValue(
  a: AsPathAttribute | As4PathAttribute,
  buf: Buffer,
  offset: number,
  ctx: CodecContext,
): number {
  const size = a.type === 'AS4_PATH' || ctx.fourOctetAs ? 4 : 2;
  let p = offset;
  for (const s of a.segments) {
    const t = AsPathSegmentType[s.type];
    if (t === undefined)
      throw new RangeError(
        `${a.type} segment type ${JSON.stringify(s.type)} is not AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE or AS_CONFED_SET`,
      );
    if (s.asns.length < 1 || s.asns.length > 255)
      throw new RangeError(`${a.type} segment has ${s.asns.length} ASNs, must be 1-255`);
    buf[p] = t;
    buf[p + 1] = s.asns.length;
    p += 2;
    for (const asn of s.asns) {
      if (!Number.isInteger(asn) || asn < 0 || asn > (size === 4 ? 0xffffffff : 0xffff)) {
        throw new RangeError(
          `${a.type} ASN ${asn} must be 0-${size === 4 ? 4294967295 : 65535}${size === 2 ? ' on a 2-octet AS session (downgradeAsPath: AS_TRANS + AS4_PATH, RFC 6793 §4.2.2)' : ''}`,
        );
      }
      if (size === 4) buf.writeUInt32BE(asn, p);
      else buf.writeUInt16BE(asn, p);
      p += size;
    }
  }
  return p;
}

/** Decodes AS_PATH (ASN size per ctx) or AS4_PATH (4 octets) with the RFC 7606 / RFC 6793 handling above. */
export function decodeAsPathValue(
  type: 'AS_PATH' | 'AS4_PATH',
  value: Buffer,
  raw: Buffer,
  ctx: CodecContext,
): AsPathAttribute | As4PathAttribute {
  const size = type === 'AS4_PATH' || ctx.fourOctetAs ? 4 : 2;
  const fail = (why: string) =>
    type === 'AS_PATH'
      ? updateError(
          UpdateSubcode.MalformedAsPath,
          'treat-as-withdraw',
          `malformed AS_PATH: ${why}`,
          raw,
          AttributeType.AS_PATH,
        )
      : updateError(
          UpdateSubcode.OptionalAttributeError,
          'attribute-discard',
          `malformed AS4_PATH: ${why}`,
          raw,
          AttributeType.AS4_PATH,
        );
  const segments: AsPathSegment[] = [];
  let p = 0;
  while (p < value.length) {
    if (value.length - p < 2) throw fail(`segment header at offset ${p} is truncated`);
    const t = value[p]!;
    const n = value[p + 1]!;
    const name = (Object.keys(AsPathSegmentType) as AsPathSegmentTypeName[]).find(
      (k) => AsPathSegmentType[k] === t,
    );
    if (name === undefined) throw fail(`segment type ${t} is not 1-4`);
    if (type === 'AS4_PATH' && t > 2) throw fail(`confederation segment ${name} (RFC 6793 §6)`);
    if (n === 0) throw fail(`segment at offset ${p} has length 0`);
    if (p + 2 + n * size > value.length)
      throw fail(`segment of ${n} ASNs at offset ${p} overruns the attribute`);
    const asns: number[] = [];
    for (let i = 0; i < n; i++)
      asns.push(size === 4 ? value.readUInt32BE(p + 2 + 4 * i) : value.readUInt16BE(p + 2 + 2 * i));
    segments.push({ type: name, asns });
    p += 2 + n * size;
  }
  return type === 'AS_PATH' ? { type, segments } : { type, segments };
}

/**
 * The AS path length used by best-path selection and by RFC 6793 §4.2.3: AS_SET counts 1, confederation segments 0.
 */
export function asPathCount(segments: readonly AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === 'AS_SEQUENCE') n += s.asns.length;
    else if (s.type === 'AS_SET') n += 1;
  }
  return n;
}

/**
 * RFC 6793 §4.2.2: the AS_PATH to send on a 2-octet AS session, each ASN above 65535 replaced by AS_TRANS, plus the
 * AS4_PATH carrying the real ASNs (undefined when no ASN needs 4 octets). Confederation segments are not copied into
 * AS4_PATH (§3).
 */
export function downgradeAsPath(segments: readonly AsPathSegment[]): {
  asPath: AsPathSegment[];
  as4Path: AsPathSegment[] | undefined;
} {
  const asPath = segments.map((s) => ({
    type: s.type,
    asns: s.asns.map((a) => (a > 0xffff ? AS_TRANS : a)),
  }));
  const needs = segments.some((s) => s.asns.some((a) => a > 0xffff));
  const as4Path = needs
    ? segments
        .filter((s) => s.type === 'AS_SEQUENCE' || s.type === 'AS_SET')
        .map((s) => ({ type: s.type, asns: [...s.asns] }))
    : undefined;
  return { asPath, as4Path };
}

/**
 * RFC 6793 §4.2.3: rebuilds the true path from a 2-octet AS_PATH and an AS4_PATH. When AS_PATH counts fewer ASNs than
 * AS4_PATH, AS4_PATH is ignored; otherwise the leading (count(AS_PATH) - count(AS4_PATH)) ASNs of AS_PATH are
 * prepended to AS4_PATH.
 */
export function reconstructAsPath(
  asPath: readonly AsPathSegment[],
  as4Path: readonly AsPathSegment[] | undefined,
): AsPathSegment[] {
  const copy = (s: AsPathSegment): AsPathSegment => ({ type: s.type, asns: [...s.asns] });
  if (as4Path === undefined) return asPath.map(copy);
  let keep = asPathCount(asPath) - asPathCount(as4Path);
  if (keep < 0) return asPath.map(copy);
  const out: AsPathSegment[] = [];
  for (const s of asPath) {
    if (keep === 0 && (s.type === 'AS_SEQUENCE' || s.type === 'AS_SET')) break;
    if (s.type === 'AS_SEQUENCE') {
      const take = Math.min(keep, s.asns.length);
      out.push({ type: s.type, asns: s.asns.slice(0, take) });
      keep -= take;
    } else {
      out.push(copy(s));
      if (s.type === 'AS_SET') keep -= 1;
    }
  }
  for (const s of as4Path) {
    const last = out[out.length - 1];
    if (
      last &&
      last.type === 'AS_SEQUENCE' &&
      s.type === 'AS_SEQUENCE' &&
      last.asns.length + s.asns.length <= 255
    )
      last.asns.push(...s.asns);
    else out.push(copy(s));
  }
  return out;
}
