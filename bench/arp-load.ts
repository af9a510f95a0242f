// npm run bench:arp-load [-- --rates 5000,10000,20000 --seconds 5 --family ipv4|ipv6 --answer native,js --batch
// --nice -10 --requester native|js] (root): ARP (or, with --family ipv6, NDP) reply latency and loss of the layer-2 announcer under a sustained
// request rate (issue 8: target p99 ≤ 1 ms at 20,000 requests/s), on a veth pair between two throwaway namespaces
// bt<pid>c (client, 198.51.100.1, 2001:db8:77::1) and bt<pid>n (node, 198.51.100.2, 2001:db8:77::2).
// The node runs a real Layer2Announcer over real AF_PACKET sockets (test/integration/layer2-netns.child.ts) that
// announces 198.51.100.100 / 2001:db8:77::100, configured on no interface; `--answer native` (default with js:
// both, one after the other) lets the addon answer plain ARP requests (PacketSocket.setArpAnswers), `js` hides that
// so the JS responder answers everything. The client runs bench/failover-arp-load.ts, which times every reply exactly
// (the request's ar$sha / SLLA carries a sequence number) and splits it at the reply's kernel receive stamp. Every
// 10th request asks for the node's own address instead, which the node's kernel answers: the reference, measured
// in the same run. Per rate it prints what the requester saw (sent, answered, p50/p90/p99/max latency into the
// requester; `wire` p99 = request → reply on the client's wire, both stamped by the client's kernel (a tap sees the
// outgoing request), `send` p99 = the requester's clock before send → reply's kernel stamp (what `wire` meant
// before the tap), `wake` p99 = reply in the client's kernel → the requester; the reference's p50/p99 and wire p99), what the responder counted (ARP requests answered natively, frames handed to JS, the native
// answers' delay from the kernel's receive stamp to sendmmsg as p50/p99 upper bounds of log2 buckets, PACKET_STATISTICS
// kernel drops, CPU time per frame and share of one core), the client's own drops and the load average. Figures
// are printed, never asserted; on a shared 2-core machine other processes steal the responder's core (see --nice).
// A last block gives, per row, the reply latency the way a client on the link sees it (`wire`: a host resolves
// ARP/NDP in its kernel, with no process to wake), for berth and for the node kernel's own answers: the figure the
// issue's target is read on. Both ends stamp CLOCK_REALTIME (the addon's realtimeMicros and the ring's stamps).
// Documentation ranges only; both namespaces are deleted on exit (also on failure).
import { spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, REPO, ip, netnsUnavailable } from '../test/integration/link-harness.ts';

const { values: v } = parseArgs({
  options: {
    rates: { type: 'string', default: '5000,10000,20000' },
    seconds: { type: 'string', default: '5' },
    batch: { type: 'boolean', default: false },
    nice: { type: 'string', default: '0' },
    family: { type: 'string', default: 'ipv4' },
    answer: { type: 'string' },
    requester: { type: 'string' },
  },
});
// The addon answers ARP only: NDP is always answered in JS (its fast path).
const answers = (v.answer ?? (v.family === 'ipv6' ? 'js' : 'native,js')).split(',');
if (v.family !== 'ipv4' && v.family !== 'ipv6') {
  console.error(`arp-load: --family ${v.family} is invalid: ipv4 or ipv6`);
  process.exit(2);
}
if (answers.length === 0 || answers.some((a) => a !== 'native' && a !== 'js')) {
  console.error(`arp-load: --answer ${v.answer} is invalid: native, js or native,js`);
  process.exit(2);
}
const v6 = v.family === 'ipv6';
const nice = Number(v.nice);
const rates = v.rates!.split(',').map(Number);
const seconds = Number(v.seconds);
if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !Number.isInteger(nice) || nice < -20 || nice > 19) {
  console.error(
    `arp-load: --rates ${v.rates} must be positive numbers, --seconds ${v.seconds} > 0, --nice ${v.nice} an integer in -20..19`,
  );
  process.exit(2);
}
const why = netnsUnavailable();
if (why) {
  console.log(`arp-load: skipped: ${why}`);
  process.exit(0);
}

