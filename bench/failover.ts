// npm run bench:failover [-- --runs 20 --hog-seconds 60 --arp-rate 20000 --arp-seconds 5 --services 1000 --idle-seconds 30
//                           --settle-seconds 10 --only failover,hog,arp,api,balance --speaker bundle|tsx
//                           --capture garp|arp --requester native|js --arp-tick-us 1000 --arp-tcpdump-check --arp-perf-sched
//                           --arp-answer-rt --layer2-answer-priority N]
// --capture: what the client namespace's tcpdump (gratuitous ARP capture, parts 1-2) takes in: garp (default), a
// kernel filter passing gratuitous ARPs only; arp, every ARP frame (the former way: part 3's load then woke tcpdump
// and this process for every request and reply; kept to compare).
// Issue 8's layer-2 figures on the namespace lab (src/lab/network, root only), printed with their targets.
// --speaker bundle (default): the three speakers run as the image runs them (src/lab/network/speaker-run.ts): the
// esbuild bundle (image/bundle.ts, rebuilt at the start of each run as dist/bench-failover.mjs so a bundle another
// run uses is not touched) under plain node, `node <bundle> speaker …`, with the DaemonSet's NODE_OPTIONS
// (gitops/base/speaker/daemonset.yaml) and the V8 flags image/entry.ts sets (src/speaker/v8-flags.ts). --speaker tsx:
// the dev way (`node --import tsx src/cli/main.ts speaker …`, node's default flags), as the tests and `npm start` run
// them. The header says which.
//   1. failover: --runs kills of the owner of 198.51.100.200 with SIGKILL, then with SIGTERM; time from the kill to the
//      first gratuitous ARP (broadcast, sender IP = the service IP) from the new owner, as captured in the client
//      namespace by `tcpdump -tt` (kernel timestamps, same clock as the kill's Date.now()); p50/p99/max.
//      Target p99 ≤ 500 ms (SIGKILL), ≤ 100 ms (SIGTERM). The killed speaker is restarted between runs. Each run is
//      split at the new owner's `decision: liveness` log line (detectedAtMs): detection (kill → the owner's loss seen)
//      and reaction (loss seen → first gratuitous ARP: re-plan, announcer).
//   2. owner changes during --hog-seconds with a CPU hog on core 0 and the owner speaker pinned to it, no kill
//      (gratuitous ARPs from a MAC other than the IP's previous announcer). Target 0.
//   3. ARP reply latency at a sustained request rate (bench/failover-arp-load.ts in the client namespace). Target
//      p99 ≤ 1 ms at 20,000 requests/s, read on `wire`: the request on the client's wire → the reply on it, both
//      stamped by the client's kernel (a tap sees the outgoing request, as tcpdump does). `send` (the requester's
//      clock before its send call → the reply's kernel stamp; what `wire` meant before) is printed beside it, with
//      the requester's own CPU. --requester native (default when the addon has it): the addon's load generator
//      thread (paced sendmmsg every --arp-tick-us µs); js: the former JS requester. --arp-tcpdump-check: during the
//      2,000/s run a `tcpdump -w` (nanosecond stamps) on the client's eth0 too; its request → reply pairs (by
//      ar$spa / ar$tpa) are printed beside the requester's `wire` figures, which must agree (the same kernel stamps).
//      --arp-perf-sched: `perf sched record -a` during the 20,000/s run (it costs CPU itself: a diagnosis, not the
//      figure), then per thread from `perf sched timehist`: scheduling delay (woken → running) p50/p99/max, run time.
//      --arp-answer-rt (an experiment, root): the owner's answer thread (the thread that switched most during a 1 s
//      warm-up load) runs SCHED_FIFO priority 10 (chrt; needs CAP_SYS_NICE, which the speaker's DaemonSet does not
//      grant) for part 3, to show how much of the tail is that thread waiting for a CPU. Superseded by
//      --layer2-answer-priority N (default 1, what gitops/base/speaker/daemonset.yaml ships): every speaker runs with
//      `--layer2-answer-priority=N`, so its ARP answer threads run SCHED_FIFO N (the lab's speakers run as root and
//      hold CAP_SYS_NICE); 0 runs them SCHED_OTHER, to compare (docs/layer2.md "Real-time answer thread").
//   4. API requests/s from all speakers (lab requestCounts by User-Agent berth-speaker) idle with 10 Services, then
//      with --services (their IPs from an extra IPv6 pool, each with a ready endpoint), measured once the speakers are
//      quiet again (their status writes done: 5 s windows, see settle below). Target: independent of the number of
//      Services. Speaker RSS at both points, per speaker: VmRSS, RssAnon (the process's own pages: V8's
//      heaps, malloc), RssFile (mapped files: the node binary, the addon) and VmHWM (peak), in MiB and MB (10⁶ B);
//      with --services also once steady (bench/speaker-rss.ts steadyRssMiB: until it stops falling).
//      Target ≤ 64 MB (61.0 MiB).
//   5. balance: the balanced mode's spread (max/min IPs per node) and IPs moved when a node leaves or joins, against
//      MetalLB's hash, for 3, 10 and 50 nodes × 1,000 IPs: bench/l2-balance.ts run as a child once the lab is gone
//      (pure computation on the real election code, no namespace).
// Latency figures depend on the machine's load: the load average is printed with them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { applyObject } from '../src/kube/apply.ts';
import { run } from '../src/lab/network/topology.ts';
import { SPEAKER_NAMESPACE } from '../src/lab/network/network.ts';
import { daemonSetNodeOptions, parseSpeakerMode, type SpeakerMode } from '../src/lab/network/speaker-run.ts';
import { SPEAKER_V8_FLAGS } from '../src/speaker/v8-flags.ts';
import { bundle, REPO } from '../image/bundle.ts';
import { procMemory, steadyRssMiB, type ProcMemory } from './speaker-rss.ts';
import { l2SkipReason, startL2Lab, until, type L2Lab } from '../test/e2e/speaker-l2-harness.ts';

