// IPv6 header + ICMPv6 Neighbor Discovery (NS / NA) codec with the RFC 4861 §7.1 validity checks. Pure.
//
// IPv6 header (RFC 8200 §3):
//   0        4            12                     32 bits
//   | ver=6  | traffic cl | flow label           |
//   | payload length      | next hdr | hop limit |
//   | source address (16 bytes)                  |
//   | destination address (16 bytes)             |
// Neighbor Solicitation (RFC 4861 §4.3) / Advertisement (§4.4), after the IPv6 header:
//   | type 135/136 | code 0 | checksum           |
//   | NS: reserved (4) — NA: R S O + 29 reserved |
//   | target address (16 bytes)                  |
//   | options: type (1) | length in 8-byte units (1) | data …
// Options (§4.6.1): 1 = Source Link-Layer Address, 2 = Target Link-Layer Address; for Ethernet length 1 (6-byte MAC).
// Extension headers between IPv6 and ICMPv6 are not followed: such a packet is `unsupported`.
import ipaddr from 'ipaddr.js';
import { L2DecodeError, macToString, writeMac } from './errors.ts';

export { L2DecodeError } from './errors.ts';

export const IPV6_HEADER_LENGTH = 40;
export const NEXT_HEADER_ICMPV6 = 58;
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const OPTION_SOURCE_LINK_LAYER_ADDRESS = 1;
export const OPTION_TARGET_LINK_LAYER_ADDRESS = 2;
/** RFC 4861 §7.1: NDP messages are sent and accepted with hop limit 255 only. */
export const NDP_HOP_LIMIT = 255;
const NDP_FIXED_LENGTH = 24; // type, code, checksum, flags/reserved, target

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  /** Bytes after the 40-byte header. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** Canonical RFC 5952 text. */
  source: string;
  destination: string;
}

export type NdpOption =
  | { type: 'source-link-layer-address'; address: string }
  | { type: 'target-link-layer-address'; address: string }
  /** Any other option, kept as its data (length × 8 − 2 bytes) so a round trip is exact. */
  | { type: number; data: Buffer };

export interface NeighborSolicitation {
  type: 'neighbor-solicitation';
  target: string;
  options: NdpOption[];
}

