// The controller process: `node --import tsx src/controller/main.ts --kubeconfig … [flags]` (see flags.ts).
// Wires src/kube (informers, writes, events, Lease) and src/metrics to the Controller, which holds the logic.
// Prints `controller: ready …` once its caches are synced; SIGINT/SIGTERM stop it cleanly (the Lease is released).
// It never exits on its own for an API server it cannot reach (issue 12 defect 3): /metrics, /healthz and /readyz
// listen at once (--metrics-port; /readyz 503 with the reasons until the caches are synced), and the kubeconfig and
// informers are retried with capped exponential backoff, each failure logged once per step. Logs are pino lines (JSON,
// or `--log-format text`); every reconcile is one `decision` line (service, IPs held after, pool, result, message,
// duration; a success that wrote nothing is logged at debug level only). The legacy MetalLB ConfigMap `config` in berth's namespace gets a Warning Event (LegacyConfigIgnored).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Registry } from 'prom-client';
import { Allocator } from '../allocator/allocator.ts';
import type { KubeObject as ApiObject } from '../api/object.ts';
import { buildConfig } from '../config/build.ts';
import { schemaProblems } from '../config/schema.ts';
import type { ServiceLike } from '../config/service.ts';
import { informerClaimCache } from '../kube/claim-cache.ts';
import { KubeClaimStore } from '../kube/claims.ts';
import type { KubeObject } from '../kube/client.ts';
import { connectWithRetry } from '../kube/connect.ts';
import { writeConfigurationState } from '../kube/configuration-state.ts';
import type { KubeResult } from '../kube/errors.ts';
import { EventRecorder, ignoreNumbers } from '../kube/events.ts';
import { slim } from '../kube/informer.ts';
import { interner } from '../kube/intern.ts';
import { watchLegacyConfigMap } from '../kube/legacy-config.ts';
import { createLogger, lineLogger } from '../kube/log.ts';
import { LeaderElector, leaseApi } from '../kube/leader-election.ts';
import { patchPoolStatus } from '../kube/pool-status.ts';
import { Resources } from '../kube/resources.ts';
import { patchServiceAnnotations, patchServiceIngress } from '../kube/service-writes.ts';
import { allocatorMetrics, berthControllerMetrics, claimsHeldMetric, clientMetrics, metricsHandler } from '../metrics/index.ts';
import { Controller, type Cache } from './controller.ts';
import type { WriteResult } from './deps.ts';
import type { SyncResult } from './deps.ts';
import { heapLimitWarning, parseControllerFlags, USAGE } from './flags.ts';
import { projectService } from './project.ts';
import { ControllerTiering } from './v8-flags.ts';

