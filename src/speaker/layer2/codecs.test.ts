// Golden bytes (captured from Linux 6.18, iputils arping and ndisc6 1.0.5 between two network namespaces), round
// trips and error reasons for the Ethernet, ARP and NDP codecs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arpPacket, type ArpPacket } from './arp.ts';
import { L2DecodeError } from './errors.ts';
import { ethernetHeader } from './ethernet.ts';
import { ARPING_REQUEST, KERNEL_ARP_REPLY, KERNEL_NA, NDISC6_NS, hex } from './testdata.ts';
import {
  icmpv6Checksum,
  ipv6Header,
  ipv6MulticastMac,
  ndpPacket,
  solicitedNodeAddress,
  type NdpPacket,
} from './ndp.ts';

/** dns-packet's testEncoder: encode = encodingLength bytes, decode(encode(v)) = v, and at a non-zero offset too. */
function roundTrip<T>(
  codec: {
    encode(v: T, b?: Buffer, o?: number): Buffer;
    decode(b: Buffer, o?: number): { value: T; bytes: number };
    encodingLength(v: T): number;
  },
  v: T,
): Buffer {
  const b = codec.encode(v);
  assert.equal(b.length, codec.encodingLength(v));
  const d = codec.decode(b);
  assert.deepEqual(d.value, v);
  assert.equal(d.bytes, b.length);
  assert.deepEqual(codec.encode(d.value), b);
  const big = Buffer.alloc(b.length + 10, 0xee);
  codec.encode(v, big, 10);
  assert.deepEqual(big.subarray(10), b);
  assert.deepEqual(codec.decode(big, 10).value, v);
  return b;
}

function throwsReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => e instanceof L2DecodeError && e.reason === reason);
}

describe('ethernet', () => {
  it('decodes the arping frame header and round-trips', () => {
    const { value, bytes } = ethernetHeader.decode(ARPING_REQUEST);
    assert.deepEqual(value, {
      destination: 'ff:ff:ff:ff:ff:ff',
      source: '02:00:00:77:00:01',
      ethertype: 0x0806,
    });
    assert.equal(bytes, 14);
    assert.deepEqual(roundTrip(ethernetHeader, value), ARPING_REQUEST.subarray(0, 14));
  });
  it('refuses short frames, 802.1Q tags and 802.3 lengths with their reasons', () => {
    throwsReason(() => ethernetHeader.decode(Buffer.alloc(13)), 'truncated');
    throwsReason(() => ethernetHeader.decode(hex('ffffffffffff 020000770001 8100 0064 0806')), 'unsupported');
    throwsReason(() => ethernetHeader.decode(hex('ffffffffffff 020000770001 0040')), 'unsupported');
  });
  it('refuses to encode a bad MAC or EtherType, naming the value', () => {
    assert.throws(
      () => ethernetHeader.encode({ destination: 'ff:ff', source: '02:00:00:77:00:01', ethertype: 0x806 }),
      /"ff:ff"/,
    );
    assert.throws(
      () =>
        ethernetHeader.encode({
          destination: 'ff:ff:ff:ff:ff:ff',
          source: '02:00:00:77:00:01',
          ethertype: 64,
        }),
      /EtherType 64/,
    );
  });
});

describe('arp', () => {
  it('decodes arping and the kernel reply (golden)', () => {
    assert.deepEqual(arpPacket.decode(ARPING_REQUEST, 14).value, {
      operation: 1,
      senderHardwareAddress: '02:00:00:77:00:01',
      senderProtocolAddress: '198.51.100.1',
      targetHardwareAddress: 'ff:ff:ff:ff:ff:ff',
      targetProtocolAddress: '198.51.100.2',
    });
    const reply = arpPacket.decode(KERNEL_ARP_REPLY, 14).value;
    assert.deepEqual(roundTrip(arpPacket, reply), KERNEL_ARP_REPLY.subarray(14));
  });
  it('ignores the 60-byte padding', () => {
    const padded = Buffer.concat([ARPING_REQUEST, Buffer.alloc(18)]);
    assert.equal(arpPacket.decode(padded, 14).value.targetProtocolAddress, '198.51.100.2');
  });
  it('maps bad packets to reasons', () => {
    const p = Buffer.from(ARPING_REQUEST.subarray(14));
    throwsReason(() => arpPacket.decode(p.subarray(0, 27)), 'truncated');
    throwsReason(() => arpPacket.decode(p.subarray(0, 5)), 'truncated');
    const m = (i: number, v: number): Buffer => {
      const c = Buffer.from(p);
      c[i] = v;
      return c;
    };
    throwsReason(() => arpPacket.decode(m(1, 6)), 'unsupported'); // htype 6 (IEEE 802)
    throwsReason(() => arpPacket.decode(m(2, 0x86)), 'unsupported'); // ptype 0x8600
    throwsReason(() => arpPacket.decode(m(4, 8)), 'malformed'); // hln 8
    throwsReason(() => arpPacket.decode(m(7, 3)), 'unsupported'); // RARP request
  });
  it('refuses to encode a bad IP or operation, naming the value', () => {
    const v: ArpPacket = {
      operation: 1,
      senderHardwareAddress: '02:00:00:77:00:01',
      senderProtocolAddress: '198.51.100.300',
      targetHardwareAddress: '00:00:00:00:00:00',
      targetProtocolAddress: '198.51.100.2',
    };
    assert.throws(() => arpPacket.encode(v), /"198\.51\.100\.300"/);
    assert.throws(
      () => arpPacket.encode({ ...v, senderProtocolAddress: '0.0.0.0', operation: 3 as 1 }),
      /operation 3/,
    );
  });
});