export interface NeighborAdvertisement {
  type: 'neighbor-advertisement';
  /** R: the sender is a router. */
  router: boolean;
  /** S: sent in response to an NS. */
  solicited: boolean;
  /** O: override an existing cache entry. */
  override: boolean;
  target: string;
  options: NdpOption[];
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement;

/** An NDP packet as it travels in an Ethernet frame: the IPv6 fields NDP cares about, and the message. */
export interface NdpPacket {
  source: string;
  destination: string;
  /** 255 for every valid NDP packet. */
  hopLimit: number;
  message: NdpMessage;
}

// ipaddr.js parses or formats an IPv6 address in ~5 µs and an answered NS needs about ten conversions, so both
// directions are memoised in small maps (cleared when full: hostile traffic with random addresses cannot grow them).
const CACHE_SIZE = 1024;
const textToBytes = new Map<string, Buffer>();
const bytesToText = new Map<string, string>();

/** IPv6 text → 16 bytes (a fresh copy); throws a TypeError naming the value when it is not an IPv6 address (zones refused). */
export function ipv6Bytes(ip: string): Buffer {
  let b = textToBytes.get(ip);
  if (!b) {
    if (typeof ip !== 'string' || ip.includes('%') || !ipaddr.IPv6.isValid(ip))
      throw new TypeError(`"${String(ip)}" is not an IPv6 address (without zone)`);
    b = Buffer.from(ipaddr.IPv6.parse(ip).toByteArray());
    if (textToBytes.size >= CACHE_SIZE) textToBytes.clear();
    textToBytes.set(ip, b);
  }
  return Buffer.from(b);
}

/** 16 bytes at `offset` → canonical RFC 5952 text. */
/** The canonical (RFC 5952) text of the 16 bytes at `offset`, memoised by their hex. */
export function readIpv6(buf: Buffer, offset: number): string {
  const key = buf.toString('hex', offset, offset + 16);
  let text = bytesToText.get(key);
  if (text === undefined) {
    text = ipaddr.fromByteArray(Array.from(buf.subarray(offset, offset + 16))).toString();
    if (bytesToText.size >= CACHE_SIZE) bytesToText.clear();
    bytesToText.set(key, text);
  }
  return text;
}

/** RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the address's low 24 bits. */
export function solicitedNodeAddress(ip: string): string {
  const b = ipv6Bytes(ip);
  const g = Buffer.from('ff0200000000000000000001ff000000', 'hex');
  b.copy(g, 13, 13, 16);
  return readIpv6(g, 0);
}

/** RFC 2464 §7: an IPv6 multicast address → Ethernet 33:33 + its low 32 bits. */
export function ipv6MulticastMac(ip: string): string {
  const b = ipv6Bytes(ip);
  return macToString(Buffer.concat([Buffer.from([0x33, 0x33]), b.subarray(12, 16)]));
}

function isMulticast(b: Buffer, offset: number): boolean {
  return b[offset] === 0xff;
}

/**
 * ICMPv6 checksum (RFC 4443 §2.3): one's complement of the one's-complement sum over the pseudo-header (RFC 8200
 * §8.1: source, destination, upper-layer length, three zero bytes, next header 58) and the message, whose checksum
 * field must be zero (or hold the received checksum: then a valid packet sums to 0).
 */
export function icmpv6Checksum(source: Buffer, destination: Buffer, message: Buffer): number {
  let sum = 0;
  const add = (b: Buffer): void => {
    for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (b.length % 2 === 1) sum += b[b.length - 1]! << 8;
  };
  add(source);
  add(destination);
  sum += (message.length >>> 16) + (message.length & 0xffff) + NEXT_HEADER_ICMPV6;
  add(message);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The fixed 40-byte IPv6 header. `decode` throws `truncated` under 40 bytes and `malformed` when version ≠ 6. */
export const ipv6Header = {
  encodingLength(_h?: Ipv6Header): number {
    return IPV6_HEADER_LENGTH;
  },
  encode(h: Ipv6Header, buf?: Buffer, offset = 0): Buffer {
    const b = buf ?? Buffer.alloc(IPV6_HEADER_LENGTH + offset);
    for (const [name, v, max] of [
      ['traffic class', h.trafficClass, 0xff],
      ['flow label', h.flowLabel, 0xfffff],
      ['payload length', h.payloadLength, 0xffff],
      ['next header', h.nextHeader, 0xff],
      ['hop limit', h.hopLimit, 0xff],
    ] as const)
      if (!Number.isInteger(v) || v < 0 || v > max)
        throw new RangeError(`IPv6 ${name} ${v} is not an integer in 0..${max}`);
    b.writeUInt32BE(((6 << 28) | (h.trafficClass << 20) | h.flowLabel) >>> 0, offset);
    b.writeUInt16BE(h.payloadLength, offset + 4);
    b[offset + 6] = h.nextHeader;
    b[offset + 7] = h.hopLimit;
    ipv6Bytes(h.source).copy(b, offset + 8);
    ipv6Bytes(h.destination).copy(b, offset + 24);
    return b;
  },
  decode(buf: Buffer, offset = 0): { value: Ipv6Header; bytes: number } {
    if (buf.length - offset < IPV6_HEADER_LENGTH)
      throw new L2DecodeError(
        'truncated',
        buf.length,
        `IPv6 header needs 40 bytes, has ${buf.length - offset}`,
      );
    const first = buf.readUInt32BE(offset);
    if (first >>> 28 !== 6)
      throw new L2DecodeError('malformed', offset, `IP version ${first >>> 28} in an IPv6 frame`);
    return {
      value: {
        trafficClass: (first >>> 20) & 0xff,
        flowLabel: first & 0xfffff,
        payloadLength: buf.readUInt16BE(offset + 4),
        nextHeader: buf[offset + 6]!,
        hopLimit: buf[offset + 7]!,
        source: readIpv6(buf, offset + 8),
        destination: readIpv6(buf, offset + 24),
      },
      bytes: IPV6_HEADER_LENGTH,
    };
  },
};

function optionLength(o: NdpOption): number {
  if (typeof o.type === 'string') return 8;
  const data = (o as { data: Buffer }).data;
  return 2 + data.length;
}

function messageLength(m: NdpMessage): number {
  return NDP_FIXED_LENGTH + m.options.reduce((n, o) => n + optionLength(o), 0);
}

/**
 * IPv6 header + NS/NA codec. `encode` sets payload length, next header 58 and the ICMPv6 checksum; options of
 * another type must have `(data.length + 2) % 8 === 0`. `decode` applies RFC 4861 §7.1.1 (NS) / §7.1.2 (NA)
 * validity and throws an L2DecodeError: `truncated` (buffer shorter than the IPv6 payload length),
 * `unsupported` (next header ≠ 58, ICMPv6 type other than 135/136), `bad-hop-limit` (≠ 255), `bad-checksum`,
 * `malformed` (version ≠ 6, ICMPv6 length < 24, code ≠ 0, multicast target, zero-length or overrunning option,
 * Ethernet link-layer option of length ≠ 1, NS from :: not to a solicited-node group or with an SLLA, NA to a
 * multicast destination with S = 1). Unknown options are kept (§4.6: receivers ignore them).
 */
export const ndpPacket = {
  encodingLength(p: NdpPacket): number {
    return IPV6_HEADER_LENGTH + messageLength(p.message);
  },
  encode(p: NdpPacket, buf?: Buffer, offset = 0): Buffer {
    const len = messageLength(p.message);
    const b = buf ?? Buffer.alloc(IPV6_HEADER_LENGTH + len + offset);
    ipv6Header.encode(
      {
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: len,
        nextHeader: NEXT_HEADER_ICMPV6,
        hopLimit: p.hopLimit,
        source: p.source,
        destination: p.destination,
      },
      b,
      offset,
    );
    let o = offset + IPV6_HEADER_LENGTH;
    const start = o;
    const m = p.message;
    b[o] = m.type === 'neighbor-solicitation' ? ICMPV6_NEIGHBOR_SOLICITATION : ICMPV6_NEIGHBOR_ADVERTISEMENT;
    b[o + 1] = 0;
    b.writeUInt16BE(0, o + 2);
    b.writeUInt32BE(
      m.type === 'neighbor-advertisement'
        ? ((m.router ? 0x80000000 : 0) | (m.solicited ? 0x40000000 : 0) | (m.override ? 0x20000000 : 0)) >>> 0
        : 0,
      o + 4,
    );
    ipv6Bytes(m.target).copy(b, o + 8);
    o += NDP_FIXED_LENGTH;
    for (const opt of m.options) {
      if (opt.type === 'source-link-layer-address' || opt.type === 'target-link-layer-address') {
        b[o] =
          opt.type === 'source-link-layer-address'
            ? OPTION_SOURCE_LINK_LAYER_ADDRESS
            : OPTION_TARGET_LINK_LAYER_ADDRESS;
        b[o + 1] = 1;
        writeMac(opt.address, b, o + 2);
        o += 8;
      } else {
        const { type, data } = opt as { type: number; data: Buffer };
        if (!Number.isInteger(type) || type < 0 || type > 255)
          throw new RangeError(`NDP option type ${type} is not 0..255`);
        if ((data.length + 2) % 8 !== 0 || data.length + 2 > 255 * 8)
          throw new RangeError(
            `NDP option ${type}: ${data.length} data bytes + 2 is not a multiple of 8 up to 2040`,
          );
        b[o] = type;
        b[o + 1] = (data.length + 2) / 8;
        data.copy(b, o + 2);
        o += data.length + 2;
      }
    }
    const src = b.subarray(offset + 8, offset + 24);
    const dst = b.subarray(offset + 24, offset + 40);
    b.writeUInt16BE(icmpv6Checksum(src, dst, b.subarray(start, o)), start + 2);
    return b;
  },
  decode(buf: Buffer, offset = 0): { value: NdpPacket; bytes: number } {
    const { value: ip } = ipv6Header.decode(buf, offset);
    if (ip.nextHeader !== NEXT_HEADER_ICMPV6)
      throw new L2DecodeError(
        'unsupported',
        offset + 6,
        `IPv6 next header ${ip.nextHeader} is not ICMPv6 (58)`,
      );
    const start = offset + IPV6_HEADER_LENGTH;
    if (buf.length - start < ip.payloadLength)
      throw new L2DecodeError(
        'truncated',
        buf.length,
        `IPv6 payload length ${ip.payloadLength}, frame has ${buf.length - start}`,
      );
    if (ip.payloadLength < 1) throw new L2DecodeError('malformed', start, 'empty ICMPv6 message');
    const type = buf[start]!;
    if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT)
      throw new L2DecodeError('unsupported', start, `ICMPv6 type ${type} is not NS (135) or NA (136)`);
    if (ip.hopLimit !== NDP_HOP_LIMIT)
      throw new L2DecodeError(
        'bad-hop-limit',
        offset + 7,
        `NDP hop limit ${ip.hopLimit}, RFC 4861 §7.1 requires 255`,
      );
    if (ip.payloadLength < NDP_FIXED_LENGTH)
      throw new L2DecodeError(
        'malformed',
        start,
        `ICMPv6 length ${ip.payloadLength} is under the 24 bytes of an NS/NA`,
      );
    const end = start + ip.payloadLength;
    const msg = buf.subarray(start, end);
    if (
      icmpv6Checksum(buf.subarray(offset + 8, offset + 24), buf.subarray(offset + 24, offset + 40), msg) !== 0
    )
      throw new L2DecodeError(
        'bad-checksum',
        start + 2,
        `ICMPv6 checksum 0x${msg.readUInt16BE(2).toString(16)} does not match`,
      );
    if (msg[1] !== 0) throw new L2DecodeError('malformed', start + 1, `ICMPv6 code ${msg[1]} is not 0`);
    if (isMulticast(msg, 8))
      throw new L2DecodeError('malformed', start + 8, 'NDP target is a multicast address');
    const target = readIpv6(msg, 8);
    const options: NdpOption[] = [];
    for (let o = NDP_FIXED_LENGTH; o < msg.length;) {
      if (msg.length - o < 2)
        throw new L2DecodeError('malformed', start + o, 'NDP option header overruns the message');
      const otype = msg[o]!;
      const olen = msg[o + 1]! * 8;
      if (olen === 0) throw new L2DecodeError('malformed', start + o + 1, `NDP option ${otype} has length 0`);
      if (o + olen > msg.length)
        throw new L2DecodeError(
          'malformed',
          start + o + 1,
          `NDP option ${otype} of ${olen} bytes overruns the message`,
        );
      if (otype === OPTION_SOURCE_LINK_LAYER_ADDRESS || otype === OPTION_TARGET_LINK_LAYER_ADDRESS) {
        if (olen !== 8)
          throw new L2DecodeError(
            'malformed',
            start + o + 1,
            `link-layer address option of ${olen} bytes, Ethernet uses 8`,
          );
        options.push({
          type:
            otype === OPTION_SOURCE_LINK_LAYER_ADDRESS
              ? 'source-link-layer-address'
              : 'target-link-layer-address',
          address: macToString(msg, o + 2),
        });
      } else {
        options.push({ type: otype, data: Buffer.from(msg.subarray(o + 2, o + olen)) });
      }
      o += olen;
    }
    let message: NdpMessage;
    if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
      if (ip.source === '::') {
        if (!ip.destination.startsWith('ff02::1:ff') || ip.destination !== solicitedNodeAddress(target))
          throw new L2DecodeError(
            'malformed',
            offset + 24,
            `DAD NS from :: to ${ip.destination}, not the target's solicited-node group`,
          );
        if (options.some((x) => x.type === 'source-link-layer-address'))
          throw new L2DecodeError(
            'malformed',
            start + NDP_FIXED_LENGTH,
            'NS from :: carries a source link-layer address',
          );
      }
      message = { type: 'neighbor-solicitation', target, options };
    } else {
      const flags = msg.readUInt32BE(4);
      const solicited = (flags & 0x40000000) !== 0;
      if (solicited && isMulticast(buf, offset + 24))
        throw new L2DecodeError(
          'malformed',
          start + 4,
          'NA to a multicast destination has the Solicited flag',
        );
      message = {
        type: 'neighbor-advertisement',
        router: (flags & 0x80000000) !== 0,
        solicited,
        override: (flags & 0x20000000) !== 0,
        target,
        options,
      };
    }
    return {
      value: { source: ip.source, destination: ip.destination, hopLimit: ip.hopLimit, message },
      bytes: IPV6_HEADER_LENGTH + ip.payloadLength,
    };
  },
};

/** The MAC carried by the first option of that kind, if any. */
export function linkLayerOption(
  m: NdpMessage,
  kind: 'source-link-layer-address' | 'target-link-layer-address',
): string | undefined {
  for (const o of m.options) if (o.type === kind) return (o as { address: string }).address;
  return undefined;
}
