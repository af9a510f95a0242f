// `npm start` / `berth lab`: the embedded local cluster. Starts the lab API server (in this process), applies berth's
// CRDs, creates namespace metallb-system and the dev pool (examples/dev), then starts berth as separate processes
// talking to it over HTTPS: the webhook (its Service is routed to 127.0.0.1 by an
// EndpointSlice, as kube-apiserver would reach a pod) and the controller. Prints the kubeconfig and commands to try;
// Ctrl-C stops the children (by pid) and the lab. One lab per --dir: <dir>/lab.pid (src/lab/lock.ts) refuses a
// second start on the same folder. The controller and the webhook are restarted when they end while the lab runs,
// with the kubelet's back-off (the lab stands in for the cluster); each end is reported with its exit code or
// signal, as is a speaker's (not restarted). Ctrl-C (or SIGTERM/SIGHUP) stops everything, also while starting.
//   flags: --dir DIR (default .lab/dev)  --port N (default 0 = any free port)  --no-webhook  --persist
//          --network [--nodes N] [--speaker tsx|bundle] (see LAB_USAGE)
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { describeExit, startControllerProcess, spawnNode, startupSignal, WEBHOOK_MAIN, type ControllerProcess, type NodeProcess } from '../lab/processes.ts';
import { acquireLabLock, type LabLock } from '../lab/lock.ts';
import { NETWORK_POD_IPV4_BLOCKS } from '../lab/workloads/pod-ips.ts';
import { applyObject } from '../kube/apply.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { connect, type Kube } from '../kube/connect.ts';
import { Resources } from '../kube/resources.ts';
import { startLab, type Lab } from '../lab/server.ts';
import { startLabNetwork, speakerMetricsLines, DEFAULT_STATE_DIR, LAB_L2_POOL, LAB_L2_RANGES, type LabNetwork } from '../lab/network/network.ts';
import { MAX_LAB_NODES, NETWORK_SERVICE_CIDRS, networkSupport } from '../lab/network/topology.ts';
import { parseSpeakerMode, type SpeakerMode } from '../lab/network/speaker-run.ts';
import { buildLabBundle } from '../lab/network/lab-bundle.ts';
import { speakerLogFile } from '../lab/network/speaker-pods.ts';
import type { ProcessLogs } from '../lab/workloads/pod-logs.ts';
import { giveToUser, sudoUser } from '../lab/network/sudo-owner.ts';

export const LAB_NAMESPACE = 'metallb-system';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const WEBHOOK_SERVICE = 'berth-webhook-service';
/** Label selector of the EndpointSlices the lab writes for its webhook processes (one slice per process). */
const LAB_WEBHOOK_SLICES = `kubernetes.io/service-name=${WEBHOOK_SERVICE},endpointslice.kubernetes.io/managed-by=berth-lab`;

export interface LabStackOptions {
  dir: string;
  port?: number;
  persist?: boolean;
  /** Start the webhook. Default true. */
  webhook?: boolean;
  /** Start the controller. Default true. */
  controller?: boolean;
  /** Apply examples/dev (pool `default` + L2Advertisement). Default true. */
  devPools?: boolean;
  /** Extra controller flags (e.g. faster lease timings in tests). */
  controllerArgs?: string[];
  /** Nodes `lab-node-N` the lab registers when it has none (default 3; the network lab makes its own, so 0). */
  nodes?: number;
  /** IPv4 /24 blocks of Pod IPs (src/lab/workloads/pod-ips.ts); the network lab's avoid its segment and pool. */
  podIpv4Blocks?: readonly string[];
  /** Service ClusterIP ranges (startLab's serviceCIDRs); the network lab's are documentation ranges. */
  serviceCIDRs?: { ipv4?: string; ipv6?: string };
  log?: (line: string) => void;
  /**
   * Restart the controller and the webhook when they exit while the lab runs, with the kubelet's CrashLoopBackOff
   * (10 s, doubling to 5 min, back to 10 s after 10 min of running), since the lab stands in for the cluster that
   * would restart their Pods. Each exit and restart is logged. Default false (tests that kill a child on purpose).
   */
  restart?: boolean;
  /**
   * Aborting it (a Ctrl-C) while the stack starts stops the children started so far and the lab server, then
   * startLabStack rejects with the signal's reason. After startup it is ignored: call stop().
   */
  signal?: AbortSignal;
}