const CHILD = fileURLToPath(new URL('../test/integration/layer2-netns.child.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('./failover-arp-load.ts', import.meta.url));
const CL = `bt${process.pid}c`;
const NODE = `bt${process.pid}n`;
const VIP = v6 ? '2001:db8:77::100' : '198.51.100.100';
const REF = v6 ? '2001:db8:77::2' : '198.51.100.2'; // the node's own address: its kernel answers
// --nice N runs the responder and the generator under nice(1): on a shared machine a negative value keeps other
// processes from stealing their core (the figures then show the code, not the neighbours).
const NICE = nice === 0 ? [] : ['nice', '-n', String(nice)];

interface Figures {
  replies: number;
  lost: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  wireP50Ms: number;
  wireP99Ms: number;
  sendP99Ms?: number;
  wakeP50Ms: number;
  wakeP99Ms: number;
}
interface Load extends Figures {
  sent: number;
  unmatched: number;
  late: number;
  rate: number;
  kernelDrops: number;
  reference?: Figures & { sent: number };
}
interface LinkStats {
  ethertype: number;
  received: number;
  kernelDrops: number;
  answeredNatively: number;
  arpAnswerDelays?: { count: number; buckets: number[] };
}

function runLoad(rate: number): Promise<Load> {
  const args = [
    'netns',
    'exec',
    CL,
    ...NICE,
    process.execPath,
    '--import',
    'tsx',
    LOAD,
    '--ifname',
    'eth0',
    '--target',
    VIP,
    '--match',
    'sha',
    '--reference',
    REF,
  ];
  args.push('--rate', String(rate), '--seconds', String(seconds), ...(v.batch ? ['--batch'] : []));
  if (v.requester) args.push('--requester', v.requester); // default: failover-arp-load.ts's (native for ARP)
  return new Promise((resolve, reject) => {
    const p = spawn('ip', args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!) as Load);
      else reject(new Error(`load generator exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

/** Upper bound (µs) of the log2 bucket where the cumulative count of `after - before` reaches p. */
function bucketQuantile(before: number[] | undefined, after: number[] | undefined, p: number): string {
  if (!after) return '-';
  const d = after.map((x, i) => x - (before?.[i] ?? 0));
  const n = d.reduce((a, b) => a + b, 0);
  if (n === 0) return '-';
  let c = 0;
  for (let i = 0; i < d.length; i++) {
    c += d[i]!;
    if (c >= p * n) return `<${2 ** (i + 1)}`;
  }
  return '-';
}

let agent: Agent | undefined;
try {
  ip('netns', 'add', CL);
  ip('netns', 'add', NODE);
  ip('link', 'add', 'eth0', 'netns', CL, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NODE);
  for (const [ns, n] of [
    [CL, 1],
    [NODE, 2],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', 'eth0', 'address', `02:00:00:77:00:0${n}`);
    ip('-n', ns, 'addr', 'add', `198.51.100.${n}/24`, 'dev', 'eth0');
    ip('-n', ns, 'addr', 'add', `2001:db8:77::${n}/64`, 'dev', 'eth0', 'nodad');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
  console.log(
    `${v6 ? 'NDP (NS → NA)' : 'ARP'} reply latency, announcer in ${NODE} ← requests from ${CL} over a veth pair, ${seconds} s per rate` +
      `${v.batch ? ', generator sends with sendmmsg' : ''}${nice ? `, nice ${nice}` : ''}; every 10th request asks the node's kernel for ${REF} (ref) (node ${process.version})`,
  );
  console.log(
    '  answer  rate/s  achieved      sent  answered  lost  p50 ms  p90 ms  p99 ms  max ms wire99 wake99 | ref: p50 ms  p99 ms wire99 | node: native      JS  native µs p50/p99  kdrops  CPU µs/frame  core % | client drops  load avg',
  );
  const rows: { mode: string; rate: number; load: Load }[] = [];
  for (const mode of answers) {
    agent = new Agent(
      [
        'ip',
        'netns',
        'exec',
        NODE,
        ...NICE,
        process.execPath,
        '--import',
        'tsx',
        CHILD,
        JSON.stringify({ ips: [VIP], probe: false, friendly: [], native: mode === 'native' }),
      ],
      { cwd: REPO },
    );
    await agent.waitFor((e) => e.event === 'announced' && e.ip === VIP);
    const a = agent;
    const stats = async (): Promise<{ responses: number; link: LinkStats; cpu: number }> => {
      const from = a.events.length;
      a.send({ stats: true });
      const s = await a.waitFor((e) => e.event === 'stats', from);
      const link = (s.links as LinkStats[]).find((l) => l.ethertype === (v6 ? 0x86dd : 0x0806))!;
      if (process.env.ARP_LOAD_DEBUG) console.log(JSON.stringify(s));
      return {
        responses: (s.responsesSent as Record<string, number>)[VIP] ?? 0,
        link,
        cpu: s.cpuMicros as number,
      };
    };
    await runLoad(1000).catch(() => undefined); // warm-up (JIT, neighbour state)
    for (const rate of rates) {
      const before = await stats();
      const load = await runLoad(rate);
      rows.push({ mode, rate, load });
      const after = await stats();
      const f = (x: number | undefined, w = 7): string =>
        (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '-').padStart(w);
      const frames =
        after.link.received - before.link.received + after.link.answeredNatively - before.link.answeredNatively;
      const r = load.reference;
      console.log(
        `  ${mode.padStart(6)} ${String(rate).padStart(7)} ${String(load.rate).padStart(9)} ${String(load.sent).padStart(9)} ${String(load.replies).padStart(9)} ${String(load.lost).padStart(5)} ` +
          `${f(load.p50Ms)} ${f(load.p90Ms)} ${f(load.p99Ms)} ${f(load.maxMs)} ${f(load.wireP99Ms, 6)} ${f(load.wakeP99Ms, 6)} | ` +
          `${f(r?.p50Ms, 11)} ${f(r?.p99Ms)} ${f(r?.wireP99Ms, 6)} | ` +
          `${String(after.link.answeredNatively - before.link.answeredNatively).padStart(12)} ${String(after.link.received - before.link.received).padStart(7)} ` +
          `${`${bucketQuantile(before.link.arpAnswerDelays?.buckets, after.link.arpAnswerDelays?.buckets, 0.5)}/${bucketQuantile(before.link.arpAnswerDelays?.buckets, after.link.arpAnswerDelays?.buckets, 0.99)}`.padStart(18)} ` +
          `${String(after.link.kernelDrops - before.link.kernelDrops).padStart(7)} ` +
          `${((after.cpu - before.cpu) / Math.max(1, frames)).toFixed(1).padStart(13)} ${(((after.cpu - before.cpu) / 1e6 / seconds) * 100).toFixed(0).padStart(7)} | ` +
          `${String(load.kernelDrops).padStart(12)}  ${loadavg()[0]!.toFixed(2)}`,
      );
    }
    agent.stop();
    await agent.exited;
    agent = undefined;
  }
  // The figure issue 8's target (p99 ≤ 1 ms at 20,000/s) is read on: the reply latency a client on the link sees.
  // A host resolving an address does it in its kernel (softirq, no process to wake), so its latency is `wire`:
  // request on the client's wire → reply on it, both kernel stamps (both kernels, the veth and the whole responder). The end-to-end
  // column adds this generator's own wake-up (wake99, a JS process on a shared core), which no real client has.
  console.log(
    'reply latency on the client\'s wire (request and reply both stamped by the client\'s kernel, as tcpdump; target p99 ≤ 1 ms):',
  );
  const ms = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '-');
  for (const { mode, rate, load } of rows) {
    const r = load.reference;
    console.log(
      `  ${mode} ${rate}/s: berth p50 ${ms(load.wireP50Ms)} ms, p99 ${ms(load.wireP99Ms)} ms (${load.lost} lost; send → reply p99 ${ms(load.sendP99Ms)} ms) | ` +
        `the node kernel's own answers p50 ${ms(r?.wireP50Ms)} ms, p99 ${ms(r?.wireP99Ms)} ms | ` +
        `end to end into the generator p99 ${ms(load.p99Ms)} ms, of which its own wake-up p99 ${ms(load.wakeP99Ms)} ms`,
    );
  }
} finally {
  agent?.stop();
  if (agent) await agent.exited;
  for (const ns of [CL, NODE]) spawnSync('ip', ['netns', 'del', ns]);
}
