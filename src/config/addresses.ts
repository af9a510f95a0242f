// One `addresses` entry of an IPAddressPool → CIDRs (MetalLB internal/config/config.go `ParseCIDR`):
// an entry with a `-` is a range `start-end` (each side trimmed) summarised into the minimal covering CIDRs
// (Go's ipaddr.Summarize); otherwise it must be a CIDR (net.ParseCIDR: no spaces; host bits are cleared).
import { formatCidr, formatIp, parseCidr, parseIp, summarizeRange, type IpRange } from '../shared/ip.ts';

export interface Cidr extends IpRange {
  readonly prefix: number;
  /** Canonical text, e.g. `192.168.1.240/29`. */
  readonly text: string;
}

export type AddressResult =
  | { ok: true; kind: 'cidr' | 'range'; cidrs: Cidr[] }
  | { ok: false; code: 'LB_BAD_CIDR' | 'LB_BAD_RANGE'; message: string };

export function parseAddressEntry(entry: string): AddressResult {
  const q = JSON.stringify;
  if (!entry.includes('-')) {
    const c = entry === entry.trim() ? parseCidr(entry) : undefined;
    if (!c) return { ok: false, code: 'LB_BAD_CIDR', message: `invalid CIDR ${q(entry)}` };
    return { ok: true, kind: 'cidr', cidrs: [{ ...c, text: formatCidr(c.family, c.first, c.prefix) }] };
  }
  const dash = entry.indexOf('-');
  const startText = entry.slice(0, dash);
  const endText = entry.slice(dash + 1);
  const start = parseIp(startText.trim());
  if (!start)
    return {
      ok: false,
      code: 'LB_BAD_RANGE',
      message: `invalid IP range ${q(entry)}: invalid start IP ${q(startText)}`,
    };
  const end = parseIp(endText.trim());
  if (!end)
    return {
      ok: false,
      code: 'LB_BAD_RANGE',
      message: `invalid IP range ${q(entry)}: invalid end IP ${q(endText)}`,
    };
  const a = formatIp(start.family, start.value);
  const b = formatIp(end.family, end.value);
  if (start.family !== end.family) {
    return {
      ok: false,
      code: 'LB_BAD_RANGE',
      message: `invalid IP range ${q(entry)}: start IP ${q(a)} and end IP ${q(b)} are not of the same IP family`,
    };
  }
  if (start.value > end.value) {
    return {
      ok: false,
      code: 'LB_BAD_RANGE',
      message: `invalid IP range ${q(entry)}: start IP ${q(a)} is after the end IP ${q(b)}`,
    };
  }
  const cidrs = summarizeRange({ family: start.family, first: start.value, last: end.value }).map((c) => ({
    ...c,
    text: formatCidr(c.family, c.first, c.prefix),
  }));
  return { ok: true, kind: 'range', cidrs };
}

/** Smallest prefix length among the CIDRs (the largest block), as MetalLB `lowestMask`. */
export function lowestPrefix(cidrs: readonly Cidr[]): number | undefined {
  let low: number | undefined;
  for (const c of cidrs) if (low === undefined || c.prefix < low) low = c.prefix;
  return low;
}
