// UPDATE message (RFC 4271 §4.3), its RFC 7606 revised error handling, and End-of-RIB (RFC 4724 §2).
//
//   +-----------------------------------------------------+
//   |   Withdrawn Routes Length (2 octets)                |
//   +-----------------------------------------------------+
//   |   Withdrawn Routes (variable)                       |   IPv4 prefixes only
//   +-----------------------------------------------------+
//   |   Total Path Attribute Length (2 octets)            |
//   +-----------------------------------------------------+
//   |   Path Attributes (variable)                        |   attributes/index.ts
//   +-----------------------------------------------------+
//   |   Network Layer Reachability Information (variable) |   IPv4 prefixes only (others: MP_REACH_NLRI)
//   +-----------------------------------------------------+
import type { Origin } from './constants.ts';
import {
  Afi,
  AttributeType,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_MESSAGE_LENGTH,
  Safi,
  UpdateSubcode,
} from './constants.ts';
import { type BgpDecodeError, updateError } from './errors.ts';
import type { CodecContext } from './header.ts';
import { type Prefix, afiOf, decodePrefixes, encodePrefix, prefixLength } from './prefix.ts';
import {
  type AsPathSegment,
  type ExtendedCommunity,
  type LargeCommunity,
  type PathAttribute,
  attributeCode,
  attributeLength,
  decodeAttributes,
  downgradeAsPath,
  encodeAttribute,
  findAttribute,
  mpReachValueLength as mpReachValueLengthOf,
  reconstructAsPath,
} from './attributes/index.ts';
import type { AfiSafi } from './capabilities.ts';

export interface UpdateMessage {
  type: 'update';
  /** IPv4 prefixes of the Withdrawn Routes field. */
  withdrawnRoutes: Prefix[];
  attributes: PathAttribute[];
  /** IPv4 prefixes of the NLRI field. */
  nlri: Prefix[];
  /** Decoded messages only, when RFC 7606 actions were taken: every non-fatal error, in order. */
  errors?: BgpDecodeError[];
  /** Decoded messages only: true when the UPDATE's routes must be treated as withdrawn (RFC 7606 §2). */
  treatAsWithdraw?: boolean;
}

/** Body length of an UPDATE (without the 19-byte header). */
export function updateBodyLength(m: UpdateMessage, ctx: CodecContext): number {
  let n = 4;
  for (const p of m.withdrawnRoutes) n += prefixLength(p);
  for (const a of m.attributes) n += attributeLength(a, ctx);
  for (const p of m.nlri) n += prefixLength(p);
  return n;
}

/** Writes the UPDATE body at `offset`; returns the new offset. Bad values throw RangeError naming them. */
export function encodeUpdateBody(m: UpdateMessage, buf: Buffer, offset: number, ctx: CodecContext): number {
  let p = offset + 2;
  for (const x of m.withdrawnRoutes) p = encodePrefix(x, Afi.IPv4, buf, p);
  buf.writeUInt16BE(p - offset - 2, offset);
  const attrsAt = p;
  p += 2;
  for (const a of m.attributes) p = encodeAttribute(a, buf, p, ctx);
  buf.writeUInt16BE(p - attrsAt - 2, attrsAt);
  for (const x of m.nlri) p = encodePrefix(x, Afi.IPv4, buf, p);
  return p;
}

/**
 * Decodes an UPDATE body `buf[start, end)` (header check: at least 4 bytes). Throws BgpDecodeError (session reset)
 * when the Withdrawn Routes Length or Total Path Attribute Length overrun the message (Malformed Attribute List,
 * RFC 4271 §6.3), when the Withdrawn Routes or NLRI field is syntactically wrong (Invalid Network Field, RFC 7606
 * §5.3), and for the attribute errors listed in decodeAttributes. Other errors are returned in `errors` with
 * `treatAsWithdraw` set when required; a missing ORIGIN or AS_PATH (with any NLRI), or NEXT_HOP (with NLRI in the
 * NLRI field), is treat-as-withdraw (RFC 7606 §3 d, data: the type code).
 */