export interface LabStack {
  lab: Lab;
  kube: Kube;
  client: KubeClient;
  controller: ControllerProcess | undefined;
  webhook: NodeProcess | undefined;
  /** The webhook's HTTPS port on 127.0.0.1 (it also serves `/metrics` there), when started. */
  webhookPort: number | undefined;
  /** Where the children's output goes. */
  logs: { controller: string; webhook: string };
  stop(): Promise<void>;
}

/** YAML documents of the files of a folder of this checkout (kustomization.yaml skipped), in name order. */
export function repoObjects(dir: string): KubeObject[] {
  const abs = join(REPO, dir);
  const out: KubeObject[] = [];
  for (const f of readdirSync(abs).sort()) {
    if (!/\.ya?ml$/.test(f) || f === 'kustomization.yaml') continue;
    for (const d of parseAllDocuments(readFileSync(join(abs, f), 'utf8'))) {
      const o = d.toJSON() as KubeObject | null;
      if (o && typeof o === 'object' && typeof o.kind === 'string') out.push(o);
    }
  }
  return out;
}

async function applyAll(client: KubeClient, objs: KubeObject[], what: string): Promise<void> {
  for (const o of objs) {
    const r = await applyObject(client, o);
    if (!r.ok) throw new Error(`applying ${what} ${o.kind}/${o.metadata?.name ?? ''}: ${r.error.message}`);
  }
}

