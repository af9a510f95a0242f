// npm run bench:l2-balance — how evenly layer-2 IPs spread over nodes, and how many change owner when one node leaves
// or joins: MetalLB's election (sha256("<node>#<ip>"), src/speaker/election.ts metallbOrder) against berth's balanced
// mode (balancedOwners). Figures only, never asserted.
//
// For 3, 10 and 50 nodes × 1,000 IPs (198.51.100.0/24, 203.0.113.0/24, then 2001:db8::/32):
// - max / min IPs per node, and max over the mean;
// - "leave": nodes leave in turn (every node up to 10 nodes, else 10 evenly spaced ones); IPs that change owner (mean
//   and worst), against the minimum possible (the IPs the leaving node held);
// - "join": 10 new node names in turn join; IPs that change owner (mean, worst), against the minimum (the IPs the
//   new node ends up with);
// - E: balanced mode's excess (IPs off their rendezvous home); the proved bound is moved ≤ load + E(before) + E(after).
// Ratios: balanced / MetalLB. Last, the cost of one planLayer2 over 1,000 Services (what a speaker recomputes).
import { performance } from 'node:perf_hooks';
import { buildConfig } from '../src/config/build.ts';
import { balancedOwners, metallbOrder, rendezvousExcess, type Candidate } from '../src/speaker/election.ts';
import { planLayer2 } from '../src/speaker/l2-plan.ts';

const IPS = 1000;
const NODE_COUNTS = [3, 10, 50];
const JOINERS = 10;

function ip(i: number): string {
  if (i < 256) return `198.51.100.${i}`;
  if (i < 512) return `203.0.113.${i - 256}`;
  return `2001:db8::${(i - 512).toString(16)}`;
}

const ips = Array.from({ length: IPS }, (_, i) => ip(i));
const flat = (names: readonly string[]): Candidate[] => names.map((name) => ({ name, score: 0 }));

function metallb(names: readonly string[]): Map<string, string> {
  const c = flat(names);
  return new Map(ips.map((x) => [x, metallbOrder(x, c)[0]!]));
}
function balanced(names: readonly string[]): Map<string, string> {
  return balancedOwners(ips, flat(names));
}

function loads(owners: Map<string, string>, names: readonly string[]): number[] {
  const c = new Map<string, number>(names.map((n) => [n, 0]));
  for (const n of owners.values()) c.set(n, (c.get(n) ?? 0) + 1);
  return [...c.values()];
}
function moved(a: Map<string, string>, b: Map<string, string>): number {
  let n = 0;
  for (const [k, v] of a) if (b.get(k) !== v) n++;
  return n;
}
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Row {
  max: number;
  min: number;
  leaveMean: number;
  leaveMax: number;
  leaveMinimum: number;
  joinMean: number;
  joinMax: number;
  joinMinimum: number;
  ms: number;
}

function measure(plan: (names: readonly string[]) => Map<string, string>, names: readonly string[]): Row {
  const t0 = performance.now();
  const base = plan(names);
  const l = loads(base, names);
  const leave: number[] = [];
  const leaveMin: number[] = [];
  const leavers = names.length <= 10 ? names : names.filter((_, i) => i % Math.ceil(names.length / 10) === 0);
  for (const gone of leavers) {
    const after = plan(names.filter((n) => n !== gone));
    leave.push(moved(base, after));
    leaveMin.push([...base.values()].filter((n) => n === gone).length);
  }
  const join: number[] = [];
  const joinMin: number[] = [];
  for (let j = 0; j < JOINERS; j++) {
    const newcomer = `joiner-${j}`;
    const after = plan([...names, newcomer]);
    join.push(moved(base, after));
    joinMin.push([...after.values()].filter((n) => n === newcomer).length);
  }
  return {
    max: Math.max(...l),
    min: Math.min(...l),
    leaveMean: mean(leave),
    leaveMax: Math.max(...leave),
    leaveMinimum: mean(leaveMin),
    joinMean: mean(join),
    joinMax: Math.max(...join),
    joinMinimum: mean(joinMin),
    ms: performance.now() - t0,
  };
}

const pad = (s: string, n: number): string => s.padStart(n);
const f1 = (x: number): string => x.toFixed(1);