function toWrite(r: KubeResult<unknown>): WriteResult {
  if (r.ok) {
    const rv = (r.value as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion;
    return rv !== undefined ? { ok: true, resourceVersion: rv } : { ok: true };
  }
  const reason = r.error.kind === 'NotFound' ? 'NotFound' : r.error.kind === 'Conflict' ? 'Conflict' : 'Error';
  return { ok: false, reason, message: r.error.message };
}

interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/** /metrics (the registry), /healthz (always ok: the process is alive) and /readyz (503 with the reasons). */
function serveProbes(
  registry: Registry,
  readiness: () => { ready: boolean; reasons: readonly string[] },
  opts: { port: number; host: string },
): Promise<ProbeServer> {
  const metrics = metricsHandler(registry);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics(req, res);
    if (path === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    if (path === '/readyz') {
      const r = readiness();
      return void res
        .writeHead(r.ready ? 200 : 503, { 'Content-Type': 'text/plain' })
        .end(r.ready ? 'ok\n' : `not ready: ${r.reasons.join('; ')}\n`);
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function decisionMessage(key: string, r: SyncResult, ips: readonly string[], pool: string | undefined): string {
  const held = ips.length > 0 ? ` ${ips.join(',')}${pool ? ` (pool ${pool})` : ''}` : '';
  const why = 'message' in r ? `: ${r.message}` : '';
  return `reconcile ${key}: ${r.state}${held}${why}${r.state === 'error' ? '; will retry' : ''}`;
}

export async function runController(argv: readonly string[]): Promise<number> {
  // V8 flags (v8-flags.ts): --optimize-for-size, and TurboFan only for bulk work (loading and reconciling ≥ 1,000
  // Services at a restart or a new leadership). Flags for the young generation, V8's threads and the old-space cap: NODE_OPTIONS (Deployment).
  const tiering = new ControllerTiering();
  tiering.start();
  const parsed = parseControllerFlags(argv, process.env, hostname(), process.pid);
  if (!parsed.ok) {
    console.error(`controller: ${parsed.message}\n${USAGE}`);
    return 2;
  }
  const f = parsed.flags;
  const logger = createLogger({ name: 'berth-controller', format: f.logFormat, level: f.logLevel });
  const log = lineLogger(logger);
  const ns = f.namespace;

  // --- stop: whatever has been started so far, in reverse order ---
  const aborter = new AbortController();
  const cleanups: Array<() => unknown> = [];
  let stopping = false;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log(`controller: ${sig}, stopping`);
    aborter.abort(new Error(`controller: ${sig}`));
    void (async () => {
      for (const c of cleanups.reverse()) await c();
      resolveExit(0);
    })();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // Waiting for the API server must not let the event loop run dry (informer retry timers are unref'd).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  cleanups.push(() => clearInterval(keepAlive));

  // --- probes first: /readyz says why not ready while the API server is awaited ---
  let notReady: string | undefined = 'loading the kubeconfig';
  const registry = new Registry();
  const cm = clientMetrics(registry);
  const am = allocatorMetrics(registry);
  const bm = berthControllerMetrics(registry);
  let probes: ProbeServer | undefined;
  if (f.metricsPort !== 0) {
    try {
      probes = await serveProbes(registry, () => ({ ready: notReady === undefined, reasons: notReady ? [notReady] : [] }), {
        port: f.metricsPort === 'auto' ? 0 : f.metricsPort,
        host: f.metricsHost,
      });
    } catch (e) {
      logger.error(`controller: cannot listen on ${f.metricsHost}:${f.metricsPort}: ${e instanceof Error ? e.message : String(e)}`);
      clearInterval(keepAlive);
      return 1;
    }
    const p = probes;
    cleanups.push(() => p.close());
    log(`controller: serving /metrics /healthz /readyz on http://${f.metricsHost}:${p.port}`);
  }

  let kube: Awaited<ReturnType<typeof connectWithRetry>>;
  try {
    kube = await connectWithRetry(
      {
        ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
        ...(f.context ? { context: f.context } : {}),
        component: 'berth-controller',
      },
      { log: (l) => logger.warn(`controller: ${l}`), signal: aborter.signal },
    );
  } catch {
    return exited; // stopped while waiting
  }
  const k = kube;
  cleanups.splice(1, 0, () => k.close());
  const client = kube.client;
  notReady = 'informer caches are not synced';
  log(`controller: ${f.replicaId} connecting to ${kube.access.server} (${kube.access.source}), namespace ${ns}`);

  // Informer, claim cache and event write failures (each retried with backoff): warn level.
  const ilog = (l: string): void => logger.warn(l);
  // Services are held projected (project.ts): the controller's memory is mostly its Service cache.
  const intern = interner();
  let listing = 0;
  let listed = false;
  const services = kube.informer<KubeObject>(Resources.services, {
    transform: (o, old) => {
      // The first list of a restart over many Services is bulk work: TurboFan on from the BULK_SERVICES-th one.
      if (!listed) tiering.bulk(++listing);
      return projectService(o as ServiceLike, intern, old as ServiceLike | undefined) as KubeObject;
    },
    log: ilog,
  });
  const pools = kube.informer<KubeObject>(Resources.ipAddressPools, { namespace: ns, transform: slim, log: ilog });
  const communities = kube.informer<KubeObject>(Resources.communities, { namespace: ns, transform: slim, log: ilog });
  const namespaces = kube.informer<KubeObject>(Resources.namespaces, { transform: slim, log: ilog });
  // Cached claims share their holder's name, uid and IP strings with the cached Service (issue 12, memory).
  const claimCache = informerClaimCache(kube, { log: ilog, intern, service: (n, name) => services.get(name, n) as ServiceLike | undefined });
  claimsHeldMetric(registry, () => claimCache.list());
  void services.synced.then(() => (listed = true));
  const listStarted = Date.now();
  for (const i of [services, pools, communities, namespaces, claimCache.informer]) i.start();
  // The IPAddressPool schema compiles on first use (ajv: 0.1-0.4 s of CPU); done while the lists are in flight, not
  // after them in the configuration's first load, where it lengthened every restart (issue 12: restart ≤ 2 s).
  setImmediate(() => {
    if (!stopping) schemaProblems({ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'warm-up', namespace: ns }, spec: { addresses: ['192.0.2.0/24'] } });
  });
  // Informers retry failed lists forever (with backoff): this waits until the API server has answered them all.
  await Promise.race([
    Promise.all([services.synced, pools.synced, communities.synced, namespaces.synced, claimCache.informer.synced]),
    new Promise((r) => aborter.signal.addEventListener('abort', r, { once: true })),
  ]);
  if (stopping) return exited;

  const store = new KubeClaimStore(client, { fieldManager: 'berth-controller' });
  // deprecatedAnnotation: once per Service uid and key (MetalLB re-emits it on every resync). One Warning Event per
  // Service and cause: AllocationFailed texts that differ only in counts (other pools' free IPs) update one Event.
  // One Event write at a time, as client-go's broadcaster sends them (one goroutine per sink): Events are not what
  // users wait for, and with the API connections capped (8, kube/transport.ts) four concurrent Event writes queued
  // status writes behind them when CPU was scarce (issue 12, --hog).
  const recorder = new EventRecorder({
    client,
    concurrency: 1,
    reportingInstance: f.replicaId,
    log: ilog,
    oncePerObject: ['deprecatedAnnotation'],
    cause: ignoreNumbers,
  });
  watchLegacyConfigMap(kube, {
    namespace: ns,
    events: recorder,
    warn: (fields, message) => logger.warn(fields, `controller: ${message}`),
    log: ilog,
  });
  const allocator = new Allocator();
  const controller = new Controller({
    initialPass: (phase, n) => void (phase === 'start' ? tiering.bulk(n) : tiering.settle()),
    services: services as unknown as Cache<ServiceLike>,
    pools: pools as unknown as Cache<ApiObject>,
    communities: communities as unknown as Cache<ApiObject>,
    namespaces: namespaces as unknown as Cache<ApiObject>,
    claimCache,
    store,
    writer: {
      writeIngress: async (n, name, ips, rv) => toWrite(await patchServiceIngress(client, n, name, ips.map((ip) => ({ ip })), rv)),
      writeAnnotations: async (n, name, changes, rv) => toWrite(await patchServiceAnnotations(client, n, name, changes, rv)),
      current: async (n, name) => {
        const r = await client.get(Resources.services, name, n);
        if (r.ok) return { uid: r.value.metadata?.uid, resourceVersion: r.value.metadata?.resourceVersion };
        if (r.error.kind === 'NotFound') return undefined;
        throw new Error(`reading service ${n}/${name}: ${r.error.message}`);
      },
    },
    recorder: {
      record: (svc, type, reason, message) =>
        recorder.event(
          {
            kind: 'Service',
            apiVersion: 'v1',
            namespace: svc.metadata?.namespace || 'default',
            name: svc.metadata?.name ?? '',
            ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}),
            ...(svc.metadata?.resourceVersion ? { resourceVersion: svc.metadata.resourceVersion } : {}),
          },
          type,
          reason,
          message,
        ),
    },
    status: {
      writePoolStatus: async (pool, c) => toWrite(await patchPoolStatus(client, ns, pool, c)),
      writeConfigState: async (result, errorSummary) =>
        toWrite(
          await writeConfigurationState(client, ns, 'controller', 'controller', {
            result,
            errorSummary,
            conditionType: 'poolReconcilerValid',
          }),
        ),
    },
    allocator,
    buildConfig,
    namespace: ns,
    ...(f.lbClass ? { lbClass: f.lbClass } : {}),
    metrics: {
      poolStats: (s) => am.update(s),
      update: (ok) => cm.update(ok),
      configLoaded: (v) => cm.configLoaded(v),
      configStale: (v) => cm.configStale(v),
      repaired: (report) => bm.repaired(report),
      timeToIP: (seconds) => bm.timeToIP(seconds),
    },
    claimGraceMs: f.claimGraceMs,
    resyncIntervalMs: f.resyncMs,
    log,
    decision: (key, r, durationMs, did) => {
      // A success that wrote nothing and said nothing (the reconcile of every Service at a restart or resync, the
      // echo of a claim change) is a debug line: at info, a restart at 10,000 Services logged 10,000 lines.
      const noop = r.state === 'success' && did.writes === 0 && did.events === 0;
      if (noop && !logger.isLevelEnabled('debug')) return;
      const held = allocator.ipsOf(key);
      const ips = held?.ips ?? [];
      const fields = {
        decision: 'reconcile',
        service: key,
        ips,
        ...(held?.pool ? { pool: held.pool } : {}),
        result: r.state,
        ...('message' in r ? { message: r.message } : {}),
        durationMs: Math.round(durationMs * 1000) / 1000,
      };
      const line = decisionMessage(key, r, ips, held?.pool);
      if (r.state === 'error' || r.state === 'errorNoRetry') logger.warn(fields, line);
      else if (noop) logger.debug(fields, line);
      else logger.info(fields, line);
    },
  });
  controller.start();
  const heapWarning = heapLimitWarning(services.size, getHeapStatistics().heap_size_limit);
  if (heapWarning) logger.warn(heapWarning);
  log(`controller: caches synced and state loaded in ${Date.now() - listStarted} ms (${services.size} services, ${claimCache.list().length} claims)`);
  tiering.settle();

  const elector = new LeaderElector({
    api: leaseApi(client, ns, f.leaseName),
    name: f.leaseName,
    namespace: ns,
    identity: f.replicaId,
    leaseDurationMs: f.leaseDurationMs,
    renewDeadlineMs: f.renewDeadlineMs,
    retryPeriodMs: f.retryPeriodMs,
    onStartedLeading: () => {
      log(`controller: ${f.replicaId} is leading`);
      controller.setLeader(true);
    },
    onStoppedLeading: () => {
      log(`controller: ${f.replicaId} stopped leading`);
      controller.setLeader(false);
      tiering.settle();
    },
    onNewLeader: (id) => log(`controller: leader is ${id || '(none)'}`),
    log,
  });
  elector.start();
  notReady = undefined;
  log(
    `controller: ready replica=${f.replicaId} namespace=${ns} services=${services.size} claims=${claimCache.list().length}` +
      ` metrics=${probes ? probes.port : 'off'}`,
  );
  cleanups.push(async () => {
    controller.setLeader(false);
    await elector.stop();
    controller.stop();
    await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, 2000))]);
  });
  return exited;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runController(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`controller: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
