// npx tsx bench/bgp-toggle.ts [--services 10000] [--rounds 5] — the CPU the speaker spends between a BGPAdvertisement
// change and its UPDATEs on the sockets (bench:bgp --speaker's withdraw / install intervals, without root, BIRD or the
// API server), per V8 flag set. Figures only, never asserted; CPU time, with the load average (wall time on a shared
// machine measures the neighbours).
// Each variant is a child process (node with the DaemonSet's NODE_OPTIONS, gitops/base/speaker/daemonset.yaml, plus
// runtime V8 flags set with v8.setFlagsFromString before the speaker code loads, as image/entry.ts does): 3 eBGP
// sessions over TCP on ::1 to sink peers in the same process (bench/bgp-cpu.ts's), N single-stack Services (768 IPv4
// /32, the rest IPv6 /128, as bench:bgp) with one ready endpoint on n1, and rounds of: a new Config without the
// BGPAdvertisement (withdraw), a new Config with it (install). Per change: BgpPlanner.plan (a new Config replans every
// Service) and BgpSpeaker.sync (Adj-RIB-Out edits, UPDATE encoding and socket writes: the sessions flush inside it),
// then planLayer2, which main.ts runs after them.
import { BGP_V8_FLAGS, SPEAKER_V8_FLAGS } from '../src/speaker/v8-flags.ts';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import type { EndpointView, ServiceView } from '../src/speaker/l2-plan.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    child: { type: 'string' },
  },
});
const N = Number(values.services);
const ROUNDS = Number(values.rounds);
for (const [k, v] of Object.entries({ services: N, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v < 1 || (k === 'services' && v > 768 + 65536)) {
    console.error(`bench/bgp-toggle: --${k} ${String(v)} must be an integer 1-${k === 'services' ? 768 + 65536 : 'n'}`);
    process.exit(2);
  }
}

/** The speaker's runtime V8 flags in the image as in effect once its BGP half is loaded (src/speaker/v8-flags.ts:
 * SPEAKER_V8_FLAGS, then BGP_V8_FLAGS, which startOptimizing() sets when BGP loads; the later flag wins). */
const ENTRY_FLAGS = `${SPEAKER_V8_FLAGS} ${BGP_V8_FLAGS}`;
const NODE_OPTIONS = ['--max-semi-space-size=1', '--v8-pool-size=1'];
const VARIANTS: Array<[string, string]> = [
  ['speaker (image/entry.ts flags)', ENTRY_FLAGS],
  ['without --optimize-for-size', '--interrupt-budget=1048576 --no-sparkplug'],
  ['no runtime flags', ''],
];

if (values.child === undefined) {
  console.log(
    `bench:bgp-toggle — ${N} Services, 3 eBGP sessions on ::1; CPU ms from the Config change to the UPDATEs written, ` +
      `median of ${ROUNDS} rounds; node ${process.version} ${NODE_OPTIONS.join(' ')}, ${os.cpus().length} CPUs`,
  );
  for (const [name, flags] of VARIANTS) {
    const r = spawnSync(
      process.execPath,
      [...NODE_OPTIONS, '--import', 'tsx', fileURLToPath(import.meta.url), `--child=${flags || '-'}`, '--services', String(N), '--rounds', String(ROUNDS)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    console.log(`${name.padEnd(31)} ${r.stdout.trim() || `failed (${String(r.status)})`}`);
  }
  process.exit(0);
}

if (values.child !== '-') setFlagsFromString(values.child);
const { pino } = await import('pino');
const { buildConfig } = await import('../src/config/build.ts');
const { NS, bgpAd, peer, pool } = await import('../src/config/test-objects.ts');
const { BgpPlanner } = await import('../src/speaker/bgp-plan.ts');
const { BgpSpeaker } = await import('../src/speaker/bgp-speaker.ts');
const { planLayer2 } = await import('../src/speaker/l2-plan.ts');
const { Afi, KEEPALIVE, Safi, decodeStream, encode, newOpen } = await import('../src/speaker/bgp/wire/index.ts');

/** A peer that answers the OPEN with its own and a KEEPALIVE, then ignores what it gets; on ::1, a port < 16384. */
async function sink(): Promise<number> {
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    let open = false;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      if (open) return;
      buf = Buffer.concat([buf, d]);
      if (decodeStream(buf, { fourOctetAs: false }).messages.length === 0) return;
      open = true;
      const capabilities = [
        { type: 'multiprotocol' as const, afi: Afi.IPv4, safi: Safi.Unicast },
        { type: 'multiprotocol' as const, afi: Afi.IPv6, safi: Safi.Unicast },
      ];
      s.write(encode(newOpen({ asn: 64501, holdTime: 90, bgpIdentifier: '198.51.100.1', capabilities }), { fourOctetAs: false }));
      s.write(encode(KEEPALIVE, { fourOctetAs: false }));
    });
  });
  server.unref();
  for (let attempt = 0; ; attempt++) {
    const port = 10000 + Math.floor(Math.random() * 6000);
    const ok = await new Promise<boolean>((r) => {
      server.once('error', () => r(false));
      server.listen(port, '::1', () => r(true));
    });
    if (ok) return port;
    if (attempt > 50) throw new Error('bench/bgp-toggle: no free port in 10000-16000 on ::1');
  }
}