console.log(`L2 owner spread and movement, ${IPS} IPs (figures, not assertions)\n`);
console.log(
  [
    pad('nodes', 5),
    pad('mode', 9),
    pad('max', 5),
    pad('min', 5),
    pad('max/mean', 9),
    pad('leave moved mean/worst', 23),
    pad('(min)', 7),
    pad('join moved mean/worst', 22),
    pad('(min)', 7),
    pad('E', 5),
    pad('ms', 7),
  ].join(' '),
);
const ratios: string[] = [];
for (const m of NODE_COUNTS) {
  const names = Array.from({ length: m }, (_, i) => `node-${i}`);
  const rows: Array<[string, Row]> = [
    ['metallb', measure(metallb, names)],
    ['balanced', measure(balanced, names)],
  ];
  const e = rendezvousExcess(ips, flat(names));
  for (const [mode, r] of rows) {
    console.log(
      [
        pad(String(m), 5),
        pad(mode, 9),
        pad(String(r.max), 5),
        pad(String(r.min), 5),
        pad((r.max / (IPS / m)).toFixed(2), 9),
        pad(`${f1(r.leaveMean)} / ${r.leaveMax}`, 23),
        pad(f1(r.leaveMinimum), 7),
        pad(`${f1(r.joinMean)} / ${r.joinMax}`, 22),
        pad(f1(r.joinMinimum), 7),
        pad(mode === 'balanced' ? String(e) : '-', 5),
        pad(r.ms.toFixed(0), 7),
      ].join(' '),
    );
  }
  const [mlb, bal] = [rows[0]![1], rows[1]![1]];
  ratios.push(
    `${pad(String(m), 5)} nodes: (max-min) ${mlb.max - mlb.min} → ${bal.max - bal.min}; ` +
      `max/mean ${(mlb.max / (IPS / m)).toFixed(2)} → ${(bal.max / (IPS / m)).toFixed(2)}; ` +
      `moves on leave ×${(bal.leaveMean / mlb.leaveMean).toFixed(2)} (mean), on join ×${(bal.joinMean / mlb.joinMean).toFixed(2)} (mean)`,
  );
}
console.log('\nbalanced / metallb:');
for (const r of ratios) console.log(r);

// Cost of a whole plan (what every speaker recomputes on a change): planLayer2 over 1,000 single-stack Services.
function planCost(m: number, balance: boolean): number {
  const built = buildConfig(
    {
      pools: [
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'IPAddressPool',
          metadata: { name: 'bench', namespace: 'metallb-system' },
          spec: { addresses: ['198.51.100.0/24', '203.0.113.0/24', '2001:db8::/64'] },
        },
      ],
      l2Advertisements: [
        {
          apiVersion: 'metallb.io/v1beta1',
          kind: 'L2Advertisement',
          metadata: {
            name: 'bench',
            namespace: 'metallb-system',
            ...(balance ? { annotations: { 'berth.io/l2-balance': 'true' } } : {}),
          },
        },
      ],
      bgpAdvertisements: [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
      namespaces: [{ name: 'bench', labels: {} }],
    },
    { namespace: 'metallb-system' },
  );
  if (!built.config) throw new Error(JSON.stringify(built.problems));
  const nodes = Array.from({ length: m }, (_, i) => ({
    name: `node-${i}`,
    labels: {},
    networkUnavailable: false,
  }));
  const services = ips.map((x, i) => ({
    key: `bench/s${i}`,
    namespace: 'bench',
    name: `s${i}`,
    labels: {},
    ips: [x],
    externalTrafficPolicy: 'Cluster' as const,
  }));
  const endpoints = new Map(
    services.map((s, i) => [s.key, [{ nodeName: `node-${i % m}`, ready: true, serving: true }]]),
  );
  const world = {
    config: built.config,
    nodes,
    services,
    endpoints,
    liveSpeakers: new Set(nodes.map((n) => n.name)),
  };
  const times: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t0 = performance.now();
    planLayer2(world);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[4]!;
}

console.log(
  '\nplanLayer2, 1,000 Services, median of 9 plans (ms; the first ones warm the JIT and the order memo):',
);
for (const m of NODE_COUNTS) {
  console.log(
    `${pad(String(m), 5)} nodes: metallb ${planCost(m, false).toFixed(0)}, balanced ${planCost(m, true).toFixed(0)}`,
  );
}
