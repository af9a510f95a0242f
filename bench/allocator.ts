// npm run bench:allocator — throughput and next-IP cost of berth's allocator (src/allocator), printed, never asserted.
//
// 1. Allocates 100,000 Services across a /8 IPv4 pool and a /64 IPv6 pool (60% IPv4, 40% IPv6; 10% of the Services
//    share IPs in pairs: same allow-shared-ip key, ports TCP/80 and TCP/443), releases them all, allocates them again,
//    then releases every other one and refills the holes. Prints allocations/s per phase and overall, and heap used.
// 2. Next-IP cost at 10k, 50k and 100k held IPs against a reference linear-scan allocator implemented here:
//    MetalLB's algorithm (internal/allocator/allocator.go getIPFromCIDR): walk the CIDR from the network address and
//    stop at the first address whose ip.String() is not in the used set. Also an optimistic variant that skips the
//    string conversion (bigint Set). Each figure is the mean over 200 consecutive find+record operations.
import v8 from 'node:v8';
import vm from 'node:vm';
import { Allocator, type PoolSpec, type ServiceRequest } from '../src/allocator/index.ts';
import { formatIp, parseCidr } from '../src/shared/ip.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const V4 = '10.0.0.0/8';
const V6 = 'fd00::/64';
const POOLS: PoolSpec[] = [
  { name: 'v4', addresses: [V4], autoAssign: true, avoidBuggyIPs: false },
  { name: 'v6', addresses: [V6], autoAssign: true, avoidBuggyIPs: false },
];
const SERVICES = 100_000;
const SAMPLES = 200;