export function decodeUpdateBody(buf: Buffer, start: number, end: number, ctx: CodecContext): UpdateMessage {
  const wLen = buf.readUInt16BE(start);
  const wEnd = start + 2 + wLen;
  if (wEnd + 2 > end) {
    throw updateError(
      UpdateSubcode.MalformedAttributeList,
      'session-reset',
      `Withdrawn Routes Length ${wLen} overruns the UPDATE`,
    );
  }
  const withdrawnRoutes = decodePrefixes(buf, start + 2, wEnd, Afi.IPv4, (m) =>
    updateError(UpdateSubcode.InvalidNetworkField, 'session-reset', `Withdrawn Routes: ${m}`),
  );
  const aLen = buf.readUInt16BE(wEnd);
  const aEnd = wEnd + 2 + aLen;
  if (aEnd > end) {
    throw updateError(
      UpdateSubcode.MalformedAttributeList,
      'session-reset',
      `Total Path Attribute Length ${aLen} overruns the UPDATE`,
    );
  }
  const { attributes, errors } = decodeAttributes(buf, wEnd + 2, aEnd, ctx);
  const nlri = decodePrefixes(buf, aEnd, end, Afi.IPv4, (m) =>
    updateError(UpdateSubcode.InvalidNetworkField, 'session-reset', `NLRI: ${m}`),
  );
  const mpReach = findAttribute(attributes, 'MP_REACH_NLRI');
  if (
    nlri.length > 0 ||
    (mpReach !== undefined && (mpReach.nlri.length > 0 || mpReach.opaque !== undefined))
  ) {
    const required: (keyof typeof AttributeType)[] = ['ORIGIN', 'AS_PATH'];
    if (nlri.length > 0) required.push('NEXT_HOP');
    for (const t of required) {
      const code = AttributeType[t];
      if (attributes.some((a) => attributeCode(a) === code) || errors.some((e) => e.attributeType === code))
        continue;
      errors.push(
        updateError(
          UpdateSubcode.MissingWellKnownAttribute,
          'treat-as-withdraw',
          `missing well-known attribute ${t} (RFC 7606 §3 d)`,
          Buffer.from([code]),
          code,
        ),
      );
    }
  }
  const m: UpdateMessage = { type: 'update', withdrawnRoutes, attributes, nlri };
  if (errors.length > 0) {
    m.errors = errors;
    m.treatAsWithdraw = errors.some((e) => e.handling === 'treat-as-withdraw');
  }
  return m;
}

/**
 * Every prefix the UPDATE withdraws: the Withdrawn Routes field, MP_UNREACH_NLRI, and (treat-as-withdraw) its
 * announced prefixes too (RFC 7606 §2).
 */
export function withdrawnPrefixes(m: UpdateMessage): Prefix[] {
  const out = [
    ...m.withdrawnRoutes,
    ...(findAttribute(m.attributes, 'MP_UNREACH_NLRI')?.withdrawnRoutes ?? []),
  ];
  if (m.treatAsWithdraw) out.push(...m.nlri, ...(findAttribute(m.attributes, 'MP_REACH_NLRI')?.nlri ?? []));
  return out;
}

/** Every prefix the UPDATE announces (NLRI field and MP_REACH_NLRI); none when it is treat-as-withdraw. */
export function announcedPrefixes(m: UpdateMessage): Prefix[] {
  if (m.treatAsWithdraw) return [];
  return [...m.nlri, ...(findAttribute(m.attributes, 'MP_REACH_NLRI')?.nlri ?? [])];
}

/**
 * The End-of-RIB marker for a family (RFC 4724 §2): for IPv4 unicast an UPDATE with nothing in it, otherwise an
 * UPDATE whose only attribute is an empty MP_UNREACH_NLRI.
 */
export function endOfRib(afi: number = Afi.IPv4, safi: number = Safi.Unicast): UpdateMessage {
  if (afi === Afi.IPv4 && safi === Safi.Unicast)
    return { type: 'update', withdrawnRoutes: [], attributes: [], nlri: [] };
  return {
    type: 'update',
    withdrawnRoutes: [],
    attributes: [{ type: 'MP_UNREACH_NLRI', afi, safi, withdrawnRoutes: [] }],
    nlri: [],
  };
}

/** The family an UPDATE marks End-of-RIB for, or undefined when it is not an End-of-RIB (RFC 4724 §2). */
export function endOfRibFamily(m: UpdateMessage): AfiSafi | undefined {
  if (m.withdrawnRoutes.length > 0 || m.nlri.length > 0) return undefined;
  if (m.attributes.length === 0) return { afi: Afi.IPv4, safi: Safi.Unicast };
  const [a] = m.attributes;
  if (
    m.attributes.length === 1 &&
    a?.type === 'MP_UNREACH_NLRI' &&
    a.withdrawnRoutes.length === 0 &&
    a.opaque === undefined
  ) {
    return { afi: a.afi, safi: a.safi };
  }
  return undefined;
}

/** What an announcement carries: berth's speaker sets these from BGPAdvertisement / BGPPeer (MetalLB §6.2). */
export interface RouteAttributes {
  /** Defaults to IGP (what MetalLB sends). */
  origin?: keyof typeof Origin;
  /** ASNs of one AS_SEQUENCE, first = nearest: [] for iBGP, [localASN] for eBGP. */
  asPath: readonly number[];
  /**
   * IPv4 for IPv4 prefixes (NEXT_HOP); IPv6 global for IPv6 prefixes (MP_REACH_NLRI); IPv6 for IPv4 prefixes puts them
   * in MP_REACH_NLRI AFI 1 (RFC 8950, Extended Next Hop negotiated: BGP unnumbered).
   */
  nextHop: string;
  /** IPv6 link-local next hop (RFC 2545 §3), with an IPv6 next hop only. */
  linkLocalNextHop?: string;
  med?: number;
  /** iBGP only (RFC 4271 §5.1.5): the encoder refuses it when ctx.ibgp is false. */
  localPref?: number;
  communities?: readonly number[];
  largeCommunities?: readonly LargeCommunity[];
  extendedCommunities?: readonly ExtendedCommunity[];
}

