// ARP codec for Ethernet/IPv4 (RFC 826; RFC 5227 for probes and announcements). Pure.
//
//   0       2       4   5   6       8                14          18                24          28
//   +-------+-------+---+---+-------+-----------------+-----------+-----------------+-----------+
//   | htype | ptype |hln|pln|  oper |  sender MAC sha | sender IP |  target MAC tha | target IP |
//   +-------+-------+---+---+-------+-----------------+-----------+-----------------+-----------+
//   htype 1 = Ethernet, ptype 0x0800 = IPv4, hln 6, pln 4; oper 1 = request, 2 = reply.
import ipaddr from 'ipaddr.js';
import { L2DecodeError, macToString, writeMac } from './errors.ts';

export { L2DecodeError } from './errors.ts';

export const ARP_LENGTH = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_PTYPE_IPV4 = 0x0800;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  /** 1 request, 2 reply (RFC 826 ar$op). */
  operation: 1 | 2;
  /** ar$sha, lowercase MAC. */
  senderHardwareAddress: string;
  /** ar$spa, dotted quad (`0.0.0.0` in an RFC 5227 probe). */
  senderProtocolAddress: string;
  /** ar$tha. */
  targetHardwareAddress: string;
  /** ar$tpa. */
  targetProtocolAddress: string;
}

const ipv4Cache = new Map<string, Buffer>();

/** Writes a dotted-quad IPv4 (memoised, bounded); throws a TypeError naming the value otherwise. */
function writeIpv4(ip: string, buf: Buffer, offset: number): void {
  let b = ipv4Cache.get(ip);
  if (!b) {
    if (typeof ip !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(ip))
      throw new TypeError(`"${String(ip)}" is not a dotted-quad IPv4 address`);
    b = Buffer.from(ipaddr.IPv4.parse(ip).toByteArray());
    if (ipv4Cache.size >= 1024) ipv4Cache.clear();
    ipv4Cache.set(ip, b);
  }
  b.copy(buf, offset);
}

function readIpv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/**
 * ARP packet codec (the 28 bytes after the Ethernet header). `decode` throws an L2DecodeError: `truncated` under
 * 28 bytes; `unsupported` for another hardware/protocol pair or an opcode other than 1/2 (RARP, InARP);
 * `malformed` when htype/ptype are Ethernet/IPv4 but hln ≠ 6 or pln ≠ 4. Bytes after the 28 (padding) are ignored.
 */
export const arpPacket = {
  encodingLength(_p?: ArpPacket): number {
    return ARP_LENGTH;
  },
  encode(p: ArpPacket, buf?: Buffer, offset = 0): Buffer {
    if (p.operation !== ARP_REQUEST && p.operation !== ARP_REPLY)
      throw new RangeError(`ARP operation ${String(p.operation)} is not 1 (request) or 2 (reply)`);
    const b = buf ?? Buffer.alloc(ARP_LENGTH + offset);
    b.writeUInt16BE(ARP_HTYPE_ETHERNET, offset);
    b.writeUInt16BE(ARP_PTYPE_IPV4, offset + 2);
    b[offset + 4] = 6;
    b[offset + 5] = 4;
    b.writeUInt16BE(p.operation, offset + 6);
    writeMac(p.senderHardwareAddress, b, offset + 8);
    writeIpv4(p.senderProtocolAddress, b, offset + 14);
    writeMac(p.targetHardwareAddress, b, offset + 18);
    writeIpv4(p.targetProtocolAddress, b, offset + 24);
    return b;
  },
  decode(buf: Buffer, offset = 0): { value: ArpPacket; bytes: number } {
    if (buf.length - offset < 8) throw new L2DecodeError('truncated', buf.length, 'ARP header needs 8 bytes');
    const htype = buf.readUInt16BE(offset);
    const ptype = buf.readUInt16BE(offset + 2);
    if (htype !== ARP_HTYPE_ETHERNET || ptype !== ARP_PTYPE_IPV4)
      throw new L2DecodeError(
        'unsupported',
        offset,
        `ARP htype ${htype} ptype 0x${ptype.toString(16)} is not Ethernet/IPv4`,
      );
    if (buf[offset + 4] !== 6 || buf[offset + 5] !== 4)
      throw new L2DecodeError(
        'malformed',
        offset + 4,
        `ARP hln ${buf[offset + 4]} pln ${buf[offset + 5]} are not 6/4 for Ethernet/IPv4`,
      );
    const op = buf.readUInt16BE(offset + 6);
    if (op !== ARP_REQUEST && op !== ARP_REPLY)
      throw new L2DecodeError(
        'unsupported',
        offset + 6,
        `ARP operation ${op} is not 1 (request) or 2 (reply)`,
      );
    if (buf.length - offset < ARP_LENGTH)
      throw new L2DecodeError(
        'truncated',
        buf.length,
        `ARP packet needs 28 bytes, has ${buf.length - offset}`,
      );
    return {
      value: {
        operation: op,
        senderHardwareAddress: macToString(buf, offset + 8),
        senderProtocolAddress: readIpv4(buf, offset + 14),
        targetHardwareAddress: macToString(buf, offset + 18),
        targetProtocolAddress: readIpv4(buf, offset + 24),
      },
      bytes: ARP_LENGTH,
    };
  },
};
