// npx tsx bench/layer2-responder.ts — frames/s of the pure layer-2 responder (src/speaker/layer2/responder.ts), printed,
// never asserted. Cases: an ARP request answered (reply built), an ARP request for an unwatched IP (ignored), an
// IPv6 non-NDP frame (peeked and ignored: AF_PACKET ETH_P_IPV6 delivers all IPv6 traffic), an NS answered with an NA
// (checksum verified and computed), an NS for a target not watched (checksum verified, ignored), and random garbage
// (dropped). The responder state holds 1,000 announced IPs of
// each family. Each figure is the median of 5 runs of 200,000 frames, per second of this process's CPU time (not
// wall time, so other processes on a shared machine do not skew it).
import { macToBuffer } from '../src/speaker/layer2/errors.ts';
import { arpFrame, ndpFrame, respond, type ResponderState } from '../src/speaker/layer2/responder.ts';

const US = macToBuffer('02:00:00:77:00:02');
const CLIENT = '02:00:00:77:00:01';
const announced = new Set<string>();
for (let i = 0; i < 1000; i++) {
  announced.add(`198.51.${100 + (i >> 8)}.${i & 255}`);
  announced.add(`2001:db8:77::${i.toString(16)}`);
}
const state: ResponderState = { mac: US, announced, watched: announced };

const arp = (tpa: string): Buffer =>
  arpFrame('ff:ff:ff:ff:ff:ff', macToBuffer(CLIENT), {
    operation: 1,
    senderHardwareAddress: CLIENT,
    senderProtocolAddress: '192.0.2.250',
    targetHardwareAddress: '00:00:00:00:00:00',
    targetProtocolAddress: tpa,
  });
const ns = ndpFrame('33:33:ff:00:00:10', macToBuffer(CLIENT), {
  source: '2001:db8:77::ffff',
  destination: 'ff02::1:ff00:10',
  hopLimit: 255,
  message: {
    type: 'neighbor-solicitation',
    target: '2001:db8:77::10',
    options: [{ type: 'source-link-layer-address', address: CLIENT }],
  },
});
const nsOther = ndpFrame('33:33:ff:00:ff:10', macToBuffer(CLIENT), {
  source: '2001:db8:77::ffff',
  destination: 'ff02::1:ff00:ff10',
  hopLimit: 255,
  message: {
    type: 'neighbor-solicitation',
    target: '2001:db8:99::ff10',
    options: [{ type: 'source-link-layer-address', address: CLIENT }],
  },
});
const udp6 = Buffer.from(ns);
udp6[14 + 6] = 17;
const garbage = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37) & 255));

const cases: Array<[string, Buffer, string]> = [
  ['ARP request, announced (reply)', arp('198.51.100.10'), 'reply'],
  ['ARP request, not watched', arp('203.0.113.9'), 'ignore'],
  ['IPv6 UDP (peek, ignore)', udp6, 'ignore'],
  ['NS, announced (NA reply)', ns, 'reply'],
  ['NS, not watched', nsOther, 'ignore'],
  ['garbage', garbage, 'ignore'],
];
const N = 200_000;
console.log(
  `layer2 responder, ${N} frames per run, median of 5, frames per CPU second (node ${process.version})`,
);
for (const [name, frame, want] of cases) {
  const got = respond(frame, state).kind;
  if (got !== want && !(name === 'garbage' && got === 'drop'))
    console.log(`  (${name}: got ${got}, expected ${want})`);
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) respond(frame, state);
    const c = process.cpuUsage(c0);
    rates.push(N / ((c.user + c.system) / 1e6));
  }
  rates.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(34)} ${Math.round(rates[2]!).toLocaleString('en-US').padStart(12)} frames/s`);
}
