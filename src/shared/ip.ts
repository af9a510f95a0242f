// IP parsing and arithmetic on bigint (IPv4 and IPv6), parsed and formatted with ipaddr.js.
// Pure: no I/O. Used by the allocator, the config validator and the claim naming.
import ipaddr from 'ipaddr.js';

export type Family = 'IPv4' | 'IPv6';

/** An inclusive address range [first, last] of one family. */
export interface IpRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

export const FAMILY_BITS: Record<Family, number> = { IPv4: 32, IPv6: 128 };

/**
 * IPv4 in canonical dotted decimal (four parts 0-255, no leading zeros): exactly the strings ipaddr.js's
 * isValidFourPartDecimal accepts without surrounding space, and their own canonical text. The fast path of parseIp,
 * canonicalIp and familyOf: the controller and the webhook ask these of the same few IPs per Service again and again
 * (issue 12: ipaddr.js's parse was ~8 % of a controller restart at 10,000 Services).
 */
const CANONICAL_V4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function canonicalV4Value(s: string): bigint {
  let v = 0;
  for (const part of s.split('.')) v = v * 256 + Number(part);
  return BigInt(v);
}

/** Parses one IP in canonical or non-canonical text; undefined when it is not an IP. IPv4-mapped IPv6 stays IPv6. */
export function parseIp(text: string): { family: Family; value: bigint } | undefined {
  if (CANONICAL_V4.test(text)) return { family: 'IPv4', value: canonicalV4Value(text) };
  const s = text.trim();
  if (s === '' || s.includes('/') || s.includes('%')) return undefined;
  // ipaddr.isValid accepts forms like "10" or "0x0a.1"; require the four-part decimal form for IPv4.
  // (Only without ':': on an IPv6 text ipaddr.js would build and throw an error, most of the cost of a first plan.)
  if (!s.includes(':') && ipaddr.IPv4.isValidFourPartDecimal(s)) {
    const bytes = ipaddr.IPv4.parse(s).toByteArray();
    return { family: 'IPv4', value: bytesToBig(bytes) };
  }
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) {
    const bytes = ipaddr.IPv6.parse(s).toByteArray();
    return { family: 'IPv6', value: bytesToBig(bytes) };
  }
  return undefined;
}

/** Canonical text of an address: dotted decimal, or RFC 5952 for IPv6. */
export function formatIp(family: Family, value: bigint): string {
  if (family === 'IPv4') {
    return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
  }
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return new ipaddr.IPv6(bytes).toRFC5952String();
}

/** Canonical form of an IP string, or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  if (CANONICAL_V4.test(text)) return text;
  const p = parseIp(text);
  return p ? formatIp(p.family, p.value) : undefined;
}

export function familyOf(text: string): Family | undefined {
  if (CANONICAL_V4.test(text)) return 'IPv4';
  return parseIp(text)?.family;
}

/** Parses `a.b.c.d/n` or `x::/n`; host bits are cleared (MetalLB normalises `10.20.30.40/24` to `10.20.30.0/24`). */
export function parseCidr(text: string): (IpRange & { prefix: number }) | undefined {
  const s = text.trim();
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  const bits = FAMILY_BITS[ip.family];
  if (prefix > bits) return undefined;
  const host = BigInt(bits - prefix);
  const first = (ip.value >> host) << host;
  const last = first + (1n << host) - 1n;
  return { family: ip.family, first, last, prefix };
}

/** Text of a CIDR. */
export function formatCidr(family: Family, first: bigint, prefix: number): string {
  return `${formatIp(family, first)}/${prefix}`;
}

/** Number of addresses in a range. */
export function rangeSize(r: IpRange): bigint {
  return r.last - r.first + 1n;
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/**
 * Splits [first, last] into the minimal list of covering CIDRs, ascending (Go's ipaddr.Summarize, which MetalLB
 * uses for `a-b` ranges). Never materialises the addresses.
 */
export function summarizeRange(r: IpRange): Array<IpRange & { prefix: number }> {
  const bits = FAMILY_BITS[r.family];
  const out: Array<IpRange & { prefix: number }> = [];
  let cur = r.first;
  while (cur <= r.last) {
    // largest block aligned at cur that fits
    let size = 0;
    while (size < bits && ((cur >> BigInt(size)) & 1n) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= r.last) {
      size++;
    }
    const last = cur + (1n << BigInt(size)) - 1n;
    out.push({ family: r.family, first: cur, last, prefix: bits - size });
    cur = last + 1n;
  }
  return out;
}

function bytesToBig(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}
