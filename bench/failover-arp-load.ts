// ARP request load for bench:failover, run inside the client namespace (`ip netns exec <client> node --import tsx
// bench/failover-arp-load.ts --ifname eth0 --target IP --rate N --seconds S`): sends RFC 826 requests for the target
// through an AF_PACKET socket (src/speaker/link/packet.ts) at a steady rate and times each reply.
// A reply is matched to its request by the request's sender IP (ar$spa, rotated over 198.51.100.30-199, 170 values;
// the reply's ar$tpa): at 20,000/s a value comes back every 8.5 ms, so replies later than that are matched to a newer
// request and under-timed; `unmatched` counts replies whose request was already answered or not sent.
// Prints one JSON line: { sent, replies, unmatched, seconds, rate, p50Ms, p99Ms, maxMs }.
import { parseArgs } from 'node:util';
import { arpPacket, ARP_REPLY, ARP_REQUEST } from '../src/speaker/layer2/arp.ts';
import { ETHERTYPE_ARP, ethernetHeader } from '../src/speaker/layer2/ethernet.ts';
import { openPacketSocket } from '../src/speaker/link/packet.ts';

const { values: v } = parseArgs({
  options: { ifname: { type: 'string', default: 'eth0' }, target: { type: 'string' }, rate: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '5' } },
});
const rate = Number(v.rate);
const seconds = Number(v.seconds);
if (!v.target || !(rate > 0) || !(seconds > 0)) {
  process.stderr.write(`failover-arp-load: --target IP (got ${String(v.target)}), --rate > 0 (got ${v.rate}), --seconds > 0 (got ${v.seconds}) are required\n`);
  process.exit(2);
}
const target = v.target;
const SPA = Array.from({ length: 170 }, (_, i) => `198.51.100.${30 + i}`);
const sentAt = new Map<string, bigint>();
const lat: number[] = [];
let unmatched = 0;
const sock = openPacketSocket({
  ifname: v.ifname!,
  ethertype: ETHERTYPE_ARP,
  onFrame: (frame) => {
    const now = process.hrtime.bigint();
    try {
      const eth = ethernetHeader.decode(frame);
      const arp = arpPacket.decode(frame, eth.bytes).value;
      if (arp.operation !== ARP_REPLY || arp.senderProtocolAddress !== target) return;
      const t = sentAt.get(arp.targetProtocolAddress);
      if (t === undefined) {
        unmatched++;
        return;
      }
      sentAt.delete(arp.targetProtocolAddress);
      lat.push(Number(now - t) / 1e6);
    } catch {
      // not an ARP frame we can read: ignored
    }
  },
});
const mac = [...sock.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
const frames = SPA.map((spa) => {
  const b = Buffer.alloc(42);
  ethernetHeader.encode({ destination: 'ff:ff:ff:ff:ff:ff', source: mac, ethertype: ETHERTYPE_ARP }, b, 0);
  arpPacket.encode({ operation: ARP_REQUEST, senderHardwareAddress: mac, senderProtocolAddress: spa, targetHardwareAddress: '00:00:00:00:00:00', targetProtocolAddress: target }, b, 14);
  return b;
});

let sent = 0;
const start = process.hrtime.bigint();
const total = Math.round(rate * seconds);
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const due = Math.min(total, Math.floor(elapsed * rate));
    while (sent < due) {
      const i = sent % SPA.length;
      sentAt.set(SPA[i]!, process.hrtime.bigint());
      sock.send(frames[i]!);
      sent++;
    }
    if (sent >= total) resolve();
    else setTimeout(tick, 1); // batches every ~1 ms: the generator leaves CPU to the speaker on a small machine
  };
  tick();
});
const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
await new Promise((r) => setTimeout(r, 200)); // the last replies
sock.close();
lat.sort((a, b) => a - b);
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
process.stdout.write(
  `${JSON.stringify({ sent, replies: lat.length, unmatched, seconds: Number(elapsed.toFixed(3)), rate: Math.round(sent / elapsed), p50Ms: q(0.5), p99Ms: q(0.99), maxMs: lat[lat.length - 1] ?? NaN })}\n`,
);
