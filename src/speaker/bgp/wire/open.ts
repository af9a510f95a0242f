// OPEN message (RFC 4271 §4.2) with Capabilities Optional Parameters (RFC 5492 §4) and the RFC 9072 extended
// Optional Parameters Length (decoded only; berth never needs more than 255 bytes).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+
//   |    Version    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     My Autonomous System      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Hold Time           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         BGP Identifier                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Opt Parm Len  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |             Optional Parameters (variable)                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Optional Parameter: Parm. Type (1) | Parm. Length (1) | Parameter Value (variable)
import ipaddr from 'ipaddr.js';
import { AS_TRANS, BGP_VERSION, OpenSubcode, OptionalParameterType } from './constants.ts';
import { openError } from './errors.ts';
import {
  type AfiSafi,
  type Capability,
  capabilityLength,
  decodeCapabilities,
  encodeCapability,
} from './capabilities.ts';

export interface OpenMessage {
  type: 'open';
  /** Always 4 (decode refuses others). */
  version: number;
  /** The 2-octet "My Autonomous System" field: the ASN, or AS_TRANS (23456) when the ASN needs 4 octets. */
  myAutonomousSystem: number;
  /** Seconds; 0 or 3-65535 (RFC 4271 §4.2). */
  holdTime: number;
  /** Dotted-quad BGP Identifier (router ID). */
  bgpIdentifier: string;
  capabilities: Capability[];
}

/**
 * Builds an OPEN for `asn` (1-4294967295): My Autonomous System is AS_TRANS when the ASN exceeds 65535, and the
 * 4-octet AS capability is added when missing (RFC 6793 §3). Throws RangeError naming a bad value.
 */
export function newOpen(o: {
  asn: number;
  holdTime: number;
  bgpIdentifier: string;
  capabilities?: Capability[];
}): OpenMessage {
  if (!Number.isInteger(o.asn) || o.asn < 1 || o.asn > 0xffffffff)
    throw new RangeError(`ASN ${o.asn} must be an integer 1-4294967295`);
  const capabilities = [...(o.capabilities ?? [])];
  if (!capabilities.some((c) => c.type === 'four-octet-as'))
    capabilities.push({ type: 'four-octet-as', asn: o.asn });
  const open: OpenMessage = {
    type: 'open',
    version: BGP_VERSION,
    myAutonomousSystem: o.asn > 0xffff ? AS_TRANS : o.asn,
    holdTime: o.holdTime,
    bgpIdentifier: o.bgpIdentifier,
    capabilities,
  };
  checkOpen(open);
  return open;
}

function checkOpen(m: OpenMessage): void {
  if (!Number.isInteger(m.myAutonomousSystem) || m.myAutonomousSystem < 0 || m.myAutonomousSystem > 0xffff) {
    throw new RangeError(
      `My Autonomous System ${m.myAutonomousSystem} must be 0-65535 (AS_TRANS ${AS_TRANS} for 4-octet ASNs)`,
    );
  }
  if (
    !Number.isInteger(m.holdTime) ||
    m.holdTime < 0 ||
    m.holdTime > 0xffff ||
    m.holdTime === 1 ||
    m.holdTime === 2
  ) {
    throw new RangeError(`hold time ${m.holdTime} must be 0 or 3-65535 seconds (RFC 4271 §4.2)`);
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(m.bgpIdentifier)) {
    throw new RangeError(
      `BGP Identifier ${JSON.stringify(m.bgpIdentifier)} must be a dotted-quad IPv4 address`,
    );
  }
}

