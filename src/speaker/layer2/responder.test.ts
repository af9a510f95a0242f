// The pure responder: MetalLB's answer rules, RFC 5227/4862 claims, drop reasons (table), gratuitous/probe frame
// builders, and a fast-check fuzz proving it never throws and decoders only throw L2DecodeError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { arpPacket } from './arp.ts';
import { ethernetHeader } from './ethernet.ts';
import { L2DecodeError, macToBuffer } from './errors.ts';
import { ipv6MulticastMac, ndpPacket, solicitedNodeAddress, type NdpPacket } from './ndp.ts';
import {
  arpFrame,
  arpProbe,
  dadProbe,
  gratuitousArp,
  ndpFrame,
  respond,
  respondWithoutFastPath,
  fastNdpReply,
  unsolicitedNeighborAdvert,
  type ResponderState,
} from './responder.ts';
import { ARPING_REQUEST, KERNEL_ARP_REPLY, KERNEL_NA, NDISC6_NS } from './testdata.ts';

const US = '02:00:00:77:00:02';
const CLIENT = '02:00:00:77:00:01';
const OTHER = '02:00:00:77:00:09';
const VIP4 = '198.51.100.2';
const VIP6 = '2001:db8:77::2';

function state(announced: string[], watched: string[] = announced): ResponderState {
  return {
    mac: macToBuffer(US),
    announced: new Set(announced),
    watched: new Set([...watched, ...announced]),
  };
}

function arpReq(o: {
  ethDst?: string;
  ethSrc?: string;
  sha?: string;
  spa?: string;
  tpa?: string;
  op?: 1 | 2;
}): Buffer {
  const sha = o.sha ?? CLIENT;
  return arpFrame(o.ethDst ?? 'ff:ff:ff:ff:ff:ff', macToBuffer(o.ethSrc ?? sha), {
    operation: o.op ?? 1,
    senderHardwareAddress: sha,
    senderProtocolAddress: o.spa ?? '198.51.100.1',
    targetHardwareAddress: '00:00:00:00:00:00',
    targetProtocolAddress: o.tpa ?? VIP4,
  });
}

function ns(o: {
  src?: string;
  dst?: string;
  ethDst?: string;
  ethSrc?: string;
  target?: string;
  slla?: boolean;
  hop?: number;
}): Buffer {
  const target = o.target ?? VIP6;
  const ethSrc = o.ethSrc ?? CLIENT;
  const p: NdpPacket = {
    source: o.src ?? 'fe80::ff:fe77:1',
    destination: o.dst ?? 'ff02::1:ff00:2',
    hopLimit: o.hop ?? 255,
    message: {
      type: 'neighbor-solicitation',
      target,
      options: o.slla === false ? [] : [{ type: 'source-link-layer-address', address: ethSrc }],
    },
  };
  return ndpFrame(o.ethDst ?? '33:33:ff:00:00:02', macToBuffer(ethSrc), p);
}

function na(o: { target?: string; tlla?: string; ethSrc?: string }): Buffer {
  const ethSrc = o.ethSrc ?? OTHER;
  return ndpFrame('33:33:00:00:00:01', macToBuffer(ethSrc), {
    source: o.target ?? VIP6,
    destination: 'ff02::1',
    hopLimit: 255,
    message: {
      type: 'neighbor-advertisement',
      router: false,
      solicited: false,
      override: true,
      target: o.target ?? VIP6,
      options: o.tlla === undefined ? [] : [{ type: 'target-link-layer-address', address: o.tlla }],
    },
  });
}

