// The controller process: `node --import tsx src/controller/main.ts --kubeconfig … [flags]` (see flags.ts).
// Wires src/kube (informers, writes, events, Lease) and src/metrics to the Controller, which holds the logic.
// Prints `controller: ready …` once its caches are synced; SIGINT/SIGTERM stop it cleanly (the Lease is released).
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { Allocator } from '../allocator/allocator.ts';
import type { KubeObject as ApiObject } from '../api/object.ts';
import { buildConfig } from '../config/build.ts';
import type { ServiceLike } from '../config/service.ts';
import { informerClaimCache } from '../kube/claim-cache.ts';
import { KubeClaimStore } from '../kube/claims.ts';
import type { KubeObject } from '../kube/client.ts';
import { connect } from '../kube/connect.ts';
import { writeConfigurationState } from '../kube/configuration-state.ts';
import type { KubeResult } from '../kube/errors.ts';
import { EventRecorder } from '../kube/events.ts';
import { slim } from '../kube/informer.ts';
import { interner } from '../kube/intern.ts';
import { LeaderElector, leaseApi } from '../kube/leader-election.ts';
import { patchPoolStatus } from '../kube/pool-status.ts';
import { Resources } from '../kube/resources.ts';
import { patchServiceAnnotations, patchServiceIngress } from '../kube/service-writes.ts';
import { allocatorMetrics, clientMetrics, serveMetrics, type MetricsServer } from '../metrics/index.ts';
import { Controller, type Cache } from './controller.ts';
import type { WriteResult } from './deps.ts';
import { parseControllerFlags, USAGE } from './flags.ts';
import { projectService } from './project.ts';

function toWrite(r: KubeResult<unknown>): WriteResult {
  if (r.ok) return { ok: true };
  const reason = r.error.kind === 'NotFound' ? 'NotFound' : r.error.kind === 'Conflict' ? 'Conflict' : 'Error';
  return { ok: false, reason, message: r.error.message };
}

export async function runController(argv: readonly string[]): Promise<number> {
  const parsed = parseControllerFlags(argv, process.env, hostname(), process.pid);
  if (!parsed.ok) {
    console.error(`controller: ${parsed.message}\n${USAGE}`);
    return 2;
  }
  const f = parsed.flags;
  const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
  const conn = await connect({
    ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.context ? { context: f.context } : {}),
    component: 'berth-controller',
  });
  if (!conn.ok) {
    console.error(`controller: ${conn.message}`);
    return 1;
  }
  const kube = conn.kube;
  const client = kube.client;
  const ns = f.namespace;
  log(`controller: ${f.replicaId} connecting to ${kube.access.server} (${kube.access.source}), namespace ${ns}`);

  const registry = new Registry();
  const cm = clientMetrics(registry);
  const am = allocatorMetrics(registry);

  const ilog = (l: string): void => log(l);
  // Services are held projected (project.ts): the controller's memory is mostly its Service cache.
  const intern = interner();
  const services = kube.informer<KubeObject>(Resources.services, {
    transform: (o) => projectService(o as ServiceLike, intern) as KubeObject,
    log: ilog,
  });
  const pools = kube.informer<KubeObject>(Resources.ipAddressPools, { namespace: ns, transform: slim, log: ilog });
  const communities = kube.informer<KubeObject>(Resources.communities, { namespace: ns, transform: slim, log: ilog });
  const namespaces = kube.informer<KubeObject>(Resources.namespaces, { transform: slim, log: ilog });
  const claimCache = informerClaimCache(kube, { log: ilog, intern });
  const listStarted = Date.now();
  for (const i of [services, pools, communities, namespaces, claimCache.informer]) i.start();
  // Informers retry failed lists forever (with backoff): this waits until the API server has answered them all.
  await Promise.all([services.synced, pools.synced, communities.synced, namespaces.synced, claimCache.informer.synced]);

  const store = new KubeClaimStore(client, { fieldManager: 'berth-controller' });
  const recorder = new EventRecorder({ client, reportingInstance: f.replicaId, log: ilog });
  const controller = new Controller({
    services: services as unknown as Cache<ServiceLike>,
    pools: pools as unknown as Cache<ApiObject>,
    communities: communities as unknown as Cache<ApiObject>,
    namespaces: namespaces as unknown as Cache<ApiObject>,
    claimCache,
    store,
    writer: {
      writeIngress: async (n, name, ips) => toWrite(await patchServiceIngress(client, n, name, ips.map((ip) => ({ ip })))),
      writeAnnotations: async (n, name, changes) => toWrite(await patchServiceAnnotations(client, n, name, changes)),
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
    allocator: new Allocator(),
    buildConfig,
    namespace: ns,
    ...(f.lbClass ? { lbClass: f.lbClass } : {}),
    metrics: {
      poolStats: (s) => am.update(s),
      update: (ok) => cm.update(ok),
      configLoaded: (v) => cm.configLoaded(v),
      configStale: (v) => cm.configStale(v),
    },
    claimGraceMs: f.claimGraceMs,
    resyncIntervalMs: f.resyncMs,
    log,
  });
  controller.start();
  log(`controller: caches synced and state loaded in ${Date.now() - listStarted} ms (${services.size} services, ${claimCache.list().length} claims)`);

  let metricsServer: MetricsServer | undefined;
  if (f.metricsPort !== 0) {
    metricsServer = await serveMetrics(registry, { port: f.metricsPort === 'auto' ? 0 : f.metricsPort, host: f.metricsHost });
  }

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
    },
    onNewLeader: (id) => log(`controller: leader is ${id || '(none)'}`),
    log,
  });
  elector.start();
  log(
    `controller: ready replica=${f.replicaId} namespace=${ns} services=${services.size} claims=${claimCache.list().length}` +
      ` metrics=${metricsServer ? metricsServer.port : 'off'}`,
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      log(`controller: ${sig}, stopping`);
      void (async () => {
        controller.setLeader(false);
        await elector.stop();
        controller.stop();
        await Promise.race([recorder.flush(), new Promise((r) => setTimeout(r, 2000))]);
        await metricsServer?.close();
        kube.close();
        resolve(0);
      })();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
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