/** Service i: IPv6 when i % 5 >= 3 (40%); i % 10 in {0, 1} form a sharing pair on one IP (10%). */
function request(i: number): ServiceRequest {
  const pair = i % 10 < 2;
  const v6 = pair ? Math.floor(i / 10) % 5 >= 3 : i % 5 >= 3;
  return {
    namespace: 'bench',
    name: `svc-${i}`,
    labels: {},
    ports: [{ protocol: 'TCP', port: pair && i % 10 === 1 ? 443 : 80 }],
    sharingKey: pair ? `pair-${Math.floor(i / 10)}` : '',
    backendKey: '',
    families: [v6 ? 'IPv6' : 'IPv4'],
    ipFamilyPolicy: 'SingleStack',
    requestedIPs: [],
  };
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function allocateAll(a: Allocator, keys: readonly number[], reqs: readonly ServiceRequest[]): void {
  for (const i of keys) {
    const r = a.allocate(`bench/svc-${i}`, reqs[i]!);
    if (!r.ok) throw new Error(`bench: allocation ${i} failed: ${r.message}`);
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pad = (s: string, n: number) => s.padStart(n);
const padEnd = (s: string, n: number) => s.padEnd(n);

function throughput(): { allocs: number; ms: number } {
  const reqs = Array.from({ length: SERVICES }, (_, i) => request(i));
  const all = reqs.map((_, i) => i);
  const a = new Allocator();
  a.setPools(POOLS);
  allocateAll(a, all.slice(0, 2000), reqs); // warm-up (JIT), then start clean
  for (const i of all.slice(0, 2000)) a.release(`bench/svc-${i}`);

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rows: Array<[string, number, number]> = [];
  rows.push(['allocate (empty pools)', SERVICES, time(() => allocateAll(a, all, reqs))]);
  gc();
  const heapHeld = process.memoryUsage().heapUsed - heapBefore;
  const st = a.stats();
  const sharedIps = SERVICES - st.reduce((n, s) => n + s.ipv4InUse + s.ipv6InUse, 0);
  rows.push(['release all', SERVICES, time(() => { for (const i of all) a.release(`bench/svc-${i}`); })]);
  rows.push(['re-allocate', SERVICES, time(() => allocateAll(a, all, reqs))]);
  const odd = all.filter((i) => i % 2 === 1);
  rows.push(['release every 2nd', odd.length, time(() => { for (const i of odd) a.release(`bench/svc-${i}`); })]);
  rows.push(['refill the 50,000 holes', odd.length, time(() => allocateAll(a, odd, reqs))]);

  console.log(`\nThroughput: ${fmt(SERVICES)} Services on ${V4} + ${V6} (60% IPv4, 40% IPv6, 10% in sharing pairs)`);
  console.log(`${padEnd('phase', 26)}${pad('ops', 10)}${pad('ms', 10)}${pad('ops/s', 12)}`);
  for (const [name, n, ms] of rows) console.log(`${padEnd(name, 26)}${pad(fmt(n), 10)}${pad(fmt(ms, 1), 10)}${pad(fmt((n / ms) * 1000), 12)}`);
  const allocRows = rows.filter(([name]) => !name.startsWith('release'));
  const allocs = allocRows.reduce((n, r) => n + r[1], 0);
  const ms = allocRows.reduce((n, r) => n + r[2], 0);
  console.log(`${padEnd('all allocations', 26)}${pad(fmt(allocs), 10)}${pad(fmt(ms, 1), 10)}${pad(fmt((allocs / ms) * 1000), 12)}`);
  console.log(`IPs in use after the first pass: ${fmt(SERVICES - sharedIps)} (${fmt(sharedIps)} Services share an IP)`);
  console.log(`heap used by the allocator holding ${fmt(SERVICES)} Services: ${fmt(heapHeld / 1024 / 1024, 1)} MiB (after GC)`);
  return { allocs, ms };
}

/** MetalLB's free-IP search: from the network address upward, first address not in the used set. */
class LinearReference {
  readonly #used = new Set<string>();
  readonly #first: bigint;
  readonly #last: bigint;
  constructor(cidr: string) {
    const c = parseCidr(cidr)!;
    this.#first = c.first;
    this.#last = c.last;
  }
  fill(n: number): void {
    for (let i = 0n; i < BigInt(n); i++) this.#used.add(formatIp('IPv4', this.#first + i));
  }
  next(): string | undefined {
    for (let v = this.#first; v <= this.#last; v++) {
      const s = formatIp('IPv4', v); // ip.String(), the key of MetalLB's maps
      if (!this.#used.has(s)) {
        this.#used.add(s);
        return s;
      }
    }
    return undefined;
  }
}

/** The same walk without string conversion: an optimistic lower bound for any linear scan. */
class LinearBigint {
  readonly #used = new Set<bigint>();
  readonly #first: bigint;
  constructor(cidr: string) {
    this.#first = parseCidr(cidr)!.first;
  }
  fill(n: number): void {
    for (let i = 0n; i < BigInt(n); i++) this.#used.add(this.#first + i);
  }
  next(): bigint {
    let v = this.#first;
    while (this.#used.has(v)) v++;
    this.#used.add(v);
    return v;
  }
}

function nextIpCost(): number | undefined {
  console.log(`\nNext-IP cost in ${V4}, mean of ${SAMPLES} find+record operations at each fill level`);
  console.log(
    `${pad('held IPs', 10)}${pad('berth µs', 11)}${pad('linear µs', 12)}${pad('ratio', 9)}` +
      `${pad('linear-bigint µs', 18)}${pad('ratio', 9)}`,
  );
  let ratioAt50k: number | undefined;
  const v4only: ServiceRequest[] = Array.from({ length: 100_000 + SAMPLES + 500 }, (_, i) => ({
    ...request(2 + (i % 3)), // plain IPv4, no sharing
    name: `fill-${i}`,
  }));
  for (const held of [10_000, 50_000, 100_000]) {
    const a = new Allocator();
    a.setPools([POOLS[0]!]);
    for (let i = 0; i < held; i++) a.allocate(`bench/fill-${i}`, v4only[i]!);
    const berth = time(() => {
      for (let i = held; i < held + SAMPLES; i++) a.allocate(`bench/fill-${i}`, v4only[i]!);
    });
    const ref = new LinearReference(V4);
    ref.fill(held);
    ref.next(); // warm-up
    const linear = time(() => {
      for (let i = 0; i < SAMPLES; i++) ref.next();
    });
    const big = new LinearBigint(V4);
    big.fill(held);
    big.next();
    const linearBig = time(() => {
      for (let i = 0; i < SAMPLES; i++) big.next();
    });
    const us = (ms: number) => (ms * 1000) / SAMPLES;
    const ratio = linear / berth;
    if (held === 50_000) ratioAt50k = ratio;
    console.log(
      `${pad(fmt(held), 10)}${pad(fmt(us(berth), 2), 11)}${pad(fmt(us(linear), 1), 12)}${pad(`${fmt(ratio)}×`, 9)}` +
        `${pad(fmt(us(linearBig), 1), 18)}${pad(`${fmt(linearBig / berth)}×`, 9)}`,
    );
  }
  return ratioAt50k;
}

const started = performance.now();
console.log(`berth allocator bench — Node ${process.version}, ${process.arch}`);
const t = throughput();
const ratio = nextIpCost();
const rate = (t.allocs / t.ms) * 1000;
console.log('\nTargets');
console.log(`  >= 200,000 allocations/s overall: ${fmt(rate)}/s — ${rate >= 200_000 ? 'met' : 'NOT met'}`);
console.log(`  >= 100x the linear reference at 50k held IPs: ${fmt(ratio ?? 0)}x — ${(ratio ?? 0) >= 100 ? 'met' : 'NOT met'}`);
console.log(`total bench time: ${fmt((performance.now() - started) / 1000, 1)} s`);