describe('respond: ARP', () => {
  it('answers arping exactly as the Linux kernel does (golden)', () => {
    const r = respond(ARPING_REQUEST, state([VIP4]));
    assert.equal(r.kind, 'reply');
    if (r.kind !== 'reply') return;
    assert.deepEqual(r.frame, KERNEL_ARP_REPLY);
    assert.equal(r.ip, VIP4);
    assert.deepEqual(r.requester, { mac: CLIENT, ip: '198.51.100.1' });
  });
  it('answers a request unicast to our MAC (arping follow-ups) and a foreign probe for an announced IP', () => {
    assert.equal(respond(arpReq({ ethDst: US }), state([VIP4])).kind, 'reply');
    const probe = respond(arpReq({ spa: '0.0.0.0', sha: OTHER }), state([VIP4]));
    assert.equal(probe.kind, 'reply');
    if (probe.kind === 'reply')
      assert.equal(arpPacket.decode(probe.frame, 14).value.targetProtocolAddress, '0.0.0.0');
  });
  const table: Array<{ name: string; frame: Buffer; st: ResponderState; want: unknown }> = [
    { name: 'unwatched target', frame: arpReq({}), st: state([]), want: { kind: 'ignore' } },
    {
      name: 'watched, not announced',
      frame: arpReq({}),
      st: state([], [VIP4]),
      want: { kind: 'drop', reason: 'not-announced', ip: VIP4 },
    },
    {
      name: 'ARP reply for nothing watched',
      frame: arpReq({ op: 2 }),
      st: state([VIP4]),
      want: { kind: 'drop', reason: 'not-request' },
    },
    {
      name: 'unicast to another MAC',
      frame: arpReq({ ethDst: OTHER }),
      st: state([VIP4]),
      want: { kind: 'drop', reason: 'wrong-destination', ip: VIP4 },
    },
    {
      name: 'our own frame',
      frame: arpReq({ sha: US }),
      st: state([VIP4]),
      want: { kind: 'drop', reason: 'from-self' },
    },
    {
      name: 'gratuitous ARP from another host',
      frame: arpReq({ sha: OTHER, spa: VIP4 }),
      st: state([VIP4]),
      want: { kind: 'claim', ip: VIP4, mac: OTHER },
    },
    {
      name: 'ARP reply from another host',
      frame: arpReq({ op: 2, sha: OTHER, spa: VIP4, tpa: '198.51.100.1' }),
      st: state([], [VIP4]),
      want: { kind: 'claim', ip: VIP4, mac: OTHER },
    },
    {
      name: 'simultaneous probe',
      frame: arpReq({ spa: '0.0.0.0', sha: OTHER }),
      st: state([], [VIP4]),
      want: { kind: 'claim', ip: VIP4, mac: OTHER },
    },
    {
      name: 'truncated',
      frame: ARPING_REQUEST.subarray(0, 30),
      st: state([VIP4]),
      want: { kind: 'drop', reason: 'truncated' },
    },
    {
      name: 'IPv4 data frame',
      frame: Buffer.concat([ARPING_REQUEST.subarray(0, 12), Buffer.from([8, 0]), Buffer.alloc(40)]),
      st: state([VIP4]),
      want: { kind: 'ignore' },
    },
  ];
  for (const t of table) it(t.name, () => assert.deepEqual(respond(t.frame, t.st), t.want));
});