const { values: v } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    'hog-seconds': { type: 'string', default: '60' },
    'arp-rate': { type: 'string', default: '20000' },
    'arp-seconds': { type: 'string', default: '5' },
    services: { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '30' },
    'settle-seconds': { type: 'string', default: '10' },
    only: { type: 'string', default: 'failover,hog,arp,api,balance' },
    speaker: { type: 'string', default: 'bundle' },
    capture: { type: 'string', default: 'garp' },
    requester: { type: 'string' },
    'arp-tick-us': { type: 'string', default: '1000' },
    'arp-tcpdump-check': { type: 'boolean', default: false },
    'arp-perf-sched': { type: 'boolean', default: false },
    'arp-answer-rt': { type: 'boolean', default: false },
    'layer2-answer-priority': { type: 'string', default: '1' },
  },
});
const PARTS = new Set((v.only ?? '').split(',').map((p) => p.trim()).filter(Boolean));
for (const p of PARTS) {
  if (!['failover', 'hog', 'arp', 'api', 'balance'].includes(p)) {
    process.stderr.write(`bench:failover: --only "${v.only}": "${p}" is not one of failover, hog, arp, api, balance\n`);
    process.exit(2);
  }
}
const ANSWER_PRIORITY = Number(v['layer2-answer-priority']);
if (!/^\d+$/.test(String(v['layer2-answer-priority'])) || ANSWER_PRIORITY > 99) {
  process.stderr.write(`bench:failover: --layer2-answer-priority "${String(v['layer2-answer-priority'])}" must be 0 (off) or a SCHED_FIFO priority 1..99\n`);
  process.exit(2);
}
if (v.capture !== 'garp' && v.capture !== 'arp') {
  process.stderr.write(`bench:failover: --capture "${String(v.capture)}" must be garp (kernel filter: gratuitous ARPs only) or arp (every ARP frame, as before)\n`);
  process.exit(2);
}
if (v.requester !== undefined && v.requester !== 'native' && v.requester !== 'js') {
  process.stderr.write(`bench:failover: --requester "${v.requester}" must be native (the addon's load generator thread) or js\n`);
  process.exit(2);
}
const CAPTURE_FILTER = v.capture === 'arp' ? 'arp' : 'arp and ether dst ff:ff:ff:ff:ff:ff and (arp[6:2] = 2 or arp[14:4] = arp[24:4])';
let SPEAKER_MODE: SpeakerMode = 'bundle';
try {
  SPEAKER_MODE = parseSpeakerMode(v.speaker ?? '', '--speaker');
} catch (e) {
  process.stderr.write(`bench:failover: ${(e as Error).message}\n`);
  process.exit(2);
}
/** The bundle this bench builds and its speakers run (mode bundle): its own stem, so dist/berth.mjs is left alone. */
const BUNDLE_FILE = join(REPO, 'dist/bench-failover.mjs');
const num = (name: keyof typeof v, min: number): number => {
  const n = Number(v[name]);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`bench:failover: --${name} "${String(v[name])}" must be a number ≥ ${min}\n`);
    process.exit(2);
  }
  return n;
};
const RUNS = num('runs', 1);
const HOG_S = num('hog-seconds', 0);
const ARP_RATE = num('arp-rate', 1);
const ARP_S = num('arp-seconds', 1);
const ARP_TICK_US = num('arp-tick-us', 10);
/** `ip` arguments running failover-arp-load.ts in namespace `ns` at `rate` requests/s for `seconds`. */
const arpLoadArgs = (ns: string, rate: number, seconds = ARP_S): string[] => [
  'netns', 'exec', ns, process.execPath, '--import', TSX, ARP_LOAD, '--ifname', 'eth0', '--target', V4, '--rate', String(rate),
  '--seconds', String(seconds), '--tick-us', String(ARP_TICK_US), ...(v.requester ? ['--requester', v.requester] : []),
];
/** What failover-arp-load.ts prints (ms). */
interface ArpLoadOut {
  requester: string;
  sent: number;
  replies: number;
  unmatched: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  wireP50Ms: number;
  wireP90Ms: number;
  wireP99Ms: number;
  wireMaxMs: number;
  wireSamples: number;
  sendP50Ms: number;
  sendP99Ms: number;
  wakeP99Ms: number;
  kernelDrops: number;
  cpuMs: { user: number; system: number };
  runQueueWaitMs?: number | null;
  contextSwitches?: number;
}
const arpLine = (a: ArpLoadOut): string =>
  `${a.replies}/${a.sent} answered (+${a.unmatched} unmatched${a.kernelDrops ? `, ${a.kernelDrops} dropped by the requester's queue` : ''}); ` +
  `wire (request → reply on the client's wire, both kernel stamps; ${a.wireSamples} samples): p50 ${a.wireP50Ms.toFixed(3)} ms  p90 ${a.wireP90Ms.toFixed(3)} ms  p99 ${a.wireP99Ms.toFixed(3)} ms  max ${a.wireMaxMs.toFixed(3)} ms; ` +
  `send (${a.requester} requester's clock before send → reply's kernel stamp): p50 ${a.sendP50Ms.toFixed(3)} ms  p99 ${a.sendP99Ms.toFixed(3)} ms; ` +
  `into the ${a.requester} requester: p50 ${a.p50Ms.toFixed(3)} ms  p99 ${a.p99Ms.toFixed(3)} ms (its wake-up p99 ${a.wakeP99Ms.toFixed(3)} ms); ` +
  `requester CPU during the run ${a.cpuMs.user} ms user + ${a.cpuMs.system} ms system (${a.requester === 'native' ? 'its thread; system includes the softirq work of its sends: the bridge flood' : 'the process, from the first request'}` +
  `${a.runQueueWaitMs != null ? `; it waited ${a.runQueueWaitMs} ms for a CPU over ${a.contextSwitches} context switches` : ''})`;
