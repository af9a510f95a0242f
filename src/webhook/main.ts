// The webhook process: `node --import tsx src/webhook/main.ts --kubeconfig … [flags]` (see flags.ts).
// Keeps an Allocator fed by informers (pools through src/config, claims through the claim cache), serves the
// admission webhooks over HTTPS, and keeps its certificate (own bootstrap Secret, or --cert-dir from cert-manager).
// Prints `webhook: listening on https://HOST:PORT` as soon as it serves, then `webhook: ready …` once /readyz would
// say so: caches synced and the serving CA present in the caBundle of berth's webhook configurations.
// It never exits on its own for an API server it cannot reach (issue 12 defect 3): it listens at once (on a temporary
// certificate until the real one is there), answers /healthz ok and /readyz 503 with the reasons, and retries the
// kubeconfig, the certificate bootstrap, the caBundle injection and the informers with capped exponential backoff,
// logging each failure once per step. Logs are pino lines (JSON, or `--log-format text`); every admission review
// answered is one `decision` line (operation, object, IPs, pool, result, code/reason, warnings, duration).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { Allocator } from '../allocator/allocator.ts';
import { feedAllocator, loadClaims } from '../claims/allocator-sync.ts';
import { buildConfig } from '../config/build.ts';
import { KubeClaimCache, KubeClaimStore } from '../kube/claims.ts';
import type { KubeObject } from '../kube/client.ts';
import { connectWithRetry, retryWithBackoff, type Kube } from '../kube/connect.ts';
import { createLogger, lineLogger } from '../kube/log.ts';
import { onlyStatusChanged, slim } from '../kube/informer.ts';
import { Resources } from '../kube/resources.ts';
import type { KubeObject as ApiObject } from '../api/object.ts';
import type { RequestListener } from 'node:http';
import { buildApp, type AdmissionDecision } from './app.ts';
import { CaBundleKeeper } from './ca-bundle-watch.ts';
import { ensureTls, type WebhookConfigRef } from './cert-bootstrap.ts';
import { parseWebhookFlags, USAGE } from './flags.ts';
import { configResource, listConfigObjects, namesOf, secretIo, webhookConfigIo } from './kube-io.ts';
import { webhookMetrics } from './metrics.ts';
import { loadPolicyFile } from './policy.ts';
import { serve, type ServingCert, type WebhookServer } from './server.ts';
import { KeyLock } from './service-deps.ts';
import { createCa, issueServing, renewalReason, servingNames, type ServingNames } from './tls.ts';

/** The caBundle write's retry cap: short, so readiness follows the API server's return within seconds. */
const CA_RETRY_MAX_MS = 5_000;

function readCertDir(dir: string): (ServingCert & { caPem?: string }) | undefined {
  try {
    const certPem = readFileSync(join(dir, 'tls.crt'), 'utf8');
    const keyPem = readFileSync(join(dir, 'tls.key'), 'utf8');
    let caPem: string | undefined;
    try {
      caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');
    } catch {
      caPem = undefined;
    }
    return { certPem, keyPem, ...(caPem ? { caPem } : {}) };
  } catch {
    return undefined;
  }
}

/** A throwaway self-signed serving pair, so /healthz and /readyz answer before the real certificate exists. */
async function temporaryCert(names: ServingNames): Promise<ServingCert> {
  const now = new Date();
  const ca = await createCa(now, 'berth-webhook-temporary');
  const m = await issueServing(ca, names, now, 1);
  return { certPem: m.certPem, keyPem: m.keyPem };
}

function decisionMessage(d: AdmissionDecision): string {
  const obj = `${d.kind || 'object'} ${d.namespace ? `${d.namespace}/` : ''}${d.name}`;
  const held = d.ips ? ` ${d.ips.join(',')}${d.pool ? ` (pool ${d.pool})` : ''}` : '';
  return `${d.webhook} ${d.operation} ${obj}: ${d.result}${held}${d.code ? ` ${d.code}` : ''}`;
}

/** The decision's log fields: `service` (or `object`) as namespace/name (`name` is pino's logger name). */
function decisionFields(d: AdmissionDecision): Record<string, unknown> {
  const { namespace, name, ...rest } = d;
  const id = namespace ? `${namespace}/${name}` : name;
  return { decision: 'admission', ...(d.kind === 'Service' ? { service: id } : { object: id }), ...rest };
}

