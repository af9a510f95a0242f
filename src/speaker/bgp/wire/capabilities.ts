// Capabilities advertised in OPEN (RFC 5492 §4): a list of Code / Length / Value triples inside Optional Parameters
// of type 2.
//
//   +------------------------------+
//   | Capability Code (1 octet)    |
//   +------------------------------+
//   | Capability Length (1 octet)  |
//   +------------------------------+
//   | Capability Value (variable)  |
//   +------------------------------+
//
// Known values: Multiprotocol (RFC 4760 §8: AFI 2, Reserved 1, SAFI 1), Route Refresh (RFC 2918, empty),
// Graceful Restart (RFC 4724 §3: Restart Flags 4 bits | Restart Time 12 bits, then AFI 2 / SAFI 1 / Flags 1 per
// family), 4-octet AS (RFC 6793 §3: the 4-byte ASN), Enhanced Route Refresh (RFC 7313, empty). Anything else (FQDN,
// ADD-PATH, extended message, long-lived GR, ...) is kept raw as `unknown`.
import { CapabilityCode, OpenSubcode } from './constants.ts';
import { openError } from './errors.ts';

export interface AfiSafi {
  afi: number;
  safi: number;
}

export interface GracefulRestartFamily extends AfiSafi {
  /** F bit (RFC 4724 §3): forwarding state for this family was preserved across the restart. */
  forwardingState: boolean;
}

export type Capability =
  | ({ type: 'multiprotocol' } & AfiSafi)
  | { type: 'route-refresh' }
  | {
      type: 'graceful-restart';
      /** R bit (RFC 4724 §3): the sender has restarted. */
      restartState: boolean;
      /** N bit (RFC 8538 §2): the sender supports graceful NOTIFICATION handling. */
      notification: boolean;
      /** Seconds (0-4095) the peer should keep our routes after the session drops. */
      restartTime: number;
      families: GracefulRestartFamily[];
    }
  | { type: 'four-octet-as'; asn: number }
  | { type: 'enhanced-route-refresh' }
  | { type: 'unknown'; code: number; value: Buffer };

const GR_RESTART_STATE = 0x8;
const GR_NOTIFICATION = 0x4;
const GR_FORWARDING_STATE = 0x80;

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new RangeError(`${name} ${v} must be an integer 0-${max}`);
}

/** Bytes of the capability's value (without its 2-byte code/length header). */
function valueLength(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol':
      return 4;
    case 'route-refresh':
    case 'enhanced-route-refresh':
      return 0;
    case 'graceful-restart':
      return 2 + 4 * c.families.length;
    case 'four-octet-as':
      return 4;
    case 'unknown':
      return c.value.length;
  }
}

/** Bytes the capability takes: 2 + value. Throws RangeError when the value exceeds 255 bytes. */
export function capabilityLength(c: Capability): number {
  const n = valueLength(c);
  if (n > 255) throw new RangeError(`capability ${c.type} value is ${n} bytes, at most 255`);
  return 2 + n;
}

/** The Capability Code of `c`. */
export function capabilityCode(c: Capability): number {
  switch (c.type) {
    case 'multiprotocol':
      return CapabilityCode.Multiprotocol;
    case 'route-refresh':
      return CapabilityCode.RouteRefresh;
    case 'enhanced-route-refresh':
      return CapabilityCode.EnhancedRouteRefresh;
    case 'graceful-restart':
      return CapabilityCode.GracefulRestart;
    case 'four-octet-as':
      return CapabilityCode.FourOctetAs;
    case 'unknown':
      return c.code;
  }
}

/** Writes one capability at `offset`; returns the new offset. Out-of-range fields throw RangeError naming them. */
export function encodeCapability(c: Capability, buf: Buffer, offset: number): number {
  const len = capabilityLength(c) - 2;
  buf[offset] = capabilityCode(c);
  buf[offset + 1] = len;
  let p = offset + 2;
  switch (c.type) {
    case 'multiprotocol':
      checkUint('AFI', c.afi, 0xffff);
      checkUint('SAFI', c.safi, 0xff);
      buf.writeUInt16BE(c.afi, p);
      buf[p + 2] = 0; // Reserved
      buf[p + 3] = c.safi;
      p += 4;
      break;
    case 'graceful-restart': {
      checkUint('graceful restart time', c.restartTime, 0xfff);
      const flags = (c.restartState ? GR_RESTART_STATE : 0) | (c.notification ? GR_NOTIFICATION : 0);
      buf.writeUInt16BE((flags << 12) | c.restartTime, p);
      p += 2;
      for (const f of c.families) {
        checkUint('AFI', f.afi, 0xffff);
        checkUint('SAFI', f.safi, 0xff);
        buf.writeUInt16BE(f.afi, p);
        buf[p + 2] = f.safi;
        buf[p + 3] = f.forwardingState ? GR_FORWARDING_STATE : 0;
        p += 4;
      }
      break;
    }
    case 'four-octet-as':
      checkUint('ASN', c.asn, 0xffffffff);
      buf.writeUInt32BE(c.asn, p);
      p += 4;
      break;
    case 'unknown':
      checkUint('capability code', c.code, 0xff);
      c.value.copy(buf, p);
      p += c.value.length;
      break;
    case 'route-refresh':
    case 'enhanced-route-refresh':
      break;
  }
  return p;
}