/**
 * An UPDATE announcing `prefixes` (one family) with `attrs`: IPv4 in the NLRI field with NEXT_HOP, IPv6 in
 * MP_REACH_NLRI (first attribute, RFC 7606 §5.1), the rest in ascending type order (RFC 4271 §5). On a 2-octet AS
 * session ASNs above 65535 become AS_TRANS with an AS4_PATH (RFC 6793 §4.2.2). Throws RangeError naming a bad value
 * (mixed families, empty list, LOCAL_PREF on eBGP, wrong next-hop family).
 */
export function routeUpdate(
  prefixes: readonly Prefix[],
  attrs: RouteAttributes,
  ctx: CodecContext,
): UpdateMessage {
  if (prefixes.length === 0) throw new RangeError('routeUpdate needs at least one prefix');
  const afi = afiOf(prefixes[0]!.prefix);
  if (prefixes.some((p) => afiOf(p.prefix) !== afi))
    throw new RangeError('routeUpdate prefixes must all be IPv4 or all IPv6');
  // RFC 8950 §3: IPv4 prefixes with an IPv6 next hop go in MP_REACH_NLRI (AFI 1), for a session that negotiated the
  // Extended Next Hop capability (BGP unnumbered); the caller checks that.
  const v4OverV6 = afi === Afi.IPv4 && afiOf(attrs.nextHop) === Afi.IPv6;
  if (afiOf(attrs.nextHop) !== afi && !v4OverV6)
    throw new RangeError(`next hop ${attrs.nextHop} is not of the prefixes' family`);
  if (attrs.localPref !== undefined && !ctx.ibgp)
    throw new RangeError(`LOCAL_PREF ${attrs.localPref} is for iBGP sessions only (RFC 4271 §5.1.5)`);
  const segments: AsPathSegment[] =
    attrs.asPath.length > 0 ? [{ type: 'AS_SEQUENCE', asns: [...attrs.asPath] }] : [];
  const attributes: PathAttribute[] = [];
  if (afi === Afi.IPv6 || v4OverV6) {
    attributes.push({
      type: 'MP_REACH_NLRI',
      afi,
      safi: Safi.Unicast,
      nextHop: attrs.nextHop,
      ...(attrs.linkLocalNextHop !== undefined ? { linkLocalNextHop: attrs.linkLocalNextHop } : {}),
      nlri: [...prefixes],
    });
  }
  attributes.push({ type: 'ORIGIN', origin: attrs.origin ?? 'IGP' });
  let as4Path: AsPathSegment[] | undefined;
  if (ctx.fourOctetAs) attributes.push({ type: 'AS_PATH', segments });
  else {
    const d = downgradeAsPath(segments);
    attributes.push({ type: 'AS_PATH', segments: d.asPath });
    as4Path = d.as4Path;
  }
  if (afi === Afi.IPv4 && !v4OverV6) attributes.push({ type: 'NEXT_HOP', nextHop: attrs.nextHop });
  if (attrs.med !== undefined) attributes.push({ type: 'MULTI_EXIT_DISC', med: attrs.med });
  if (attrs.localPref !== undefined) attributes.push({ type: 'LOCAL_PREF', localPref: attrs.localPref });
  if (attrs.communities?.length)
    attributes.push({ type: 'COMMUNITIES', communities: [...attrs.communities] });
  if (attrs.extendedCommunities?.length)
    attributes.push({ type: 'EXTENDED_COMMUNITIES', communities: [...attrs.extendedCommunities] });
  if (as4Path) attributes.push({ type: 'AS4_PATH', segments: as4Path });
  if (attrs.largeCommunities?.length)
    attributes.push({ type: 'LARGE_COMMUNITY', communities: [...attrs.largeCommunities] });
  return {
    type: 'update',
    withdrawnRoutes: [],
    attributes,
    nlri: afi === Afi.IPv4 && !v4OverV6 ? [...prefixes] : [],
  };
}

