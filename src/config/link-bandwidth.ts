// berth.io/bgp-link-bandwidth on a BGPAdvertisement: opt-in link-bandwidth extended community
// (draft-ietf-idr-link-bandwidth §2) sized by the Service's ready endpoints (docs/bgp.md). Pure.

/** Bandwidth of one endpoint when the annotation gives no rate: 1 Gbit/s. */
export const DEFAULT_PER_ENDPOINT_BITS_PER_SECOND = 1e9;

/** The largest rate accepted (1 Pbit/s): the product stays far inside IEEE float32 bytes/s. */
const MAX_BITS_PER_SECOND = 1e15;

const UNITS: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

export type LinkBandwidthResult =
  { ok: true; perEndpointBitsPerSecond: number } | { ok: false; message: string };

/**
 * Parses the annotation value: `per-endpoint` (each ready endpoint counts 1 Gbit/s) or `per-endpoint:<rate>` with
 * `<rate>` a positive decimal number followed by `bps`, `kbps`/`Kbps`, `Mbps`, `Gbps` or `Tbps` (bits per second, SI
 * multiples), e.g. `per-endpoint:10Gbps`, `per-endpoint:2.5Gbps`. Never throws: a bad value yields a message naming
 * the value and the rule.
 */
export function parseLinkBandwidth(value: string): LinkBandwidthResult {
  const rule =
    'expected "per-endpoint" or "per-endpoint:<rate>" with <rate> like 100Mbps, 10Gbps (a positive number, then bps, kbps, Mbps, Gbps or Tbps)';
  const m = /^per-endpoint(?::(\d+(?:\.\d+)?)([kKMGT]?)bps)?$/.exec(
    typeof value === 'string' ? value.trim() : '',
  );
  if (!m) return { ok: false, message: `invalid link bandwidth ${JSON.stringify(value)}: ${rule}` };
  if (m[1] === undefined) return { ok: true, perEndpointBitsPerSecond: DEFAULT_PER_ENDPOINT_BITS_PER_SECOND };
  const bits = Number(m[1]) * UNITS[m[2] ?? '']!;
  if (!(bits > 0) || bits > MAX_BITS_PER_SECOND) {
    return {
      ok: false,
      message: `invalid link bandwidth ${JSON.stringify(value)}: the rate must be above 0 and at most 1000Tbps`,
    };
  }
  return { ok: true, perEndpointBitsPerSecond: bits };
}
