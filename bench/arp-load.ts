// npm run bench:arp-load [-- --rates 5000,10000,20000 --seconds 5 --batch --nice -10] (root): ARP reply latency and loss of the
// layer-2 announcer under a sustained request rate (issue 8: target p99 ≤ 1 ms at 20,000 requests/s), on a veth
// pair between two throwaway namespaces bt<pid>c (client, 198.51.100.1) and bt<pid>n (node, 198.51.100.2).
// The node runs a real Layer2Announcer over real AF_PACKET sockets (test/integration/layer2-netns.child.ts) that
// announces 198.51.100.100, configured on no interface; the client runs bench/failover-arp-load.ts, which times
// every reply exactly (the request's ar$sha carries a sequence number). Per rate it prints what the requester saw
// (sent, answered, p50/p90/p99/max latency, its own receive drops) and what the responder counted (frames received,
// replies sent, PACKET_STATISTICS kernel drops of its socket, its CPU time per frame and share of one core: the
// figure that does not depend on the neighbours). Figures are printed, never asserted; on a shared 2-core machine
// the load average is printed too, since other processes steal the responder's core (see --nice).
// Documentation range only; both namespaces are deleted on exit (also on failure).
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
  },
});
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
const VIP = '198.51.100.100';
// --nice N runs the responder and the generator under nice(1): on a shared machine a negative value keeps other
// processes from stealing their core (the figures then show the code, not the neighbours).
const NICE = nice === 0 ? [] : ['nice', '-n', String(nice)];

interface Load {
  sent: number;
  replies: number;
  unmatched: number;
  late: number;
  lost: number;
  rate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  kernelDrops: number;
}
interface LinkStats {
  ethertype: number;
  received: number;
  kernelDrops: number;
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
  ];
  args.push('--rate', String(rate), '--seconds', String(seconds), ...(v.batch ? ['--batch'] : []));
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
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
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
      JSON.stringify({ ips: [VIP], probe: false, friendly: [] }),
    ],
    { cwd: REPO },
  );
  await agent.waitFor((e) => e.event === 'announced' && e.ip === VIP);
  const a = agent;
  const stats = async (): Promise<{ responses: number; arp: LinkStats; cpu: number }> => {
    const from = a.events.length;
    a.send({ stats: true });
    const s = await a.waitFor((e) => e.event === 'stats', from);
    const arp = (s.links as LinkStats[]).find((l) => l.ethertype === 0x0806)!;
    if (process.env.ARP_LOAD_DEBUG) console.log(JSON.stringify(s));
    return {
      responses: (s.responsesSent as Record<string, number>)[VIP] ?? 0,
      arp,
      cpu: s.cpuMicros as number,
    };
  };
  await runLoad(1000).catch(() => undefined); // warm-up (JIT, neighbour state)
  console.log(
    `ARP reply latency, announcer in ${NODE} ← requests from ${CL} over a veth pair, ${seconds} s per rate` +
      `${v.batch ? ', generator sends with sendmmsg' : ''}${nice ? `, nice ${nice}` : ''} (node ${process.version})`,
  );
  console.log(
    '  rate/s  achieved      sent  answered    lost   p50 ms   p90 ms   p99 ms   max ms | node: received  replies  kernel drops  CPU µs/frame  core % | client drops  load avg',
  );
  for (const rate of rates) {
    const before = await stats();
    const load = await runLoad(rate);
    const after = await stats();
    const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-').padStart(8);
    console.log(
      `  ${String(rate).padStart(6)} ${String(load.rate).padStart(9)} ${String(load.sent).padStart(9)} ${String(load.replies).padStart(9)} ${String(load.lost).padStart(7)} ` +
        `${f(load.p50Ms)} ${f(load.p90Ms)} ${f(load.p99Ms)} ${f(load.maxMs)} | ` +
        `${String(after.arp.received - before.arp.received).padStart(14)} ${String(after.responses - before.responses).padStart(8)} ${String(after.arp.kernelDrops - before.arp.kernelDrops).padStart(13)} ` +
        `${((after.cpu - before.cpu) / Math.max(1, after.arp.received - before.arp.received)).toFixed(1).padStart(13)} ${(((after.cpu - before.cpu) / 1e6 / seconds) * 100).toFixed(0).padStart(7)} | ` +
        `${String(load.kernelDrops).padStart(12)}  ${loadavg()[0]!.toFixed(2)}`,
    );
  }
} finally {
  agent?.stop();
  if (agent) await agent.exited;
  for (const ns of [CL, NODE]) spawnSync('ip', ['netns', 'del', ns]);
}
