// `npm run bench:bgp -- --speaker [--services 10000 --rounds 3]`: issue 9's BGP figures with the REAL speaker process
// (not bench/bgp-agent.ts): one `berth speaker` from the bundle, with its informers, API client, status writes and
// metrics, as the DaemonSet runs it. Figures only, never asserted (targets: install ≤ 1 s, withdraw ≤ 1 s, speaker RSS
// with 10,000 prefixes and 3 peers ≤ 96 MB). Needs root, `ip netns`, BIRD 2 and kubectl (bench/bgp.ts checks them).
//
// Lab: the lab API server in this process (src/lab/testing.ts), reached from the node namespace through a unix socket
// and a forwarder in that namespace (src/lab/network/forward.ts: TLS end to end, the lab's kubeconfig unchanged); a
// router namespace bs<pid>r (198.51.100.1, .3, .4, 2001:db8:77::1) running BIRD 2 with 3 passive eBGP protocols (AS
// 64501), and a node namespace bs<pid>n (198.51.100.2, .12, .22, 2001:db8:77::2) running
//   node [--import heap reporter] <bundle> speaker --node-name n1 --namespace metallb-system …
// with in-cluster access (a service account of the lab's token and CA) and the DaemonSet's NODE_OPTIONS (gitops/base/speaker/daemonset.yaml) and the V8 flags image/entry.ts sets. The
// bundle is image/bundle.ts's, written as dist/bench-bgp-speaker.mjs (not dist/berth.mjs, which other benches rebuild).
// Objects (kubectl / the API, as a user would): the metallb.io CRDs, Node n1 (InternalIP 198.51.100.2), pool `bench`
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8:100::/112), 3 BGPPeers (myASN 64500, peerASN 64501,
// sourceAddress the node's address for each, dualStackAddressFamily), N LoadBalancer Services with their IP in
// status (the 768 IPv4 documentation addresses, then IPv6 /128s in 2001:db8:100::/112, as bench/bgp.ts) and one
// ready endpoint on n1 each, and BGPAdvertisement `bench` (community 64500:100).
// Measured (BIRD's `show route count` polled every 5 ms on one control connection; every figure with the 1-minute
// load average): speaker start → sessions Established at BIRD → BIRD holds all 3N routes; then per round: delete the
// BGPAdvertisement → BIRD holds 0 (withdraw), create it again → 3N (install), each change made once the speaker is
// idle (≤ 5 % CPU over 1 s: bench/bgp-profile.ts cpuQuiet), timed from the API request; the speaker's RSS (VmRSS once steady: all N
// ServiceBGPStatus of n1 in the lab and the speaker idle,
// RssAnon / RssFile), peak (VmHWM) and V8 heap, with all routes announced.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { bundle, REPO } from '../image/bundle.ts';
import type { KubeObject } from '../src/kube/client.ts';
import { connect } from '../src/kube/connect.ts';
import { Resources } from '../src/kube/resources.ts';
import { FORWARDER_MAIN, startBridge, type Bridge } from '../src/lab/network/forward.ts';
import { spawnNode, type NodeProcess } from '../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../src/lab/testing.ts';
import { BirdCli } from './bird-cli.ts';
import { cpuQuiet } from './bgp-profile.ts';
import { applyMetallbCrds, birdRouterConf, createBenchService, createInParallel, heapReporter, kubectl, lastHeap, namespacesYaml, must, routerNodeNetns } from './lab-objects.ts';
import { daemonSetNodeOptions, procMemory, steadyRssMiB, type ProcMemory } from './speaker-rss.ts';

export interface SpeakerBenchOptions {
  /** Services (= prefixes), 1..768+65536. */
  services: number;
  /** Withdraw / install rounds after the start. */
  rounds: number;
  /** At the end, a V8 heap snapshot of the speaker (SIGUSR2) is written to a folder kept and printed. */
  heapSnapshot?: boolean;
  /** Extra node flags for the speaker (e.g. `--cpu-prof --cpu-prof-dir=DIR`: bench/bgp.ts --cpu-prof). */
  speakerNodeArgs?: string[];
  /** Called after each measured interval: its start (epoch ms, before the API request) and length (ms). */
  onRound?: (r: { what: 'withdraw' | 'install'; round: number; startMs: number; ms: number }) => void;
}

const NS = 'metallb-system';
const APP_NS = 'bench-bgp';
const ROUTER_ADDRS = ['198.51.100.1', '198.51.100.3', '198.51.100.4'];
const NODE_ADDRS = ['198.51.100.2', '198.51.100.12', '198.51.100.22'];
const POOL = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8:100::/112'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (s: string): void => void process.stdout.write(`${s}\n`);
const load = (): string => `load ${os.loadavg()[0]!.toFixed(1)}`;
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });

/** The i-th Service's IP: the 768 IPv4 documentation addresses, then IPv6 /128s in 2001:db8:100::/112 (bench/bgp.ts). */
export function benchIp(i: number): { ip: string; family: 'IPv4' | 'IPv6' } {
  if (i < 768) return { ip: `${['192.0.2', '198.51.100', '203.0.113'][Math.floor(i / 256)]!}.${i % 256}`, family: 'IPv4' };
  return { ip: `2001:db8:100::${(i - 768).toString(16)}`, family: 'IPv6' };
}

const ADVERTISEMENT: KubeObject = {
  apiVersion: 'metallb.io/v1beta1',
  kind: 'BGPAdvertisement',
  metadata: { name: 'bench', namespace: NS },
  spec: { ipAddressPools: ['bench'], communities: ['64500:100'] },
};

/** CRDs, namespaces, Node n1, pool, 3 BGPPeers and `services` Services (not the BGPAdvertisement). Returns seconds. */
async function populate(t: TestLab, services: number): Promise<number> {
  await applyMetallbCrds(t);
  const peers = ROUTER_ADDRS.map(
    (a, i) => `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: r${i + 1}, namespace: ${NS}}
spec: {myASN: 64500, peerASN: 64501, peerAddress: ${a}, sourceAddress: ${NODE_ADDRS[i]!}, dualStackAddressFamily: true}
`,
  ).join('---\n');
  await kubectl(
    t,
    ['apply', '-f', '-'],
    `${namespacesYaml(NS, APP_NS)}---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {addresses: [{type: InternalIP, address: ${NODE_ADDRS[0]!}}, {type: InternalIP, address: '2001:db8:77::2'}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bench, namespace: ${NS}}
spec: {addresses: [${POOL.map((p) => `'${p}'`).join(', ')}], autoAssign: false}
---
${peers}`,
  );
  return createInParallel(t, services, (client, i) =>
    createBenchService(client, APP_NS, i, { ...benchIp(i), pool: 'bench', nodeName: 'n1' }),
  );
}

function mem(m: ProcMemory): string {
  return `RSS ${m.rss.toFixed(1)} MiB (anon ${m.anon.toFixed(1)}, file ${m.file.toFixed(1)}), peak (VmHWM) ${m.hwm.toFixed(1)} MiB`;
}

