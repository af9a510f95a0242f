// Bench: the speaker's memory (issues 8 and 9: RSS ≤ 64 MB in layer 2 with some Services, ≤ 96 MB with 10,000 BGP
// prefixes and 3 peers). Starts the lab API server, creates N LoadBalancer Services (default 1,000; IPv4 from
// 198.51.100.0/24 and 203.0.113.0/24, then IPv6 from 2001:db8:52::/112) each with its IP in status and one ready
// endpoint, then runs one `berth speaker --node-name n1 --dry-run-link` (layer 2 only, no socket opened) at a time,
// in these variants (variants()):
//   bundle            node dist/berth.mjs speaker … as the image runs it: the DaemonSet's NODE_OPTIONS (read from
//                     gitops/base/speaker/daemonset.yaml), the flags image/entry.ts sets (src/speaker/v8-flags.ts
//                     SPEAKER_V8_FLAGS: --optimize-for-size --interrupt-budget=1048576 --no-sparkplug --no-opt) and
//                     liveness on, as the DaemonSet's METALLB_ML_BIND_ADDR turns it on: `--memberlist-bind <node IP>`
//                     (heartbeats every 100 ms to n2 and n3, its Lease renewed, the peers' Leases watched; key from
//                     the Secret `memberlist` the bench creates). n2 and n3 run no speaker: the bench renews their
//                     Leases (src/speaker/liveness/lease.ts SpeakerLeases), so they count as alive (never heard by UDP,
//                     Lease fresh: docs/layer2.md "Liveness") and n1 announces its third, as with liveness off
//   bundle-no-liveness as `bundle` without --memberlist-bind (liveness off: every Node counts as alive), how this
//                     bench ran `bundle` until 2026-12-01 17:40 UTC: the reference for liveness's cost
//   bundle-prev-flags as `bundle` with the entry's previous flags (without --no-opt): the reference for them
//   bundle-defaults   the same bundle with node's default flags
//   bundle-no-opt     as `bundle`, plus --no-opt (TurboFan off)
//   (every variant but bundle-no-liveness runs with liveness on)
//   tsx               node --import tsx src/speaker/main.ts … with node's defaults (how the tests run it: the reference)
// For each: time to the ready line and to every announcement (metallb_speaker_announced series on /metrics), RSS
// (VmRSS once it stops falling = steady, with RssAnon = the process's own pages and RssFile = mapped files, mostly
// the node binary; VmHWM = peak), V8's heap (v8.getHeapStatistics from a preloaded reporter) and API requests/s by
// the speaker while idle (lab request counts by User-Agent). The ServiceL2Status objects are deleted between runs so
// every run does the same writes. Figures only, no bounds. No root needed. The bundle is rebuilt first.
//   npx tsx bench/speaker-rss.ts [--services 1000] [--only bundle,tsx] [--idle-s 10] [--no-build] [--link dry|netns]
//                                [--extra-flags="--max-lazy"]  (adds variant bundle-extra: the image's flags + these)
// --link netns (root): the speaker runs on a REAL link instead of --dry-run-link: network namespaces br<pid>c (a
// client, 192.0.2.254, 2001:db8:77::1) and br<pid>n (the node n1, 192.0.2.1, 2001:db8:77::2) joined by veth
// br<pid>a / br<pid>b; the speaker (`ip netns exec br<pid>n node … speaker --node-name n1`, the lab API through a
// unix socket and a forwarder in the namespace: src/lab/network/forward.ts) opens its AF_PACKET sockets (ARP + IPv6,
// with their receive rings) on br<pid>b, as on a node. Its /metrics (inside the namespace) is read through a unix
// socket (bench/unix-to-tcp.ts in the namespace), an ARP request from the client for one IPv4 it announces checks the
// link answers, and the RSS of the packet sockets' mappings (rings) and the addon are printed apart. Everything is
// deleted at the end, also on failure or Ctrl-C. Without root it prints why it skips.
import { SPEAKER_V8_FLAGS } from '../src/speaker/v8-flags.ts';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { bundle, REPO } from '../image/bundle.ts';
import { connect } from '../src/kube/connect.ts';
import { Resources } from '../src/kube/resources.ts';
import { SpeakerLeases } from '../src/speaker/liveness/lease.ts';
import { createLogger } from '../src/kube/log.ts';
import { FORWARDER_MAIN, startBridge, type Bridge } from '../src/lab/network/forward.ts';
import { spawnNode, type NodeProcess } from '../src/lab/processes.ts';
import { BUNDLE, daemonSetNodeOptions, SPEAKER_MAIN, startSpeaker, type SpeakerMode } from '../src/lab/network/speaker-run.ts';
import { startTestLab, type TestLab } from '../src/lab/testing.ts';
import { applyMetallbCrds, createBenchService, createInParallel, heapReporter, kubectl, lastHeap, namespacesYaml, routerNodeNetns } from './lab-objects.ts';

