// Layer2Announcer against a recording fake OpenLink and a FakeClock: lazy sockets, probing, bursts, conflicts,
// withdrawal, counters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { FakeClock, settle } from '../../kube/clock.ts';
import { arpPacket } from './arp.ts';
import { macToBuffer } from './errors.ts';
import { ethernetHeader } from './ethernet.ts';
import { ndpPacket } from './ndp.ts';
import { arpFrame, arpProbe, dadProbe, gratuitousArp, ndpFrame } from './responder.ts';
import { ndpFilter } from '../link/ndp-filter.ts';
import { NDP_FILTER, arpFilter, type BpfInstruction } from '../link/packet.ts';
import { FRIENDLY_CLAIM_GRACE_MS, Layer2Announcer, type Announcement, type LinkPort, type OpenLink } from './announcer.ts';

const VIP4 = '198.51.100.10';
const VIP6 = '2001:db8:77::10';
const CLIENT = '02:00:00:77:00:01';
const FOREIGN = '02:00:00:99:00:01';
const PEER = '02:00:00:77:00:03'; // another berth speaker

class FakeLink implements LinkPort {
  sent: Buffer[] = [];
  closed = false;
  failSend = false;
  constructor(
    readonly ifname: string,
    readonly ethertype: number,
    readonly mac: Buffer,
    readonly onFrame: (f: Buffer) => void,
  ) {}
  groups: string[] = [];
  filters: (readonly BpfInstruction[])[] = [];
  kernelDrops = 0;
  stats(): { kernelDrops: number } {
    return { kernelDrops: this.kernelDrops };
  }
  attachFilter(program: readonly BpfInstruction[]): void {
    this.filters.push(program);
  }
  addMembership(m: { kind: 'multicast'; mac: string }): void {
    this.groups.push(m.mac);
  }
  dropMembership(m: { kind: 'multicast'; mac: string }): void {
    this.groups = this.groups.filter((g) => g !== m.mac);
  }
  joined: string[] = [];
  joinGroup(group: string): void {
    this.joined.push(group);
  }
  leaveGroup(group: string): void {
    this.joined = this.joined.filter((g) => g !== group);
  }
  send(frame: Buffer): void {
    if (this.failSend) throw new Error('ENETDOWN');
    this.sent.push(frame);
  }
  close(): void {
    this.closed = true;
  }
  /** Sent frames as short strings: `probe 198.51.100.10`, `garp-req …`, `garp-rep …`, `arp-reply …`, `na …`, `dad …`. */
  log(): string[] {
    return this.sent.map(frameSummary);
  }
  take(): string[] {
    const l = this.log();
    this.sent = [];
    return l;
  }
}

function frameSummary(f: Buffer): string {
  const eth = ethernetHeader.decode(f).value;
  if (eth.ethertype === 0x0806) {
    const a = arpPacket.decode(f, 14).value;
    if (a.senderProtocolAddress === '0.0.0.0') return `probe ${a.targetProtocolAddress}`;
    if (a.senderProtocolAddress === a.targetProtocolAddress)
      return `garp-${a.operation === 1 ? 'req' : 'rep'} ${a.targetProtocolAddress}`;
    return `arp-reply ${a.senderProtocolAddress} to ${a.targetHardwareAddress}`;
  }
  const p = ndpPacket.decode(f, 14).value;
  if (p.message.type === 'neighbor-solicitation') return `dad ${p.message.target}`;
  return `na ${p.message.target} ${p.message.solicited ? 'S' : ''}${p.message.override ? 'O' : ''} to ${p.destination}`;
}

/** A FakeLink that also takes the native ARP sets (like PacketSocket.setArpAnswers) and reports fake counts. */
class NativeFakeLink extends FakeLink {
  pushed: Array<[string[], string[]]> = [];
  answered = new Map<string, { answered: number; sendErrors: number }>();
  refuse = false;
  setArpAnswers(announced: readonly string[], watched: readonly string[]): void {
    if (this.refuse && announced.length > 0) throw new Error('ENOSYS');
    this.pushed.push([[...announced].sort(), [...watched].sort()]);
  }
  takeArpAnswerStats(): { perIp: Map<string, { answered: number; sendErrors: number }> } {
    const perIp = this.answered;
    this.answered = new Map();
    return { perIp };
  }
}