/** An UPDATE withdrawing `prefixes` (one family): Withdrawn Routes for IPv4, MP_UNREACH_NLRI for IPv6. */
export function withdrawUpdate(prefixes: readonly Prefix[]): UpdateMessage {
  if (prefixes.length === 0) throw new RangeError('withdrawUpdate needs at least one prefix');
  const afi = afiOf(prefixes[0]!.prefix);
  if (prefixes.some((p) => afiOf(p.prefix) !== afi))
    throw new RangeError('withdrawUpdate prefixes must all be IPv4 or all IPv6');
  if (afi === Afi.IPv4) return { type: 'update', withdrawnRoutes: [...prefixes], attributes: [], nlri: [] };
  return {
    type: 'update',
    withdrawnRoutes: [],
    attributes: [{ type: 'MP_UNREACH_NLRI', afi, safi: Safi.Unicast, withdrawnRoutes: [...prefixes] }],
    nlri: [],
  };
}

/** Largest message the context allows (RFC 4271 §4.1; RFC 8654 with Extended Message). */
function maxMessageLength(ctx: CodecContext): number {
  return ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}

/** Attribute header size for a value of `n` bytes: 3, or 4 with Extended Length (n > 255). */
function attrHeader(n: number): number {
  return n > 255 ? 4 : 3;
}

/**
 * Splits `prefixes` into chunks whose UPDATE (`fixed` bytes of header and other attributes, plus the prefixes in an
 * NLRI-like field whose own size is `field(sum)`) stays within `max` bytes.
 */
function chunk(
  prefixes: readonly Prefix[],
  fixed: number,
  field: (sum: number) => number,
  max: number,
): Prefix[][] {
  const out: Prefix[][] = [];
  let cur: Prefix[] = [];
  let sum = 0;
  for (const p of prefixes) {
    const n = prefixLength(p);
    if (cur.length > 0 && fixed + field(sum + n) > max) {
      out.push(cur);
      cur = [];
      sum = 0;
    }
    if (fixed + field(n) > max)
      throw new RangeError(
        `attributes leave no room for prefix ${p.prefix}/${p.length} in a ${max}-byte UPDATE`,
      );
    cur.push(p);
    sum += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * routeUpdate for any number of prefixes of one family: as many UPDATEs as needed, each within 4096 bytes (65535
 * with Extended Message), packed greedily in the given order. Same errors as routeUpdate.
 */
export function routeUpdates(
  prefixes: readonly Prefix[],
  attrs: RouteAttributes,
  ctx: CodecContext,
): UpdateMessage[] {
  if (prefixes.length === 0) return [];
  const probe = routeUpdate(prefixes.slice(0, 1), attrs, ctx);
  const max = maxMessageLength(ctx);
  if (probe.nlri.length > 0) {
    const fixed = 19 + 4 + probe.attributes.reduce((n, a) => n + attributeLength(a, ctx), 0);
    return chunk(prefixes, fixed, (sum) => sum, max).map((c) => ({
      ...probe,
      attributes: probe.attributes,
      nlri: c,
    }));
  }
  const mp = findAttribute(probe.attributes, 'MP_REACH_NLRI')!;
  const others = probe.attributes.filter((a) => a.type !== 'MP_REACH_NLRI');
  const fixed = 19 + 4 + others.reduce((n, a) => n + attributeLength(a, ctx), 0);
  const mpBase = mpReachValueLengthOf(mp) - prefixLength(prefixes[0]!);
  return chunk(prefixes, fixed, (sum) => attrHeader(mpBase + sum) + mpBase + sum, max).map((c) => ({
    ...probe,
    attributes: [{ ...mp, nlri: c }, ...others],
  }));
}

/** withdrawUpdate for any number of prefixes of one family, split like routeUpdates. */
export function withdrawUpdates(prefixes: readonly Prefix[], ctx: CodecContext): UpdateMessage[] {
  if (prefixes.length === 0) return [];
  const max = maxMessageLength(ctx);
  const v4 = afiOf(prefixes[0]!.prefix) === Afi.IPv4;
  if (prefixes.some((p) => (afiOf(p.prefix) === Afi.IPv4) !== v4))
    throw new RangeError('withdrawUpdates prefixes must all be IPv4 or all IPv6');
  const field = v4 ? (sum: number) => sum : (sum: number) => attrHeader(3 + sum) + 3 + sum;
  return chunk(prefixes, 19 + 4, field, max).map((c) => withdrawUpdate(c));
}

/**
 * The UPDATE's real AS path: AS_PATH on a 4-octet AS session; on a 2-octet one, AS_PATH merged with AS4_PATH
 * (RFC 6793 §4.2.3). Undefined when the UPDATE has no AS_PATH.
 */
export function effectiveAsPath(m: UpdateMessage, ctx: CodecContext): AsPathSegment[] | undefined {
  const asPath = findAttribute(m.attributes, 'AS_PATH');
  if (!asPath) return undefined;
  if (ctx.fourOctetAs) return asPath.segments.map((s) => ({ type: s.type, asns: [...s.asns] }));
  return reconstructAsPath(asPath.segments, findAttribute(m.attributes, 'AS4_PATH')?.segments);
}