describe('ndp', () => {
  it('decodes ndisc6 NS and the kernel NA (golden), checksums included', () => {
    const ns = ndpPacket.decode(NDISC6_NS, 14);
    assert.deepEqual(ns.value, {
      source: 'fe80::ff:fe77:1',
      destination: 'ff02::1:ff00:2',
      hopLimit: 255,
      message: {
        type: 'neighbor-solicitation',
        target: '2001:db8:77::2',
        options: [{ type: 'source-link-layer-address', address: '02:00:00:77:00:01' }],
      },
    });
    assert.equal(ns.bytes, 72);
    // Our encoder writes flow label 0; everything after the first 4 IPv6 bytes is identical (the pseudo-header
    // has no flow label, so the checksum is the same).
    const enc = ndpPacket.encode(ns.value);
    assert.deepEqual(enc.subarray(4), NDISC6_NS.subarray(18));
    const na = ndpPacket.decode(KERNEL_NA, 14).value;
    assert.deepEqual(na.message, {
      type: 'neighbor-advertisement',
      router: false,
      solicited: true,
      override: true,
      target: '2001:db8:77::2',
      options: [{ type: 'target-link-layer-address', address: '02:00:00:77:00:02' }],
    });
    assert.deepEqual(roundTrip(ndpPacket, na), KERNEL_NA.subarray(14));
  });
  it('round-trips unknown options and the IPv6 header alone', () => {
    const p: NdpPacket = {
      source: '2001:db8::1',
      destination: '2001:db8::2',
      hopLimit: 255,
      message: {
        type: 'neighbor-advertisement',
        router: true,
        solicited: false,
        override: false,
        target: '2001:db8::1',
        options: [{ type: 14, data: Buffer.from('000102030405', 'hex') }],
      },
    };
    roundTrip(ndpPacket, p);
    roundTrip(ipv6Header, {
      trafficClass: 0xb8,
      flowLabel: 0xabcde,
      payloadLength: 32,
      nextHeader: 58,
      hopLimit: 64,
      source: 'fe80::1',
      destination: 'ff02::1',
    });
  });
  it('computes solicited-node groups, multicast MACs and checksums', () => {
    assert.equal(solicitedNodeAddress('2001:db8:77::2'), 'ff02::1:ff00:2');
    assert.equal(solicitedNodeAddress('2001:db8::abcd:ef12:3456'), 'ff02::1:ff12:3456');
    assert.equal(ipv6MulticastMac('ff02::1:ff12:3456'), '33:33:ff:12:34:56');
    // A received message including its checksum sums to zero.
    const ip = NDISC6_NS.subarray(14);
    assert.equal(icmpv6Checksum(ip.subarray(8, 24), ip.subarray(24, 40), ip.subarray(40)), 0);
  });
  it('applies RFC 4861 §7.1 validity with a reason per rule', () => {
    const f = (edit: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(NDISC6_NS.subarray(14));
      edit(b);
      return b;
    };
    // Fix the checksum after an edit so only the intended rule fails.
    const fix = (b: Buffer): Buffer => {
      b.writeUInt16BE(0, 42);
      b.writeUInt16BE(
        icmpv6Checksum(b.subarray(8, 24), b.subarray(24, 40), b.subarray(40, 40 + b.readUInt16BE(4))),
        42,
      );
      return b;
    };
    throwsReason(() => ndpPacket.decode(f((b) => (b[7] = 64))), 'bad-hop-limit');
    throwsReason(() => ndpPacket.decode(f((b) => (b[43] = b[43]! ^ 1))), 'bad-checksum');
    throwsReason(() => ndpPacket.decode(fix(f((b) => (b[41] = 1)))), 'malformed'); // code 1
    throwsReason(() => ndpPacket.decode(f((b) => (b[0] = 0x40))), 'malformed'); // version 4
    throwsReason(() => ndpPacket.decode(f((b) => (b[6] = 17))), 'unsupported'); // UDP
    throwsReason(() => ndpPacket.decode(fix(f((b) => (b[40] = 128)))), 'unsupported'); // echo request
    throwsReason(() => ndpPacket.decode(NDISC6_NS.subarray(14, 14 + 60)), 'truncated');
    throwsReason(() => ndpPacket.decode(fix(f((b) => (b[65] = 0)))), 'malformed'); // option length 0
    throwsReason(() => ndpPacket.decode(fix(f((b) => (b[65] = 2)))), 'malformed'); // option overruns
    throwsReason(() => ndpPacket.decode(fix(f((b) => (b[48] = 0xff)))), 'malformed'); // multicast target
    throwsReason(() => ndpPacket.decode(fix(f((b) => b.fill(0, 8, 24)))), 'malformed'); // from :: with an SLLA
    throwsReason(
      () => ndpPacket.decode(fix(f((b) => b.writeUInt16BE(20, 4)))), // ICMPv6 length 20 < 24
      'malformed',
    );
    throwsReason(() => ndpPacket.decode(Buffer.alloc(39)), 'truncated');
  });
  it('refuses to encode bad addresses or option sizes, naming the value', () => {
    const p: NdpPacket = {
      source: '2001:db8::1',
      destination: '2001:db8::zz',
      hopLimit: 255,
      message: { type: 'neighbor-solicitation', target: '2001:db8::1', options: [] },
    };
    assert.throws(() => ndpPacket.encode(p), /"2001:db8::zz"/);
    assert.throws(
      () =>
        ndpPacket.encode({
          ...p,
          destination: '2001:db8::2',
          message: {
            type: 'neighbor-solicitation',
            target: '2001:db8::1',
            options: [{ type: 9, data: Buffer.alloc(3) }],
          },
        }),
      /option 9: 3 data bytes/,
    );
  });
});