function setup(
  o: {
    native?: boolean;
    links?: { arp: string[]; ndp: string[] };
    failOpen?: string;
    probe?: { count: number; intervalMs: number };
    friendly?: string[];
    standby?: { ipv4: boolean; ipv6: boolean };
  } = {},
) {
  const clock = new FakeClock(0);
  const links: FakeLink[] = [];
  const macs: Record<string, string> = { eth0: '02:00:00:77:00:02', eth1: '02:00:00:77:01:02' };
  const openLink: OpenLink = (ifname, ethertype, onFrame) => {
    if (ifname === o.failOpen) throw Object.assign(new Error(`ENODEV ${ifname}`), { code: 'ENODEV' });
    const l = new (o.native ? NativeFakeLink : FakeLink)(
      ifname,
      ethertype,
      macToBuffer(macs[ifname] ?? '02:00:00:00:00:ff'),
      onFrame,
    );
    links.push(l);
    return l;
  };
  const events: string[] = [];
  const a = new Layer2Announcer({
    openLink,
    clock,
    links: () => o.links ?? { arp: ['eth0'], ndp: ['eth0'] },
    log: pino({ level: 'silent' }),
    probe: o.probe,
    friendlyMacs: () => new Set(o.friendly ?? [PEER]),
    conflict: { recheckMs: 1000, clearAfterMs: 3000 },
    standby: o.standby,
  });
  for (const ev of ['conflict', 'conflictCleared', 'announced', 'withdrawn', 'linkError'] as const)
    a.on(ev, (...args: unknown[]) =>
      events.push(`${ev} ${args.map((x) => (x instanceof Error ? x.message : String(x))).join(' ')}`),
    );
  const open = (ifname: string, ethertype: number): FakeLink | undefined =>
    links.find((l) => l.ifname === ifname && l.ethertype === ethertype && !l.closed);
  return { a, clock, links, events, open };
}

const ann = (ip: string, interfaces: string[] = [], extra: Partial<Announcement> = {}): Announcement => ({
  ip,
  service: 'default/web',
  interfaces,
  ...extra,
});

function arpRequest(ip: string, sha = CLIENT): Buffer {
  return arpFrame('ff:ff:ff:ff:ff:ff', macToBuffer(sha), {
    operation: 1,
    senderHardwareAddress: sha,
    senderProtocolAddress: '198.51.100.1',
    targetHardwareAddress: '00:00:00:00:00:00',
    targetProtocolAddress: ip,
  });
}

function arpReplyFrom(mac: string, ip: string): Buffer {
  return arpFrame('02:00:00:77:00:02', macToBuffer(mac), {
    operation: 2,
    senderHardwareAddress: mac,
    senderProtocolAddress: ip,
    targetHardwareAddress: '02:00:00:77:00:02',
    targetProtocolAddress: '0.0.0.0',
  });
}

function ns(target: string): Buffer {
  return ndpFrame('33:33:ff:00:00:10', macToBuffer(CLIENT), {
    source: '2001:db8:77::1',
    destination: 'ff02::1:ff00:10',
    hopLimit: 255,
    message: {
      type: 'neighbor-solicitation',
      target,
      options: [{ type: 'source-link-layer-address', address: CLIENT }],
    },
  });
}

function foreignNa(target: string, mac = FOREIGN): Buffer {
  return ndpFrame('33:33:00:00:00:01', macToBuffer(mac), {
    source: target,
    destination: 'ff02::1',
    hopLimit: 255,
    message: {
      type: 'neighbor-advertisement',
      router: false,
      solicited: false,
      override: true,
      target,
      options: [{ type: 'target-link-layer-address', address: mac }],
    },
  });
}