const SERVICES = num('services', 10);
const IDLE_S = num('idle-seconds', 1);
const SETTLE_S = num('settle-seconds', 0);
const V4 = '198.51.100.200';
const EXTRA_V4 = Array.from({ length: 9 }, (_, i) => `198.51.100.${201 + i}`);
const ARP_LOAD = fileURLToPath(new URL('./failover-arp-load.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

/**
 * Reply latencies (ms) in a pcap file written by `tcpdump -w --time-stamp-precision=nano` (nanosecond pcap, magic
 * 0xa1b23c4d, little-endian): each ARP request for `target` from ar$spa X paired with the next reply from `target`
 * (ar$spa) to ar$tpa X. Frames shorter than an ARP frame or of another EtherType are skipped. libpcap's file format
 * (pcap-savefile(5)).
 */
function pcapArpLatencies(file: string, target: string): number[] {
  const b = readFileSync(file);
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b23c4d) throw new Error(`${file}: not a little-endian nanosecond pcap (magic ${b.length >= 4 ? b.readUInt32LE(0).toString(16) : '-'})`);
  const t = Buffer.from(target.split('.').map(Number)).readUInt32BE(0);
  const asked = new Map<number, number>();
  const out: number[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const ns = b.readUInt32LE(at) * 1e9 + b.readUInt32LE(at + 4);
    const len = b.readUInt32LE(at + 8);
    const f = b.subarray(at + 16, Math.min(b.length, at + 16 + len));
    at += 16 + len;
    if (f.length < 42 || f.readUInt16BE(12) !== 0x0806) continue;
    const op = f.readUInt16BE(20);
    if (op === 1 && f.readUInt32BE(38) === t) asked.set(f.readUInt32BE(28), ns);
    else if (op === 2 && f.readUInt32BE(28) === t) {
      const sent = asked.get(f.readUInt32BE(38));
      if (sent === undefined) continue;
      asked.delete(f.readUInt32BE(38));
      out.push((ns - sent) / 1e6);
    }
  }
  return out;
}

/**
 * Per thread, from `perf sched timehist -i file` (perf-sched(1)): its comm, pid, run time (ms) and every scheduling
 * delay (ms: woken → on a CPU); returns the `top` threads by run time plus the threads of the processes `names`
 * names that were on a CPU at least 50 times, one line each.
 */
function perfSchedLines(file: string, names: ReadonlyMap<number, string>, top: number): string[] {
  const r = spawnSync('perf', ['sched', 'timehist', '-i', file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) return [`    perf sched timehist failed (exit ${r.status}): ${(r.stderr ?? '').slice(-500)}`];
  const by = new Map<number, { comm: string; pid: number; run: number; delays: number[] }>();
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*[\d.]+\s+\[\d+\]\s+(.+?)\[(\d+)(?:\/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/.exec(line);
    if (!m) continue;
    const tid = Number(m[2]);
    const t = by.get(tid) ?? { comm: m[1]!.trim(), pid: Number(m[3] ?? m[2]), run: 0, delays: [] };
    t.run += Number(m[6]);
    t.delays.push(Number(m[5]));
    by.set(tid, t);
  }
  const rows = [...by].filter(([, t]) => t.comm !== '<idle>').sort((a, b) => b[1].run - a[1].run);
  const keep = rows.filter(([, t], i) => i < top || (names.has(t.pid) && t.delays.length >= 50));
  return keep.map(([tid, t]) => {
    const d = t.delays.filter((x) => x > 0);
    const over = (ms: number): number => d.filter((x) => x > ms).length;
    return `    ${names.get(t.pid) ?? t.comm}/${tid}${t.pid !== tid ? ` (pid ${t.pid})` : ''}: run ${t.run.toFixed(0)} ms, ${t.delays.length} times on a CPU; scheduling delay p50 ${pct(t.delays, 0.5).toFixed(3)} ms  p99 ${pct(t.delays, 0.99).toFixed(3)} ms  max ${Math.max(0, ...t.delays).toFixed(3)} ms, ${over(0.5)} over 0.5 ms, ${over(1)} over 1 ms`;
  });
}

/** A gratuitous ARP seen in the client namespace: broadcast, announcing `ip` from `mac`, at kernel time `t` (ms). */
interface Garp {
  t: number;
  mac: string;
  ip: string;
}

/**
 * `tcpdump -tt -e` of ARP on the client's eth0; keeps the gratuitous ones (request who-has X tell X, or reply X is-at, to
 * broadcast). The capture filter (kernel BPF on tcpdump's socket) passes only those: with plain `arp`, tcpdump woke
 * and printed a line for each of part 3's 200,000 requests and replies, and this process parsed them, on the cores
 * the speakers answer on (about 0.7 s of this process's CPU and 19,000 wake-ups in a 5 s run at 20,000/s).
 */
function captureGarps(ns: string): { garps: Garp[]; proc: ChildProcess; ready: Promise<void> } {
  const garps: Garp[] = [];
  const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-l', '-n', '-e', '-tt', '--immediate-mode', '-i', 'eth0', CAPTURE_FILTER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let partial = '';
  proc.stdout!.on('data', (b: Buffer) => {
    partial += b.toString();
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const m = /^(\d+\.\d+) ([0-9a-f:]{17}) > ff:ff:ff:ff:ff:ff, .*?: (?:Request who-has (\S+) tell (\S+),|Reply (\S+) is-at)/.exec(line);
      if (!m) continue;
      const ip = m[5] ?? (m[3] === m[4] ? m[3] : undefined);
      if (ip) garps.push({ t: Number(m[1]) * 1000, mac: m[2]!, ip });
    }
  });
  const ready = new Promise<void>((resolve) => {
    let err = '';
    proc.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (/listening on/.test(err)) resolve();
    });
  });
  return { garps, proc, ready };
}