describe('respond: NDP', () => {
  it('answers ndisc6 with the kernel NA, but S=1 O=0 as MetalLB (golden)', () => {
    const r = respond(NDISC6_NS, state([VIP6]));
    assert.equal(r.kind, 'reply');
    if (r.kind !== 'reply') return;
    const want = Buffer.from(KERNEL_NA);
    want[14 + 44] = 0x40; // flags: S only
    want.writeUInt16BE(0xb8cd + 0x2000, 14 + 42); // the one's-complement checksum moves by exactly the flag change
    assert.deepEqual(r.frame, want);
    assert.deepEqual(r.requester, { mac: CLIENT, ip: 'fe80::ff:fe77:1' });
  });
  it('answers a unicast NUD probe without SLLA to the frame source', () => {
    const r = respond(ns({ dst: VIP6, ethDst: US, slla: false, src: '2001:db8:77::1' }), state([VIP6]));
    assert.equal(r.kind, 'reply');
    if (r.kind !== 'reply') return;
    assert.equal(ethernetHeader.decode(r.frame).value.destination, CLIENT);
    const p = ndpPacket.decode(r.frame, 14).value;
    assert.equal(p.destination, '2001:db8:77::1');
    assert.equal(p.source, VIP6);
  });
  it('defends an announced IP against a DAD probe with an NA to all-nodes (S=0, O=1)', () => {
    const r = respond(dadProbe(macToBuffer(OTHER), VIP6), state([VIP6]));
    assert.equal(r.kind, 'reply');
    if (r.kind !== 'reply') return;
    const p = ndpPacket.decode(r.frame, 14).value;
    assert.equal(p.destination, 'ff02::1');
    assert.equal(
      p.message.type === 'neighbor-advertisement' && !p.message.solicited && p.message.override,
      true,
    );
  });
  const table: Array<{ name: string; frame: Buffer; st: ResponderState; want: unknown }> = [
    {
      name: 'unwatched target',
      frame: ns({ target: '2001:db8:77::5', dst: 'ff02::1:ff00:5', ethDst: '33:33:ff:00:00:05' }),
      st: state([VIP6]),
      want: { kind: 'ignore' },
    },
    {
      name: 'watched, not announced',
      frame: NDISC6_NS,
      st: state([], [VIP6]),
      want: { kind: 'drop', reason: 'not-announced', ip: VIP6 },
    },
    {
      name: 'multicast NS without SLLA',
      frame: ns({ slla: false }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'no-source-link-layer', ip: VIP6 },
    },
    {
      name: 'NS to another group',
      frame: ns({ dst: 'ff02::1:ff00:3' }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'wrong-destination', ip: VIP6 },
    },
    {
      name: 'NS unicast to another MAC',
      frame: ns({ dst: VIP6, ethDst: OTHER }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'wrong-destination', ip: VIP6 },
    },
    {
      name: 'hop limit 64',
      frame: ns({ hop: 64 }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'bad-hop-limit' },
    },
    {
      name: 'our own NS',
      frame: ns({ ethSrc: US }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'from-self' },
    },
    {
      name: 'NA with another TLLA',
      frame: na({ tlla: OTHER }),
      st: state([VIP6]),
      want: { kind: 'claim', ip: VIP6, mac: OTHER },
    },
    {
      name: 'NA without TLLA: the frame source claims',
      frame: na({}),
      st: state([], [VIP6]),
      want: { kind: 'claim', ip: VIP6, mac: OTHER },
    },
    {
      name: 'NA with our TLLA',
      frame: na({ tlla: US }),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'from-self' },
    },
    {
      name: 'NA for an unwatched target',
      frame: na({ target: '2001:db8:77::5', tlla: OTHER }),
      st: state([VIP6]),
      want: { kind: 'ignore' },
    },
    {
      name: 'DAD probe while we probe',
      frame: dadProbe(macToBuffer(OTHER), VIP6),
      st: state([], [VIP6]),
      want: { kind: 'claim', ip: VIP6, mac: OTHER },
    },
    {
      name: 'bad checksum',
      frame: Buffer.concat([NDISC6_NS.subarray(0, 57), Buffer.from([0]), NDISC6_NS.subarray(58)]),
      st: state([VIP6]),
      want: { kind: 'drop', reason: 'bad-checksum' },
    },
    {
      name: 'other IPv6 traffic (UDP)',
      frame: Buffer.concat([NDISC6_NS.subarray(0, 20), Buffer.from([17]), NDISC6_NS.subarray(21)]),
      st: state([VIP6]),
      want: { kind: 'ignore' },
    },
  ];
  for (const t of table) it(t.name, () => assert.deepEqual(respond(t.frame, t.st), t.want));
});

describe('frames the announcer sends', () => {
  const mac = macToBuffer(US);
  it('gratuitous ARP: request + reply, broadcast, sender = target = VIP', () => {
    const [req, rep] = gratuitousArp(mac, VIP4);
    assert.ok(req && rep);
    for (const [f, op, tha] of [
      [req, 1, '00:00:00:00:00:00'],
      [rep, 2, 'ff:ff:ff:ff:ff:ff'],
    ] as const) {
      assert.equal(ethernetHeader.decode(f).value.destination, 'ff:ff:ff:ff:ff:ff');
      assert.deepEqual(arpPacket.decode(f, 14).value, {
        operation: op,
        senderHardwareAddress: US,
        senderProtocolAddress: VIP4,
        targetHardwareAddress: tha,
        targetProtocolAddress: VIP4,
      });
    }
    // Another speaker watching the IP sees it as a claim by our MAC.
    assert.deepEqual(
      respond(req, { mac: macToBuffer(OTHER), announced: new Set(), watched: new Set([VIP4]) }),
      {
        kind: 'claim',
        ip: VIP4,
        mac: US,
      },
    );
  });
  it('unsolicited NA: to ff02::1 / 33:33:00:00:00:01, source VIP, O=1 S=0, TLLA', () => {
    const f = unsolicitedNeighborAdvert(mac, '2001:0db8:77:0::2');
    assert.equal(ethernetHeader.decode(f).value.destination, '33:33:00:00:00:01');
    assert.deepEqual(ndpPacket.decode(f, 14).value, {
      source: VIP6,
      destination: 'ff02::1',
      hopLimit: 255,
      message: {
        type: 'neighbor-advertisement',
        router: false,
        solicited: false,
        override: true,
        target: VIP6,
        options: [{ type: 'target-link-layer-address', address: US }],
      },
    });
  });
  it('ARP probe (RFC 5227 §2.1.1) and DAD probe (RFC 4862 §5.4.2)', () => {
    assert.deepEqual(arpPacket.decode(arpProbe(mac, VIP4), 14).value, {
      operation: 1,
      senderHardwareAddress: US,
      senderProtocolAddress: '0.0.0.0',
      targetHardwareAddress: '00:00:00:00:00:00',
      targetProtocolAddress: VIP4,
    });
    const d = dadProbe(mac, VIP6);
    assert.equal(ethernetHeader.decode(d).value.destination, '33:33:ff:00:00:02');
    assert.deepEqual(ndpPacket.decode(d, 14).value, {
      source: '::',
      destination: 'ff02::1:ff00:2',
      hopLimit: 255,
      message: { type: 'neighbor-solicitation', target: VIP6, options: [] },
    });
  });
  it('names the bad value', () => {
    assert.throws(() => gratuitousArp(mac, '2001:db8::1'), /"2001:db8::1" is not a dotted-quad/);
    assert.throws(() => dadProbe(mac, '198.51.100.1'), /"198\.51\.100\.1" is not an IPv6/);
    assert.throws(() => arpProbe(Buffer.alloc(4), VIP4), /6-byte/);
  });
});