/** Routes the webhook Service to 127.0.0.1:port: what a pod's endpoint would be in a cluster. */
async function routeWebhook(client: KubeClient, port: number): Promise<void> {
  await applyAll(
    client,
    [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: WEBHOOK_SERVICE, namespace: LAB_NAMESPACE, labels: { 'app.kubernetes.io/name': 'berth' } },
        spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: port, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${WEBHOOK_SERVICE}-lab`,
          namespace: LAB_NAMESPACE,
          labels: { 'kubernetes.io/service-name': WEBHOOK_SERVICE, 'endpointslice.kubernetes.io/managed-by': 'berth-lab' },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true } }],
        ports: [{ name: 'https', port, protocol: 'TCP' }],
      },
    ],
    'webhook route',
  );
}

/**
 * Forgets the webhook endpoints of an earlier run on the same folder (`--persist`): their processes are gone, as
 * the endpoint controller drops the addresses of dead pods. Without this, every webhooked write of the new run
 * is sent to the old port (`dial tcp 127.0.0.1:<old port>: connect: connection refused`) until the new webhook
 * is routed. Also removes berth's webhook configurations when this run has no webhook (`--no-webhook`), since a
 * persisted configuration with failurePolicy Fail would then refuse every metallb.io write.
 */
async function forgetPreviousWebhook(client: KubeClient, keepConfigurations: boolean): Promise<void> {
  const slices = await client.list(Resources.endpointSlices, { namespace: LAB_NAMESPACE, labelSelector: LAB_WEBHOOK_SLICES });
  if (!slices.ok) throw new Error(`listing the lab's webhook EndpointSlices: ${slices.error.message}`);
  const doomed: Array<[typeof Resources.endpointSlices, string, string | undefined]> = slices.value.items.map((s) => [
    Resources.endpointSlices,
    s.metadata?.name ?? '',
    LAB_NAMESPACE,
  ]);
  if (!keepConfigurations) {
    for (const o of repoObjects('policies/webhooks')) {
      const r = o.kind === 'MutatingWebhookConfiguration' ? Resources.mutatingWebhookConfigurations : Resources.validatingWebhookConfigurations;
      doomed.push([r, o.metadata?.name ?? '', undefined]);
    }
  }
  for (const [r, name, namespace] of doomed) {
    const d = await client.delete(r, name, namespace ? { namespace } : {});
    if (!d.ok && d.error.status !== 404) throw new Error(`deleting stale ${r.kind}/${name}: ${d.error.message}`);
  }
}

/** The processes this stack runs and their log files, for the lab's Deployment metallb-controller (`kubectl logs`). */
function labProcessLogs(opts: LabStackOptions): ProcessLogs {
  const containers: Record<string, string> = {};
  if (opts.controller !== false) containers['controller'] = join(opts.dir, 'controller.log');
  if (opts.webhook !== false) containers['webhook'] = join(opts.dir, 'webhook.log');
  // --network's speakers (DaemonSet metallb-speaker, src/lab/network/speaker-pods.ts) log in the same folder.
  return { namespace: LAB_NAMESPACE, containers, nodeContainers: { speaker: (node) => speakerLogFile(opts.dir, node) } };
}

export async function startLabStack(opts: LabStackOptions): Promise<LabStack> {
  const log = opts.log ?? (() => undefined);
  opts.signal?.throwIfAborted();
  mkdirSync(opts.dir, { recursive: true });
  const lab = await startLab({ dir: opts.dir, ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.persist ? { persist: true } : {}), ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}), ...(opts.podIpv4Blocks ? { podIpv4Blocks: opts.podIpv4Blocks } : {}), ...(opts.serviceCIDRs ? { serviceCIDRs: opts.serviceCIDRs } : {}), processLogs: labProcessLogs(opts) });
  const logs = { controller: join(opts.dir, 'controller.log'), webhook: join(opts.dir, 'webhook.log') };
  let controller: ControllerProcess | undefined;
  let webhook: NodeProcess | undefined;
  let webhookPort: number | undefined;
  let kube: Kube | undefined;
  // Aborted by stop(): a restart waiting for its back-off, or starting, gives up (and its process is stopped).
  const stopping = new AbortController();
  const stop = async (): Promise<void> => {
    stopping.abort();
    await Promise.all([controller?.stop(), webhook?.stop()]);
    kube?.close();
    await lab.stop();
  };
  const startup = startupSignal(opts.signal);
  const controllerArgs = [
    '--kubeconfig',
    lab.kubeconfigPath,
    '--namespace',
    LAB_NAMESPACE,
    '--metrics-port',
    'auto',
    '--metrics-host',
    '127.0.0.1',
    '--replica-id',
    'lab-controller-0',
    ...(opts.controllerArgs ?? []),
  ];
  const startController = (signal: AbortSignal): Promise<ControllerProcess> =>
    startControllerProcess(controllerArgs, { logFile: logs.controller, timeoutMs: 60_000, signal });
  /** Spawns the webhook on `port` (0: any), routes its Service there, waits until ready. */
  const startWebhook = async (client: KubeClient, port: number, signal: AbortSignal, onSpawn: (p: NodeProcess) => void): Promise<number> => {
    const p = spawnNode(WEBHOOK_MAIN, ['--kubeconfig', lab.kubeconfigPath, '--namespace', LAB_NAMESPACE, '--host', '127.0.0.1', '--port', String(port)], {
      logFile: logs.webhook,
      signal,
    });
    onSpawn(p);
    const m = await p.waitFor(/webhook: listening on https:\/\/127\.0\.0\.1:(\d+)/, 60_000);
    const listening = Number(m[1]);
    await routeWebhook(client, listening);
    await p.waitFor(/webhook: ready /, 60_000);
    return listening;
  };
  /** Restarts a child each time it exits (see LabStackOptions.restart) until stop(). */
  const supervise = (name: 'controller' | 'webhook', first: NodeProcess, restart: () => Promise<NodeProcess>): void => {
    let delayMs: number = RESTART_BACKOFF.initialMs;
    const watch = (p: NodeProcess, startedAt: number): void => {
      void p.done.then(async () => {
        // A Ctrl-C in a terminal reaches the whole process group: the child may end on it a moment before the lab
        // starts stopping. Not a crash then: a short grace, and no restart once the lab is interrupted or stopping.
        const ending = (): boolean => stopping.signal.aborted || opts.signal?.aborted === true;
        if (ending() || !(await sleepUnlessAborted(250, stopping.signal)) || ending()) return;
        if (Date.now() - startedAt >= RESTART_BACKOFF.resetAfterMs) delayMs = RESTART_BACKOFF.initialMs;
        log(`${name} (pid ${p.pid}) ${describeExit(p)}; see ${logs[name]}; restarting it in ${delayMs / 1000} s (back-off as the kubelet's: doubles up to ${RESTART_BACKOFF.maxMs / 60_000} min)`);
        for (;;) {
          const waited = await sleepUnlessAborted(delayMs, stopping.signal);
          delayMs = Math.min(delayMs * 2, RESTART_BACKOFF.maxMs);
          if (!waited) return;
          try {
            const next = await restart();
            if (stopping.signal.aborted) return;
            log(`${name} restarted: pid ${next.pid}`);
            watch(next, Date.now());
            return;
          } catch (e) {
            if (stopping.signal.aborted) return;
            log(`${name} restart failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}; see ${logs[name]}; next try in ${delayMs / 1000} s`);
          }
        }
      });
    };
    watch(first, Date.now());
  };
  const checkpoint = (): void => startup.signal.throwIfAborted();
  try {
    checkpoint();
    const conn = await connect({ kubeconfig: lab.kubeconfigPath, component: 'berth-lab' });
    if (!conn.ok) throw new Error(conn.message);
    kube = conn.kube;
    const client = kube.client;
    await applyAll(client, repoObjects('gitops/base/crds'), 'CRD');
    await applyAll(client, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: LAB_NAMESPACE } }], 'namespace');
    // A restart on a persisted folder still has the previous run's webhook route and configurations.
    await forgetPreviousWebhook(client, opts.webhook !== false);
    checkpoint();

    // The webhook first, ready and routed, then the pools: the metallb.io CR webhooks fail closed, and on a
    // persisted folder their configurations already exist.
    if (opts.webhook !== false) {
      await applyAll(client, repoObjects('policies/webhooks'), 'webhook configuration');
      webhookPort = await startWebhook(client, 0, startup.signal, (p) => (webhook = p));
      log(`webhook pid ${webhook!.pid} serving on 127.0.0.1:${webhookPort}`);
    }
    checkpoint();
    if (opts.devPools !== false) await applyAll(client, repoObjects('examples/dev'), 'dev pool');
    checkpoint();
    if (opts.controller !== false) {
      controller = await startController(startup.signal);
      log(`controller pid ${controller.pid}`);
    }
    checkpoint();
    if (opts.restart) {
      if (controller) {
        supervise('controller', controller, async () => {
          const p = await startController(stopping.signal);
          controller = p;
          if (p.metricsPort) log(`controller metrics now http://127.0.0.1:${p.metricsPort}/metrics`);
          return p;
        });
      }
      if (webhook) {
        supervise('webhook', webhook, async () => {
          let p: NodeProcess | undefined;
          // Its port again (the route and the printed metrics URL stay right); any port if that one is taken.
          try {
            await startWebhook(client, webhookPort ?? 0, stopping.signal, (x) => (p = webhook = x));
          } catch (e) {
            if (stopping.signal.aborted || !p?.exited) throw e;
            webhookPort = await startWebhook(client, 0, stopping.signal, (x) => (p = webhook = x));
            log(`webhook now serves on 127.0.0.1:${webhookPort}`);
          }
          return p!;
        });
      }
    }
    return {
      lab,
      kube,
      client,
      get controller() {
        return controller;
      },
      get webhook() {
        return webhook;
      },
      get webhookPort() {
        return webhookPort;
      },
      logs,
      stop,
    };
  } catch (e) {
    await stop();
    // Interrupted: a child killed by the abort makes its waitFor fail first; the interruption is the reason.
    startup.signal.throwIfAborted();
    throw e;
  } finally {
    startup.release();
  }
}

