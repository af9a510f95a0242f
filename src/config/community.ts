// BGP community values as MetalLB accepts them (MetalLB internal/bgp/community/community.go):
// `A:B` (RFC 1997, two uint16) or `large:X:Y:Z` (RFC 8092, three uint32). Anything else may be a Community alias.

export type CommunityValue =
  | { readonly kind: 'standard'; readonly high: number; readonly low: number }
  | { readonly kind: 'large'; readonly global: number; readonly local1: number; readonly local2: number };

export type CommunityResult =
  { ok: true; value: CommunityValue; text: string } | { ok: false; message: string };

/** Parses a literal community; the error text is MetalLB's (`invalid community value: ...`, `invalid community format: ...`). */
export function parseCommunity(c: string): CommunityResult {
  const fs = c.split(':');
  if (fs.length === 2) {
    const parts: number[] = [];
    for (const f of fs) {
      const e = parseUint(f, 16);
      if (typeof e === 'string')
        return {
          ok: false,
          message: `invalid community value: invalid section ${JSON.stringify(f)} of community ${JSON.stringify(c)}, err: ${e}`,
        };
      parts.push(e);
    }
    const value: CommunityValue = { kind: 'standard', high: parts[0]!, low: parts[1]! };
    return { ok: true, value, text: formatCommunity(value) };
  }
  if (fs.length === 4) {
    if (fs[0] !== 'large') {
      return {
        ok: false,
        message: `invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got ${JSON.stringify(c)} instead`,
      };
    }
    const parts: number[] = [];
    for (const f of fs.slice(1)) {
      const e = parseUint(f, 32);
      if (typeof e === 'string')
        return {
          ok: false,
          message: `invalid community value: invalid section ${JSON.stringify(f)} of community ${JSON.stringify(c)}, err: ${e}`,
        };
      parts.push(e);
    }
    const value: CommunityValue = { kind: 'large', global: parts[0]!, local1: parts[1]!, local2: parts[2]! };
    return { ok: true, value, text: formatCommunity(value) };
  }
  return { ok: false, message: `invalid community format: ${c}` };
}

/** Canonical text: `65000:100`, `large:64500:1:2`. */
export function formatCommunity(v: CommunityValue): string {
  return v.kind === 'standard' ? `${v.high}:${v.low}` : `large:${v.global}:${v.local1}:${v.local2}`;
}

/** Go strconv.ParseUint(s, 10, bits): the value, or Go's error text. */
function parseUint(s: string, bits: 16 | 32): number | string {
  if (!/^\d+$/.test(s)) return `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v > 2 ** bits - 1)
    return `strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`;
  return v;
}