describe('fuzz', () => {
  const seeds = [
    ARPING_REQUEST,
    KERNEL_ARP_REPLY,
    NDISC6_NS,
    KERNEL_NA,
    dadProbe(macToBuffer(OTHER), VIP6),
    na({ tlla: OTHER }),
  ];
  const states = [state([VIP4, VIP6]), state([], [VIP4, VIP6]), state([])];
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
    )
    .map(([seed, edits, cut]) => {
      const b = Buffer.from(seed);
      for (const [i, v] of edits) b[i % b.length] = v;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    });
  const random = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a));
  const frames = fc.oneof(mutated, random);

  it('respond never throws and always returns a known kind', () => {
    fc.assert(
      fc.property(frames, fc.constantFrom(...states), (f, st) => {
        const r = respond(f, st);
        assert.ok(['reply', 'claim', 'drop', 'ignore'].includes(r.kind));
        if (r.kind === 'reply') assert.ok(r.frame.length >= 42);
      }),
      { numRuns: 3000, seed: 8 },
    );
  });
  it('every decoder error is an L2DecodeError', () => {
    const decoders = [
      (b: Buffer) => ethernetHeader.decode(b),
      (b: Buffer) => arpPacket.decode(b, 14),
      (b: Buffer) => ndpPacket.decode(b, 14),
    ];
    fc.assert(
      fc.property(frames, (f) => {
        for (const d of decoders) {
          try {
            d(f);
          } catch (e) {
            assert.ok(e instanceof L2DecodeError, `non-L2DecodeError: ${String(e)}`);
          }
        }
      }),
      { numRuns: 3000, seed: 9 },
    );
  });
});