/** The kubelet's restart back-off for a crashing container (CrashLoopBackOff), used for the lab's children. */
export const RESTART_BACKOFF = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 } as const;

/** Resolves true after `ms`, or false as soon as `signal` aborts (at once if it already did). */
function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** How `berth lab --network` runs its speakers when --speaker is not given (see LAB_USAGE). */
export const DEFAULT_LAB_SPEAKER_MODE: SpeakerMode = 'tsx';

export const LAB_USAGE = `usage: berth lab [--dir DIR] [--port N] [--no-webhook] [--persist] [--network [--nodes N] [--speaker tsx|bundle]]
  --dir DIR      state, certificates, kubeconfig and logs (default .lab/dev)
  --port N       API server port on 127.0.0.1 (default: any free port)
  --no-webhook   run the controller only (every Service is allocated by its fallback path)
  --persist      keep the lab's objects in DIR/state.json across restarts
  --network      (root) a layer-2 segment in network namespaces: switch, client and N nodes each running
                 \`berth speaker\`; pool lab-l2 (198.51.100.200-220, 2001:db8:51::200-220) instead of the dev pool
  --nodes N      node namespaces for --network (default 3, 1-${MAX_LAB_NODES})
  --speaker MODE how --network runs each speaker: tsx (default) \`berth speaker\` from this checkout's sources
                 under tsx; bundle as the image runs it: the esbuild bundle (rebuilt at each start into
                 dist/berth-lab-*.mjs) under plain node, with the DaemonSet's NODE_OPTIONS and image/entry.ts's V8 flags
  environment: BERTH_LAB_START_TIMEOUT=SECONDS  how long --network waits for each forwarder's and speaker's ready
                 line (default 30 s and 60 s; up to 4 times as long while the process still prints or uses CPU),
                 e.g. 240 on a slow or busy machine`;

