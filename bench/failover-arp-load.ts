// ARP request load, run inside a client namespace (`ip netns exec <client> node --import tsx
// bench/failover-arp-load.ts --ifname eth0 --target IP --rate N --seconds S`) by bench:failover and bench:arp-load:
// sends RFC 826 requests for the target through an AF_PACKET socket (src/speaker/link/packet.ts) at a steady rate
// and times each reply as the requester sees it (send call → reply handed to JS, process.hrtime).
// --match sha (bench:arp-load, a veth pair): exact. Request n carries sender hardware address (ar$sha)
// 02:00:nn:nn:nn:nn (locally administered, unicast) and the responder answers to ar$sha (RFC 826), so the reply's
// ar$tha names the request; the Ethernet source stays the interface's own MAC and AF_PACKET still delivers replies
// to the 02:00:… MACs (PACKET_OTHERHOST). Not for a bridge: it never learns those MACs and floods every reply to
// every port (every node's speaker would then read them).
// --match spa (default; bench:failover's bridged lab): ar$sha is the interface's MAC and a reply is matched by its
// ar$tpa to the latest request sent from that sender IP (ar$spa); the sender IPs rotate over the documentation
// ranges 192.0.2.0/24, 198.51.100.30-199 and 203.0.113.0/24 (682 values, the target left out), so a reply later
// than 682 requests (34 ms at 20,000/s) is matched to a newer request (under-timed; the older one counts as lost).
// Requests go out in paced batches (one batch per ~1 ms timer tick, so the generator leaves CPU to the responder on
// a small machine); with --batch the batch is one sendmmsg(2) (PacketSocket.sendBatch), else one send(2) per frame.
// Prints one JSON line: { sent, replies, unmatched, late, lost, seconds, rate, p50Ms, p90Ms, p99Ms, maxMs,
// kernelDrops } — `unmatched` replies name no request we sent (or one already answered), `late` replies came after
// the 200 ms grace period (counted as lost), `kernelDrops` are the generator's own receive-queue drops (if not 0 the
// generator, not the responder, lost replies).
import { parseArgs } from 'node:util';
import { arpPacket, ARP_REQUEST } from '../src/speaker/layer2/arp.ts';
import { ETHERTYPE_ARP, ethernetHeader } from '../src/speaker/layer2/ethernet.ts';
import { openPacketSocket } from '../src/speaker/link/packet.ts';

const { values: v } = parseArgs({
  options: {
    ifname: { type: 'string', default: 'eth0' },
    target: { type: 'string' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    batch: { type: 'boolean', default: false },
    match: { type: 'string', default: 'spa' },
  },
});
if (v.match !== 'sha' && v.match !== 'spa') {
  process.stderr.write(`failover-arp-load: --match ${v.match} is invalid: sha or spa\n`);
  process.exit(2);
}
const bySha = v.match === 'sha';
const rate = Number(v.rate);
const seconds = Number(v.seconds);
if (!v.target || !(rate > 0) || !(seconds > 0)) {
  process.stderr.write(
    `failover-arp-load: --target IP (got ${String(v.target)}), --rate > 0 (got ${v.rate}), --seconds > 0 (got ${v.seconds}) are required\n`,
  );
  process.exit(2);
}
const target = v.target;
const targetBytes = Buffer.from(target.split('.').map(Number));
const total = Math.round(rate * seconds);
const sentAt = new Float64Array(total); // ms (hrtime) per request sequence number; 0 = not sent or already answered
const lat: number[] = [];
let unmatched = 0;
const t0 = process.hrtime.bigint();
const nowMs = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
let collecting = true;
let late = 0;

const sock = openPacketSocket({
  ifname: v.ifname!,
  ethertype: ETHERTYPE_ARP,
  ring: { frames: 32768, frameSize: 128 }, // 4 MiB: replies wait here while this process is busy sending
  onFrame: (f) => {
    const now = nowMs();
    // Ethernet type ARP, ar$op 2, ar$spa = target; ar$tha = 02:00:<seq> (sha) or ar$tpa = a sender IP of ours (spa).
    if (f.length < 42 || f.readUInt16BE(12) !== ETHERTYPE_ARP || f.readUInt16BE(20) !== 2) return;
    if (f.compare(targetBytes, 0, 4, 28, 32) !== 0) return;
    let seq: number;
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
    const t = seq < total ? sentAt[seq]! : 0;
    if (t === 0) {
      unmatched++;
      return;
    }
    sentAt[seq] = 0;
    if (!collecting) {
      late++;
      return;
    }
    lat.push(now - t);
  },
});
const mac = [...sock.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
const SPA = [
  ...Array.from({ length: 256 }, (_, i) => `192.0.2.${i}`),
  ...Array.from({ length: 170 }, (_, i) => `198.51.100.${30 + i}`),
  ...Array.from({ length: 256 }, (_, i) => `203.0.113.${i}`),
]
  .filter((ip) => ip !== target) // a request from the target's own IP would be a claim on it, not a question
  .map((ip) => Buffer.from(ip.split('.').map(Number)));
const spaIndex = new Map(SPA.map((b, i) => [b.readUInt32BE(0), i]));
const lastSeq = new Int32Array(SPA.length).fill(-1); // --match spa: the latest request sent from each sender IP
const template = Buffer.alloc(42);
ethernetHeader.encode(
  { destination: 'ff:ff:ff:ff:ff:ff', source: mac, ethertype: ETHERTYPE_ARP },
  template,
  0,
);
arpPacket.encode(
  {
    operation: ARP_REQUEST,
    senderHardwareAddress: bySha ? '02:00:00:00:00:00' : mac,
    senderProtocolAddress: '198.51.100.30',
    targetHardwareAddress: '00:00:00:00:00:00',
    targetProtocolAddress: target,
  },
  template,
  14,
);
const request = (seq: number, into: Buffer): Buffer => {
  template.copy(into);
  if (bySha) into.writeUInt32BE(seq, 24); // ar$sha bytes 2..5
  SPA[seq % SPA.length]!.copy(into, 28);
  lastSeq[seq % SPA.length] = seq;
  return into;
};
const one = Buffer.alloc(42);
const pool = Array.from({ length: 256 }, () => Buffer.alloc(42));
const batchSend = v.batch && typeof sock.sendBatch === 'function';

let sent = 0;
const start = nowMs();
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * rate));
    while (sent < due) {
      if (batchSend) {
        const n = Math.min(due - sent, pool.length);
        const frames = pool.slice(0, n).map((b, i) => request(sent + i, b));
        const t = nowMs();
        for (let i = 0; i < n; i++) sentAt[sent + i] = t;
        sent += sock.sendBatch!(frames);
        if (sent < due) break; // queue full: the rest on the next tick
      } else {
        sentAt[sent] = nowMs();
        sock.send(request(sent, one));
        sent++;
      }
    }
    if (sent >= total) resolve();
    else setTimeout(tick, 1);
  };
  tick();
});
const elapsed = (nowMs() - start) / 1000;
await new Promise((r) => setTimeout(r, 200)); // the last replies
collecting = false;
await new Promise((r) => setTimeout(r, 50));
const kernelDrops = sock.stats().kernelDrops;
sock.close();
lat.sort((a, b) => a - b);
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    sent,
    replies: lat.length,
    unmatched,
    late,
    lost: sent - lat.length,
    seconds: r3(elapsed),
    rate: Math.round(sent / elapsed),
    p50Ms: r3(q(0.5)),
    p90Ms: r3(q(0.9)),
    p99Ms: r3(q(0.99)),
    maxMs: r3(lat[lat.length - 1] ?? NaN),
    kernelDrops,
  })}\n`,
);