async function currentOwner(l: L2Lab, ip: string): Promise<string> {
  return until(
    `a single ARP answer for ${ip}`,
    async () => {
      const a = await l.arping(ip, 1);
      return a.length === 1 ? l.nodeOf(a[0]!) : undefined;
    },
    60_000,
    300,
  );
}

/** When the new owner saw `lost` go (its `decision: liveness` line after `since`), from its log; undefined if absent. */
function detectedAt(l: L2Lab, node: string, lost: string, since: number): number | undefined {
  for (const line of (l.net.speakers.get(node)?.output() ?? '').split('\n')) {
    if (!line.includes('"decision":"liveness"')) continue;
    try {
      const o = JSON.parse(line) as { lost?: string[]; detectedAtMs?: number };
      if (o.lost?.includes(lost) && (o.detectedAtMs ?? 0) >= since) return o.detectedAtMs;
    } catch {
      // a partial line
    }
  }
  return undefined;
}

interface FailoverRun {
  /** kill → first GARP from the new owner, ms (NaN: none seen). */
  total: number;
  /** kill → the new owner saw the loss, ms. */
  detect: number;
  /** loss seen → first GARP, ms. */
  react: number;
}

async function failover(l: L2Lab, garps: Garp[], signal: NodeJS.Signals): Promise<FailoverRun[]> {
  const out: FailoverRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const owner = await currentOwner(l, V4);
    if (owner !== l.order(V4)[0]) say(`  (owner ${owner} is not MetalLB's first choice ${l.order(V4)[0]} with every speaker alive)`);
    const alive = [...l.macs.keys()].filter((n) => n !== owner);
    const next = l.order(V4, alive)[0]!;
    const nextMac = l.macs.get(next)!;
    await sleep(300);
    const tKill = Date.now();
    const stopped = l.net.stopSpeaker(owner, signal);
    const g = await until(`a gratuitous ARP for ${V4} from ${next}`, async () => garps.find((x) => x.t >= tKill && x.ip === V4 && x.mac === nextMac), 15_000, 20).catch(() => undefined);
    await stopped;
    const ms = g ? g.t - tKill : NaN;
    const seen = await until(`${next} to log the loss of ${owner}`, async () => detectedAt(l, next, owner, tKill), 5_000, 50).catch(() => undefined);
    const detect = seen !== undefined ? seen - tKill : NaN;
    const react = seen !== undefined && g ? g.t - seen : NaN;
    out.push({ total: ms, detect, react });
    say(`  ${signal} run ${i + 1}/${RUNS}: ${owner} killed, ${next} announced after ${f1(ms)} ms (loss seen after ${f1(detect)} ms, first GARP ${f1(react)} ms later)`);
    await l.net.startSpeaker(owner);
    // Settled: the restarted speaker owns the IP again (it is first in MetalLB's order), its burst is over.
    const first = l.order(V4)[0]!;
    await until(`${first} to answer for ${V4} again`, async () => ((await currentOwner(l, V4)) === first ? true : undefined), 60_000, 300);
    await sleep(1500);
  }
  return out;
}

/** `12.3 MiB (12.9 MB)`: MiB (2²⁰ B) and MB (10⁶ B, the unit of issue 8's target). */
const mibMb = (mib: number): string => `${f1(mib)} MiB (${f1((mib * 1048576) / 1e6)} MB)`;

/** One line per speaker: VmRSS, RssAnon, RssFile, VmHWM (procMemory of bench/speaker-rss.ts). */
function rssLines(mem: ReadonlyArray<[string, ProcMemory]>): string[] {
  return mem.map(([node, m]) => `    ${node}: VmRSS ${mibMb(m.rss)}  RssAnon ${mibMb(m.anon)}  RssFile ${mibMb(m.file)}  VmHWM ${mibMb(m.hwm)}`);
}

/** What the speakers run as, for the headers. */
function speakerHow(): string {
  return SPEAKER_MODE === 'bundle'
    ? `speakers as the image runs them: node ${BUNDLE_FILE.slice(REPO.length)} speaker (esbuild bundle), NODE_OPTIONS="${daemonSetNodeOptions()}" (DaemonSet), V8 flags ${SPEAKER_V8_FLAGS} (image/entry.ts)`
    : "speakers the dev way: node --import tsx src/cli/main.ts speaker, node's default flags (not the image's: --speaker bundle)";
}

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