/** Memory of a process from /proc/<pid>/status, in MiB (NaN when unreadable: the process is gone). */
export interface ProcMemory {
  /** VmRSS: resident now (anonymous + file-backed + shared memory). */
  rss: number;
  /** VmHWM: the peak of VmRSS since the process started. */
  hwm: number;
  /** RssAnon: resident anonymous pages (V8's heaps, malloc): the part the process itself adds. */
  anon: number;
  /** RssFile: resident file-backed pages (the node binary, shared libraries, the addon). */
  file: number;
}

/** Reads VmRSS, VmHWM, RssAnon and RssFile of `pid` (Linux /proc/<pid>/status), in MiB. Never throws. */
export function procMemory(pid: number): ProcMemory {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    /* gone */
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { rss: field('VmRSS'), hwm: field('VmHWM'), anon: field('RssAnon'), file: field('RssFile') };
}

/** Resident MiB of some of a process's mappings (/proc/<pid>/smaps): the packet sockets' rings and the addon. */
export interface MappingRss {
  /** Mappings of socket files: the AF_PACKET receive rings (PACKET_RX_RING, mmap'd whole at open). */
  sockets: number;
  /** berth_native.node (text, data, relocations). */
  addon: number;
  /** How many socket mappings (one per ring). */
  rings: number;
}

/** Sums the Rss of `pid`'s socket mappings and of the addon's in /proc/<pid>/smaps, in MiB. Never throws (zeros). */
export function mappingRss(pid: number): MappingRss {
  const out: MappingRss = { sockets: 0, addon: 0, rings: 0 };
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;
  }
  let kind: 'sockets' | 'addon' | undefined;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      kind = /socket:|\[packet\]|PACKET/.test(name) ? 'sockets' : /berth_native\.node/.test(name) ? 'addon' : undefined;
      if (kind === 'sockets') out.rings++;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && kind) out[kind] += Number(rss[1]) / 1024;
  }
  return out;
}

/**
 * The steady RSS of `pid` in MiB: sampled every `everyMs` (default 2 s) until two samples at least `minSamples` (default
 * 6) apart differ by less than 1 MiB — V8's memory reducer hands back what a burst used after some idle seconds — or
 * `maxSamples` (default 20) are taken; returns the last sample.
 */
export async function steadyRssMiB(
  pid: number,
  o: { everyMs?: number; minSamples?: number; maxSamples?: number } = {},
): Promise<number> {
  const every = o.everyMs ?? 2000;
  let last = procMemory(pid).rss;
  for (let i = 0; i < (o.maxSamples ?? 20); i++) {
    await sleep(every);
    const now = procMemory(pid).rss;
    if (i + 1 >= (o.minSamples ?? 6) && Math.abs(now - last) < 1) return now;
    last = now;
  }
  return last;
}

// The speaker's ways to run (SpeakerMode, startSpeaker, BUNDLE, SPEAKER_MAIN, daemonSetNodeOptions) are shared with the
// network lab and bench:failover: src/lab/network/speaker-run.ts.
export { BUNDLE, daemonSetNodeOptions, SPEAKER_MAIN, startSpeaker, type SpeakerMode };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (s: string): void => void process.stdout.write(`${s}\n`);
const NS = 'metallb-system';
const APP_NS = 'bench-rss';

