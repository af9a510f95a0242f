// `berth lab --network` and the layer-2 tests' harness: the segment of topology.ts, the lab API reachable from every
// node namespace (forward.ts), the lab's objects for it (Nodes n1..nN with their InternalIPs, Secret `memberlist`,
// pool + L2Advertisement `lab-l2`) and one `berth speaker` per node namespace, each kept by pid: from the sources
// under tsx (default), or as the image runs it (speakerMode `bundle`, speaker-run.ts).
// Everything is undone by stop(); if the process exits without it (an exception), an exit hook deletes the
// namespaces synchronously; after a SIGKILL the next start cleans them (cleanStale).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyObject } from '../../kube/apply.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import { Resources } from '../../kube/resources.ts';
import { SPEAKER_V8_FLAGS } from '../../speaker/v8-flags.ts';
import { spawnNode, startupSignal, type NodeProcess } from '../processes.ts';
import { labNode } from '../workloads/nodes.ts';
import { FORWARDER_MAIN, startBridge, type Bridge } from './forward.ts';
import { BUNDLE, CLI_MAIN, daemonSetNodeOptions, imageSpeakerEnv, startSpeaker as startSpeakerProcess, type SpeakerMode } from './speaker-run.ts';
import { buildTopology, cleanStale, type SegmentHost, type Topology } from './topology.ts';
import { SpeakerPods, speakerLogFile } from './speaker-pods.ts';

/** `src/cli/main.ts`: the speakers run `berth speaker` from this checkout (mode `tsx`). */
export { CLI_MAIN };

/** The speaker namespace (MetalLB's). */
export const SPEAKER_NAMESPACE = 'metallb-system';
/** The pool and L2Advertisement the network lab applies. */
export const LAB_L2_POOL = 'lab-l2';
export const LAB_L2_RANGES = ['198.51.100.200-198.51.100.220', '2001:db8:51::200-2001:db8:51::220'] as const;
/** MetalLB's chart names the memberlist Secret `memberlist`, key `secretkey`. */
export const MEMBERLIST_SECRET = 'memberlist';
/** Port of the speakers' metrics in their namespace (MetalLB's 7472), on the node's address. */
export const SPEAKER_METRICS_PORT = 7472;

/**
 * What to print about the speakers' /metrics: each listens on its node's IPv4 address, port 7472, inside the node's
 * network namespace (reachable only from there), e.g.
 * `speaker n1 metrics http://198.51.100.11:7472/metrics (ip netns exec bl-n1 curl -s http://198.51.100.11:7472/metrics)`.
 */
export function speakerMetricsLines(nodes: ReadonlyArray<Pick<SegmentHost, 'name' | 'ns' | 'ipv4'>>): string[] {
  return nodes.map((h) => {
    const url = `http://${h.ipv4}:${SPEAKER_METRICS_PORT}/metrics`;
    return `speaker ${h.name} metrics ${url} (ip netns exec ${h.ns} curl -s ${url})`;
  });
}

export interface LabNetworkOptions {
  /** The lab API server's port on 127.0.0.1 (the forwarders listen on the same port inside each namespace). */
  labPort: number;
  /** The lab's kubeconfig (`https://127.0.0.1:<labPort>`): valid unchanged inside every node namespace. */
  kubeconfig: string;
  /** A client of the lab, to apply the network's objects. */
  client: KubeClient;
  /** Folder for the unix socket `api.sock`, speaker and forwarder logs. */
  dir: string;
  /** Where runs are recorded for stale cleanup (`.lab/network` of the checkout by default). */
  stateDir?: string;
  /** Node namespaces (default 3, at most 9). */
  nodes?: number;
  /** Start one speaker per node (default true). */
  speakers?: boolean;
  /** Extra `berth speaker` flags for every speaker. */
  speakerArgs?: readonly string[];
  /**
   * How the speakers run (speaker-run.ts): `tsx` (default: `berth speaker` from this checkout's sources under tsx, no
   * build step) or `bundle` (as the image runs them: `node <bundleFile> speaker …` with the DaemonSet's NODE_OPTIONS
   * and image/entry.ts's V8 flags). The bundle must be built first (`bundle()` of image/bundle.ts).
   */
  speakerMode?: SpeakerMode;
  /** Mode `bundle`: the bundle's entry (default dist/berth.mjs). */
  bundleFile?: string;
  /** Apply pool and L2Advertisement `lab-l2` (default true). */
  pool?: boolean;
  log?: (line: string) => void;
  /**
   * How long to wait for each forwarder's and speaker's ready line, in ms (default: $BERTH_LAB_START_TIMEOUT
   * seconds, else 30 s for a forwarder and 60 s for a speaker). A process still making progress when it passes
   * (output or CPU time) gets up to 4 times as long (NodeProcess.waitFor `whileProgress`).
   */
  startTimeoutMs?: number;
  /**
   * Aborting it (a Ctrl-C) while the network starts stops the forwarders and speakers started so far and deletes
   * the namespaces, then startLabNetwork rejects with the signal's reason. After startup it is ignored: call stop().
   */
  signal?: AbortSignal;
}