describe('ARP fast path', () => {
  // Frames built from small domains so every branch is hit: our MAC or not in each MAC field, a broadcast or
  // unicast destination, probe / watched / announced / unknown IPs, request or reply, padding, truncation, edits.
  const macs = fc.constantFrom(US, CLIENT, OTHER, 'ff:ff:ff:ff:ff:ff');
  const ips = fc.constantFrom(VIP4, '198.51.100.3', '198.51.100.1', '0.0.0.0', '203.0.113.7');
  const arpFrames = fc
    .tuple(
      fc.record({
        ethDst: macs,
        ethSrc: macs,
        sha: macs,
        spa: ips,
        tpa: ips,
        op: fc.constantFrom(1 as const, 2 as const),
      }),
      fc.nat({ max: 20 }),
      fc.option(fc.tuple(fc.nat({ max: 41 }), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
      fc.option(fc.nat({ max: 62 }), { nil: undefined }),
    )
    .map(([o, pad, edit, cut]) => {
      const f = Buffer.concat([arpReq(o), Buffer.alloc(pad)]);
      if (edit) f[edit[0]] = edit[1];
      return cut === undefined ? f : f.subarray(0, cut);
    });
  const states = [
    state([VIP4]),
    state([VIP4], ['198.51.100.3']),
    state([], [VIP4]),
    state([]),
    state(['0.0.0.0']),
  ];

  it('decides every ARP frame exactly as the general path does (same kind, counters, reply bytes)', () => {
    fc.assert(
      fc.property(arpFrames, fc.constantFrom(...states), (f, st) => {
        assert.deepEqual(respond(f, st), respondWithoutFastPath(f, st));
      }),
      { numRuns: 5000, seed: 826 },
    );
  });

  it("answers arping's captured request (padded to 60 bytes) with the general path's reply", () => {
    const st = state([VIP4]);
    const padded = Buffer.concat([ARPING_REQUEST, Buffer.alloc(18)]);
    const fast = respond(padded, st);
    assert.equal(fast.kind, 'reply');
    assert.deepEqual(fast, respondWithoutFastPath(padded, st));
  });
});

describe('NDP fast path', () => {
  // NSs built from small domains so every branch is hit: our MAC / the group's MAC / others at each MAC field, DAD
  // and NUD and multicast destinations, targets sharing a solicited-node group, with or without SLLA, bad hop
  // limits, then a byte edit (anywhere in the 86 bytes), padding or truncation.
  const TARGETS = [VIP6, '2001:db8:77::3', '2001:db8:78::2', 'ff02::1'];
  const sometimes = <T,>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
    fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: a, weight: 1 });
  const nsFrames = fc
    .tuple(
      fc.record({
        ethDst: fc.constantFrom('group', 'group', US, CLIENT, '33:33:ff:00:00:03', 'ff:ff:ff:ff:ff:ff'),
        ethSrc: fc.constantFrom(CLIENT, CLIENT, US, OTHER),
        src: fc.constantFrom('fe80::ff:fe77:1', 'fe80::ff:fe77:1', '::', '2001:db8:77::1', VIP6),
        dst: fc.constantFrom('group', 'group', 'target', 'ff02::1:ff00:3', '2001:db8:77::3', 'ff02::1'),
        target: fc.constantFrom(...TARGETS),
        slla: fc.constantFrom(true, true, false),
        hop: fc.constantFrom(255, 255, 255, 64),
      }),
      fc.nat({ max: 8 }),
      sometimes(fc.tuple(fc.nat({ max: 85 }), fc.integer({ min: 0, max: 255 }))),
      sometimes(fc.nat({ max: 90 })),
    )
    .map(([o, pad, edit, cut]) => {
      const group = solicitedNodeAddress(o.target);
      const f = Buffer.concat([
        ns({
          ...o,
          dst: o.dst === 'group' ? group : o.dst === 'target' ? o.target : o.dst,
          ethDst: o.ethDst === 'group' ? ipv6MulticastMac(group) : o.ethDst,
        }),
        Buffer.alloc(pad),
      ]);
      if (edit) f[edit[0]] = edit[1];
      return cut === undefined ? f : f.subarray(0, cut);
    });
  const states = [
    state([VIP6]),
    state([VIP6], ['2001:db8:77::3']),
    state([], [VIP6]),
    state([]),
    state([VIP6, '2001:db8:78::2', '2001:db8:77::3']),
  ];

  it('decides every NS exactly as the general path does (same kind, counters, NA bytes)', () => {
    let fast = 0;
    let ignored = 0;
    fc.assert(
      fc.property(nsFrames, fc.constantFrom(...states), (f, st) => {
        const k = fastNdpReply(f, st)?.kind;
        if (k === 'reply') fast++;
        if (k === 'ignore') ignored++;
        assert.deepEqual(respond(f, st), respondWithoutFastPath(f, st));
      }),
      { numRuns: 8000, seed: 4861 },
    );
    assert.ok(fast > 50 && ignored > 50, `the fast path answered ${fast}, ignored ${ignored}: the domains must reach it`);
  });

  it("answers ndisc6's captured NS with the general path's NA, and ignores an unwatched target without decoding", () => {
    const st = state([VIP6]);
    const r = fastNdpReply(NDISC6_NS, st);
    assert.equal(r?.kind, 'reply');
    assert.deepEqual(r, respondWithoutFastPath(NDISC6_NS, st));
    assert.deepEqual(fastNdpReply(ns({ target: '2001:db8:77::3', dst: 'ff02::1:ff00:3', ethDst: '33:33:ff:00:00:03' }), st), {
      kind: 'ignore',
    });
  });
});