/** The i-th Service's IP: 500 IPv4 (198.51.100.1-250, 203.0.113.1-250), then IPv6 in 2001:db8:52::/112. */
function ipOf(i: number): { ip: string; family: 'IPv4' | 'IPv6' } {
  if (i < 250) return { ip: `198.51.100.${i + 1}`, family: 'IPv4' };
  if (i < 500) return { ip: `203.0.113.${i - 249}`, family: 'IPv4' };
  return { ip: `2001:db8:52::${(0x1000 + i).toString(16)}`, family: 'IPv6' };
}

/** GET http://127.0.0.1:<port><path>, or through the unix socket `port` names (a path: bench/unix-to-tcp.ts). */
function getText(port: number | string, path: string): Promise<string> {
  if (typeof port === 'number') return fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.text());
  return new Promise((resolve, reject) => {
    const req = httpGet({ socketPath: port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body)).on('error', reject);
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error(`GET ${path} via ${port}: timeout`)));
  });
}

/** Number of metallb_speaker_announced series at 1 on the speaker's /metrics (port, or a unix socket path to it). */
async function announced(port: number | string): Promise<number> {
  const text = await getText(port, '/metrics').catch(() => '');
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('metallb_speaker_announced{') && line.endsWith(' 1')) n++;
  return n;
}

/** The V8 flags image/entry.ts sets on the speaker (SPEAKER_V8_FLAGS there). */
const SPEAKER_FLAGS = SPEAKER_V8_FLAGS;

/** One way of running the speaker in this bench. */
export interface Variant {
  name: string;
  mode: SpeakerMode;
  /** Environment added for the process (NODE_OPTIONS, BERTH_SPEAKER_V8_FLAGS). */
  env: Record<string, string>;
  what: string;
  /** Liveness off (no --memberlist-bind): every Node counts as alive. Default: on, as the DaemonSet runs it. */
  noLiveness?: boolean;
}

/** The variants: the image's way (manifest NODE_OPTIONS + the entry's flags), the same with the entry's previous flags,
 *  the bundle with node's defaults, the image's way plus --no-opt (TurboFan off), and tsx with node's defaults (the
 *  reference: how the tests run it). */
export function variants(extraFlags = ''): Variant[] {
  const nodeOptions = daemonSetNodeOptions();
  const extra: Variant[] = extraFlags.trim()
    ? [
        {
          name: 'bundle-extra',
          mode: 'bundle',
          env: { NODE_OPTIONS: nodeOptions, BERTH_SPEAKER_V8_FLAGS: `${SPEAKER_FLAGS} ${extraFlags.trim()}` },
          what: `the image's way plus ${extraFlags.trim()} (--extra-flags)`,
        },
      ]
    : [];
  return [
    ...extra,
    {
      name: 'bundle',
      mode: 'bundle',
      env: { NODE_OPTIONS: nodeOptions },
      what: `the image's way: NODE_OPTIONS="${nodeOptions}" (DaemonSet) + ${SPEAKER_FLAGS} (image/entry.ts), liveness on (--memberlist-bind)`,
    },
    {
      name: 'bundle-no-liveness',
      mode: 'bundle',
      env: { NODE_OPTIONS: nodeOptions },
      noLiveness: true,
      what: "the image's way without --memberlist-bind (liveness off: no heartbeats, no Leases; this bench's `bundle` before)",
    },
    {
      name: 'bundle-prev-flags',
      mode: 'bundle',
      env: { NODE_OPTIONS: nodeOptions, BERTH_SPEAKER_V8_FLAGS: '--optimize-for-size --interrupt-budget=1048576 --no-sparkplug' },
      what: "the image's way with the entry's previous flags (--optimize-for-size --interrupt-budget=1048576 --no-sparkplug: TurboFan on)",
    },
    { name: 'bundle-defaults', mode: 'bundle', env: { NODE_OPTIONS: '', BERTH_SPEAKER_V8_FLAGS: '' }, what: "the bundle with node's default flags" },
    {
      name: 'bundle-no-opt',
      mode: 'bundle',
      env: { NODE_OPTIONS: nodeOptions, BERTH_SPEAKER_V8_FLAGS: '--optimize-for-size --interrupt-budget=1048576 --no-sparkplug --no-opt' },
      what: "the image's way plus --no-opt (no TurboFan: slower responder, bench/layer2-responder.ts)",
    },
    { name: 'tsx', mode: 'tsx', env: { NODE_OPTIONS: '' }, what: "node --import tsx src/speaker/main.ts, node's default flags (the reference)" },
  ];
}