/**
 * Per-thread CPU ticks (utime+stime, /proc/PID/task/TID/stat fields 14-15), context switches and run-queue wait
 * (/proc/PID/task/TID/schedstat field 2, ns: time runnable but not running, i.e. waiting for a CPU) of `pid`, by TID.
 */
function threadsOf(pid: number): Map<number, { comm: string; ticks: number; switches: number; sliceNs: number; waitNs: number }> {
  const out = new Map<number, { comm: string; ticks: number; switches: number; sliceNs: number; waitNs: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const sw = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.set(Number(tid), {
        comm: stat.slice(stat.indexOf('(') + 1, close),
        ticks: Number(f[11]) + Number(f[12]),
        switches: sw('voluntary_ctxt_switches') + sw('nonvoluntary_ctxt_switches'),
        waitNs: (() => {
          try {
            return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? NaN);
          } catch {
            return NaN;
          }
        })(),
        sliceNs: (() => {
          try {
            return Number(/^se\.slice\s*:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/sched`, 'utf8'))?.[1] ?? NaN);
          } catch {
            return NaN;
          }
        })(),
      });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU ticks (utime+stime; children: cutime+cstime of the reaped ones) of every process on the machine, by pid, with its command name. */
function allProcesses(): Map<number, { comm: string; ticks: number; children: number }> {
  const out = new Map<number, { comm: string; ticks: number; children: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      out.set(Number(d), { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** NET_RX softirqs per CPU (/proc/softirqs) and, from /proc/stat, each CPU's busy/softirq jiffies. */
function cpuCounters(): { netRx: number[]; softirq: number[]; busy: number[] } {
  const rx = /^\s*NET_RX:(.*)$/m.exec(readFileSync('/proc/softirqs', 'utf8'))?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  const softirq: number[] = [];
  const busy: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [user, nice, system, , , irq, si, steal] = m[2]!.split(/\s+/).map(Number) as number[];
    softirq.push(si!);
    busy.push(user! + nice! + system! + irq! + si! + steal!);
  }
  return { netRx: rx, softirq, busy };
}

/**
 * Where the CPU went while `during` ran: per speaker, the busiest thread's CPU ms and wake-ups (context switches)
 * and the whole process's; the bench process (lab API server); per CPU, busy/softirq ms and NET_RX softirqs.
 */
async function cpuAccount<T>(l: L2Lab, others: ReadonlyMap<string, number>, during: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const tick = 1000 / 100; // USER_HZ
  const pids = new Map<string, number>([...l.net.speakers].map(([n, p]) => [n, p.pid!]));
  pids.set('bench+API', process.pid);
  for (const [n, pid] of others) pids.set(n, pid);
  const before = new Map([...pids].map(([n, pid]) => [n, threadsOf(pid)]));
  const p0 = allProcesses();
  const c0 = cpuCounters();
  const t0 = Date.now();
  const result = await during();
  const wallMs = Date.now() - t0;
  const c1 = cpuCounters();
  const p1 = allProcesses();
  const lines: string[] = [];
  for (const [n, pid] of pids) {
    const a = before.get(n)!;
    const b = threadsOf(pid);
    const d = [...b].map(([tid, t]) => ({ tid, comm: t.comm, ms: (t.ticks - (a.get(tid)?.ticks ?? 0)) * tick, sw: t.switches - (a.get(tid)?.switches ?? 0), slice: t.sliceNs, waitMs: (t.waitNs - (a.get(tid)?.waitNs ?? 0)) / 1e6 }));
    const total = d.reduce((x, t) => ({ ms: x.ms + t.ms, sw: x.sw + t.sw }), { ms: 0, sw: 0 });
    const top = [...d]
      .sort((x, y) => y.sw - x.sw)
      .slice(0, 2)
      .map((t) => `${t.comm}/${t.tid} ${t.ms} ms ${t.sw} wake-ups${Number.isFinite(t.waitMs) ? ` run-queue wait ${t.waitMs.toFixed(0)} ms (${t.sw > 0 ? ((t.waitMs * 1000) / t.sw).toFixed(0) : '-'} µs per wake-up)` : ''}${Number.isFinite(t.slice) ? ` slice ${t.slice / 1000} µs` : ''}`)
      .join(', ');
    lines.push(`    ${n}: process ${total.ms} ms CPU, ${total.sw} context switches; most switching threads: ${top}`);
  }
  const known = new Set(pids.values());
  const top = [...p1]
    .map(([pid, p]) => ({ pid, comm: p.comm, ms: (p.ticks - (p0.get(pid)?.ticks ?? 0)) * tick }))
    .filter((p) => p.ms > 0 && !known.has(p.pid))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 6);
  const args = (pid: number): string => {
    try {
      const a = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      return a.slice(1).map((x) => x.split('/').pop()).join(' ').slice(0, 40);
    } catch {
      return '';
    }
  };
  const reaped = ((p1.get(process.pid)?.children ?? 0) - (p0.get(process.pid)?.children ?? 0)) * tick;
  lines.push(`    the requester (and any other child of this bench that ended): ${reaped} ms`);
  lines.push(`    other processes by CPU (the lab's, other jobs): ${top.map((p) => `${p.comm}/${p.pid} [${args(p.pid)}] ${p.ms} ms`).join(', ')}`);
  lines.push(
    `    per CPU (over ${wallMs} ms): busy ${c1.busy.map((x, i) => `${(x - c0.busy[i]!) * tick} ms`).join(' / ')}, of which softirq ${c1.softirq.map((x, i) => `${(x - c0.softirq[i]!) * tick} ms`).join(' / ')}; NET_RX softirqs ${c1.netRx.map((x, i) => x - (c0.netRx[i] ?? 0)).join(' / ')}`,
  );
  return { result, lines };
}

async function speakerRequestsPerSecond(l: L2Lab, seconds: number): Promise<number> {
  const count = (): number => [...l.lab().requestCounts()].filter(([ua]) => /speaker/i.test(ua)).reduce((n, [, c]) => n + c, 0);
  const a = count();
  await sleep(seconds * 1000);
  return (count() - a) / seconds;
}

async function main(): Promise<number> {
  const skip = await l2SkipReason();
  if (skip) {
    say(`bench:failover: cannot run: ${skip}`);
    return 1;
  }
  say(`bench:failover: --speaker ${SPEAKER_MODE}: ${speakerHow()}`);
  if (SPEAKER_MODE === 'bundle') {
    const b = await bundle({ outfile: BUNDLE_FILE });
    say(`bench:failover: bundle ${b.outfile} + ${b.files.length - 1} chunks, ${(b.bytes / 1e6).toFixed(1)} MB`);
  }
  say('bench:failover: starting the lab, 3 node namespaces and their speakers');
  const l = await startL2Lab({
    speakerMode: SPEAKER_MODE,
    speakerArgs: [`--layer2-answer-priority=${ANSWER_PRIORITY}`],
    ...(SPEAKER_MODE === 'bundle' ? { bundleFile: BUNDLE_FILE } : {}),
  });
  const children: ChildProcess[] = [];
  try {
    await l.createService('bench-v4', [V4]);
    await l.setEndpoints('bench-v4', [{ node: 'n1', ready: true }, { node: 'n2', ready: true }, { node: 'n3', ready: true }]);
    for (const [i, ip4] of EXTRA_V4.entries()) {
      await l.createService(`bench-${i}`, [ip4]);
      await l.setEndpoints(`bench-${i}`, [{ node: 'n1', ready: true }, { node: 'n2', ready: true }, { node: 'n3', ready: true }]);
    }
    await l.waitForIngress('bench-v4', V4);
    const cap = captureGarps(l.clientNs);
    children.push(cap.proc);
    await cap.ready;
    await currentOwner(l, V4);

    // 1. failover
    const results: Array<[string, FailoverRun[], number]> = [];
    for (const [sig, target] of [['SIGKILL', 500], ['SIGTERM', 100]] as const) {
      if (!PARTS.has('failover')) break;
      say(`failover after ${sig} of the owner (${RUNS} runs):`);
      results.push([sig, await failover(l, cap.garps, sig), target]);
    }

    // 2. CPU hog, no kill
    let changes = 0;
    if (HOG_S > 0 && PARTS.has('hog')) {
      await sleep(6000); // the restarted speaker's gratuitous burst (5 s) is over
      const owner = await currentOwner(l, V4);
      const ownerPid = l.net.speakers.get(owner)!.pid;
      await run('taskset', ['-a', '-p', '-c', '0', String(ownerPid)]);
      const hog = spawn('taskset', ['-c', '0', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' });
      children.push(hog);
      const t0 = Date.now();
      say(`owner changes with a CPU hog on core 0 (pid ${hog.pid}) and owner ${owner} pinned there, ${HOG_S} s, no kill:`);
      await sleep(HOG_S * 1000);
      hog.kill('SIGKILL');
      await run('taskset', ['-a', '-p', '-c', '0-1', String(ownerPid)]);
      const last = new Map<string, string>();
      for (const g of cap.garps) {
        if (g.t < t0) {
          last.set(g.ip, g.mac);
          continue;
        }
        if (g.t > t0 + HOG_S * 1000) break;
        const prev = last.get(g.ip);
        if (prev !== undefined && prev !== g.mac) changes++;
        last.set(g.ip, g.mac);
      }
    }

    // 3. ARP reply latency under load
    const owner = await currentOwner(l, V4);
    say('');
    say(`bench:failover results (3 node namespaces, 1 client namespace, veth + bridge; node ${process.version}; load average ${load()})`);
    say(`  ${speakerHow()}; --layer2-answer-priority=${ANSWER_PRIORITY} (${ANSWER_PRIORITY > 0 ? `ARP answer threads SCHED_FIFO ${ANSWER_PRIORITY}` : 'ARP answer threads SCHED_OTHER'})`);
    for (const [sig, runs, target] of results) {
      const ok = runs.map((r) => r.total).filter(Number.isFinite);
      const det = runs.map((r) => r.detect).filter(Number.isFinite);
      const rea = runs.map((r) => r.react).filter(Number.isFinite);
      say(`  failover ${sig.padEnd(7)} kill → first GARP from new owner: p50 ${f1(pct(ok, 0.5))} ms  p99 ${f1(pct(ok, 0.99))} ms  max ${f1(Math.max(...ok))} ms  (${ok.length}/${runs.length} runs seen)   target p99 ≤ ${target} ms`);
      say(`           of which kill → loss seen: p50 ${f1(pct(det, 0.5))} ms  p99 ${f1(pct(det, 0.99))} ms;  loss seen → first GARP: p50 ${f1(pct(rea, 0.5))} ms  p99 ${f1(pct(rea, 0.99))} ms`);
    }
    if (HOG_S > 0 && PARTS.has('hog')) say(`  owner changes in ${HOG_S} s with a CPU hog on the owner's core: ${changes}   target 0`);
    if (PARTS.has('arp')) {
      const loadBefore = load();
      // `ip netns exec` execs tcpdump in place: the child's pid is tcpdump's.
      const argsFor = (rate: number): string[] => arpLoadArgs(l.clientNs, rate);
      let rtTid: number | undefined;
      if (v['arp-answer-rt']) {
        const ownerPid = l.net.speakers.get(owner)!.pid!;
        const t0 = threadsOf(ownerPid);
        await run('ip', arpLoadArgs(l.clientNs, 2000, 1), 60_000);
        const t1 = threadsOf(ownerPid);
        rtTid = [...t1].sort((a, b) => b[1].switches - (t0.get(b[0])?.switches ?? 0) - (a[1].switches - (t0.get(a[0])?.switches ?? 0)))[0]?.[0];
        if (rtTid !== undefined) {
          const r = await run('chrt', ['-f', '-p', '10', String(rtTid)]);
          say(`  --arp-answer-rt: ${owner}'s answer thread ${rtTid} (pid ${ownerPid}) set to SCHED_FIFO 10 (chrt exit ${r.code})`);
        }
      }
      const perfFile = join(tmpdir(), `bench-failover-${process.pid}.perf`);
      const perf = v['arp-perf-sched'] ? spawn('perf', ['sched', 'record', '-a', '-o', perfFile], { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined;
      if (perf) await sleep(1000); // perf's start-up
      const acct = await cpuAccount(l, new Map(cap.proc.pid ? [['tcpdump', cap.proc.pid]] : []), () => run('ip', argsFor(ARP_RATE), (ARP_S + 60) * 1000));
      let perfLines: string[] = [];
      if (perf) {
        const exited = new Promise((r) => perf.on('exit', r));
        perf.kill('SIGINT');
        await exited;
        const names = new Map<number, string>([...l.net.speakers].map(([n, p]) => [p.pid!, `speaker ${n}`]));
        perfLines = perfSchedLines(perfFile, names, 8);
        rmSync(perfFile, { force: true });
      }
      const arpLoad = acct.result;
      const arp = arpLoad.code === 0 ? (JSON.parse(arpLoad.stdout.trim().split('\n').pop()!) as ArpLoadOut) : undefined;
      // The same at a rate this machine sustains, for comparison.
      const slowRate = Math.min(ARP_RATE, 2000);
      const pcap = join(tmpdir(), `bench-failover-${process.pid}.pcap`);
      const dump = v['arp-tcpdump-check'] ? spawn('ip', ['netns', 'exec', l.clientNs, 'tcpdump', '-i', 'eth0', '-n', '-B', '16384', '--time-stamp-precision=nano', '-w', pcap, 'arp'], { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined;
      let dumpErr = '';
      if (dump) await new Promise<void>((resolve) => { dump.stderr!.on('data', (x: Buffer) => { dumpErr += x.toString(); if (/listening on/.test(dumpErr)) resolve(); }); dump.on('exit', () => resolve()); });
      const loadSlow = await run('ip', argsFor(slowRate), (ARP_S + 60) * 1000);
      let dumped: number[] | undefined;
      if (dump) {
        const exited = new Promise((r) => dump.on('exit', r));
        dump.kill('SIGINT');
        await exited;
        try {
          dumped = pcapArpLatencies(pcap, V4);
        } catch (err) {
          say(`  tcpdump check: ${(err as Error).message}`);
        }
        rmSync(pcap, { force: true });
      }
      const arpSlow = loadSlow.code === 0 ? (JSON.parse(loadSlow.stdout.trim().split('\n').pop()!) as ArpLoadOut) : undefined;
      if (!arp) say(`ARP load failed (exit ${arpLoad.code}): ${arpLoad.stderr.slice(-2000)}`);
      if (arp)
        say(`  ARP replies from ${owner} at ${arp.rate} requests/s (asked ${ARP_RATE}/s for ${ARP_S} s, tick ${ARP_TICK_US} µs): ${arpLine(arp)}   target wire p99 ≤ 1 ms at 20,000/s (load average ${loadBefore} before)`);
      say(`  CPU during the ${ARP_RATE}/s run (requester start-up included):`);
      for (const line of acct.lines) say(line);
      if (perf) {
        say(`  perf sched during the ${ARP_RATE}/s run (perf recording: its own CPU counts too), the busiest threads and every speaker thread:`);
        for (const line of perfLines) say(line);
      }
      if (!arpSlow) say(`ARP load at ${slowRate}/s failed (exit ${loadSlow.code}): ${loadSlow.stderr.slice(-2000)}`);
      if (arpSlow) say(`  ARP replies from ${owner} at ${arpSlow.rate} requests/s: ${arpLine(arpSlow)} (load average ${load()} after)`);
      if (rtTid !== undefined) await run('chrt', ['-o', '-p', '0', String(rtTid)]);
      if (dumped) {
        const p = (x: number): string => pct(dumped, x).toFixed(3);
        say(`  the same ${slowRate}/s run as tcpdump -w on the client's eth0 stamped it: ${dumped.length} request → reply pairs, p50 ${p(0.5)} ms  p90 ${p(0.9)} ms  p99 ${p(0.99)} ms  max ${Math.max(...dumped).toFixed(3)} ms (the requester's wire: p50 ${arpSlow?.wireP50Ms.toFixed(3)}  p90 ${arpSlow?.wireP90Ms.toFixed(3)}  p99 ${arpSlow?.wireP99Ms.toFixed(3)}  max ${arpSlow?.wireMaxMs.toFixed(3)} ms); tcpdump: ${dumpErr.split('\n').filter((x) => /packets/.test(x)).join(', ')}`);
      }
    }

    // 4. API load and RSS, 10 Services, then SERVICES
    if (PARTS.has('api')) {
      say(`speaker API requests idle with 10 Services (${IDLE_S} s):`);
      const rps10 = await speakerRequestsPerSecond(l, IDLE_S);
      const rss10 = [...l.net.speakers].map(([node, p]): [string, ProcMemory] => [node, procMemory(p.pid)]);
      await applyObject(l.client, {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'bench-v6', namespace: SPEAKER_NAMESPACE },
        spec: { addresses: ['2001:db8:52::1000-2001:db8:52::2fff'], autoAssign: false },
      });
      await applyObject(l.client, { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'bench-v6', namespace: SPEAKER_NAMESPACE }, spec: { ipAddressPools: ['bench-v6'] } });
      const extra = SERVICES - 10;
      say(`creating ${extra} more Services (IPv6, bench-v6) with a ready endpoint each`);
      let next = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (;;) {
            const i = next++;
            if (i >= extra) return;
            const ip6 = `2001:db8:52::${(0x1000 + i).toString(16)}`;
            await l.createService(`idle-${i}`, [ip6]);
            await l.setEndpoints(`idle-${i}`, [{ node: `n${(i % 3) + 1}`, ready: true }], 'IPv6');
          }
        }),
      );
      await l.waitForIngress(`idle-${extra - 1}`, `2001:db8:52::${(0x1000 + extra - 1).toString(16)}`, 300_000);
      await sleep(SETTLE_S * 1000); // announcements and status writes settle
      // Then until the speakers are quiet (their ServiceL2Status writes for ~1,000 Services take minutes on a loaded
      // machine): a 5 s window at most max(1, 2 × the 10-Service rate) requests/s, or 300 s. RSS is read after the idle
      // window below, so it is the idle figure, not the one of the busy start.
      const quiet = Math.max(1, 2 * rps10);
      const tSettle = Date.now();
      const windows: number[] = [];
      while (Date.now() - tSettle < 300_000) {
        const r = await speakerRequestsPerSecond(l, 5);
        windows.push(r);
        if (r <= quiet) break;
      }
      say(`  settled ${f1((Date.now() - tSettle) / 1000 + SETTLE_S)} s after the last Service's ingress (speaker requests/s per 5 s window after --settle-seconds ${SETTLE_S}: ${windows.map(f1).join(', ')}; quiet: ≤ ${f1(quiet)})`);
      say(`speaker API requests idle with ${SERVICES} Services (${IDLE_S} s):`);
      const rpsN = await speakerRequestsPerSecond(l, IDLE_S);
      const rssN = [...l.net.speakers].map(([node, p]): [string, ProcMemory] => [node, procMemory(p.pid)]);
      // And once steady, as bench:speaker-rss reads it: sampled every 2 s until it stops falling (V8's memory reducer
      // hands back what the burst of 1,000 Services used after some idle seconds).
      const rssSteady = await Promise.all(
        [...l.net.speakers].map(async ([node, p]): Promise<[string, ProcMemory]> => {
          await steadyRssMiB(p.pid);
          return [node, procMemory(p.pid)];
        }),
      );
      say(`  speaker API requests/s (all 3 speakers, idle): ${rps10.toFixed(2)} with 10 Services, ${rpsN.toFixed(2)} with ${SERVICES}   target: independent of the number of Services`);
      say(`  API requests by User-Agent since the lab started: ${[...l.lab().requestCounts()].map(([ua, n]) => `${ua || '(none)'}=${n}`).join(', ')}`);
      say(`  speaker RSS (--speaker ${SPEAKER_MODE}), VmRSS ${rss10.map(([, m]) => f1((m.rss * 1048576) / 1e6)).join(' / ')} MB with 10 Services, ${rssN.map(([, m]) => f1((m.rss * 1048576) / 1e6)).join(' / ')} MB with ${SERVICES}, ${rssSteady.map(([, m]) => f1((m.rss * 1048576) / 1e6)).join(' / ')} MB steady   target ≤ 64 MB (61.0 MiB)`);
      say(`  with 10 Services:`);
      for (const line of rssLines(rss10)) say(line);
      say(`  with ${SERVICES} Services, after the idle window:`);
      for (const line of rssLines(rssN)) say(line);
      say(`  with ${SERVICES} Services, steady (every 2 s until two samples 6 apart differ by < 1 MiB, as bench:speaker-rss; load average ${load()}):`);
      for (const line of rssLines(rssSteady)) say(line);
    }
    return 0;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await l.stop();
  }
}

// Ctrl-C / SIGTERM: exit, so the network's exit hook kills the speakers and deletes the namespaces.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
main().then(
  (code) => {
    if (code === 0 && PARTS.has('balance')) {
      const L2_BALANCE = join(REPO, 'bench/l2-balance.ts');
      process.stdout.write('\nbalanced mode (berth.io/l2-balance) against MetalLB\'s hash: bench/l2-balance.ts\n');
      code = spawnSync(process.execPath, ['--import', 'tsx', L2_BALANCE], { stdio: 'inherit', cwd: REPO }).status ?? 1;
    }
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`bench:failover: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
