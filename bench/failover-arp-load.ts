// ARP (or NDP) request load, run inside a client namespace (`ip netns exec <client> node --import tsx
// bench/failover-arp-load.ts --ifname eth0 --target IP --rate N --seconds S [--requester native|js]`) by
// bench:failover and bench:arp-load: sends RFC 826 requests (or, with an IPv6 --target, RFC 4861 Neighbor
// Solicitations; JS requester only) for the target at a steady rate and times each reply.
// Figures (ms), per answered request:
// - `wire` = the request on this interface's wire → the reply on it, both stamped by this namespace's kernel (what
//   `tcpdump -i eth0` prints): a second AF_PACKET socket bound to ETH_P_ALL (a tap; only those get copies of
//   outgoing frames, and a packet socket never sees its own) sees the request leave (PACKET_OUTGOING) and the reply
//   arrive, each with its kernel timestamp. The responder's whole work, both kernels, the veth pairs and the bridge,
//   and none of the requester's own delays. The figure the target (p99 ≤ 1 ms) is read on.
// - `send` = the requester's clock just before its send call → the reply's kernel stamp (what `wire` meant before
//   the tap): also counts the requester's delays between that clock read and the frame reaching the
//   wire (a batch's later frames, a preempted requester).
// - p50Ms…maxMs = send call → reply in the requester's code (JS handler or native thread); `wake` = reply's kernel
//   stamp → there (the requester's own wake-up, not the responder's).
// --requester native (default for an IPv4 target when the addon has it: src/speaker/link/packet.ts runArpLoad,
// native/src/arp_load.cc): a thread of the addon sends paced sendmmsg(2) batches (--tick-us, default 1000) and reads
// the tap with recvmmsg(2), so the generator costs a fraction of the CPU the JS one took (tsx start-up aside) and
// does not take the core the responder answers on. --requester js: the former requester, JS on Node's event loop,
// with a tap of its own (openPacketTap) for `wire`.
// --match sha (bench:arp-load, a veth pair): exact. Request n carries sender hardware address (ar$sha, or the NS's
// Source Link-Layer Address option) 02:00:nn:nn:nn:nn (locally administered, unicast) and the responder answers to
// it (RFC 826; RFC 4861 §7.2.4), so the reply's ar$tha (the NA's Ethernet destination) names the request; the
// Ethernet source stays the interface's own MAC and AF_PACKET still delivers replies to the 02:00:… MACs
// (PACKET_OTHERHOST). Not for a bridge: it never learns those MACs and floods every reply to every port.
// --reference IP (sha only): every --reference-every-th request (default 10) asks for that IP instead, one
// configured on the responder's interface, which its kernel answers: the same path without the responder's code,
// measured in the same run and printed apart.
// --match spa (default; bench:failover's bridged lab, ARP only): ar$sha is the interface's MAC and a reply is
// matched by its ar$tpa to the latest request sent from that sender IP (ar$spa); the sender IPs rotate over the
// documentation ranges 192.0.2.0/24, 198.51.100.30-199 and 203.0.113.0/24 (682 values, the target left out), so a
// reply later than 682 requests (34 ms at 20,000/s) is matched to a newer request (under-timed; the older one counts
// as lost).
// JS requester: requests go out in paced batches (one batch per ~1 ms timer tick, so the generator leaves CPU to the
// responder on a small machine); with --batch the batch is one sendmmsg(2) (PacketSocket.sendBatch), else one
// send(2) per frame.
// Prints one JSON line: { requester, sent, replies, unmatched, late, lost, seconds, rate, p50Ms, p90Ms, p99Ms, maxMs,
// wireP50Ms, wireP90Ms, wireP99Ms, wireMaxMs, sendP50Ms, sendP99Ms, wakeP50Ms, wakeP99Ms, wireSamples, requestsSeen,
// kernelDrops, cpuMs: { user, system }, reference? } — `unmatched` replies name no request we sent (or one already
// answered), `late` replies came after the 200 ms grace period (counted as lost), `wireSamples` the replies whose
// request the tap saw (wire figures are over those), `requestsSeen` the outgoing requests the tap stamped,
// `kernelDrops` the generator's own receive-queue drops (if not 0 the generator, not the responder, lost replies),
// `cpuMs` the generator's CPU during the run (native: its thread, sends' softirq work included; js: the whole process
// from the first request on); `reference` holds the same figures for the reference IP. Documentation ranges only.
import { parseArgs } from 'node:util';
import ipaddr from 'ipaddr.js';
import { arpPacket, ARP_REQUEST } from '../src/speaker/layer2/arp.ts';
import { macToBuffer } from '../src/speaker/layer2/errors.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6, ethernetHeader } from '../src/speaker/layer2/ethernet.ts';
import { icmpv6Checksum, ipv6Bytes, ipv6MulticastMac, solicitedNodeAddress } from '../src/speaker/layer2/ndp.ts';
import { ndpFrame } from '../src/speaker/layer2/responder.ts';
import {
  hasNativeArpLoad,
  openPacketSocket,
  ARP_ONLY_FILTER,
  openPacketTap,
  realtimeMicros,
  runArpLoad,
  type ArpLoadSeries,
} from '../src/speaker/link/packet.ts';