describe('Layer2Announcer', () => {
  it('opens sockets lazily, probes 3 × 100 ms, then answers and bursts for 5 s (MetalLB §5.3)', async () => {
    const { a, clock, events, open, links } = setup();
    assert.equal(links.length, 0);
    a.set([ann(VIP4), ann(VIP6)]);
    const arp = open('eth0', 0x0806)!;
    const v6 = open('eth0', 0x86dd)!;
    assert.ok(arp && v6);
    assert.deepEqual(arp.take(), [`probe ${VIP4}`]);
    assert.deepEqual(v6.take(), [`dad ${VIP6}`]);
    // Not answered while probing.
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), []);
    await clock.advance(200);
    assert.deepEqual(arp.take(), [`probe ${VIP4}`, `probe ${VIP4}`]);
    assert.deepEqual(events, []);
    await clock.advance(100);
    assert.deepEqual(arp.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`]);
    assert.deepEqual(v6.take(), [`dad ${VIP6}`, `dad ${VIP6}`, `na ${VIP6} O to ff02::1`]);
    assert.deepEqual(events, [`announced ${VIP4}`, `announced ${VIP6}`]);
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [`arp-reply ${VIP4} to ${CLIENT}`]);
    v6.onFrame(ns(VIP6));
    assert.deepEqual(v6.take(), [`na ${VIP6} S to 2001:db8:77::1`]);
    await clock.advance(10_000);
    // Re-sent at +1.1, 2.2, 3.3, 4.4 s: 5 pairs in all, then silence.
    assert.equal(arp.take().length, 8);
    assert.equal(v6.take().length, 4);
    const s = a.stats();
    assert.equal(s.gratuitousSent.get(VIP4), 10);
    assert.equal(s.gratuitousSent.get(VIP6), 5);
    assert.equal(s.requestsReceived.get(VIP4), 1);
    assert.equal(s.responsesSent.get(VIP6), 1);
    assert.equal(s.drops.get('not-announced'), 1);
    a.close();
    assert.equal(clock.pending, 0);
  });

  it('withdraws at once, closes idle sockets (standby off), and does not probe again when the IP comes back', async () => {
    const { a, clock, events, open } = setup({ standby: { ipv4: false, ipv6: false } });
    a.set([ann(VIP4)]);
    await clock.advance(300);
    const arp = open('eth0', 0x0806)!;
    arp.take();
    a.set([]);
    assert.equal(arp.closed, true);
    assert.deepEqual(events, [`announced ${VIP4}`, `withdrawn ${VIP4}`]);
    arp.onFrame(arpRequest(VIP4));
    await clock.advance(5000);
    assert.deepEqual(arp.take(), [], 'nothing sent after the withdraw');
    a.set([ann(VIP4)]);
    const again = open('eth0', 0x0806)!;
    assert.notEqual(again, arp);
    assert.deepEqual(again.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`], 'failback: no probe');
    a.close();
  });

  it('joins the solicited-node MAC and group (MLD) of each watched IPv6 once, and leaves them with the last IP', () => {
    const { a, open } = setup();
    a.set([ann(VIP6), ann('2001:db8:78::10')]); // same low 24 bits → one group
    const v6 = open('eth0', 0x86dd)!;
    assert.deepEqual(v6.groups, ['33:33:ff:00:00:10']);
    a.set([ann('2001:db8:78::10'), ann('2001:db8:77::11')]);
    assert.deepEqual(v6.groups, ['33:33:ff:00:00:10', '33:33:ff:00:00:11']);
    assert.deepEqual(v6.joined, ['ff02::1:ff00:10', 'ff02::1:ff00:11'], 'joined at the IP layer too (MLD)');
    a.set([ann('2001:db8:77::11')]);
    assert.deepEqual(v6.groups, ['33:33:ff:00:00:11']);
    assert.deepEqual(v6.joined, ['ff02::1:ff00:11']);
    a.close();
  });

  it("counts the sockets' kernel drops as drop reason queue-full, also after a socket closed", () => {
    const { a, open } = setup({ standby: { ipv4: false, ipv6: false } });
    a.set([ann(VIP4), ann(VIP6)]);
    assert.equal(a.stats().drops.has('queue-full'), false, 'no entry before the first drop');
    open('eth0', 0x0806)!.kernelDrops = 5;
    open('eth0', 0x86dd)!.kernelDrops = 2;
    assert.equal(a.stats().drops.get('queue-full'), 7);
    a.set([ann(VIP6)]); // the ARP socket closes: its 5 stay counted
    assert.equal(open('eth0', 0x0806), undefined);
    assert.equal(a.stats().drops.get('queue-full'), 7);
    a.close();
    assert.equal(a.stats().drops.get('queue-full'), 7);
  });

  it('gives each IPv6 socket an NDP filter and each ARP socket a filter passing its watched IPs, once per change', async () => {
    const { a, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP6), ann(VIP4), ann('198.51.100.11')]);
    const ndp = open('eth0', 0x86dd)!;
    assert.deepEqual(ndp.filters, [ndpFilter([])], 'at open, before any frame: no NS/NA target watched yet');
    const arp = open('eth0', 0x0806)!;
    await settle();
    const mac = macToBuffer('02:00:00:77:00:02');
    assert.deepEqual(arp.filters, [arpFilter(mac, [VIP4, '198.51.100.11'])]);
    assert.deepEqual(ndp.filters, [ndpFilter([]), ndpFilter([VIP6])], 'the watched IPv6 pushed once');
    a.set([ann(VIP6)]);
    await settle();
    assert.deepEqual(arp.filters.at(-1), arpFilter(mac, []), 'standby: passes no plain request');
    assert.equal(arp.filters.length, 2);
    assert.equal(ndp.filters.length, 2, 'IPv6 unchanged: no push');
    a.set([ann(VIP4)]);
    await settle();
    assert.deepEqual(ndp.filters.at(-1), ndpFilter([]), 'IPv6 standby: passes no NS/NA of a target');
    a.close();
  });

  it('an IPv6 link whose per-IP filter is refused falls back to NDP_FILTER and says so', async () => {
    const { a, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4)]);
    const ndp = open('eth0', 0x86dd)!;
    let refuse = true;
    const attach = ndp.attachFilter.bind(ndp);
    ndp.attachFilter = (program) => {
      if (refuse && program !== NDP_FILTER) throw new Error('EINVAL');
      attach(program);
    };
    a.set([ann(VIP4), ann(VIP6)]);
    await settle();
    assert.deepEqual(ndp.filters.at(-1), NDP_FILTER);
    refuse = false;
    a.set([ann(VIP4)]);
    await settle();
    assert.deepEqual(ndp.filters.at(-1), NDP_FILTER, 'off for good on that socket');
    a.close();
  });

  it('skips probing when the announcement says probe: false (takeover) or probe.count is 0', async () => {
    const { a, open } = setup();
    a.set([ann(VIP4, [], { probe: false })]);
    assert.deepEqual(open('eth0', 0x0806)!.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`]);
    a.close();
    const b = setup({ probe: { count: 0, intervalMs: 100 } });
    b.a.set([ann(VIP6)]);
    assert.deepEqual(b.open('eth0', 0x86dd)!.take(), [`na ${VIP6} O to ff02::1`]);
    b.a.close();
  });

  it('a foreign answer to the probe blocks the IP, raises conflict, re-probes, and clears once the host is silent', async () => {
    const { a, clock, events, open } = setup();
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806)!;
    arp.take();
    arp.onFrame(arpReplyFrom(FOREIGN, VIP4));
    assert.deepEqual(events, [`conflict ${VIP4} ${FOREIGN} eth0 false`]);
    await clock.advance(500);
    assert.deepEqual(arp.take(), [], 'no more probes, no announcement');
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [], 'not answered');
    // Re-probes every second from the claim (t=0); the foreign host answers two of them, then goes away.
    await clock.advance(600); // t=1100: re-probe at 1000
    assert.deepEqual(arp.take(), [`probe ${VIP4}`]);
    arp.onFrame(arpReplyFrom(FOREIGN, VIP4));
    await clock.advance(1000); // t=2100 (re-probe at 2000)
    arp.onFrame(arpReplyFrom(FOREIGN, VIP4));
    assert.equal(events.length, 1, 'the same MAC is reported once');
    assert.deepEqual(a.state().get(VIP4), [{ ifname: 'eth0', phase: 'blocked', conflictMac: FOREIGN }]);
    await clock.advance(2000); // t=4100: 2 s since the last claim
    assert.equal(events.length, 1);
    await clock.advance(1000); // t=5100: the re-probe at 5000 saw 2.9 s of silence
    assert.equal(events.length, 1);
    await clock.advance(1000); // t=6100: the re-probe at 6000 sees 3.9 s → cleared, announced without a new probe
    assert.deepEqual(events, [
      `conflict ${VIP4} ${FOREIGN} eth0 false`,
      `conflictCleared ${VIP4}`,
      `announced ${VIP4}`,
    ]);
    assert.deepEqual(arp.take().slice(-2), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`]);
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [`arp-reply ${VIP4} to ${CLIENT}`]);
    a.close();
  });

  it('claims by berth speakers (friendlyMacs) are never conflicts', async () => {
    const { a, clock, events, open } = setup();
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806)!;
    arp.onFrame(gratuitousArp(macToBuffer(PEER), VIP4)[0]!);
    await clock.advance(300);
    assert.deepEqual(events, [`announced ${VIP4}`]);
    a.close();
  });

  it('another berth speaker announcing an IP this node answers (its view lost us): no conflict, a new burst 200 ms later, once per 10 s', async () => {
    const { a, clock, events, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4), ann(VIP6)]);
    const arp = open('eth0', 0x0806)!;
    const v6 = open('eth0', 0x86dd)!;
    await clock.advance(6000);
    arp.take();
    v6.take();
    events.length = 0;
    // The peer's takeover burst: a gratuitous ARP pair and an unsolicited NA with its MAC.
    for (const f of gratuitousArp(macToBuffer(PEER), VIP4)) arp.onFrame(f);
    v6.onFrame(foreignNa(VIP6, PEER));
    assert.deepEqual(arp.take(), [], 'not at once: a handover this node is about to see would be undone');
    await clock.advance(FRIENDLY_CLAIM_GRACE_MS);
    assert.deepEqual(arp.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`], 'clients that followed the peer come back');
    assert.deepEqual(v6.take(), [`na ${VIP6} O to ff02::1`]);
    await clock.advance(1100);
    assert.deepEqual(arp.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`], 'a burst, as after a takeover');
    await clock.advance(5000); // the burst ends (5 s after its trigger)
    arp.take();
    for (const f of gratuitousArp(macToBuffer(PEER), VIP4)) arp.onFrame(f);
    await clock.advance(500);
    assert.deepEqual(arp.take(), [], 'at most once per 10 s');
    assert.deepEqual(events, [], 'a berth speaker is no conflict');
    assert.deepEqual(a.state().get(VIP4)?.[0]?.phase, 'active');
    a.close();
  });

  it('another berth speaker announcing an IP this node withdraws within 200 ms (a handover): nothing sent', async () => {
    const { a, clock, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806)!;
    await clock.advance(6000);
    arp.take();
    for (const f of gratuitousArp(macToBuffer(PEER), VIP4)) arp.onFrame(f);
    await clock.advance(50);
    a.set([]);
    await clock.advance(1000);
    assert.deepEqual(arp.take(), []);
    a.close();
  });

  it('a foreign claim while announced raises conflict, keeps answering, defends once per 10 s', async () => {
    const { a, clock, events, open } = setup();
    a.set([ann(VIP6)]);
    await clock.advance(300);
    const v6 = open('eth0', 0x86dd)!;
    await clock.advance(6000);
    v6.take();
    v6.onFrame(foreignNa(VIP6));
    assert.deepEqual(events, [`announced ${VIP6}`, `conflict ${VIP6} ${FOREIGN} eth0 true`]);
    assert.deepEqual(v6.take(), [`na ${VIP6} O to ff02::1`], 'one defending NA');
    v6.onFrame(foreignNa(VIP6));
    assert.deepEqual(v6.take(), [], 'not again within 10 s');
    v6.onFrame(ns(VIP6));
    assert.deepEqual(v6.take(), [`na ${VIP6} S to 2001:db8:77::1`], 'still answering');
    a.close();
  });

  it('a foreign ARP probe or DAD probe for an announced IP is answered (defended) and raised as a conflict; a berth speaker probing is not', async () => {
    const { a, clock, events, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4), ann(VIP6)]);
    const arp = open('eth0', 0x0806)!;
    const v6 = open('eth0', 0x86dd)!;
    await clock.advance(6000);
    arp.take();
    v6.take();
    events.length = 0;
    arp.onFrame(arpProbe(macToBuffer(PEER), VIP4));
    assert.deepEqual(events, [], 'a berth speaker probing is no conflict');
    arp.take();
    arp.onFrame(arpProbe(macToBuffer(FOREIGN), VIP4));
    v6.onFrame(dadProbe(macToBuffer(FOREIGN), VIP6));
    assert.deepEqual(events, [`conflict ${VIP4} ${FOREIGN} eth0 true`, `conflict ${VIP6} ${FOREIGN} eth0 true`]);
    assert.ok(arp.take().some((l) => l.startsWith(`arp-reply ${VIP4}`)), 'the probe is answered');
    assert.ok(v6.take().includes(`na ${VIP6} O to ff02::1`), 'the DAD probe is answered');
    assert.deepEqual(a.state().get(VIP4)?.[0]?.phase, 'active', 'still announced');
    await clock.advance(5000);
    assert.deepEqual(events.slice(2), [`conflictCleared ${VIP4}`, `conflictCleared ${VIP6}`], 'cleared once silent');
    a.close();
  });

  it('reannounce restarts the 5 s window; only active IPs are re-announced', async () => {
    const { a, clock, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806)!;
    await clock.advance(3000);
    arp.take();
    a.reannounce(VIP4);
    assert.equal(arp.take().length, 2);
    await clock.advance(10_000);
    // ticks at 3.3, 4.4, 5.5, 6.6, 7.7 (< 8.0) → 5 pairs
    assert.equal(arp.take().length, 10);
    a.reannounce('198.51.100.99');
    assert.deepEqual(arp.take(), []);
    a.close();
  });

  it('honours interfaces, survives open and send failures, and ignores bad IPs', async () => {
    const { a, clock, events, open, links } = setup({
      links: { arp: ['eth0', 'eth1', 'eth2'], ndp: ['eth0'] },
      failOpen: 'eth2',
      probe: { count: 0, intervalMs: 0 },
      standby: { ipv4: false, ipv6: false },
    });
    a.set([ann(VIP4, ['eth1']), ann('198.51.100.300'), ann(VIP6, ['eth9'])]);
    assert.deepEqual(
      links.map((l) => `${l.ifname}/${l.ethertype}`),
      ['eth1/2054'],
    );
    a.set([ann(VIP4)]);
    assert.deepEqual(
      events.filter((e) => e.startsWith('linkError')),
      ['linkError eth2 ENODEV eth2'],
    );
    const eth0 = open('eth0', 0x0806)!;
    eth0.failSend = true;
    eth0.onFrame(arpRequest(VIP4));
    await clock.advance(2000);
    assert.equal(open('eth1', 0x0806)!.sent.length, 4);
    assert.equal(a.stats().requestsReceived.get(VIP4), 1);
    assert.equal(a.stats().responsesSent.get(VIP4), undefined);
    a.close();
    assert.ok(links.every((l) => l.closed));
    eth0.failSend = false;
    eth0.sent = [];
    eth0.onFrame(arpRequest(VIP4));
    assert.deepEqual(eth0.sent, []);
    await settle();
  });

  it('keeps standby sockets open on every link while no IP is held, so a takeover opens nothing', async () => {
    const { a, clock, open, links, events } = setup({
      links: { arp: ['eth0', 'eth1'], ndp: ['eth0'] },
      probe: { count: 0, intervalMs: 0 },
    });
    a.set([]);
    assert.deepEqual(
      links.map((l) => `${l.ifname}/${l.ethertype}`),
      ['eth0/2054', 'eth1/2054', 'eth0/34525'],
      'opened with no IP held',
    );
    const arp = open('eth0', 0x0806)!;
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [], 'an idle socket answers nothing');
    a.set([ann(VIP4, ['eth0'])]);
    assert.equal(links.length, 3, 'the takeover opened nothing');
    assert.deepEqual(arp.take(), [`garp-req ${VIP4}`, `garp-rep ${VIP4}`]);
    a.set([]);
    assert.equal(arp.closed, false, 'kept open after the withdraw');
    assert.deepEqual(events, [`announced ${VIP4}`, `withdrawn ${VIP4}`]);
    await clock.advance(10_000);
    assert.deepEqual(arp.take(), [], 'nothing sent after the withdraw');
    a.close();
    assert.ok(links.every((l) => l.closed));
  });

  it('tries a standby socket that cannot open once per link appearance; an IP that needs the link still tries', () => {
    const links0 = { arp: ['eth0', 'eth2'], ndp: [] as string[] };
    const { a, events } = setup({ links: links0, failOpen: 'eth2', probe: { count: 0, intervalMs: 0 } });
    a.set([]);
    a.set([]);
    assert.deepEqual(events, ['linkError eth2 ENODEV eth2'], 'once, not on every set()');
    a.set([ann(VIP4, ['eth2'])]);
    const errors = (): number => events.filter((e) => e.startsWith('linkError')).length;
    assert.equal(errors(), 2, 'the IP tries');
    links0.arp = ['eth0'];
    a.set([]);
    links0.arp = ['eth0', 'eth2'];
    a.set([]);
    assert.equal(errors(), 3, 'the link came back: tried again');
    a.close();
  });

  it('closes a standby socket when its link leaves links()', () => {
    const links0 = { arp: ['eth0', 'eth1'], ndp: [] as string[] };
    const { a, links } = setup({ links: links0 });
    a.set([]);
    assert.equal(links.length, 2);
    links0.arp = ['eth0'];
    a.set([]);
    assert.deepEqual(
      links.map((l) => `${l.ifname}:${l.closed}`),
      ['eth0:false', 'eth1:true'],
    );
    a.close();
  });

  it('pushes the announced and watched IPv4s to a link that answers ARP natively, and counts its answers', async () => {
    const { a, clock, open } = setup({
      probe: { count: 1, intervalMs: 100 },
      standby: { ipv4: false, ipv6: false },
      native: true,
    });
    a.set([ann(VIP4), ann('198.51.100.11')]);
    const arp = open('eth0', 0x0806) as NativeFakeLink;
    assert.deepEqual(arp.pushed, [], 'pushed by a microtask, once per burst of changes');
    await settle();
    assert.deepEqual(arp.pushed, [[[], [VIP4, '198.51.100.11']]], 'probing: watched, not answered');
    await clock.advance(200);
    assert.deepEqual(arp.pushed.at(-1), [
      [VIP4, '198.51.100.11'],
      [VIP4, '198.51.100.11'],
    ]);
    arp.answered = new Map([[VIP4, { answered: 7, sendErrors: 1 }]]);
    const s = a.stats();
    assert.equal(s.requestsReceived.get(VIP4), 8);
    assert.equal(s.responsesSent.get(VIP4), 7);
    assert.equal(a.stats().responsesSent.get(VIP4), 7, 'taken once');
    a.set([ann('198.51.100.11')]);
    await settle();
    assert.deepEqual(arp.pushed.at(-1), [['198.51.100.11'], ['198.51.100.11']]);
    arp.answered = new Map([['198.51.100.11', { answered: 2, sendErrors: 0 }]]);
    a.set([]);
    assert.equal(arp.closed, true);
    assert.equal(a.stats().responsesSent.get('198.51.100.11'), 2, 'folded before the socket closed');
    a.close();
  });

  it('falls back to answering in JS when the link refuses the native sets', async () => {
    const { a, clock, open } = setup({ probe: { count: 0, intervalMs: 0 }, native: true });
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806) as NativeFakeLink;
    arp.refuse = true;
    await settle();
    arp.take();
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [`arp-reply ${VIP4} to ${CLIENT}`]);
    await clock.advance(0);
    a.close();
  });

  it('counts drops of hostile frames and never throws from onFrame', () => {
    const { a, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4)]);
    const arp = open('eth0', 0x0806)!;
    arp.onFrame(Buffer.alloc(3));
    arp.onFrame(Buffer.from('ffffffffffff0200007700010806000100', 'hex'));
    assert.equal(a.stats().drops.get('truncated'), 2);
    a.close();
  });

  it('random and mutated frames never throw out of onFrame and leave the announcer answering', async () => {
    const { a, clock, open } = setup({ probe: { count: 0, intervalMs: 0 } });
    a.set([ann(VIP4), ann(VIP6)]);
    const arp = open('eth0', 0x0806)!;
    const v6 = open('eth0', 0x86dd)!;
    const seeds = [arpRequest(VIP4), arpReplyFrom(FOREIGN, VIP4), ns(VIP6), foreignNa(VIP6)];
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (seed, edits, cut) => {
          const f = Buffer.from(seed);
          for (const [i, v] of edits) f[i % f.length] = v;
          const frame = f.subarray(0, cut % (f.length + 1));
          arp.onFrame(frame);
          v6.onFrame(frame);
        },
      ),
      { numRuns: 1000, seed: 42 },
    );
    await clock.advance(60_000);
    arp.sent = [];
    arp.onFrame(arpRequest(VIP4));
    assert.deepEqual(arp.take(), [`arp-reply ${VIP4} to ${CLIENT}`]);
    a.close();
  });
});
