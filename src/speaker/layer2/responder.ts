// The pure layer-2 responder: one received Ethernet frame + this link's state → a reply frame, a claim on a watched
// IP by another host, or a counted drop. Also builds the frames the announcer sends on its own (gratuitous ARP,
// unsolicited NA, RFC 5227 ARP probe, RFC 4862 DAD probe). No sockets, no timers.
// MetalLB reference: internal/layer2/arp.go (processRequest), ndp.go (handleNS), announcer.go (dropReason).
import ipaddr from 'ipaddr.js';
import { ARP_REPLY, ARP_REQUEST, arpPacket, type ArpPacket } from './arp.ts';
import {
  BROADCAST_MAC,
  L2DecodeError,
  ZERO_MAC,
  macToBuffer,
  macToString,
  type DropReason,
} from './errors.ts';
import { ETHERNET_HEADER_LENGTH, ETHERTYPE_ARP, ETHERTYPE_IPV6, ethernetHeader } from './ethernet.ts';
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT,
  ICMPV6_NEIGHBOR_SOLICITATION,
  IPV6_HEADER_LENGTH,
  NDP_HOP_LIMIT,
  NEXT_HEADER_ICMPV6,
  ipv6Bytes,
  ipv6MulticastMac,
  linkLayerOption,
  ndpPacket,
  readIpv6,
  solicitedNodeAddress,
  type NdpPacket,
} from './ndp.ts';

export { DROP_REASONS, L2DecodeError, type DropReason } from './errors.ts';

/** What one link answers for. */
export interface ResponderState {
  /** This link's MAC (6 bytes). */
  mac: Buffer;
  /** IPs (canonical text) this link answers ARP/NS for. */
  announced: ReadonlySet<string>;
  /** IPs probed or announced here: another host claiming one of them is reported as a `claim`. */
  watched: ReadonlySet<string>;
}

export type ResponderResult =
  | { kind: 'reply'; ip: string; frame: Buffer; requester: { mac: string; ip: string } }
  | { kind: 'claim'; ip: string; mac: string }
  | { kind: 'drop'; reason: DropReason; ip?: string }
  | { kind: 'ignore' };

const ALL_NODES = 'ff02::1';

function drop(reason: DropReason, ip?: string): ResponderResult {
  return ip === undefined ? { kind: 'drop', reason } : { kind: 'drop', reason, ip };
}

/**
 * Decides what to do with one received frame (whole Ethernet frame, as AF_PACKET delivers it). Never throws: a
 * frame that cannot be decoded is a `drop` with the decoder's reason.
 *
 * ARP (RFC 826, MetalLB arp.go): a request whose Ethernet destination is broadcast or our MAC and whose target IP
 * is announced gets a reply from our MAC to the requester. An ARP request or reply whose sender IP is watched and
 * whose sender MAC is not ours is a `claim` (RFC 5227 §2.1.1 / §2.4), and so is an ARP probe (sender IP 0.0.0.0)
 * for a watched target that is not announced yet (two hosts probing at once); a probe for an announced IP is
 * answered instead, which defends it (the prober then gives the IP up).
 *
 * NDP (RFC 4861, MetalLB ndp.go): packets are validated per §7.1 first (hop limit 255, checksum, code 0, length).
 * An NS for an announced target gets a solicited NA (S=1, O=0, Target Link-Layer Address = our MAC, IPv6 source =
 * the target: Debian's ndisc6 1.0.5 checks it) sent to the NS source at the SLLA's MAC; an NS without SLLA is
 * answered only when it is a unicast NUD probe (IPv6 destination = target, Ethernet destination = our MAC: reply to
 * the frame's source MAC), else dropped `no-source-link-layer`. A DAD NS (source ::) for an announced target is
 * defended with an NA to ff02::1 (S=0, O=1; RFC 4861 §7.2.4); for a watched, not announced target it is a
 * `claim`. An NA for a watched target whose TLLA (else the frame's source MAC) is not ours is a `claim`.
 * IPv6 frames that are not ICMPv6 NS/NA (all other IPv6 traffic on the link) are `ignore`, not drops.
 */