export async function runLab(argv: string[]): Promise<number> {
  let v: { dir?: string; port?: string; 'no-webhook'?: boolean; persist?: boolean; network?: boolean; nodes?: string; speaker?: string; help?: boolean };
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: 'string' },
        port: { type: 'string' },
        'no-webhook': { type: 'boolean' },
        persist: { type: 'boolean' },
        network: { type: 'boolean' },
        nodes: { type: 'string' },
        speaker: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`berth lab: ${(e as Error).message}\n${LAB_USAGE}\n`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(`${LAB_USAGE}\n`);
    return 0;
  }
  const port = v.port === undefined ? 0 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`berth lab: --port "${v.port}" is not a port number\n${LAB_USAGE}\n`);
    return 2;
  }
  const dir = resolve(v.dir ?? join(REPO, '.lab/dev'));
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const rel = (p: string): string => {
    const r = relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  const nodes = v.nodes === undefined ? 3 : Number(v.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_LAB_NODES || (v.nodes !== undefined && !v.network)) {
    const why = v.network ? `must be an integer from 1 to ${MAX_LAB_NODES}` : 'is for --network (the node namespaces)';
    process.stderr.write(`berth lab: --nodes "${v.nodes}" ${why}\n${LAB_USAGE}\n`);
    return 2;
  }
  let speakerMode: SpeakerMode = DEFAULT_LAB_SPEAKER_MODE;
  if (v.speaker !== undefined) {
    try {
      if (!v.network) throw new Error(`--speaker "${v.speaker}" is for --network (the node namespaces' speakers)`);
      speakerMode = parseSpeakerMode(v.speaker, '--speaker');
    } catch (e) {
      process.stderr.write(`berth lab: ${(e as Error).message}\n${LAB_USAGE}\n`);
      return 2;
    }
  }
  // Ctrl-C from the first line on: a signal while the lab starts stops what was made so far (namespaces included)
  // instead of killing the process with its default action. Only the first signal counts: npm and tsx relay the
  // terminal's Ctrl-C to the process a second time, and a handler removed after the first (process.once) let that
  // duplicate kill the lab before it printed "stopped" and released its lock. The handlers stay installed until
  // the process exits, so a late duplicate is ignored too.
  const interrupt = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupt.signal.aborted) return;
    say(`berth lab: ${sig}, stopping`);
    interrupt.abort(new Error(`interrupted by ${sig}`));
  };
  for (const sig of LAB_STOP_SIGNALS) process.on(sig, onSignal);
  // One lab per folder: a second one would rewrite its kubeconfig (and --network's api.sock) under the first.
  let lock: LabLock;
  try {
    mkdirSync(dir, { recursive: true });
    const got = acquireLabLock(dir);
    if (!got.ok) {
      process.stderr.write(`berth lab: a lab already runs in ${rel(dir)} (pid ${got.pid}); stop it or use --dir\n`);
      return 1;
    }
    lock = got.lock;
    if (got.tookOver) say(`berth lab: ${got.tookOver}`);
  } catch (e) {
    // A folder an earlier `sudo berth lab --network` made (before labs under sudo gave it back) is root's.
    const hint =
      (e as NodeJS.ErrnoException).code === 'EACCES' || /\b(EACCES|EPERM)\b/.test(e instanceof Error ? e.message : '')
        ? `; ${rel(dir)} is not writable by uid ${process.getuid?.() ?? '?'} (made by an earlier sudo run?): sudo chown -R "$(id -u):$(id -g)" ${rel(dir)}, or use another --dir`
        : '';
    process.stderr.write(`berth lab: ${e instanceof Error ? e.message : String(e)}${hint}\n`);
    return 1;
  }
  // Released synchronously when the process exits whichever way it can still run code (process.exit by a wrapper's
  // preload included), and as soon as the run ends.
  process.once('exit', () => lock.release());
  try {
    return await runLabLocked(v, dir, port, nodes, speakerMode, say, rel, interrupt.signal);
  } finally {
    lock.release();
  }
}

