// Ethernet II header codec (IEEE 802.3 clause 3.2.6 "Length/Type" ≥ 0x0600 = EtherType). Pure.
//
//   0                   6                   12      14
//   +-------------------+-------------------+-------+---------
//   | destination MAC   | source MAC        | type  | payload
//   +-------------------+-------------------+-------+---------
//
// 802.1Q-tagged frames (type 0x8100 / 0x88a8) are refused as `unsupported`: on Linux the kernel strips the tag
// (or the NIC does, VLAN offload) and delivers the frame on the VLAN sub-interface, which is the interface the
// speaker listens on; a tagged frame on the parent interface is for a VLAN nobody configured here. Frames with a
// Length (< 0x0600, 802.3 + LLC) are `unsupported` too. Trailing padding (the 60-byte minimum) is left to the
// payload codecs, which read their own lengths.
import { L2DecodeError, macToString, writeMac } from './errors.ts';

export { L2DecodeError } from './errors.ts';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERNET_HEADER_LENGTH = 14;

export interface EthernetHeader {
  /** Lowercase `aa:bb:cc:dd:ee:ff`. */
  destination: string;
  source: string;
  /** EtherType, e.g. 0x0806 (ARP), 0x86dd (IPv6). */
  ethertype: number;
}

/**
 * The Ethernet II header codec, dns-packet style: `encode(value, buf?, offset?)` writes 14 bytes and returns the
 * buffer; `decode(buf, offset?)` returns `{ value, bytes }` or throws an L2DecodeError (`truncated` below 14 bytes,
 * `unsupported` for 802.1Q/802.1ad tags and 802.3 length fields); `encodingLength()` is 14.
 */
export const ethernetHeader = {
  encodingLength(_h?: EthernetHeader): number {
    return ETHERNET_HEADER_LENGTH;
  },
  encode(h: EthernetHeader, buf?: Buffer, offset = 0): Buffer {
    if (!Number.isInteger(h.ethertype) || h.ethertype < 0x0600 || h.ethertype > 0xffff)
      throw new RangeError(`EtherType ${h.ethertype} is not an integer in 0x0600..0xffff`);
    const b = buf ?? Buffer.alloc(ETHERNET_HEADER_LENGTH + offset);
    writeMac(h.destination, b, offset);
    writeMac(h.source, b, offset + 6);
    b.writeUInt16BE(h.ethertype, offset + 12);
    return b;
  },
  decode(buf: Buffer, offset = 0): { value: EthernetHeader; bytes: number } {
    if (buf.length - offset < ETHERNET_HEADER_LENGTH)
      throw new L2DecodeError(
        'truncated',
        buf.length,
        `Ethernet header needs 14 bytes, frame has ${buf.length - offset}`,
      );
    const ethertype = buf.readUInt16BE(offset + 12);
    if (ethertype === ETHERTYPE_VLAN || ethertype === ETHERTYPE_QINQ)
      throw new L2DecodeError(
        'unsupported',
        offset + 12,
        `802.1Q/802.1ad tagged frame (type 0x${ethertype.toString(16)})`,
      );
    if (ethertype < 0x0600)
      throw new L2DecodeError(
        'unsupported',
        offset + 12,
        `802.3 length field ${ethertype}, not an Ethernet II type`,
      );
    return {
      value: { destination: macToString(buf, offset), source: macToString(buf, offset + 6), ethertype },
      bytes: ETHERNET_HEADER_LENGTH,
    };
  },
};