const ports = [await sink(), await sink(), await sink()];
const config = (withAd: boolean) => {
  const built = buildConfig(
    {
      pools: [pool('bench', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8:100::/112'])],
      l2Advertisements: [],
      bgpAdvertisements: withAd ? [bgpAd('bench', { communities: ['64500:100'] })] : [],
      bgpPeers: ports.map((port, i) =>
        peer(`r${i + 1}`, { myASN: 64500, peerASN: 64501, peerAddress: '::1', peerPort: port, dualStackAddressFamily: true }),
      ),
      communities: [],
      bfdProfiles: [],
      namespaces: [],
    },
    { namespace: NS },
  );
  if (!built.config) throw new Error(`bench/bgp-toggle: config refused: ${JSON.stringify(built.problems)}`);
  return built.config;
};
const v4 = ['192.0.2', '198.51.100', '203.0.113'].flatMap((n) => Array.from({ length: 256 }, (_, i) => `${n}.${i}`));
const ips = [...v4.slice(0, Math.min(N, 768)), ...Array.from({ length: Math.max(0, N - 768) }, (_, i) => `2001:db8:100::${i.toString(16)}`)];
const services: ServiceView[] = ips.map((ip, i) => ({
  key: `bench/s${i}`,
  namespace: 'bench',
  name: `s${i}`,
  labels: {},
  ips: [ip],
  pool: 'bench',
  externalTrafficPolicy: 'Cluster',
}));
const endpoints = new Map<string, EndpointView[]>(services.map((s) => [s.key, [{ nodeName: 'n1', ready: true, serving: true }]]));
const world = (withAd: boolean) => ({
  config: config(withAd),
  nodes: [{ name: 'n1', labels: {}, networkUnavailable: false }],
  services,
  endpoints,
});

const speaker = new BgpSpeaker({ node: 'n1', log: pino({ level: 'silent' }) });
const planner = new BgpPlanner();
let up = 0;
const allUp = new Promise<void>((r) => speaker.on('sessionUp', () => ++up === 3 && r()));
void speaker.sync(planner.plan(world(true), 'n1'));
await allUp;
const settle = async (): Promise<void> => {
  do await new Promise((r) => setTimeout(r, 50));
  while (!speaker.sessions().every((x) => x.stats.pendingPrefixes === 0));
};
await settle();
const cpu = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const runs: Record<string, { plan: number[]; sync: number[]; l2: number[] }> = {};
const loads: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const what of ['withdraw', 'install'] as const) {
    await settle();
    loads.push(os.loadavg()[0]!);
    const w = world(what === 'install');
    const c0 = process.cpuUsage();
    const plan = planner.plan(w, 'n1');
    const cPlan = process.cpuUsage(c0);
    const c1 = process.cpuUsage();
    void speaker.sync(plan);
    const cSync = process.cpuUsage(c1);
    const c2 = process.cpuUsage();
    planLayer2({ ...w, liveSpeakers: new Set(['n1']) });
    const cL2 = process.cpuUsage(c2);
    const r = (runs[what] ??= { plan: [], sync: [], l2: [] });
    r.plan.push(cpu(cPlan));
    r.sync.push(cpu(cSync));
    r.l2.push(cpu(cL2));
  }
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const line = (what: string): string => {
  const r = runs[what]!;
  const total = r.plan.map((p, i) => p + r.sync[i]!);
  return `${what} ${med(total).toFixed(0).padStart(4)} (plan ${med(r.plan).toFixed(0)} + sync/UPDATEs ${med(r.sync).toFixed(0)}; planLayer2 after ${med(r.l2).toFixed(0)})`;
};
console.log(`${line('install')}, ${line('withdraw')}; load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
await speaker.close();
process.exit(0);