/** Runs the bench (see the file comment); resolves with the exit code. Everything is removed at the end, also on failure. */
export async function runSpeakerBench(o: SpeakerBenchOptions): Promise<number> {
  if (!findKubectl()) {
    say('bench/bgp --speaker: skipped: kubectl not found (scripts/fetch-kubectl.sh installs one)');
    return 0;
  }
  const N = o.services;
  const EXPECTED = 3 * N;
  const id = `bs${process.pid % 100000}`;
  const R = `${id}r`;
  const NODE = `${id}n`;
  const dir = mkdtempSync(join(os.tmpdir(), `${id}-`));
  chmodSync(dir, 0o755);
  const procs: NodeProcess[] = [];
  const birdPid = join(dir, 'bird.pid');
  let cli: BirdCli | undefined;
  let bridge: Bridge | undefined;
  let t: TestLab | undefined;
  let bundled: string[] = [];
  let closeApi = (): void => undefined;
  const cleanup = async (): Promise<void> => {
    cli?.close();
    closeApi();
    for (const p of procs.reverse()) await p.stop('SIGTERM', 3000);
    try {
      process.kill(Number(sh('cat', [birdPid]).trim()), 'SIGTERM');
    } catch {
      /* not running */
    }
    await bridge?.close();
    for (const ns of [R, NODE]) spawnSync('ip', ['netns', 'del', ns]);
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
    for (const f of bundled) rmSync(f, { force: true });
  };
  const onSigint = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    routerNodeNetns(id, R, NODE, ROUTER_ADDRS, NODE_ADDRS);
    writeFileSync(join(dir, 'bird.conf'), birdRouterConf(ROUTER_ADDRS, NODE_ADDRS));
    const ctl = join(dir, 'bird.ctl');
    sh('ip', ['netns', 'exec', R, 'bird', '-c', join(dir, 'bird.conf'), '-s', ctl, '-P', birdPid]);
    cli = new BirdCli(ctl);
    const established = async (): Promise<number> =>
      (await cli!.query('show protocols')).split('\n').filter((l) => /BGP .*Established/.test(l)).length;
    // Route counts are timestamped by bench/bird-watch.ts in a process of its own: this one also serves the lab API.
    const counts: Array<{ t: number; n: number }> = [];
    const watch = spawnNode(join(REPO, 'bench/bird-watch.ts'), [ctl], {
      onLine: (l) => {
        const [t, n] = l.split(' ').map(Number);
        if (Number.isFinite(t) && Number.isFinite(n)) counts.push({ t: t!, n: n! });
      },
    });
    procs.push(watch);
    const now = (): number => performance.timeOrigin + performance.now();
    /** ms from `t0` (epoch ms) until BIRD held `want` routes (first count seen at or after t0), or throws after `limitMs`. */
    const until = async (want: number, t0: number, what: string, limitMs = 120_000): Promise<number> => {
      for (;;) {
        const hit = counts.find((c) => c.t >= t0 && c.n === want);
        if (hit) return hit.t - t0;
        if (now() - t0 > limitMs) throw new Error(`${what}: BIRD has ${counts.at(-1)?.n ?? '?'} routes after ${limitMs} ms, want ${want}`);
        if (watch.exited) throw new Error(`bench/bird-watch.ts exited: ${watch.output().slice(-1000)}`);
        await sleep(10);
      }
    };

    // Per bench process: two benches at once must not rebuild each other's bundle under a running speaker.
    const outfile = join(REPO, `dist/bench-bgp-speaker-${process.pid}.mjs`);
    const b = await bundle({ outfile });
    bundled = b.files;
    say(`bundle: ${b.outfile} + ${b.files.length - 1} chunks, ${(b.bytes / 1e6).toFixed(1)} MB`);

    t = await startTestLab({ nodes: 0 });
    const createdS = await populate(t, N);
    say(`lab: created ${N} Services (IP in status, one ready endpoint on n1), 3 BGPPeers in ${createdS.toFixed(1)} s (${load()})`);
    const api = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'berth-bench' });
    if (!api.ok) throw new Error(api.message);
    closeApi = () => api.kube.close();
    const client = api.kube.client;
    // The lab's EndpointSlice controller adds an empty slice per Service (they have a selector and no Pods): the
    // speaker caches both (~0.25 KiB each), as it would in a cluster.
    const slices = await client.list(Resources.endpointSlices, { namespace: APP_NS });
    say(`lab: ${slices.ok ? slices.value.items.length : '?'} EndpointSlices in ${APP_NS} (the bench's ${N} and the lab controller's empty ones)`);
    await must('create BGPAdvertisement bench', client.create(Resources.bgpAdvertisements, ADVERTISEMENT, { namespace: NS }));

    bridge = await startBridge(join(dir, 'api.sock'), { host: '127.0.0.1', port: t.lab.port });
    const fwd = spawnNode(FORWARDER_MAIN, ['--port', String(t.lab.port), '--socket', join(dir, 'api.sock'), '--exit-with-parent'], {
      wrapper: ['ip', 'netns', 'exec', NODE],
      stdin: 'pipe',
    });
    procs.push(fwd);
    await fwd.waitFor(/forwarder: listening/, 30_000);

    const nodeOptions = daemonSetNodeOptions();
    const snapDir = o.heapSnapshot ? mkdtempSync(join(os.tmpdir(), 'bench-bgp-heap-')) : undefined;
    // Every lab request (watch streams count once): during the rounds only the speaker and the bench's 1 write talk to it.
    const speakerRequests = (): number => [...t!.lab.requestCounts()].reduce((n, [, c]) => n + c, 0);
    say(
      `bench:bgp --speaker — ${N} Service prefixes (${Math.min(N, 768)} IPv4 /32, ${Math.max(0, N - 768)} IPv6 /128), 3 eBGP peers ` +
        `(BIRD protocols, one IPv4 session each carrying IPv4 + IPv6), ${EXPECTED} routes at BIRD; one real speaker: ` +
        `node ${process.version} NODE_OPTIONS="${nodeOptions}" (DaemonSet) + image/entry.ts's V8 flags, ${os.cpus().length} CPUs`,
    );
    const t0 = now();
    // In-cluster access, as the DaemonSet's Pods have it: the lab's token and CA as a service account, mounted at
    // /run/secrets/kubernetes.io/serviceaccount on a tmpfs /run of the speaker's own mount namespace (`ip netns
    // exec` gives it one; nothing is mounted in this one), KUBERNETES_SERVICE_HOST/PORT the forwarder's address.
    const sa = join(dir, 'serviceaccount');
    mkdirSync(sa);
    copyFileSync(join(t.dir, 'token'), join(sa, 'token'));
    writeFileSync(join(sa, 'ca.crt'), t.lab.caPem);
    writeFileSync(join(sa, 'namespace'), NS);
    const SA = '/run/secrets/kubernetes.io/serviceaccount';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_OPTIONS: nodeOptions,
      METALLB_NODE_NAME: 'n1',
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(t.lab.port),
      HOME: dir,
    };
    delete env.KUBECONFIG;
    const speaker = spawnNode(
      outfile,
      ['speaker', '--node-name', 'n1', '--namespace', NS, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1'],
      {
        tsx: false,
        wrapper: ['ip', 'netns', 'exec', NODE, 'sh', '-c', `mount -t tmpfs tmpfs /run && mkdir -p ${SA} && cp ${sa}/* ${SA}/ && exec "$@"`, 'sh'],
        nodeArgs: ['--import', heapReporter(true), ...(snapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`] : []), ...(o.speakerNodeArgs ?? [])],
        env,
        logFile: join(dir, 'speaker.log'),
      },
    );
    procs.push(speaker);
    const failIfExited = (): void => {
      if (speaker.exited) throw new Error(`the speaker exited (${String(speaker.exitCode)}): ${speaker.output().slice(-2000)}`);
    };
    await Promise.race([
      speaker.waitFor(/speaker: ready node=n1/, 300_000),
      speaker.waitFor(/loading the kubeconfig failed[^\n]*/, 300_000).then(
        (m) => Promise.reject(new Error(`the speaker cannot reach the API: ${m[0]}`)),
        () => new Promise<never>(() => undefined),
      ),
    ]).catch((e: unknown) => {
      failIfExited();
      throw e;
    });
    const readyMs = now() - t0;
    while ((await established()) < 3) {
      failIfExited();
      if (now() - t0 > 300_000) throw new Error('BGP sessions not Established 300 s after the speaker started');
      await sleep(20);
    }
    const upMs = now() - t0;
    const allMs = await until(EXPECTED, t0, 'start', 300_000);
    say(
      `start: speaker ready after ${readyMs.toFixed(0)} ms, 3 sessions Established at BIRD after ${upMs.toFixed(0)} ms, ` +
        `BIRD has all ${EXPECTED} routes after ${allMs.toFixed(0)} ms (from the spawn; ${load()})`,
    );
    /** ServiceBGPStatus objects of node n1 in the lab (the speaker writes one per announced Service), or -1. */
    const bgpStatuses = async (): Promise<number> => {
      const r = await client.list(Resources.serviceBGPStatuses, { namespace: NS, labelSelector: 'metallb.io/node=n1' });
      return r.ok ? r.value.items.length : -1;
    };
    const bgpStatusCount = async (): Promise<string> => {
      const n = await bgpStatuses();
      return n >= 0 ? `${n} ServiceBGPStatus (of ${N})` : 'ServiceBGPStatus list failed';
    };
    const peakStart = procMemory(speaker.pid);
    say(`  right after: ${mem(peakStart)}; ${lastHeap(speaker, true)}`);
    // The steady figure is the one with everything announced AND written: every Service's ServiceBGPStatus in the lab
    // (a pass at 10,000 Services takes minutes), then the speaker idle.
    const statusT0 = now();
    for (;;) {
      failIfExited();
      const n = await bgpStatuses();
      if (n === N) break;
      if (now() - statusT0 > 900_000) throw new Error(`the lab holds ${n} ServiceBGPStatus of n1 after 900 s, want ${N}`);
      await sleep(2000);
    }
    say(`  all ${N} ServiceBGPStatus written ${((now() - t0) / 1000).toFixed(1)} s after the spawn (${load()})`);
    await cpuQuiet(speaker.pid);
    await steadyRssMiB(speaker.pid);
    const steady = procMemory(speaker.pid);
    say(`  steady with ${N} prefixes × 3 peers: ${mem(steady)}; ${lastHeap(speaker, true)}; ${await bgpStatusCount()} (${load()}) (target ≤ 96 MB)`);

    const install: number[] = [];
    const withdraw: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      // Each change reaches an idle speaker (done with the previous one's layer-2 plan and status writes), as a user's does.
      await cpuQuiet(speaker.pid);
      let r0 = speakerRequests();
      let t1 = now();
      await must('delete BGPAdvertisement bench', client.delete(Resources.bgpAdvertisements, 'bench', { namespace: NS }));
      withdraw.push(await until(0, t1, `round ${round + 1} withdraw`));
      o.onRound?.({ what: 'withdraw', round: round + 1, startMs: t1, ms: withdraw.at(-1)! });
      say(`round ${round + 1}: delete BGPAdvertisement → BIRD has 0 routes after ${withdraw.at(-1)!.toFixed(0)} ms (${load()}; ${speakerRequests() - r0} lab API requests so far, the bench's 1 included)`);
      await cpuQuiet(speaker.pid);
      r0 = speakerRequests();
      t1 = now();
      await must('create BGPAdvertisement bench', client.create(Resources.bgpAdvertisements, ADVERTISEMENT, { namespace: NS }));
      install.push(await until(EXPECTED, t1, `round ${round + 1} install`));
      o.onRound?.({ what: 'install', round: round + 1, startMs: t1, ms: install.at(-1)! });
      say(
        `         create BGPAdvertisement → BIRD has all ${EXPECTED} after ${install.at(-1)!.toFixed(0)} ms (${load()}; ${speakerRequests() - r0} lab API requests so far, the bench's 1 included); ` +
          `speaker ${mem(procMemory(speaker.pid))}`,
      );
      failIfExited();
    }
    const med = (xs: number[]): string =>
      xs.length ? `median ${[...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!.toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})` : 'n/a';
    await steadyRssMiB(speaker.pid);
    const end = procMemory(speaker.pid);
    say('');
    say(`speaker → BIRD install (BGPAdvertisement created by an API request)  ${med(install)}   (target ≤ 1000 ms)`);
    say(`speaker → BIRD withdraw (BGPAdvertisement deleted by an API request) ${med(withdraw)}   (target ≤ 1000 ms)`);
    say(`speaker RSS with ${N} prefixes and 3 peers, after the rounds: ${mem(end)}; ${lastHeap(speaker, true)}; ${await bgpStatusCount()} (${load()}) (target ≤ 96 MB)`);
    const statusWarnings = speaker.output().split('\n').filter((l) => l.includes('ServiceBGPStatus'));
    if (statusWarnings.length > 0) say(`  speaker log: ${statusWarnings.length} lines about ServiceBGPStatus, the last: ${statusWarnings.at(-1)!.slice(0, 300)}`);
    if (snapDir) {
      process.kill(speaker.pid, 'SIGUSR2');
      // The snapshot is complete once its size holds for 2 s (writing one takes minutes on a loaded machine).
      let size = -1;
      for (let i = 0; i < 600; i++) {
        await sleep(1000);
        const f = readdirSync(snapDir).find((x) => x.endsWith('.heapsnapshot'));
        const now2 = f ? statSync(join(snapDir, f)).size : -1;
        if (f && now2 > 0 && now2 === size) {
          say(`heap snapshot of the speaker: ${join(snapDir, f)} (${(now2 / 2 ** 20).toFixed(0)} MiB; open in Chrome DevTools → Memory)`);
          break;
        }
        size = now2;
      }
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await cleanup();
  }
}