export interface LabNetwork {
  topology: Topology;
  /** The unix socket bridged to the lab API. */
  socketPath: string;
  /** Where this run is recorded for stale cleanup (LabNetworkOptions.stateDir: `.lab/network` by default). */
  readonly stateDir: string;
  /** How the speakers run (LabNetworkOptions.speakerMode). */
  readonly speakerMode: SpeakerMode;
  /** The running speakers by node name (`n1`..). */
  readonly speakers: ReadonlyMap<string, NodeProcess>;
  /**
   * Starts (or restarts) the speaker of node `name`; resolves once it printed `speaker: ready`. `wrapper`: a command
   * run inside the node's namespace that execs node in place (e.g. `['setpriv', '--bounding-set=-sys_nice']`).
   */
  startSpeaker(name: string, extraArgs?: readonly string[], wrapper?: readonly string[]): Promise<NodeProcess>;
  /** Stops the speaker of node `name` with `signal` (SIGKILL at once, SIGTERM waits for it to exit). */
  stopSpeaker(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** The node host named `name`. Throws naming the known nodes when there is none. */
  node(name: string): SegmentHost;
  /** Log file of the speaker of node `name`. */
  speakerLog(name: string): string;
  /** Stops speakers, forwarders and the bridge, deletes the namespaces. Idempotent. */
  stop(): Promise<void>;
}

/** The environment variable that sets the network lab's start timeouts, in seconds. */
export const START_TIMEOUT_ENV = 'BERTH_LAB_START_TIMEOUT';

/**
 * The start timeout of $BERTH_LAB_START_TIMEOUT (`env`) in ms, undefined when unset or empty. Throws naming the value
 * and the rule when it is not a positive number of seconds (at most one day).
 */
export function startTimeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[START_TIMEOUT_ENV];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400)
    throw new Error(`${START_TIMEOUT_ENV}="${v}": must be a number of seconds, more than 0 and at most 86400`);
  return Math.round(n * 1000);
}

/** The hint of a start timeout: the machine may be too slow, and how to give it more time. */
function timeoutHint(ms: number): string {
  return (
    `the machine may be too slow (busy CPUs); give it more time with ${START_TIMEOUT_ENV}=SECONDS ` +
    `(now ${ms / 1000} s, up to 4 times as long while the process makes progress), e.g. ` +
    `${START_TIMEOUT_ENV}=${Math.max(120, (ms / 1000) * 4)} npx berth lab --network (as root)`
  );
}

/** The repository's `.lab/network`, where runs are recorded. */
export const DEFAULT_STATE_DIR = fileURLToPath(new URL('../../../.lab/network', import.meta.url));

async function applyAll(client: KubeClient, objs: readonly KubeObject[]): Promise<void> {
  for (const o of objs) {
    const r = await applyObject(client, o);
    if (!r.ok) throw new Error(`lab network: applying ${o.kind}/${o.metadata?.name ?? ''}: ${r.error.message}`);
  }
}