/**
 * Decodes the capabilities in `buf[start, end)` (the value of one Capabilities Optional Parameter). A capability
 * running past `end` or a known capability with the wrong length throws BgpDecodeError (OPEN Message Error,
 * subcode 0 Unspecific: RFC 4271 §6.2 "recognized but malformed"; session reset).
 */
export function decodeCapabilities(buf: Buffer, start: number, end: number): Capability[] {
  const out: Capability[] = [];
  let p = start;
  while (p < end) {
    if (end - p < 2) throw openError(OpenSubcode.Unspecific, `capability header at offset ${p} is truncated`);
    const code = buf[p]!;
    const len = buf[p + 1]!;
    const v = p + 2;
    if (v + len > end)
      throw openError(
        OpenSubcode.Unspecific,
        `capability ${code} of length ${len} runs past its optional parameter`,
      );
    const bad = (rule: string) =>
      openError(
        OpenSubcode.Unspecific,
        `capability ${code} has length ${len}: ${rule}`,
        Buffer.from(buf.subarray(p, v + len)),
      );
    switch (code) {
      case CapabilityCode.Multiprotocol:
        if (len !== 4) throw bad('Multiprotocol is 4 bytes (RFC 4760 §8)');
        out.push({ type: 'multiprotocol', afi: buf.readUInt16BE(v), safi: buf[v + 3]! });
        break;
      case CapabilityCode.RouteRefresh:
        if (len !== 0) throw bad('Route Refresh is empty (RFC 2918 §2)');
        out.push({ type: 'route-refresh' });
        break;
      case CapabilityCode.EnhancedRouteRefresh:
        if (len !== 0) throw bad('Enhanced Route Refresh is empty (RFC 7313 §3)');
        out.push({ type: 'enhanced-route-refresh' });
        break;
      case CapabilityCode.FourOctetAs:
        if (len !== 4) throw bad('4-octet AS is 4 bytes (RFC 6793 §3)');
        out.push({ type: 'four-octet-as', asn: buf.readUInt32BE(v) });
        break;
      case CapabilityCode.GracefulRestart: {
        if (len < 2 || (len - 2) % 4 !== 0) throw bad('Graceful Restart is 2 + 4n bytes (RFC 4724 §3)');
        const word = buf.readUInt16BE(v);
        const flags = word >> 12;
        const families: GracefulRestartFamily[] = [];
        for (let f = v + 2; f < v + len; f += 4) {
          families.push({
            afi: buf.readUInt16BE(f),
            safi: buf[f + 2]!,
            forwardingState: (buf[f + 3]! & GR_FORWARDING_STATE) !== 0,
          });
        }
        out.push({
          type: 'graceful-restart',
          restartState: (flags & GR_RESTART_STATE) !== 0,
          notification: (flags & GR_NOTIFICATION) !== 0,
          restartTime: word & 0xfff,
          families,
        });
        break;
      }
      default:
        out.push({ type: 'unknown', code, value: Buffer.from(buf.subarray(v, v + len)) });
    }
    p = v + len;
  }
  return out;
}

/**
 * The FQDN capability's names (draft-walton-bgp-hostname-capability §3: Hostname Length, Hostname, Domain Name
 * Length, Domain Name), or undefined when `c` is not a well-formed FQDN capability. GoBGP and FRR send it.
 */
export function fqdnOf(c: Capability): { hostname: string; domainName: string } | undefined {
  if (c.type !== 'unknown' || c.code !== CapabilityCode.Fqdn || c.value.length < 1) return undefined;
  const h = c.value[0]!;
  if (1 + h + 1 > c.value.length) return undefined;
  const d = c.value[1 + h]!;
  if (2 + h + d > c.value.length) return undefined;
  return {
    hostname: c.value.subarray(1, 1 + h).toString('utf8'),
    domainName: c.value.subarray(2 + h, 2 + h + d).toString('utf8'),
  };
}