/** Groups capabilities into Optional Parameters of at most 255 bytes each. */
function paramGroups(caps: readonly Capability[]): Capability[][] {
  const groups: Capability[][] = [];
  let cur: Capability[] = [];
  let size = 0;
  for (const c of caps) {
    const n = capabilityLength(c);
    if (size + n > 255 && cur.length > 0) {
      groups.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(c);
    size += n;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

function optParamsLength(m: OpenMessage): number {
  let n = 0;
  for (const g of paramGroups(m.capabilities)) n += 2 + g.reduce((s, c) => s + capabilityLength(c), 0);
  if (n > 255) throw new RangeError(`OPEN optional parameters take ${n} bytes, at most 255 without RFC 9072`);
  return n;
}

/** Body length of an OPEN (without the 19-byte header). */
export function openBodyLength(m: OpenMessage): number {
  return 10 + optParamsLength(m);
}

/** Writes the OPEN body at `offset`; returns the new offset. Bad fields throw RangeError naming them. */
export function encodeOpenBody(m: OpenMessage, buf: Buffer, offset: number): number {
  checkOpen(m);
  buf[offset] = m.version;
  buf.writeUInt16BE(m.myAutonomousSystem, offset + 1);
  buf.writeUInt16BE(m.holdTime, offset + 3);
  Buffer.from(ipaddr.IPv4.parse(m.bgpIdentifier).toByteArray()).copy(buf, offset + 5);
  buf[offset + 9] = optParamsLength(m);
  let p = offset + 10;
  for (const g of paramGroups(m.capabilities)) {
    buf[p] = OptionalParameterType.Capabilities;
    const lenAt = p + 1;
    p += 2;
    for (const c of g) p = encodeCapability(c, buf, p);
    buf[lenAt] = p - lenAt - 1;
  }
  return p;
}

/**
 * Decodes an OPEN body `buf[start, end)`. Throws BgpDecodeError (OPEN Message Error, session reset, RFC 4271 §6.2):
 * Unsupported Version Number (data: 0x0004) for a version other than 4; Unacceptable Hold Time for 1 or 2;
 * Bad BGP Identifier for 0.0.0.0 (RFC 6286 §2.2); Unsupported Optional Parameter for a parameter other than
 * Capabilities; Unspecific for lengths that disagree.
 */
export function decodeOpenBody(buf: Buffer, start: number, end: number): OpenMessage {
  if (end - start < 10)
    throw openError(OpenSubcode.Unspecific, `OPEN body is ${end - start} bytes, at least 10`);
  const version = buf[start]!;
  if (version !== BGP_VERSION) {
    throw openError(
      OpenSubcode.UnsupportedVersionNumber,
      `BGP version ${version} is not 4`,
      Buffer.from([0, BGP_VERSION]),
    );
  }
  const myAutonomousSystem = buf.readUInt16BE(start + 1);
  const holdTime = buf.readUInt16BE(start + 3);
  if (holdTime === 1 || holdTime === 2) {
    throw openError(
      OpenSubcode.UnacceptableHoldTime,
      `hold time ${holdTime} s is not 0 or at least 3 (RFC 4271 §6.2)`,
    );
  }
  const idBytes = [...buf.subarray(start + 5, start + 9)];
  if (idBytes.every((b) => b === 0))
    throw openError(OpenSubcode.BadBgpIdentifier, 'BGP Identifier 0.0.0.0 (RFC 6286 §2.2)');
  const bgpIdentifier = idBytes.join('.');
  let optLen = buf[start + 9]!;
  let p = start + 10;
  let extended = false;
  // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255 announces 2-byte lengths.
  if (optLen === 255 && end - p >= 3 && buf[p] === OptionalParameterType.ExtendedLength) {
    extended = true;
    optLen = buf.readUInt16BE(p + 1);
    p += 3;
  }
  if (p + optLen !== end) {
    throw openError(
      OpenSubcode.Unspecific,
      `Optional Parameters Length ${optLen} does not match the ${end - p} bytes left in the OPEN`,
    );
  }
  const capabilities: Capability[] = [];
  const hdr = extended ? 3 : 2;
  while (p < end) {
    if (end - p < hdr)
      throw openError(
        OpenSubcode.Unspecific,
        `optional parameter header at offset ${p - start} is truncated`,
      );
    const type = buf[p]!;
    const len = extended ? buf.readUInt16BE(p + 1) : buf[p + 1]!;
    const v = p + hdr;
    if (v + len > end)
      throw openError(
        OpenSubcode.Unspecific,
        `optional parameter ${type} of length ${len} runs past the OPEN`,
      );
    if (type !== OptionalParameterType.Capabilities) {
      throw openError(
        OpenSubcode.UnsupportedOptionalParameter,
        `optional parameter type ${type} is not Capabilities (2)`,
      );
    }
    capabilities.push(...decodeCapabilities(buf, v, v + len));
    p = v + len;
  }
  return { type: 'open', version, myAutonomousSystem, holdTime, bgpIdentifier, capabilities };
}

/** The sender's ASN: the 4-octet AS capability's when present (RFC 6793 §4.1), else My Autonomous System. */
export function openAsn(m: OpenMessage): number {
  const c = m.capabilities.find((x) => x.type === 'four-octet-as');
  return c?.type === 'four-octet-as' ? c.asn : m.myAutonomousSystem;
}

/** What two OPENs agree on (the session applies it). */
export interface Negotiated {
  /** min of both hold times, seconds (RFC 4271 §4.2); 0 = no keepalives, no hold timer. */
  holdTime: number;
  /** holdTime / 3 rounded down (RFC 4271 §10 suggestion), 0 when holdTime is 0. */
  keepaliveTime: number;
  /** Both sides sent the 4-octet AS capability (RFC 6793 §4). */
  fourOctetAs: boolean;
  /** Families both sides advertised with Multiprotocol; IPv4 unicast when neither sent any (RFC 4760 §8). */
  families: AfiSafi[];
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /** The peer's Graceful Restart capability, when it sent one and we did too (RFC 4724 §3). */
  peerGracefulRestart: Extract<Capability, { type: 'graceful-restart' }> | undefined;
}

/** Negotiates the session parameters from our OPEN and the peer's. */
export function negotiate(local: OpenMessage, remote: OpenMessage): Negotiated {
  const has = (m: OpenMessage, t: Capability['type']) => m.capabilities.some((c) => c.type === t);
  const mp = (m: OpenMessage) =>
    m.capabilities.flatMap((c) => (c.type === 'multiprotocol' ? [{ afi: c.afi, safi: c.safi }] : []));
  const lf = mp(local);
  const rf = mp(remote);
  const families =
    lf.length === 0 && rf.length === 0
      ? [{ afi: 1, safi: 1 }]
      : lf.filter((a) => rf.some((b) => a.afi === b.afi && a.safi === b.safi));
  const holdTime = Math.min(local.holdTime, remote.holdTime);
  const gr = remote.capabilities.find((c) => c.type === 'graceful-restart');
  return {
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    fourOctetAs: has(local, 'four-octet-as') && has(remote, 'four-octet-as'),
    families,
    routeRefresh: has(local, 'route-refresh') && has(remote, 'route-refresh'),
    enhancedRouteRefresh: has(local, 'enhanced-route-refresh') && has(remote, 'enhanced-route-refresh'),
    peerGracefulRestart: gr?.type === 'graceful-restart' && has(local, 'graceful-restart') ? gr : undefined,
  };
}