/** The signals that stop `berth lab` (Ctrl-C, kill, a closed terminal). */
export const LAB_STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

async function runLabLocked(
  v: { persist?: boolean; 'no-webhook'?: boolean; network?: boolean },
  dir: string,
  port: number,
  nodes: number,
  speakerMode: SpeakerMode,
  say: (line: string) => void,
  rel: (p: string) => string,
  interrupted: AbortSignal,
): Promise<number> {
  say(`berth lab: starting in ${dir}`);
  let network = v.network === true;
  if (network) {
    const support = await networkSupport();
    if (!support.ok) {
      say(`berth lab: no --network: ${support.reason}; running without it`);
      network = false;
    }
  }
  let stack: LabStack;
  try {
    stack = await startLabStack({
      dir,
      port,
      persist: v.persist === true,
      webhook: v['no-webhook'] !== true,
      log: (l) => say(`berth lab: ${l}`),
      signal: interrupted,
      restart: true,
      ...(network ? { nodes: 0, devPools: false, podIpv4Blocks: NETWORK_POD_IPV4_BLOCKS, serviceCIDRs: NETWORK_SERVICE_CIDRS } : {}),
    });
  } catch (e) {
    if (interrupted.aborted) return stoppedWhileStarting(say);
    process.stderr.write(`berth lab: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let net: LabNetwork | undefined;
  // Under sudo, what the lab writes goes back to the user (src/lab/network/sudo-owner.ts): the README's kubectl and
  // `berth status` steps run as that user and must read the kubeconfig. With --network also the folder where runs are
  // recorded for stale cleanup (.lab/network and this run's <prefix>.json), so the user can remove the checkout's
  // .lab; it is given back even when the network fails to start (the folder is made before the first namespace).
  const owner = sudoUser();
  const toOwner: string[] = [dir];
  if (network) toOwner.push(DEFAULT_STATE_DIR);
  const giveBack = (): void => {
    if (!owner) return;
    const problems = toOwner.flatMap((p) => giveToUser(p, owner, REPO));
    if (problems.length > 0) say(`berth lab: could not give to uid ${owner.uid} (sudo): ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; …' : ''}`);
  };
  if (network) {
    try {
      let bundleFile: string | undefined;
      if (speakerMode === 'bundle') {
        say('berth lab: --speaker bundle: building the speakers\' bundle (image/bundle.ts)');
        const b = await buildLabBundle(dir);
        interrupted.throwIfAborted();
        bundleFile = b.outfile;
        toOwner.push(...b.paths);
        say(`berth lab: bundle ${rel(b.outfile)} + ${b.files - 1} chunks, ${(b.bytes / 1e6).toFixed(1)} MB`);
      }
      net = await startLabNetwork({
        labPort: stack.lab.port,
        kubeconfig: stack.lab.kubeconfigPath,
        client: stack.client,
        dir,
        nodes,
        speakerMode,
        ...(bundleFile ? { bundleFile } : {}),
        log: (l) => say(`berth lab: ${l}`),
        signal: interrupted,
      });
    } catch (e) {
      if (!interrupted.aborted) process.stderr.write(`berth lab: --network: ${e instanceof Error ? e.message : String(e)}\n`);
      await stack.stop();
      giveBack();
      return interrupted.aborted ? stoppedWhileStarting(say) : 1;
    }
    const stopStack = stack.stop;
    stack.stop = async () => {
      await net?.stop();
      await stopStack();
    };
  }
  const kc = stack.lab.kubeconfigPath;
  const k = `kubectl --kubeconfig ${rel(kc)}`;
  say(`berth lab: API server ${stack.lab.url}`);
  say(`berth lab: kubeconfig ${rel(kc)}`);
  say(`berth lab: logs ${rel(stack.logs.controller)}${stack.webhook ? `, ${rel(stack.logs.webhook)}` : ''}`);
  if (stack.controller?.metricsPort) say(`berth lab: metrics http://127.0.0.1:${stack.controller.metricsPort}/metrics`);
  // The webhook serves /metrics on its HTTPS port, with the certificate of its own bootstrap CA (hence -k).
  if (stack.webhookPort) say(`berth lab: webhook metrics https://127.0.0.1:${stack.webhookPort}/metrics (curl -k)`);
  // The speakers serve /metrics on their node's address inside the node's network namespace.
  if (net) for (const l of speakerMetricsLines(net.topology.nodes)) say(`berth lab: ${l}`);
  say('');
  say('Try:');
  // The examples request IPs of the dev pool `default`, which network mode does not apply (it applies lab-l2).
  if (!net) {
    say(`  ${k} apply -f ${rel(join(REPO, 'examples/services/basic.yaml'))}`);
    say(`  ${k} apply -f ${rel(join(REPO, 'examples/services/shared-ip.yaml'))}`);
    say(`  ${k} get svc                  # EXTERNAL-IP from pool default (192.168.1.220-192.168.1.250)`);
    say(`  ${k} describe svc my-service  # events: IPAllocated`);
  }
  say(`  ${k} get ipaddressclaims      # one claim per allocated IP`);
  say(`  ${k} get ipaddresspools -n ${LAB_NAMESPACE} -o yaml   # status counters`);
  say(`  npx berth status --kubeconfig ${rel(kc)}   # pools, Services, announcing nodes, why a Service has no IP`);
  if (net) {
    const c = net.topology.client.ns;
    say(`Layer 2 (pool ${LAB_L2_POOL}: ${LAB_L2_RANGES.join(', ')}; speaker logs ${rel(net.speakerLog('n1'))}, …):`);
    say(`  ${k} create deployment web --image=nginx --replicas=2; ${k} expose deployment web --type=LoadBalancer --port=80`);
    say(`  ${k} get svc web                                              # EXTERNAL-IP from ${LAB_L2_POOL}`);
    say(`  ip netns exec ${c} arping -c 3 -I eth0 <EXTERNAL-IP>         # one node's MAC (02:00:00:51:00:1x) answers`);
    say(`  ${k} patch svc web -p '{"spec":{"ipFamilyPolicy":"PreferDualStack","ipFamilies":["IPv4","IPv6"]}}'   # adds an IPv6 EXTERNAL-IP`);
    say(`  ip netns exec ${c} ndisc6 <IPv6 EXTERNAL-IP> eth0`);
    say(`  ip netns exec ${c} ping -c 1 <EXTERNAL-IP>; ip -n ${c} neigh   # the client's kernel neighbour table`);
    say(`  ${k} get pods -n ${LAB_NAMESPACE} -o wide; ${k} logs -n ${LAB_NAMESPACE} daemonset/metallb-speaker   # a speaker Pod per node (DaemonSet metallb-speaker)`);
    say(`  nodes: ${net.topology.nodes.map((h) => `${h.name} ${h.ns} ${h.ipv4} ${h.mac} speaker pid ${net!.speakers.get(h.name)?.pid ?? '-'}`).join('; ')}`);
  }
  say('Ctrl-C stops everything.');
  if (owner) {
    giveBack();
    const also = [...(net ? [rel(net.stateDir)] : []), ...(speakerMode === 'bundle' && net ? ['the speakers\' bundle'] : [])];
    say(`berth lab: ${rel(dir)}${also.length > 0 ? ` (and ${also.join(', ')})` : ''} given to uid ${owner.uid} (sudo): kubectl --kubeconfig ${rel(kc)} and npx berth status work without sudo`);
  }
  // Last, so a reader that waits for this line has everything above it.
  say(`berth lab: ready (${stack.webhook ? 'webhook + controller' : 'controller only, no webhook'}${net ? ` + network ${net.topology.prefix}, ${nodes} speaker${nodes === 1 ? '' : 's'} (${net.speakerMode})` : ''})`);

  // The controller and the webhook are restarted with back-off by the stack (each exit and restart is logged above);
  // a speaker that ends is reported and not restarted (tests and benches stop speakers on purpose).
  if (net) {
    for (const [node, p] of net.speakers) {
      void p.done.then(() => {
        // Not when the lab stops it, nor when it was replaced by a restart (startSpeaker).
        if (!interrupted.aborted && net.speakers.get(node) === p) say(`berth lab: speaker ${node} (pid ${p.pid}) ${describeExit(p)}; see ${rel(net.speakerLog(node))}`);
      });
    }
  }
  await new Promise<void>((r) => (interrupted.aborted ? r() : interrupted.addEventListener('abort', () => r(), { once: true })));
  try {
    await stack.stop();
  } catch (e) {
    process.stderr.write(`berth lab: stop failed: ${e instanceof Error ? e.message : String(e)}\n`);
    say('berth lab: stopped (with errors above)');
    return 1;
  } finally {
    giveBack();
  }
  say('berth lab: stopped');
  return 0;
}

/** A signal during startup: startLabStack / startLabNetwork have undone what they made. */
function stoppedWhileStarting(say: (line: string) => void): number {
  say('berth lab: stopped (interrupted while starting; what it had started is stopped and removed)');
  return 0;
}