export function respond(frame: Buffer, state: ResponderState): ResponderResult {
  try {
    return fastArpReply(frame, state) ?? fastNdpReply(frame, state) ?? respondUnsafe(frame, state);
  } catch (e) {
    if (e instanceof L2DecodeError) return drop(e.reason);
    return drop('malformed');
  }
}

/**
 * The same decision as respond() without its ARP and NDP fast paths (for tests that compare them).
 * @internal
 */
export function respondWithoutFastPath(frame: Buffer, state: ResponderState): ResponderResult {
  try {
    return respondUnsafe(frame, state);
  } catch (e) {
    if (e instanceof L2DecodeError) return drop(e.reason);
    return drop('malformed');
  }
}

const IGNORE: ResponderResult = Object.freeze({ kind: 'ignore' });

// Bytes 14..21 of an Ethernet/IPv4 ARP request: htype 1, ptype 0x0800, hln 6, pln 4, oper 1 (RFC 826).
const ARP_REQUEST_HEAD = Buffer.from('0001080006040001', 'hex');
const ARP_REPLY_HEAD = Buffer.from('0001080006040002', 'hex');
const ETHERTYPE_ARP_BYTES = Buffer.from('0806', 'hex');

function ipv4At(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

function isBroadcastAt(buf: Buffer, offset: number): boolean {
  for (let i = 0; i < 6; i++) if (buf[offset + i] !== 0xff) return false;
  return true;
}

/**
 * The hot cases on a busy segment, decided on raw bytes without building header objects or MAC texts: a well-formed
 * Ethernet/IPv4 ARP request (not a probe), to broadcast or our MAC, from another host whose IP we do not watch, for
 * an announced IP (a reply byte-for-byte the one respondArp builds) or for an IP we do not watch (ignored). Anything
 * else returns undefined and takes the general path, which decides and counts it. The addon's native ARP answer
 * (PacketSocket.setArpAnswers, native/src/packet_socket.cc ArpAnswer) takes exactly these decisions: a test compares
 * the two on mutated frames over loopback.
 * @internal
 */
export function fastArpReply(frame: Buffer, state: ResponderState): ResponderResult | undefined {
  if (frame.length < ETHERNET_HEADER_LENGTH + 28 || frame[12] !== 0x08 || frame[13] !== 0x06)
    return undefined;
  if (frame.compare(ARP_REQUEST_HEAD, 0, 8, 14, 22) !== 0) return undefined;
  const mac = state.mac;
  // Ethernet source or ar$sha = ours (from-self), ar$spa 0.0.0.0 (probe) or watched (claim): general path.
  if (frame.compare(mac, 0, 6, 6, 12) === 0 || frame.compare(mac, 0, 6, 22, 28) === 0) return undefined;
  if (!isBroadcastAt(frame, 0) && frame.compare(mac, 0, 6, 0, 6) !== 0) return undefined;
  const spa = ipv4At(frame, 28);
  if (spa === '0.0.0.0' || state.watched.has(spa)) return undefined;
  const tpa = ipv4At(frame, 38);
  if (!state.announced.has(tpa)) return state.watched.has(tpa) ? undefined : IGNORE;
  const reply = Buffer.allocUnsafe(ETHERNET_HEADER_LENGTH + 28);
  frame.copy(reply, 0, 22, 28); // Ethernet destination: ar$sha
  mac.copy(reply, 6);
  ETHERTYPE_ARP_BYTES.copy(reply, 12);
  ARP_REPLY_HEAD.copy(reply, 14);
  mac.copy(reply, 22); // ar$sha: ours
  frame.copy(reply, 28, 38, 42); // ar$spa: the asked IP
  frame.copy(reply, 32, 22, 28); // ar$tha: the requester
  frame.copy(reply, 38, 28, 32); // ar$tpa: the requester's IP
  return { kind: 'reply', ip: tpa, frame: reply, requester: { mac: macToString(frame, 22), ip: spa } };
}

/** Canonical IPv6 texts of a set, by the hex of their 16 bytes (rebuilt when the set object or its size changes). */
const v6ByHex = new WeakMap<ReadonlySet<string>, { size: number; map: Map<string, string> }>();
function ipv6Index(set: ReadonlySet<string>): Map<string, string> {
  const hit = v6ByHex.get(set);
  if (hit && hit.size === set.size) return hit.map;
  const map = new Map<string, string>();
  for (const ip of set) if (ip.includes(':')) map.set(ipv6Bytes(ip).toString('hex'), ip);
  v6ByHex.set(set, { size: set.size, map });
  return map;
}

// Frame offsets of an Ethernet/IPv6/ICMPv6 NS with one option (RFC 4861 §4.3): 14 IPv6 header, 22 source,
// 38 destination, 54 ICMPv6 type, 56 checksum, 62 target, 78 first option (type, length, 6-byte MAC).
const NS_LENGTH = 14 + 40 + 32;

/**
 * The hot NDP case on raw bytes: a valid (RFC 4861 §7.1.1: hop limit 255, code 0, checksum, target not multicast)
 * Neighbor Solicitation of exactly 32 bytes whose one option is a Source Link-Layer Address, not from :: (DAD) and
 * not from our MAC, to the target's solicited-node group or (NUD) to the target itself, at the group's MAC or ours,
 * for an announced target (a solicited NA built in place, byte-for-byte the one naFrame builds) or for a target we
 * do not watch (ignored). Anything else returns undefined and takes the general path, which decides and counts it;
 * a property test checks the two agree on valid, mutated and random frames.
 * @internal
 */
export function fastNdpReply(frame: Buffer, state: ResponderState): ResponderResult | undefined {
  if (frame.length < NS_LENGTH || frame[12] !== 0x86 || frame[13] !== 0xdd) return undefined;
  // IPv6 version 6, payload length 32, next header 58, hop limit 255; ICMPv6 type 135 code 0; option SLLA length 1.
  if (frame[14]! >> 4 !== 6 || frame[18] !== 0 || frame[19] !== 32 || frame[20] !== NEXT_HEADER_ICMPV6) return undefined;
  if (frame[21] !== NDP_HOP_LIMIT || frame[54] !== ICMPV6_NEIGHBOR_SOLICITATION || frame[55] !== 0) return undefined;
  if (frame[78] !== 1 || frame[79] !== 1 || frame[62] === 0xff) return undefined;
  const mac = state.mac;
  if (frame.compare(mac, 0, 6, 6, 12) === 0) return undefined; // from-self
  let unspecified = true;
  for (let i = 22; i < 38; i++) if (frame[i] !== 0) unspecified = false;
  if (unspecified) return undefined; // DAD
  // Destination: the target's solicited-node group ff02::1:ffXX:XXXX, or the target (unicast NUD).
  const toGroup =
    frame.readUInt32BE(38) === 0xff020000 &&
    frame.readUInt32BE(42) === 0 &&
    frame.readUInt32BE(46) === 1 &&
    frame[50] === 0xff &&
    frame[51] === frame[75] &&
    frame[52] === frame[76] &&
    frame[53] === frame[77];
  if (!toGroup && frame.compare(frame, 62, 78, 38, 54) !== 0) return undefined;
  const toGroupMac =
    frame[0] === 0x33 &&
    frame[1] === 0x33 &&
    frame[2] === 0xff &&
    frame[3] === frame[75] &&
    frame[4] === frame[76] &&
    frame[5] === frame[77];
  if (!toGroupMac && frame.compare(mac, 0, 6, 0, 6) !== 0) return undefined;
  if (checksum(frame, 22, 54, 54, 86, 32) !== 0) return undefined;
  const key = frame.toString('hex', 62, 78);
  const target = ipv6Index(state.announced).get(key);
  if (target === undefined) return ipv6Index(state.watched).has(key) ? undefined : IGNORE;
  const na = Buffer.allocUnsafe(NS_LENGTH);
  frame.copy(na, 0, 80, 86); // Ethernet destination: the SLLA
  mac.copy(na, 6);
  na[12] = 0x86;
  na[13] = 0xdd;
  na.writeUInt32BE(0x60000000, 14); // version 6, traffic class 0, flow label 0
  na.writeUInt16BE(32, 18);
  na[20] = NEXT_HEADER_ICMPV6;
  na[21] = NDP_HOP_LIMIT;
  frame.copy(na, 22, 62, 78); // IPv6 source: the target
  frame.copy(na, 38, 22, 38); // IPv6 destination: the solicitation's source
  na[54] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  na[55] = 0;
  na.writeUInt16BE(0, 56);
  na.writeUInt32BE(0x40000000, 58); // R=0 S=1 O=0
  frame.copy(na, 62, 62, 78);
  na[78] = 2; // Target Link-Layer Address, length 1 (8 bytes)
  na[79] = 1;
  mac.copy(na, 80);
  na.writeUInt16BE(checksum(na, 22, 54, 54, 86, 32), 56);
  return {
    kind: 'reply',
    ip: target,
    frame: na,
    requester: { mac: macToString(frame, 80), ip: readIpv6(frame, 22) },
  };
}

/**
 * ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header (addresses at b[addrFrom..addrTo), upper-layer length,
 * next header 58) and the message b[msgFrom..msgTo) (even length); 0 when a received checksum is valid.
 */
function checksum(b: Buffer, addrFrom: number, addrTo: number, msgFrom: number, msgTo: number, length: number): number {
  let sum = length + NEXT_HEADER_ICMPV6;
  for (let i = addrFrom; i < addrTo; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  for (let i = msgFrom; i < msgTo; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function respondUnsafe(frame: Buffer, state: ResponderState): ResponderResult {
  const { value: eth } = ethernetHeader.decode(frame);
  const ourMac = macToString(state.mac);
  if (eth.ethertype === ETHERTYPE_ARP) {
    if (eth.source === ourMac) return drop('from-self');
    return respondArp(frame, eth.destination, ourMac, state);
  }
  if (eth.ethertype === ETHERTYPE_IPV6) {
    // Cheap peek first: only ICMPv6 NS/NA are decoded (AF_PACKET ETH_P_IPV6 sees all IPv6 traffic).
    const ip = ETHERNET_HEADER_LENGTH;
    if (frame.length >= ip + IPV6_HEADER_LENGTH + 1) {
      const icmpType = frame[ip + IPV6_HEADER_LENGTH];
      if (
        frame[ip + 6] !== NEXT_HEADER_ICMPV6 ||
        (icmpType !== ICMPV6_NEIGHBOR_SOLICITATION && icmpType !== ICMPV6_NEIGHBOR_ADVERTISEMENT)
      )
        return { kind: 'ignore' };
    }
    if (eth.source === ourMac) return drop('from-self');
    return respondNdp(frame, eth.destination, eth.source, ourMac, state);
  }
  return { kind: 'ignore' };
}

// Replies go to ar$sha as RFC 826 says (on a sane network it equals the Ethernet source).
function respondArp(frame: Buffer, ethDst: string, ourMac: string, state: ResponderState): ResponderResult {
  const { value: arp } = arpPacket.decode(frame, ETHERNET_HEADER_LENGTH);
  const spa = arp.senderProtocolAddress;
  const tpa = arp.targetProtocolAddress;
  const sha = arp.senderHardwareAddress;
  if (sha === ourMac) return drop('from-self');
  if (spa !== '0.0.0.0' && state.watched.has(spa)) return { kind: 'claim', ip: spa, mac: sha };
  if (arp.operation !== ARP_REQUEST) return drop('not-request');
  if (spa === '0.0.0.0' && state.watched.has(tpa) && !state.announced.has(tpa))
    return { kind: 'claim', ip: tpa, mac: sha };
  if (ethDst !== BROADCAST_MAC && ethDst !== ourMac) return drop('wrong-destination', tpa);
  if (!state.announced.has(tpa))
    return state.watched.has(tpa) ? drop('not-announced', tpa) : { kind: 'ignore' };
  const reply: ArpPacket = {
    operation: ARP_REPLY,
    senderHardwareAddress: ourMac,
    senderProtocolAddress: tpa,
    targetHardwareAddress: sha,
    targetProtocolAddress: spa,
  };
  return { kind: 'reply', ip: tpa, frame: arpFrame(sha, state.mac, reply), requester: { mac: sha, ip: spa } };
}

function respondNdp(
  frame: Buffer,
  ethDst: string,
  ethSrc: string,
  ourMac: string,
  state: ResponderState,
): ResponderResult {
  const { value: pkt } = ndpPacket.decode(frame, ETHERNET_HEADER_LENGTH);
  const m = pkt.message;
  const target = m.target;
  if (m.type === 'neighbor-advertisement') {
    if (!state.watched.has(target)) return { kind: 'ignore' };
    const mac = linkLayerOption(m, 'target-link-layer-address') ?? ethSrc;
    if (mac === ourMac) return drop('from-self');
    return { kind: 'claim', ip: target, mac };
  }
  // Neighbor Solicitation.
  const dad = pkt.source === '::';
  if (dad && state.watched.has(target) && !state.announced.has(target))
    return { kind: 'claim', ip: target, mac: ethSrc };
  const solicitedGroup = solicitedNodeAddress(target);
  const unicastProbe = pkt.destination === target;
  if (pkt.destination !== solicitedGroup && !unicastProbe) return drop('wrong-destination', target);
  if (!(ethDst === ourMac || ethDst === ipv6MulticastMac(solicitedGroup)))
    return drop('wrong-destination', target);
  if (!state.announced.has(target))
    return state.watched.has(target) ? drop('not-announced', target) : { kind: 'ignore' };
  if (dad) {
    const na = naFrame(state.mac, ipv6MulticastMac(ALL_NODES), target, ALL_NODES, false, true);
    return { kind: 'reply', ip: target, frame: na, requester: { mac: ethSrc, ip: '::' } };
  }
  const slla = linkLayerOption(m, 'source-link-layer-address');
  let dstMac: string;
  if (slla !== undefined) dstMac = slla;
  else if (unicastProbe && ethDst === ourMac) dstMac = ethSrc;
  else return drop('no-source-link-layer', target);
  const na = naFrame(state.mac, dstMac, target, pkt.source, true, false);
  return { kind: 'reply', ip: target, frame: na, requester: { mac: dstMac, ip: pkt.source } };
}

/** Ethernet + ARP frame (42 bytes, unpadded: drivers pad to 60). */
export function arpFrame(ethDestination: string, ourMac: Buffer, arp: ArpPacket): Buffer {
  const b = Buffer.alloc(ETHERNET_HEADER_LENGTH + arpPacket.encodingLength(arp));
  ethernetHeader.encode(
    { destination: ethDestination, source: macToString(ourMac), ethertype: ETHERTYPE_ARP },
    b,
    0,
  );
  arpPacket.encode(arp, b, ETHERNET_HEADER_LENGTH);
  return b;
}

/** Ethernet + IPv6 + NDP frame. */
export function ndpFrame(ethDestination: string, ourMac: Buffer, pkt: NdpPacket): Buffer {
  const b = Buffer.alloc(ETHERNET_HEADER_LENGTH + ndpPacket.encodingLength(pkt));
  ethernetHeader.encode(
    { destination: ethDestination, source: macToString(ourMac), ethertype: ETHERTYPE_IPV6 },
    b,
    0,
  );
  ndpPacket.encode(pkt, b, ETHERNET_HEADER_LENGTH);
  return b;
}

function naFrame(
  mac: Buffer,
  dstMac: string,
  target: string,
  dstIp: string,
  solicited: boolean,
  override: boolean,
): Buffer {
  return ndpFrame(dstMac, mac, {
    source: target,
    destination: dstIp,
    hopLimit: NDP_HOP_LIMIT,
    message: {
      type: 'neighbor-advertisement',
      router: false,
      solicited,
      override,
      target,
      options: [{ type: 'target-link-layer-address', address: macToString(mac) }],
    },
  });
}

function checkMac(mac: Buffer): void {
  if (!Buffer.isBuffer(mac) || mac.length !== 6)
    throw new TypeError(`MAC must be a 6-byte Buffer, got ${String(mac?.length)} bytes`);
}

/** Canonical IPv4 text, or a TypeError naming the value. */
function v4(ip: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip))
    throw new TypeError(`"${ip}" is not a dotted-quad IPv4 address`);
  return ipaddr.IPv4.parse(ip).toString();
}

/** Canonical IPv6 text (RFC 5952), or a TypeError naming the value. */
function v6(ip: string): string {
  if (ip.includes('%') || !ipaddr.IPv6.isValid(ip))
    throw new TypeError(`"${ip}" is not an IPv6 address (without zone)`);
  return ipaddr.IPv6.parse(ip).toString();
}

/**
 * The IPv4 "gratuitous" pair MetalLB sends when it takes an IP (§5.3, announcer.go gratuitous): an ARP request
 * (RFC 5227 §3 ARP Announcement: sender = target = ip, target MAC zero) and an ARP reply (target MAC broadcast),
 * both to the Ethernet broadcast address with our MAC as sender. Throws a TypeError for a bad MAC or IP.
 */
export function gratuitousArp(mac: Buffer, ip: string): Buffer[] {
  checkMac(mac);
  const a = v4(ip);
  const ours = macToString(mac);
  return [
    arpFrame(BROADCAST_MAC, mac, {
      operation: ARP_REQUEST,
      senderHardwareAddress: ours,
      senderProtocolAddress: a,
      targetHardwareAddress: ZERO_MAC,
      targetProtocolAddress: a,
    }),
    arpFrame(BROADCAST_MAC, mac, {
      operation: ARP_REPLY,
      senderHardwareAddress: ours,
      senderProtocolAddress: a,
      targetHardwareAddress: BROADCAST_MAC,
      targetProtocolAddress: a,
    }),
  ];
}

/**
 * Unsolicited Neighbor Advertisement (RFC 4861 §7.2.6) for an IPv6 VIP: source = ip, to ff02::1
 * (33:33:00:00:00:01), hop limit 255, R=0 S=0 O=1, TLLA = our MAC. Throws a TypeError for a bad MAC or IP.
 */
export function unsolicitedNeighborAdvert(mac: Buffer, ip: string): Buffer {
  checkMac(mac);
  return naFrame(mac, ipv6MulticastMac(ALL_NODES), v6(ip), ALL_NODES, false, true);
}

/**
 * RFC 5227 §2.1.1 ARP Probe: a broadcast ARP request with sender IP 0.0.0.0, target MAC zero, target IP = ip.
 * Throws a TypeError for a bad MAC or IP.
 */
export function arpProbe(mac: Buffer, ip: string): Buffer {
  checkMac(mac);
  return arpFrame(BROADCAST_MAC, mac, {
    operation: ARP_REQUEST,
    senderHardwareAddress: macToString(mac),
    senderProtocolAddress: '0.0.0.0',
    targetHardwareAddress: ZERO_MAC,
    targetProtocolAddress: v4(ip),
  });
}

/**
 * RFC 4862 §5.4.2 Duplicate Address Detection probe: an NS for ip from :: to its solicited-node group (Ethernet
 * 33:33:ff:xx:xx:xx), hop limit 255, no options (§7.1.1: no SLLA from ::). Throws a TypeError for a bad MAC or IP.
 */
export function dadProbe(mac: Buffer, ip: string): Buffer {
  checkMac(mac);
  const target = v6(ip);
  const group = solicitedNodeAddress(target);
  return ndpFrame(ipv6MulticastMac(group), mac, {
    source: '::',
    destination: group,
    hopLimit: NDP_HOP_LIMIT,
    message: { type: 'neighbor-solicitation', target, options: [] },
  });
}

/** Re-exported for tests and callers that hold a MAC as text. */
export { macToBuffer, macToString };