const { values: v } = parseArgs({
  options: {
    ifname: { type: 'string', default: 'eth0' },
    target: { type: 'string' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    batch: { type: 'boolean', default: false },
    match: { type: 'string', default: 'spa' },
    reference: { type: 'string' },
    'reference-every': { type: 'string', default: '10' },
    source: { type: 'string' },
    requester: { type: 'string' },
    'tick-us': { type: 'string', default: '1000' },
  },
});
if (v.match !== 'sha' && v.match !== 'spa') {
  process.stderr.write(`failover-arp-load: --match ${v.match} is invalid: sha or spa\n`);
  process.exit(2);
}
const bySha = v.match === 'sha';
const rate = Number(v.rate);
const seconds = Number(v.seconds);
const every = Number(v['reference-every']);
if (!v.target || !ipaddr.isValid(v.target) || !(rate > 0) || !(seconds > 0)) {
  process.stderr.write(
    `failover-arp-load: --target IP (got ${String(v.target)}), --rate > 0 (got ${v.rate}), --seconds > 0 (got ${v.seconds}) are required\n`,
  );
  process.exit(2);
}
const v6 = ipaddr.parse(v.target).kind() === 'ipv6';
if ((v6 || v.reference) && !bySha) {
  process.stderr.write('failover-arp-load: an IPv6 --target and --reference need --match sha\n');
  process.exit(2);
}
if (v.reference && (!ipaddr.isValid(v.reference) || ipaddr.parse(v.reference).kind() !== (v6 ? 'ipv6' : 'ipv4'))) {
  process.stderr.write(`failover-arp-load: --reference ${v.reference} must be an address of the target's family\n`);
  process.exit(2);
}
if (!(Number.isInteger(every) && every >= 2)) {
  process.stderr.write(`failover-arp-load: --reference-every ${String(v['reference-every'])} must be an integer >= 2\n`);
  process.exit(2);
}
const requester = v.requester ?? (!v6 && hasNativeArpLoad() ? 'native' : 'js');
if (requester !== 'native' && requester !== 'js') {
  process.stderr.write(`failover-arp-load: --requester ${requester} is invalid: native or js\n`);
  process.exit(2);
}
if (requester === 'native' && v6) {
  process.stderr.write('failover-arp-load: --requester native sends ARP only: use --requester js for an IPv6 --target\n');
  process.exit(2);
}
const tickUs = Number(v['tick-us']);
if (!(Number.isFinite(tickUs) && tickUs >= 10 && tickUs <= 1e6)) {
  process.stderr.write(`failover-arp-load: --tick-us ${String(v['tick-us'])} must be a number of µs in 10..1000000\n`);
  process.exit(2);
}
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
/** The p-quantile of `l` (ms), rounded to µs; NaN for an empty list. */
const q = (l: ArrayLike<number>, p: number): number => {
  const s = Float64Array.from(l).sort();
  return r3(s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN);
};
/** Latencies in ms of one kind of request: end to end into the requester (lat), wire, send, wake. */
interface Series {
  lat: number[];
  wire: number[];
  send: number[];
  wake: number[];
}
const figures = (s: Series, asked: number): Record<string, number> => ({
  replies: s.lat.length,
  lost: asked - s.lat.length,
  p50Ms: q(s.lat, 0.5),
  p90Ms: q(s.lat, 0.9),
  p99Ms: q(s.lat, 0.99),
  maxMs: q(s.lat, 1),
  wireP50Ms: q(s.wire, 0.5),
  wireP90Ms: q(s.wire, 0.9),
  wireP99Ms: q(s.wire, 0.99),
  wireMaxMs: q(s.wire, 1),
  wireSamples: s.wire.length,
  sendP50Ms: q(s.send, 0.5),
  sendP99Ms: q(s.send, 0.99),
  wakeP50Ms: q(s.wake, 0.5),
  wakeP99Ms: q(s.wake, 0.99),
});

if (requester === 'native') {
  const r = await runArpLoad({
    ifname: v.ifname!,
    target: v.target,
    rate,
    seconds,
    match: bySha ? 'sha' : 'spa',
    tickMicros: tickUs,
    ...(v.reference ? { reference: v.reference, referenceEvery: every } : {}),
  });
  const ms = (a: Float64Array): number[] => Array.from(a, (x) => x / 1000);
  const series = (s: ArpLoadSeries): Series => ({
    lat: ms(s.readMicros),
    wire: ms(s.wireMicros),
    send: ms(s.sendMicros),
    wake: Array.from(s.readMicros, (x, i) => (x - s.sendMicros[i]!) / 1000),
  });
  process.stdout.write(
    `${JSON.stringify({
      requester,
      sent: r.main.asked,
      unmatched: r.unmatched,
      late: r.late,
      seconds: r3(r.seconds),
      rate: Math.round(r.sent / r.seconds),
      ...figures(series(r.main), r.main.asked),
      requestsSeen: r.requestsSeen,
      kernelDrops: r.kernelDrops,
      sendStalls: r.sendStalls,
      cpuMs: { user: Math.round(r.cpuUserMicros / 1000), system: Math.round(r.cpuSystemMicros / 1000) },
      runQueueWaitMs: r.runQueueWaitMicros < 0 ? null : Math.round(r.runQueueWaitMicros / 1000),
      contextSwitches: r.contextSwitches,
      ...(r.reference ? { reference: { sent: r.reference.asked, ...figures(series(r.reference), r.reference.asked) } } : {}),
    })}\n`,
  );
  process.exit(0);
}

const target = ipaddr.parse(v.target).toString();
const reference = v.reference ? ipaddr.parse(v.reference).toString() : undefined;
const isRef = (seq: number): boolean => reference !== undefined && seq % every === every - 1;
const total = Math.round(rate * seconds);
const sentAt = new Float64Array(total); // µs (realtimeMicros) per request sequence number; 0 = not sent or answered
const sentAtKept = new Float64Array(total); // the same, kept after the answer
const txAt = new Float64Array(total); // the request's kernel stamp as the tap saw it leave (0: not seen)
const rxAt = new Float64Array(total); // the reply's kernel stamp (0: not answered in time)
const series = (): Series => ({ lat: [], wire: [], send: [], wake: [] });
const main = series();
const ref = series();
let requestsSeen = 0;
let tapNext = 0; // --match spa: the request the tap's next outgoing copy should be
let unmatched = 0;
let collecting = true;
let late = 0;

const ipBytes = (ip: string): Buffer => (v6 ? ipv6Bytes(ip) : Buffer.from(ipaddr.parse(ip).toByteArray()));
const targetBytes = ipBytes(target);
const refBytes = reference ? ipBytes(reference) : undefined;

const sock = openPacketSocket({
  ifname: v.ifname!,
  ethertype: v6 ? ETHERTYPE_IPV6 : ETHERTYPE_ARP,
  timestamps: true,
  ring: { frames: 32768, frameSize: v6 ? 256 : 128 }, // 4-8 MiB: replies wait here while this process is busy sending
  onFrame: (f, meta) => {
    const now = realtimeMicros();
    let seq: number;
    let which: Series;
    if (v6) {
      // IPv6, ICMPv6 NA (type 136), target at 62..78; Ethernet destination 02:00:<seq> (the NS's SLLA).
      if (f.length < 78 || f.readUInt16BE(12) !== ETHERTYPE_IPV6 || f[20] !== 58 || f[54] !== 136) return;
      if (f.compare(targetBytes, 0, 16, 62, 78) === 0) which = main;
      else if (refBytes && f.compare(refBytes, 0, 16, 62, 78) === 0) which = ref;
      else return;
      if (f[0] !== 0x02 || f[1] !== 0x00) {
        unmatched++;
        return;
      }
      seq = f.readUInt32BE(2);
    } else {
      // Ethernet type ARP, ar$op 2, ar$spa = target; ar$tha = 02:00:<seq> (sha) or ar$tpa = a sender IP of ours (spa).
      if (f.length < 42 || f.readUInt16BE(12) !== ETHERTYPE_ARP || f.readUInt16BE(20) !== 2) return;
      if (f.compare(targetBytes, 0, 4, 28, 32) === 0) which = main;
      else if (refBytes && f.compare(refBytes, 0, 4, 28, 32) === 0) which = ref;
      else return;
      if (bySha) {
        if (f[32] !== 0x02 || f[33] !== 0x00) {
          unmatched++;
          return;
        }
        seq = f.readUInt32BE(34);
      } else {
        const i = spaIndex.get(f.readUInt32BE(38));
        seq = i === undefined ? -1 : lastSeq[i]!;
        if (seq < 0) {
          unmatched++;
          return;
        }
      }
    }
    const t = seq < total ? sentAt[seq]! : 0;
    if (t === 0 || isRef(seq) !== (which === ref)) {
      unmatched++;
      return;
    }
    sentAt[seq] = 0;
    if (!collecting) {
      late++;
      return;
    }
    which.lat.push((now - t) / 1000);
    if (meta.rxMicros > 0) {
      rxAt[seq] = meta.rxMicros; // wire and send: after the run (the tap's copy of the request may come later)
      which.wake.push((now - meta.rxMicros) / 1000);
    }
  },
});
// The tap: our own requests as they leave (a socket never sees its own frames; the tap is another socket).
const tap = openPacketTap({
  ifname: v.ifname!,
  filter: v6
    ? [
        { code: 0x28, jt: 0, jf: 0, k: 12 },
        { code: 0x15, jt: 0, jf: 1, k: ETHERTYPE_IPV6 },
        { code: 0x06, jt: 0, jf: 0, k: 0xffff },
        { code: 0x06, jt: 0, jf: 0, k: 0 },
      ]
    : ARP_ONLY_FILTER,
  ring: { frames: 32768, frameSize: v6 ? 256 : 128 },
  onFrame: (f, stamp) => {
    if (f.compare(sock.mac, 0, 6, 6, 12) !== 0) return; // Ethernet source: not ours
    let seq = -1;
    if (v6) {
      // NS (135) with SLLA 02:00:<seq> at 78..86
      if (f.length < 86 || f.readUInt16BE(12) !== ETHERTYPE_IPV6 || f[20] !== 58 || f[54] !== 135) return;
      if (f[80] !== 0x02 || f[81] !== 0x00) return;
      seq = f.readUInt32BE(82);
    } else {
      if (f.length < 42 || f.readUInt16BE(12) !== ETHERTYPE_ARP || f.readUInt16BE(20) !== 1) return;
      if (f.compare(targetBytes, 0, 4, 38, 42) !== 0 && !(refBytes && f.compare(refBytes, 0, 4, 38, 42) === 0)) return;
      if (bySha) {
        if (f[22] !== 0x02 || f[23] !== 0x00) return;
        seq = f.readUInt32BE(24);
      } else {
        // The tap sees our requests in send order, so the next one is tapNext, or a later one whose ar$spa this is
        // when the tap missed some (not lastSeq: this loop may run more than 682 requests after the send).
        const i = spaIndex.get(f.readUInt32BE(28));
        if (i === undefined) return;
        let s = tapNext;
        while (s < sent && s % SPA.length !== i) s++;
        if (s >= sent) return;
        seq = s;
        tapNext = s + 1;
      }
    }
    if (seq < 0 || seq >= total || txAt[seq] !== 0 || stamp <= 0) return;
    txAt[seq] = stamp;
    requestsSeen++;
  },
});
const mac = [...sock.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
const SPA = [
  ...Array.from({ length: 256 }, (_, i) => `192.0.2.${i}`),
  ...Array.from({ length: 170 }, (_, i) => `198.51.100.${30 + i}`),
  ...Array.from({ length: 256 }, (_, i) => `203.0.113.${i}`),
]
  .filter((ip) => ip !== target && ip !== reference) // a request from the target's own IP would be a claim on it
  .map((ip) => Buffer.from(ip.split('.').map(Number)));
const spaIndex = new Map(SPA.map((b, i) => [b.readUInt32BE(0), i]));
const lastSeq = new Int32Array(SPA.length).fill(-1); // --match spa: the latest request sent from each sender IP

// IPv4: one ARP request template per target. IPv6: an NS from --source (the client's own address) to the target's
// solicited-node group, with SLLA 02:00:<seq>; its checksum is recomputed per request.
const arpTemplate = (tpa: string): Buffer => {
  const b = Buffer.alloc(42);
  ethernetHeader.encode({ destination: 'ff:ff:ff:ff:ff:ff', source: mac, ethertype: ETHERTYPE_ARP }, b, 0);
  arpPacket.encode(
    {
      operation: ARP_REQUEST,
      senderHardwareAddress: bySha ? '02:00:00:00:00:00' : mac,
      senderProtocolAddress: '198.51.100.30',
      targetHardwareAddress: '00:00:00:00:00:00',
      targetProtocolAddress: tpa,
    },
    b,
    14,
  );
  return b;
};
const source = v.source ?? (v6 ? 'fe80::ff:fe77:1' : undefined);
const nsTemplate = (t: string): Buffer => {
  const group = solicitedNodeAddress(t);
  return ndpFrame(ipv6MulticastMac(group), macToBuffer(mac), {
    source: source!,
    destination: group,
    hopLimit: 255,
    message: {
      type: 'neighbor-solicitation',
      target: t,
      options: [{ type: 'source-link-layer-address', address: '02:00:00:00:00:00' }],
    },
  });
};
const template = v6 ? nsTemplate(target) : arpTemplate(target);
const refTemplate = reference ? (v6 ? nsTemplate(reference) : arpTemplate(reference)) : undefined;
const request = (seq: number, into: Buffer): Buffer => {
  (isRef(seq) ? refTemplate! : template).copy(into);
  if (v6) {
    into.writeUInt32BE(seq, 82); // SLLA bytes 2..5 (option at 78: type, length, MAC)
    into.writeUInt16BE(0, 56);
    into.writeUInt16BE(icmpv6Checksum(into.subarray(22, 38), into.subarray(38, 54), into.subarray(54)), 56);
    return into;
  }
  if (bySha) into.writeUInt32BE(seq, 24); // ar$sha bytes 2..5
  if (!isRef(seq)) SPA[seq % SPA.length]!.copy(into, 28);
  else into.writeUInt32BE(0xc6336401, 28); // 198.51.100.1: on the responder's subnet, so its kernel answers
  lastSeq[seq % SPA.length] = seq;
  return into;
};
const one = Buffer.alloc(template.length);
const pool = Array.from({ length: 256 }, () => Buffer.alloc(template.length));
const batchSend = v.batch && typeof sock.sendBatch === 'function';

let sent = 0;
const start = realtimeMicros();
const cpu0 = process.cpuUsage();
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const due = Math.min(total, Math.floor(((realtimeMicros() - start) / 1e6) * rate));
    while (sent < due) {
      if (batchSend) {
        const n = Math.min(due - sent, pool.length);
        const frames = pool.slice(0, n).map((b, i) => request(sent + i, b));
        const t = realtimeMicros();
        for (let i = 0; i < n; i++) sentAt[sent + i] = sentAtKept[sent + i] = t;
        sent += sock.sendBatch(frames);
        if (sent < due) break; // queue full: the rest on the next tick
      } else {
        const f = request(sent, one);
        sentAt[sent] = sentAtKept[sent] = realtimeMicros();
        sock.send(f);
        sent++;
      }
    }
    if (sent >= total) resolve();
    else setTimeout(tick, 1);
  };
  tick();
});
const elapsed = (realtimeMicros() - start) / 1e6;
await new Promise((r) => setTimeout(r, 200)); // the last replies
collecting = false;
await new Promise((r) => setTimeout(r, 50));
const cpu = process.cpuUsage(cpu0);
const kernelDrops = sock.stats().kernelDrops + tap.kernelDrops();
sock.close();
tap.close();
let refSent = 0;
for (let i = 0; i < sent; i++) {
  if (isRef(i)) refSent++;
  if (rxAt[i] === 0) continue;
  const s = isRef(i) ? ref : main;
  s.send.push((rxAt[i]! - sentAtKept[i]!) / 1000);
  if (txAt[i]! > 0) s.wire.push((rxAt[i]! - txAt[i]!) / 1000);
}
process.stdout.write(
  `${JSON.stringify({
    requester,
    sent: sent - refSent,
    unmatched,
    late,
    seconds: r3(elapsed),
    rate: Math.round(sent / elapsed),
    ...figures(main, sent - refSent),
    requestsSeen,
    kernelDrops,
    cpuMs: { user: Math.round(cpu.user / 1000), system: Math.round(cpu.system / 1000) },
    ...(reference ? { reference: { sent: refSent, ...figures(ref, refSent) } } : {}),
  })}\n`,
);
