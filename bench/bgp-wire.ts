// npx tsx bench/bgp-wire.ts — cost of berth's BGP wire codec (src/speaker/bgp/wire) for 10,000 service prefixes,
// printed, never asserted. For IPv4 /32s (198.18.0.0/15, the RFC 2544 benchmarking range) and IPv6 /128s
// (2001:db8::/32): packing them into UPDATEs (routeUpdates: eBGP AS_PATH, MED, 2 communities, a large community, the
// link-bandwidth community) and encoding them, decoding the resulting TCP byte stream (decodeStream), and the same
// for the withdrawals. Each figure is the median of 7 runs after a warm-up; wall and CPU time in ms.
import {
  type BgpMessage,
  type CodecContext,
  type Prefix,
  community,
  decodeStream,
  encode,
  linkBandwidth,
  routeUpdates,
  withdrawUpdates,
} from '../src/speaker/bgp/wire/index.ts';

const N = 10_000;
const RUNS = 7;
const ctx: CodecContext = { fourOctetAs: true };
const v4: Prefix[] = Array.from({ length: N }, (_, i) => ({
  prefix: `198.${18 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`,
  length: 32,
}));
const v6: Prefix[] = Array.from({ length: N }, (_, i) => ({
  prefix: `2001:db8::${i.toString(16)}`,
  length: 128,
}));
const attrs = {
  asPath: [64500],
  med: 0,
  communities: [community(64500, 100), community(64500, 200)],
  largeCommunities: [{ globalAdministrator: 64500, localData1: 1, localData2: 2 }],
  extendedCommunities: [linkBandwidth(64500, 125_000_000)],
};

function measure<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const encodeAll = (ms: BgpMessage[]) => Buffer.concat(ms.map((m) => encode(m, ctx)));
const fmt = (n: number, d = 1) => n.toFixed(d).padStart(8);

console.log(
  `bgp wire codec, ${N.toLocaleString('en-US')} prefixes per family, median of ${RUNS} runs (node ${process.version})`,
);
console.log(
  `${'step'.padEnd(34)} ${'wall ms'.padStart(8)} ${'cpu ms'.padStart(8)} ${'msgs'.padStart(6)} ${'bytes'.padStart(8)}`,
);
for (const [family, prefixes, nextHop] of [
  ['IPv4', v4, '198.51.100.2'],
  ['IPv6', v6, '2001:db8:77::2'],
] as const) {
  const steps: [string, () => Buffer][] = [
    [
      `${family} announce: pack + encode`,
      () => encodeAll(routeUpdates(prefixes, { ...attrs, nextHop }, ctx)),
    ],
    [`${family} withdraw: pack + encode`, () => encodeAll(withdrawUpdates(prefixes, ctx))],
  ];
  for (const [name, build] of steps) {
    build(); // warm-up
    const runs = Array.from({ length: RUNS }, () => measure(build));
    const bytes = runs[0]!.value;
    const msgs = decodeStream(bytes, ctx).messages.length;
    console.log(
      `${name.padEnd(34)} ${fmt(median(runs.map((r) => r.ms)))} ${fmt(median(runs.map((r) => r.cpuMs)))} ${String(msgs).padStart(6)} ${String(bytes.length).padStart(8)}`,
    );
    const dec = Array.from({ length: RUNS }, () => measure(() => decodeStream(bytes, ctx)));
    const back = dec[0]!.value.messages.length;
    console.log(
      `${name.replace('pack + encode', 'decode stream').padEnd(34)} ${fmt(median(dec.map((r) => r.ms)))} ${fmt(median(dec.map((r) => r.cpuMs)))} ${String(back).padStart(6)} ${String(bytes.length).padStart(8)}`,
    );
  }
}
console.log(
  `heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB`,
);