/** The Node object of a lab node host: Ready, InternalIP its IPv4 then its IPv6 address (dual-stack). */
export function networkNode(h: SegmentHost): KubeObject {
  const n = labNode(h.name, h.ipv4);
  const status = n['status'] as { addresses: Array<{ type: string; address: string }> };
  status.addresses.splice(1, 0, { type: 'InternalIP', address: h.ipv6 });
  return n as KubeObject;
}

/** Pool and L2Advertisement `lab-l2` (autoAssign: every Service of the network lab gets its IPs from it). */
export function labL2Objects(): KubeObject[] {
  return [
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: LAB_L2_POOL, namespace: SPEAKER_NAMESPACE },
      spec: { addresses: [...LAB_L2_RANGES], autoAssign: true },
    },
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: LAB_L2_POOL, namespace: SPEAKER_NAMESPACE },
      spec: { ipAddressPools: [LAB_L2_POOL] },
    },
  ];
}

/**
 * Builds the segment and everything on it (see the file comment). The lab must already serve the metallb.io CRDs
 * and namespace `metallb-system`. Throws (after undoing what it made) when a step fails.
 */
export async function startLabNetwork(o: LabNetworkOptions): Promise<LabNetwork> {
  const log = o.log ?? (() => undefined);
  const stateDir = o.stateDir ?? DEFAULT_STATE_DIR;
  o.signal?.throwIfAborted();
  const startTimeout = o.startTimeoutMs ?? startTimeoutFromEnv();
  const speakerTimeout = startTimeout ?? 60_000;
  const forwarderTimeout = startTimeout ?? 30_000;
  const cleaned = await cleanStale(stateDir, { killProcesses: true });
  if (cleaned.length) log(`network: removed stale namespaces of earlier runs ${cleaned.join(', ')}`);
  const topology = await buildTopology({ nodes: o.nodes ?? 3, stateDir, ...(o.signal ? { signal: o.signal } : {}) });
  const startup = startupSignal(o.signal);
  const checkpoint = (): void => startup.signal.throwIfAborted();
  const socketPath = join(o.dir, 'api.sock');
  const forwarders: NodeProcess[] = [];
  const speakers = new Map<string, NodeProcess>();
  // DaemonSet metallb-speaker and a Pod per node that follow the speaker processes (speaker-pods.ts).
  let speakerPods: SpeakerPods | undefined;
  let bridge: Bridge | undefined;
  const exitHook = (): void => {
    // Last resort on an exit without stop(): children by pid, then the namespaces, synchronously.
    for (const p of [...speakers.values(), ...forwarders]) if (!p.exited) killQuietly(p.pid);
    for (const h of [topology.client, ...topology.nodes, ...topology.extra]) execQuietly('ip', ['netns', 'del', h.ns]);
    execQuietly('ip', ['netns', 'del', topology.sw]);
  };
  process.once('exit', exitHook);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all([...speakers.values()].map((p) => p.stop('SIGTERM', 3000)));
      if (speakerPods) await Promise.race([speakerPods.idle(), new Promise((r) => setTimeout(r, 3000).unref())]);
      await Promise.all(forwarders.map((p) => p.stop('SIGTERM', 2000)));
      await bridge?.close();
      await topology.destroy();
      process.off('exit', exitHook);
    })());

  const node = (name: string): SegmentHost => {
    const h = topology.nodes.find((n) => n.name === name);
    if (!h) throw new Error(`lab network: no node "${name}" (nodes: ${topology.nodes.map((n) => n.name).join(', ')})`);
    return h;
  };
  const speakerMode = o.speakerMode ?? 'tsx';
  const speakerLog = (name: string): string => speakerLogFile(o.dir, name);
  const startSpeaker = async (name: string, extraArgs: readonly string[] = [], wrapper: readonly string[] = []): Promise<NodeProcess> => {
    const h = node(name);
    const old = speakers.get(name);
    if (old && !old.exited) await old.stop('SIGTERM', 3000);
    const p = startSpeakerProcess(
      speakerMode,
      [
        '--node-name',
        h.name,
        '--kubeconfig',
        o.kubeconfig,
        '--namespace',
        SPEAKER_NAMESPACE,
        '--memberlist-bind',
        h.ipv4,
        '--metrics-host',
        h.ipv4,
        '--metrics-port',
        String(SPEAKER_METRICS_PORT),
        ...(o.speakerArgs ?? []),
        ...extraArgs,
      ],
      {
        role: `speaker of node ${h.name}`,
        wrapper: ['ip', 'netns', 'exec', h.ns, ...wrapper],
        logFile: speakerLog(name),
        env: speakerMode === 'bundle' ? imageSpeakerEnv({ ...process.env, METALLB_NODE_NAME: h.name }) : { ...process.env, METALLB_NODE_NAME: h.name },
        viaCli: true,
        ...(o.bundleFile ? { bundleFile: o.bundleFile } : {}),
        signal: startup.signal,
      },
    );
    speakers.set(name, p);
    void p.done.then(() => speakerPods?.exited(name, p));
    await p.waitFor(/speaker: ready/, speakerTimeout, { whileProgress: true, hint: timeoutHint(speakerTimeout) });
    await speakerPods?.running(name, p);
    return p;
  };

  try {
    checkpoint();
    bridge = await startBridge(socketPath, { host: '127.0.0.1', port: o.labPort });
    for (const h of topology.nodes) {
      // --exit-with-parent + a stdin pipe: after a SIGKILL of this process the forwarders exit too.
      const f = spawnNode(FORWARDER_MAIN, ['--port', String(o.labPort), '--socket', socketPath, '--exit-with-parent'], {
        role: `forwarder of node ${h.name}`,
        wrapper: ['ip', 'netns', 'exec', h.ns],
        stdin: 'pipe',
        logFile: join(o.dir, `forwarder-${h.name}.log`),
        signal: startup.signal,
      });
      forwarders.push(f);
    }
    await Promise.all(
      forwarders.map((f) => f.waitFor(/forwarder: listening/, forwarderTimeout, { whileProgress: true, hint: timeoutHint(forwarderTimeout) })),
    );
    checkpoint();
    await applyAll(o.client, topology.nodes.map(networkNode));
    const secret = await o.client.get(Resources.secrets, MEMBERLIST_SECRET, SPEAKER_NAMESPACE);
    if (!secret.ok) {
      await applyAll(o.client, [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: MEMBERLIST_SECRET, namespace: SPEAKER_NAMESPACE },
          type: 'Opaque',
          data: { secretkey: randomBytes(32).toString('base64') },
        },
      ]);
    }
    if (o.pool !== false) await applyAll(o.client, labL2Objects());
    log(`network: segment ${topology.prefix} (switch ${topology.sw}, client ${topology.client.ns}, nodes ${topology.nodes.map((n) => n.ns).join(' ')})`);
    checkpoint();
    if (o.speakers !== false) {
      speakerPods = new SpeakerPods(o.client, SPEAKER_NAMESPACE, topology.nodes, log);
      await speakerPods.start();
      if (speakerMode === 'bundle')
        log(`network: speakers as the image runs them: node ${o.bundleFile ?? BUNDLE} speaker …, NODE_OPTIONS="${daemonSetNodeOptions()}", V8 flags ${SPEAKER_V8_FLAGS} (image/entry.ts)`);
      await Promise.all(topology.nodes.map((h) => startSpeaker(h.name)));
      checkpoint();
      log(`network: speakers ${[...speakers].map(([n, p]) => `${n}=pid ${p.pid}`).join(' ')}`);
    }
  } catch (e) {
    await stop();
    // Interrupted: a child stopped by the abort makes its waitFor fail first; the interruption is the reason.
    startup.signal.throwIfAborted();
    throw e;
  } finally {
    startup.release();
  }
  return {
    topology,
    socketPath,
    stateDir,
    speakerMode,
    speakers,
    startSpeaker,
    stopSpeaker: async (name, signal = 'SIGTERM') => {
      const p = speakers.get(name);
      if (!p || p.exited) return;
      await p.stop(signal, 3000);
    },
    node,
    speakerLog,
    stop,
  };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function execQuietly(file: string, args: string[]): void {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 5000 });
  } catch {
    // already gone
  }
}