export async function runWebhook(argv: readonly string[]): Promise<number> {
  const parsed = parseWebhookFlags(argv);
  if (!parsed.ok) {
    console.error(`webhook: ${parsed.message}\n${USAGE}`);
    return 2;
  }
  const f = parsed.flags;
  const logger = createLogger({ name: 'berth-webhook', format: f.logFormat, level: f.logLevel });
  const log = lineLogger(logger);
  const ilog = (l: string): void => log(`webhook: ${l}`);
  /** Failures (each retried with backoff): warn level. */
  const wlog = (l: string): void => logger.warn(`webhook: ${l}`);
  const pol = loadPolicyFile(f.policyFile);
  if (!pol.ok) {
    logger.error(`webhook: ${pol.message}`);
    return 2;
  }
  const ns = f.namespace;
  const aborter = new AbortController();
  let stopping = false;

  // --- readiness: every reason the webhook cannot decide yet ---
  let phase: string | undefined = 'loading the kubeconfig';
  let cachesSynced = false;
  let tlsProblem: string | undefined = f.certDir ? undefined : 'serving certificate not bootstrapped yet';
  // Not ready until a check with the serving CA has settled (ca-bundle-watch.ts onResult).
  let caProblems: string[] = ['caBundle not checked yet'];
  const readiness = () => {
    const reasons: string[] = [];
    if (phase) reasons.push(phase);
    // Not "a valid pool configuration": the metallb.io webhooks fail closed, so a replica that waited for valid pools
    // would make invalid stored pools impossible to fix.
    else if (!cachesSynced) reasons.push('informer caches are not synced');
    if (tlsProblem) reasons.push(tlsProblem);
    reasons.push(...caProblems);
    return { ready: reasons.length === 0, reasons };
  };

  // --- listen at once: probes answer while the rest waits for the API server ---
  const ips = ['127.0.0.1', ...f.certIps, ...(isIP(f.host) && f.host !== '0.0.0.0' && f.host !== '127.0.0.1' ? [f.host] : [])];
  const names = servingNames(f.serviceName, ns, ips);
  let caPem: string | undefined;
  let initial: ServingCert;
  const fromDir = f.certDir ? readCertDir(f.certDir) : undefined;
  if (fromDir) {
    initial = fromDir;
    caPem = fromDir.caPem;
  } else {
    if (f.certDir) tlsProblem = `no tls.crt/tls.key in ${f.certDir} yet`;
    initial = await temporaryCert(names);
  }
  const probes: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const r = readiness();
    res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${r.reasons.join('; ')}`);
  };
  let server: WebhookServer;
  try {
    server = await serve(probes, { host: f.host, port: f.port, cert: initial });
  } catch (e) {
    logger.error(`webhook: cannot listen on ${f.host}:${f.port}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  const url = `https://${f.host.includes(':') ? `[${f.host}]` : f.host}:${server.port}`;
  log(`webhook: listening on ${url}`);

  let kube: Kube | undefined;
  const live: { claims?: KubeClaimCache; keeper?: CaBundleKeeper } = {};
  const timers: { cert?: ReturnType<typeof setTimeout> } = {};
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`webhook: ${sig}, stopping`);
    aborter.abort(new Error(`webhook: ${sig}`));
    live.keeper?.stop();
    clearTimeout(timers.cert);
    await server.close();
    await live.claims?.stop();
    kube?.close();
    resolveExit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const retry = { log: wlog, signal: aborter.signal };

  try {
    kube = await connectWithRetry(
      {
        ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
        ...(f.context ? { context: f.context } : {}),
        component: 'berth-webhook',
        // Claim writes of concurrent admissions: beyond 16 in flight they wait in the agent for a connection (each
        // takes the API server 1-3 ms) instead of opening more (TLS handshakes, ~100 KiB each; src/kube/transport.ts).
        maxSockets: 16,
      },
      retry,
    );
  } catch {
    return exited; // stopped while waiting
  }
  phase = undefined;
  const client = kube.client;
  log(`webhook: connecting to ${kube.access.server} (${kube.access.source}), namespace ${ns}`);

  // --- caches and the allocator they feed (informers retry with backoff by themselves) ---
  const pools = kube.informer<KubeObject>(Resources.ipAddressPools, { namespace: ns, transform: slim, log: wlog });
  const namespaces = kube.informer<KubeObject>(Resources.namespaces, { transform: slim, log: wlog });
  const claims = new KubeClaimCache(client, { onError: (m) => wlog(`claims: ${m}`) });
  live.claims = claims;
  const allocator = new Allocator();
  let rebuildQueued = false;
  const rebuild = () => {
    rebuildQueued = false;
    const built = buildConfig(
      {
        pools: pools.list() as unknown as ApiObject[],
        l2Advertisements: [],
        bgpAdvertisements: [],
        bgpPeers: [],
        communities: [],
        bfdProfiles: [],
        namespaces: namesOf(namespaces.list()),
      },
      { namespace: ns },
    );
    if (!built.config) {
      // MetalLB keeps the last good configuration when the new one does not parse (stale config).
      wlog(`pools do not load, keeping the last good ones: ${built.problems.map((p) => p.message).join('; ')}`);
      return;
    }
    allocator.setPools(built.config.pools);
    // Claims the previous pools could not hold may fit now: replay them all (restore is idempotent).
    if (claims.synced) loadClaims(allocator, claims.list());
  };
  const scheduleRebuild = () => {
    if (rebuildQueued) return;
    rebuildQueued = true;
    setImmediate(rebuild);
  };
  for (const inf of [pools, namespaces]) {
    // Status writes (the controller's pool counters, a few per second while Services come) are no configuration: a
    // rebuild replays every claim, so rebuilding on them cost O(claims) per Service created (issue 12).
    const update = (o: KubeObject, old: KubeObject): void => {
      if (!onlyStatusChanged(o, old)) scheduleRebuild();
    };
    inf.on({ add: scheduleRebuild, update, delete: scheduleRebuild });
    inf.start();
  }
  const syncing = (async () => {
    await Promise.all([pools.synced, namespaces.synced]);
    rebuild();
    await claims.start();
    feedAllocator(allocator, claims);
    cachesSynced = true;
    ilog(`caches synced: ${pools.size} pools, ${claims.list().length} claims`);
  })();
  syncing.catch((e) => wlog(`cache sync failed: ${e instanceof Error ? e.message : String(e)}`));

  // --- the admission app replaces the probe-only handler ---
  const refs: WebhookConfigRef[] = [
    { kind: 'MutatingWebhookConfiguration', name: f.webhookConfigName },
    { kind: 'ValidatingWebhookConfiguration', name: f.webhookConfigName },
  ];
  const configs = webhookConfigIo(client);
  const registry = new Registry();
  const app = buildApp({
    service: {
      allocator,
      store: new KubeClaimStore(client, { fieldManager: 'berth-webhook' }),
      claims,
      lbClass: f.lbClass,
      policy: pol.policy,
      keyLock: new KeyLock(),
      // A consistent GET (no resourceVersion): is the Service holding a requested IP gone? (ghost-holders.ts)
      serviceIdentity: async (namespace, name) => {
        const got = await client.get<KubeObject>(Resources.services, name, namespace);
        if (got.ok) return { ...(got.value.metadata?.uid ? { uid: got.value.metadata.uid } : {}) };
        if (got.error.kind === 'NotFound') return undefined;
        throw new Error(got.error.message);
      },
    },
    config: {
      namespace: ns,
      allocator,
      listObjects: () => listConfigObjects(client, ns),
      namespaces: async () => namesOf(namespaces.list()),
    },
    readiness,
    notDeciding: () => (cachesSynced ? undefined : 'informer caches are not synced'),
    registry,
    metrics: webhookMetrics(registry),
    onError: (path, err) => logger.error({ path, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, `webhook: ${path} failed`),
    decision: (d) => logger.info(decisionFields(d), decisionMessage(d)),
  });
  server.setHandler(app);

  // --- caBundle: kept by a watch of the two configurations (ca-bundle-watch.ts): inject (bootstrap mode) and check
  // (both modes) on every change, no API request while nothing changes ---
  let announced = false;
  const announce = (): void => {
    if (announced || stopping || !readiness().ready) return;
    announced = true;
    log(`webhook: ready ${url} (namespace ${ns}, lb-class ${f.lbClass ?? '(none)'})`);
  };
  const watches = new Map(
    refs.map((ref) => [
      ref,
      kube!.informer<KubeObject>(configResource(ref), { fieldSelector: `metadata.name=${ref.name}`, transform: slim, log: wlog }),
    ]),
  );
  const keeper = new CaBundleKeeper({
    refs,
    watched: (ref) => {
      const inf = watches.get(ref)!;
      return { synced: inf.hasSynced, object: inf.get(ref.name) as ApiObject | undefined, lastError: inf.stats.lastError };
    },
    io: configs,
    caPem: () => caPem,
    inject: !f.certDir,
    onResult: (problems) => {
      caProblems = [...problems];
      announce();
    },
    log: ilog,
    warn: wlog,
    backoff: { initialMs: 500, maxMs: CA_RETRY_MAX_MS },
  });
  live.keeper = keeper;
  const tick = (): void => {
    if (stopping) return;
    void keeper.kick().then(announce);
  };
  for (const inf of watches.values()) {
    inf.on({ add: tick, update: tick, delete: tick });
    inf.start();
    void inf.synced.then(tick);
  }
  void syncing.finally(tick);

  // --- the serving certificate: bootstrap (retried until the API server answers), then refresh ---
  const loadCert = async (): Promise<ServingCert & { caPem?: string }> => {
    if (f.certDir) {
      const m = readCertDir(f.certDir);
      if (!m) throw new Error(`no tls.crt/tls.key in ${f.certDir}`);
      return m;
    }
    const r = await ensureTls(secretIo(client, ns, f.secretName), names, () => new Date());
    if (r.action !== 'reused' || tlsProblem) log(`webhook: certificate ${r.action} in Secret ${ns}/${f.secretName}${r.reason ? ` (${r.reason})` : ''}`);
    return r.material;
  };
  const install = (next: ServingCert & { caPem?: string }): boolean => {
    const cur = server.certificate();
    if (next.certPem === cur.certPem && next.keyPem === cur.keyPem) return false;
    server.setCertificate(next);
    if (next.caPem) caPem = next.caPem;
    return true;
  };
  // Bootstrap mode: the Secret is watched (fieldSelector metadata.name), so another replica's renewal, or a deleted
  // Secret, is acted on after its watch event; renewal time is checked locally every hour (no API request unless it
  // is due). cert-manager mode: the mounted files are re-read every 10 s (no API request).
  const CERT_CHECK_MS = f.certDir ? 10_000 : 3_600_000;
  let refreshing = false;
  let refreshAgain = false;
  const refresh = async (): Promise<void> => {
    if (stopping) return;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    clearTimeout(timers.cert);
    try {
      if (install(await loadCert())) {
        ilog('serving certificate reloaded');
        tick(); // a new CA (another replica's, or a re-created Secret) must reach the caBundles
      }
    } catch (e) {
      wlog(`certificate refresh failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      return refresh();
    }
    if (!stopping) timers.cert = setTimeout(() => void check(), CERT_CHECK_MS).unref();
  };
  /** The periodic check: cert-manager's files are re-read; the bootstrap Secret only when renewal is due. */
  const check = (): void => {
    if (stopping) return;
    const cur = server.certificate();
    if (f.certDir || !caPem || renewalReason({ caPem, certPem: cur.certPem, keyPem: cur.keyPem }, names, new Date()) !== undefined) {
      void refresh();
      return;
    }
    timers.cert = setTimeout(() => void check(), CERT_CHECK_MS).unref();
  };
  let bootstrapped = !tlsProblem;
  if (!f.certDir) {
    const secretWatch = kube.informer<KubeObject>(Resources.secrets, { namespace: ns, fieldSelector: `metadata.name=${f.secretName}`, log: wlog });
    const changed = (): void => {
      if (bootstrapped) void refresh();
    };
    secretWatch.on({ add: changed, update: changed, delete: changed });
    secretWatch.start();
  }
  if (tlsProblem) {
    void retryWithBackoff(f.certDir ? `reading the certificate in ${f.certDir}` : `certificate bootstrap (Secret ${ns}/${f.secretName})`, loadCert, retry).then(
      (m) => {
        install(m);
        tlsProblem = undefined;
        bootstrapped = true;
        timers.cert = setTimeout(() => void check(), CERT_CHECK_MS).unref();
        tick();
      },
      () => undefined, // stopped
    );
  } else {
    timers.cert = setTimeout(() => void check(), CERT_CHECK_MS).unref();
  }

  return exited;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runWebhook(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`webhook: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