interface RunResult {
  variant: Variant;
  readyS: number;
  announcedS: number;
  announced: number;
  steady: ProcMemory;
  peak: number;
  rps: number;
  heap: string;
  /** --link netns: the sockets' and the addon's resident MiB, the packet sockets the speaker holds, the ARP check. */
  link?: { maps: MappingRss; packetSockets: number; arp: string };
}

/** Where the speaker runs: --dry-run-link in this namespace, or on a veth inside a node namespace (--link netns). */
interface Place {
  /** Flags after the common ones (`--dry-run-link`, or none). */
  args: string[];
  /** The address the speaker's heartbeats bind (--memberlist-bind): the node's IP on the link, 127.0.0.1 dry. */
  memberlistBind: string;
  /** Command prefix (`ip netns exec <node>`), if any. */
  wrapper?: string[];
  /** How many Services this speaker announces now (metallb_speaker_announced on its /metrics at `port`). */
  announced(port: number): Promise<number>;
  /** Called when the speaker is gone (netns: stops the /metrics bridge). */
  after?(): Promise<void>;
  /** After the measurement (netns): the packet sockets the speaker holds and an ARP check for an announced IP. */
  inspect?(pid: number): Promise<NonNullable<RunResult['link']>>;
}

async function runOne(t: TestLab, v: Variant, idleS: number, place: Place): Promise<RunResult> {
  await kubectl(t, ['delete', 'servicel2statuses', '--all', '-n', NS, '--wait=false']);
  // The lab's ServiceL2Status objects go away asynchronously: a netns run counts them, so wait until they are gone.
  for (let i = 0; i < 100 && (await kubectl(t, ['get', 'servicel2statuses', '-n', NS, '-o', 'name'])).trim() !== ''; i++) await sleep(200);
  const speakerRequests = (): number => [...t.lab.requestCounts()].filter(([ua]) => /speaker/i.test(ua)).reduce((n, [, c]) => n + c, 0);
  const t0 = performance.now();
  const p = startSpeaker(v.mode, ['--node-name', 'n1', '--kubeconfig', t.lab.kubeconfigPath, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1', ...(v.noLiveness ? [] : ['--memberlist-bind', place.memberlistBind]), ...place.args], {
    nodeArgs: ['--import', heapReporter(false)],
    env: { ...process.env, ...v.env },
    ...(place.wrapper ? { wrapper: place.wrapper } : {}),
  });
  try {
    if (place.wrapper) {
      // A speaker on a real link must never run in this namespace: its sockets would open on the host's interfaces.
      await p.waitFor(/speaker: |serving /, 120_000);
      const ns = (pid: number | 'self'): string => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`);
        } catch {
          return '?';
        }
      };
      if (ns(p.pid) === ns('self')) throw new Error(`the speaker (pid ${p.pid}) runs in the bench's own network namespace, not in the node's: stopped`);
    }
    const port = Number((await p.waitFor(/serving \/metrics \/healthz \/readyz on http:\/\/127\.0\.0\.1:(\d+)/, 120_000))[1]);
    await p.waitFor(/speaker: ready node=n1 /, 300_000);
    const readyS = (performance.now() - t0) / 1000;
    // n1 elects among n1..n3 (liveness off: every Node alive; on: n2 and n3 by their fresh Leases) and announces
    // about a third; settled once the count is above 0 (liveness on: nothing before rule 8's start-up, up to 2 s)
    // and holds for 3 s.
    let n = -1;
    let stableSince = performance.now();
    for (;;) {
      const now = await place.announced(port);
      if (now !== n) {
        n = now;
        stableSince = performance.now();
      } else if ((n > 0 || performance.now() - stableSince > 30_000) && performance.now() - stableSince > 3000) break;
      await sleep(500);
    }
    const announcedS = (performance.now() - t0 - 3000) / 1000;
    // Then the start-up writes (ServiceL2Status, events: the recorder spreads them out) end: no request for 3 s.
    let requests = speakerRequests();
    for (let quietSince = performance.now(), end = performance.now() + 120_000; performance.now() - quietSince < 3000 && performance.now() < end; ) {
      await sleep(500);
      const now = speakerRequests();
      if (now !== requests) {
        requests = now;
        quietSince = performance.now();
      }
    }
    await steadyRssMiB(p.pid);
    const a = speakerRequests();
    await sleep(idleS * 1000);
    const rps = (speakerRequests() - a) / idleS;
    const steady = procMemory(p.pid);
    const link = place.inspect ? await place.inspect(p.pid) : undefined;
    return { variant: v, readyS, announcedS, announced: n, steady, peak: steady.hwm, rps, heap: lastHeap(p, false), ...(link ? { link } : {}) };
  } finally {
    await place.after?.();
    const code = await p.stop();
    if (code !== 0) say(`  (${v.name}: the speaker exited ${code}: ${p.output().slice(-1500)})`);
  }
}

/**
 * n2's and n3's speaker Leases, renewed every 10 s by this process as their speakers would (SpeakerLeases, the
 * speaker's own code), so that a speaker n1 with liveness on counts them alive (never heard by UDP, Lease fresh) and
 * announces its third of the Services. `stop()` deletes them.
 */
async function peerLeases(t: TestLab): Promise<{ stop: () => Promise<void> }> {
  const api = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'berth-bench' });
  if (!api.ok) throw new Error(api.message);
  const leases = ['n2', 'n3'].map((node) => new SpeakerLeases({ client: api.kube.client, namespace: NS, node, log: createLogger({ name: `bench-lease-${node}`, level: 'warn' }) }));
  for (const l of leases) l.start();
  // Wait until both exist, so the first speaker already sees them.
  for (let i = 0; i < 100; i++) {
    const r = await api.kube.client.list(Resources.leases, { namespace: NS });
    const names = r.ok ? r.value.items.map((o) => o.metadata?.name) : [];
    if (names.includes('metallb-speaker-n2') && names.includes('metallb-speaker-n3')) break;
    await sleep(100);
  }
  return {
    stop: async () => {
      await Promise.all(leases.map((l) => l.stop({ release: true })));
      api.kube.close();
    },
  };
}

/** The dry-run place: `--dry-run-link`, announcements from the speaker's /metrics. */
const DRY: Place = { args: ['--dry-run-link'], memberlistBind: '127.0.0.1', announced };

/** Whether this process can make network namespaces, or why not. */
function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, AF_PACKET sockets)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return `\`ip netns\` fails: ${(r.stderr || r.error?.message || '').trim()}`;
  return undefined;
}

/**
 * The real-link place (--link netns): namespaces `<id>c` (client) and `<id>n` (node n1) joined by a veth, the lab API
 * bridged into the node namespace. Returns the place and its cleanup (idempotent; deletes the namespaces).
 */
async function netnsPlace(t: TestLab): Promise<{ place: Place; cleanup: () => Promise<void> }> {
  const id = `br${process.pid % 100000}`;
  const C = `${id}c`;
  const N = `${id}n`;
  const dir = mkdtempSync(join(os.tmpdir(), `${id}-`));
  chmodSync(dir, 0o755);
  let bridge: Bridge | undefined;
  let fwd: NodeProcess | undefined;
  let closeApi = (): void => undefined;
  let done: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (done ??= (async () => {
      closeApi();
      await fwd?.stop('SIGTERM', 3000);
      await bridge?.close();
      for (const ns of [C, N]) spawnSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    // 192.0.2.2 and .3 (n2's and n3's InternalIPs) on the client side: the speaker's heartbeats to them are delivered
    // (and refused there: no speaker listens), as on a segment where the peers' hosts are up.
    routerNodeNetns(id, C, N, ['192.0.2.254', '192.0.2.2', '192.0.2.3'], ['192.0.2.1']);
    bridge = await startBridge(join(dir, 'api.sock'), { host: '127.0.0.1', port: t.lab.port });
    fwd = spawnNode(FORWARDER_MAIN, ['--port', String(t.lab.port), '--socket', join(dir, 'api.sock'), '--exit-with-parent'], {
      wrapper: ['ip', 'netns', 'exec', N],
      stdin: 'pipe',
    });
    await fwd.waitFor(/forwarder: listening/, 30_000);
    const api = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'berth-bench' });
    if (!api.ok) throw new Error(api.message);
    closeApi = () => api.kube.close();
    const client = api.kube.client;
    /** Services n1 announces: its ServiceL2Status objects (status.node n1), as `svc-<i>` indexes. */
    const mine = async (): Promise<number[]> => {
      const r = await client.list(Resources.serviceL2Statuses, { namespace: NS });
      if (!r.ok) return [];
      const out: number[] = [];
      for (const o of r.value.items as Array<{ status?: { node?: string; serviceName?: string } }>) {
        const m = /^svc-(\d+)$/.exec(o.status?.serviceName ?? '');
        if (o.status?.node === 'n1' && m) out.push(Number(m[1]));
      }
      return out;
    };
    // The speaker's /metrics listens inside the node namespace: bench/unix-to-tcp.ts there makes it a unix socket.
    let metrics: NodeProcess | undefined;
    const metricsSock = join(dir, 'metrics.sock');
    const place: Place = {
      args: [],
      memberlistBind: '192.0.2.1',
      wrapper: ['ip', 'netns', 'exec', N],
      announced: async (port) => {
        if (!metrics) {
          metrics = spawnNode(join(REPO, 'bench/unix-to-tcp.ts'), [metricsSock, String(port)], { wrapper: ['ip', 'netns', 'exec', N], stdin: 'pipe' });
          await metrics.waitFor(/unix-to-tcp: listening/, 30_000);
        }
        return announced(metricsSock);
      },
      after: async () => {
        await metrics?.stop('SIGTERM', 3000);
        metrics = undefined;
      },
      inspect: async (pid) => {
        const maps = mappingRss(pid);
        // /proc/net/packet of the node namespace: one line per packet socket (the speaker is its only user).
        let packetSockets = 0;
        try {
          packetSockets = readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').length - 1;
        } catch {
          /* gone */
        }
        const v4 = (await mine()).map((i) => ipOf(i)).find((x) => x.family === 'IPv4');
        let arp = 'no IPv4 announced';
        if (v4) {
          const r = spawnSync('ip', ['netns', 'exec', C, 'arping', '-c', '1', '-w', '3', '-I', `${id}a`, v4.ip], { encoding: 'utf8' });
          const reply = /reply from \S+ \[([0-9a-f:]+)\]/i.exec(r.stdout);
          arp = reply ? `ARP ${v4.ip} answered by ${reply[1]}` : `ARP ${v4.ip} NOT answered (${(r.stdout + r.stderr).trim().split('\n').at(-1)})`;
        }
        return { maps, packetSockets, arp };
      },
    };
    return { place, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      services: { type: 'string', default: '1000' },
      only: { type: 'string' },
      'idle-s': { type: 'string', default: '10' },
      'no-build': { type: 'boolean', default: false },
      link: { type: 'string', default: 'dry' },
      'extra-flags': { type: 'string', default: '' },
    },
  });
  const services = Number(values.services);
  if (!Number.isInteger(services) || services < 1 || services > 60_000) throw new Error(`--services: "${values.services}" is not a whole number in 1..60000`);
  const idleS = Number(values['idle-s']);
  if (!(idleS > 0)) throw new Error(`--idle-s: "${values['idle-s']}" is not a positive number of seconds`);
  if (values.link !== 'dry' && values.link !== 'netns') throw new Error(`--link: "${values.link}" is not dry (--dry-run-link) or netns (a veth in a network namespace, root)`);
  if (values.link === 'netns') {
    const why = netnsProblem();
    if (why) {
      say(`bench:speaker-rss --link netns: skipped: ${why}`);
      return 0;
    }
  }
  const all = variants(values['extra-flags']);
  const names = values.only ? values.only.split(',').map((x) => x.trim()) : all.map((v) => v.name);
  for (const n of names) if (!all.some((v) => v.name === n)) throw new Error(`--only: "${n}" is not one of ${all.map((v) => v.name).join(', ')}`);
  const chosen = all.filter((v) => names.includes(v.name));

  if (chosen.some((v) => v.mode === 'bundle') && !values['no-build']) {
    const b = await bundle();
    say(`bundle: ${b.outfile} + ${b.files.length - 1} chunks, ${(b.bytes / 1e6).toFixed(1)} MB`);
  }
  const t = await startTestLab({ nodes: 0 });
  let cleanup = async (): Promise<void> => undefined;
  const onSigint = (): void => {
    void cleanup()
      .then(() => t.stop())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    const createdS = await populateLab(t, services);
    say(`created ${services} Services (IP in status, one ready endpoint each on n1..n3) in ${createdS.toFixed(1)} s`);
    let place = DRY;
    if (values.link === 'netns') {
      const np = await netnsPlace(t);
      place = np.place;
      cleanup = np.cleanup;
    }
    const peers = await peerLeases(t);
    const stopPeers = cleanup;
    cleanup = async () => {
      await peers.stop();
      await stopPeers();
    };
    const results: RunResult[] = [];
    for (const v of chosen) {
      say(`running the speaker: ${v.name} (${v.what})…`);
      results.push(await runOne(t, v, idleS, place));
    }
    say('');
    const how = values.link === 'netns' ? 'on a real link (veth in a network namespace, AF_PACKET sockets open)' : '(--dry-run-link)';
    say(`bench:speaker-rss — one layer-2 speaker ${how}, ${services} Services, node ${process.version}, MiB (1 MiB = 1,048,576 bytes; load ${os.loadavg()[0]!.toFixed(1)})`);
    for (const r of results) {
      say(
        `  ${r.variant.name.padEnd(18)} RSS steady ${r.steady.rss.toFixed(1)} (= ${((r.steady.rss * 1048576) / 1e6).toFixed(1)} MB; anon ${r.steady.anon.toFixed(1)}, file ${r.steady.file.toFixed(1)}), ` +
          `peak (VmHWM) ${r.peak.toFixed(1)}; ${r.heap}; ready ${r.readyS.toFixed(1)} s, ${r.announced} announced by ${r.announcedS.toFixed(1)} s; ` +
          `API ${r.rps.toFixed(2)} requests/s idle`,
      );
      if (r.link)
        say(
          `  ${''.padEnd(18)} link: ${r.link.packetSockets} packet sockets, ${r.link.maps.rings} ring mappings resident ${r.link.maps.sockets.toFixed(2)}, ` +
            `addon ${r.link.maps.addon.toFixed(2)}; ${r.link.arp}`,
        );
    }
    say('  target (issue 8): RSS ≤ 64 MB (61.0 MiB); reference: the tsx line');
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await cleanup();
    await t.stop();
  }
}

/**
 * Fills a lab for a speaker: the metallb.io CRDs, namespaces metallb-system and bench-rss, Nodes n1..n3 (InternalIP
 * 192.0.2.1-3), pools bench-v4 / bench-v6 with one L2Advertisement, and `services` LoadBalancer Services (IP in
 * status, one ready endpoint each, on n1..n3 in turn). Returns the seconds it took. Throws the first failed write.
 */
export async function populateLab(t: TestLab, services: number): Promise<number> {
  {
    await applyMetallbCrds(t);
    const nodes = [1, 2, 3]
      .map(
        (i) =>
          `apiVersion: v1\nkind: Node\nmetadata: {name: n${i}, labels: {kubernetes.io/hostname: n${i}}}\nstatus: {addresses: [{type: InternalIP, address: 192.0.2.${i}}]}\n`,
      )
      .join('---\n');
    await kubectl(
      t,
      ['apply', '-f', '-'],
      `${namespacesYaml(NS, APP_NS)}---
${nodes}---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bench-v4, namespace: ${NS}}
spec: {addresses: [198.51.100.0/24, 203.0.113.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bench-v6, namespace: ${NS}}
spec: {addresses: ['2001:db8:52::/112']}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: ${NS}}
spec: {ipAddressPools: [bench-v4, bench-v6]}
---
apiVersion: v1
kind: Secret
metadata: {name: memberlist, namespace: ${NS}}
type: Opaque
data: {secretkey: ${randomBytes(32).toString('base64')}}
`,
    );
    return createInParallel(t, services, (client, i) => {
      const { ip, family } = ipOf(i);
      return createBenchService(client, APP_NS, i, { ip, family, pool: family === 'IPv4' ? 'bench-v4' : 'bench-v6', nodeName: `n${(i % 3) + 1}` });
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`bench:speaker-rss: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
