// The webhook process: `node --import tsx src/webhook/main.ts --kubeconfig … [flags]` (see flags.ts).
// Keeps an Allocator fed by informers (pools through src/config, claims through the claim cache), serves the
// admission webhooks over HTTPS, and keeps its certificate (own bootstrap Secret, or --cert-dir from cert-manager).
// Prints `webhook: listening on https://HOST:PORT` as soon as it serves, then `webhook: ready …` once /readyz would
// say so: caches synced and the serving CA present in the caBundle of berth's webhook configurations.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Registry } from 'prom-client';
import { Allocator } from '../allocator/allocator.ts';
import { feedAllocator, loadClaims } from '../claims/allocator-sync.ts';
import { buildConfig } from '../config/build.ts';
import { KubeClaimCache, KubeClaimStore } from '../kube/claims.ts';
import type { KubeObject } from '../kube/client.ts';
import { connect } from '../kube/connect.ts';
import { slim } from '../kube/informer.ts';
import { Resources } from '../kube/resources.ts';
import type { KubeObject as ApiObject } from '../api/object.ts';
import { buildApp } from './app.ts';
import { caBundleProblems, ensureTls, injectCaBundle, type WebhookConfigRef } from './cert-bootstrap.ts';
import { parseWebhookFlags, USAGE } from './flags.ts';
import { listConfigObjects, namesOf, secretIo, webhookConfigIo } from './kube-io.ts';
import { webhookMetrics } from './metrics.ts';
import { DEFAULT_POLICY, parsePolicy, type AdmissionPolicy } from './policy.ts';
import { serve, type ServingCert, type WebhookServer } from './server.ts';
import { KeyLock } from './service-deps.ts';
import { servingNames } from './tls.ts';

const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../policies/admission.json', import.meta.url));

function loadPolicy(file: string | undefined): { ok: true; policy: AdmissionPolicy } | { ok: false; message: string } {
  const path = file ?? DEFAULT_POLICY_FILE;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (file === undefined) return { ok: true, policy: DEFAULT_POLICY };
    return { ok: false, message: `cannot read ${path}: ${(e as Error).message}` };
  }
  try {
    const r = parsePolicy(JSON.parse(text));
    return r.ok ? r : { ok: false, message: `${path}: ${r.message}` };
  } catch (e) {
    return { ok: false, message: `${path}: ${(e as Error).message}` };
  }
}

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

export async function runWebhook(argv: readonly string[]): Promise<number> {
  const parsed = parseWebhookFlags(argv);
  if (!parsed.ok) {
    console.error(`webhook: ${parsed.message}\n${USAGE}`);
    return 2;
  }
  const f = parsed.flags;
  const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
  const pol = loadPolicy(f.policyFile);
  if (!pol.ok) {
    console.error(`webhook: ${pol.message}`);
    return 2;
  }
  const conn = await connect({
    ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}),
    ...(f.context ? { context: f.context } : {}),
    component: 'berth-webhook',
    maxSockets: 64,
  });
  if (!conn.ok) {
    console.error(`webhook: ${conn.message}`);
    return 1;
  }
  const kube = conn.kube;
  const client = kube.client;
  const ns = f.namespace;
  log(`webhook: connecting to ${kube.access.server} (${kube.access.source}), namespace ${ns}`);

  // --- caches and the allocator they feed ---
  const ilog = (l: string): void => log(`webhook: ${l}`);
  const pools = kube.informer<KubeObject>(Resources.ipAddressPools, { namespace: ns, transform: slim, log: ilog });
  const namespaces = kube.informer<KubeObject>(Resources.namespaces, { transform: slim, log: ilog });
  const claimCache = new KubeClaimCache(client, { onError: (m) => ilog(`claims: ${m}; retrying`) });
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
      ilog(`pools do not load, keeping the last good ones: ${built.problems.map((p) => p.message).join('; ')}`);
      return;
    }
    allocator.setPools(built.config.pools);
    // Claims the previous pools could not hold may fit now: replay them all (restore is idempotent).
    if (claimCache.synced) loadClaims(allocator, claimCache.list());
  };
  const scheduleRebuild = () => {
    if (rebuildQueued) return;
    rebuildQueued = true;
    setImmediate(rebuild);
  };
  for (const inf of [pools, namespaces]) {
    inf.on({ add: scheduleRebuild, update: scheduleRebuild, delete: scheduleRebuild });
    inf.start();
  }
  let cachesSynced = false;
  const syncing = (async () => {
    await Promise.all([pools.synced, namespaces.synced]);
    rebuild();
    await claimCache.start();
    feedAllocator(allocator, claimCache);
    cachesSynced = true;
    ilog(`caches synced: ${pools.size} pools, ${claimCache.list().length} claims`);
  })();
  syncing.catch((e) => ilog(`cache sync failed: ${e instanceof Error ? e.message : String(e)}`));

  // --- TLS ---
  const ips = ['127.0.0.1', ...f.certIps, ...(isIP(f.host) && f.host !== '0.0.0.0' && f.host !== '127.0.0.1' ? [f.host] : [])];
  const names = servingNames(f.serviceName, ns, ips);
  const refs: WebhookConfigRef[] = [
    { kind: 'MutatingWebhookConfiguration', name: f.webhookConfigName },
    { kind: 'ValidatingWebhookConfiguration', name: f.webhookConfigName },
  ];
  const configs = webhookConfigIo(client);
  let caPem: string | undefined;
  let initial: ServingCert;
  if (f.certDir) {
    const m = readCertDir(f.certDir);
    if (!m) {
      console.error(`webhook: no tls.crt/tls.key in ${f.certDir}`);
      kube.close();
      return 1;
    }
    initial = m;
    caPem = m.caPem;
  } else {
    try {
      const r = await ensureTls(secretIo(client, ns, f.secretName), names, () => new Date());
      log(`webhook: certificate ${r.action} in Secret ${ns}/${f.secretName}${r.reason ? ` (${r.reason})` : ''}`);
      initial = r.material;
      caPem = r.material.caPem;
    } catch (e) {
      console.error(`webhook: certificate bootstrap failed: ${e instanceof Error ? e.message : String(e)}`);
      kube.close();
      return 1;
    }
  }

  // --- readiness ---
  let caProblems: string[] = caPem ? ['caBundle not checked yet'] : [];
  const readiness = () => {
    const reasons: string[] = [];
    // Not "a valid pool configuration": the metallb.io webhooks fail closed, so a replica that waited for valid pools
    // would make invalid stored pools impossible to fix.
    if (!cachesSynced) reasons.push('informer caches are not synced');
    reasons.push(...caProblems);
    return { ready: reasons.length === 0, reasons };
  };

  const registry = new Registry();
  const app = buildApp({
    service: {
      allocator,
      store: new KubeClaimStore(client, { fieldManager: 'berth-webhook' }),
      claims: claimCache,
      lbClass: f.lbClass,
      policy: pol.policy,
      keyLock: new KeyLock(),
    },
    config: {
      namespace: ns,
      allocator,
      listObjects: () => listConfigObjects(client, ns),
      namespaces: async () => namesOf(namespaces.list()),
    },
    readiness,
    registry,
    metrics: webhookMetrics(registry),
    onError: (path, err) => ilog(`${path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
  });

  let server: WebhookServer;
  try {
    server = await serve(app, { host: f.host, port: f.port, cert: initial });
  } catch (e) {
    console.error(`webhook: cannot listen on ${f.host}:${f.port}: ${e instanceof Error ? e.message : String(e)}`);
    kube.close();
    return 1;
  }
  const url = `https://${f.host.includes(':') ? `[${f.host}]` : f.host}:${server.port}`;
  log(`webhook: listening on ${url}`);

  // caBundle: inject (bootstrap mode) and check (both modes) until ready, then keep checking now and then.
  const timers: { ca?: ReturnType<typeof setTimeout>; cert?: ReturnType<typeof setTimeout> } = {};
  let stopping = false;
  let announced = false;
  const checkCa = async (): Promise<void> => {
    if (!caPem) return;
    try {
      if (!f.certDir) {
        const r = await injectCaBundle(configs, refs, caPem);
        if (r.patched.length > 0) ilog(`caBundle written into ${r.patched.join(', ')}`);
      }
      const problems: string[] = [];
      for (const ref of refs) problems.push(...caBundleProblems(ref, await configs.get(ref), caPem));
      caProblems = problems;
    } catch (e) {
      caProblems = [`cannot check the caBundle: ${e instanceof Error ? e.message : String(e)}`];
    }
  };
  const tick = async (): Promise<void> => {
    if (stopping) return;
    await checkCa();
    const r = readiness();
    if (r.ready && !announced) {
      announced = true;
      log(`webhook: ready ${url} (namespace ${ns}, lb-class ${f.lbClass ?? '(none)'})`);
    }
    if (!stopping) timers.ca = setTimeout(() => void tick(), r.ready ? 30_000 : 500).unref();
  };
  void syncing.finally(() => void tick());

  // Certificate refresh: another replica's renewal (Secret) or cert-manager's (files), and our own renewal.
  const refresh = async (): Promise<void> => {
    if (stopping) return;
    try {
      const next = f.certDir
        ? readCertDir(f.certDir)
        : (await ensureTls(secretIo(client, ns, f.secretName), names, () => new Date())).material;
      if (next && (next.certPem !== server.certificate().certPem || next.keyPem !== server.certificate().keyPem)) {
        server.setCertificate(next);
        if (next.caPem) caPem = next.caPem;
        ilog('serving certificate reloaded');
      }
    } catch (e) {
      ilog(`certificate refresh failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!stopping) timers.cert = setTimeout(() => void refresh(), f.certDir ? 10_000 : 60_000).unref();
  };
  timers.cert = setTimeout(() => void refresh(), f.certDir ? 10_000 : 60_000).unref();

  return await new Promise<number>((resolve) => {
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log(`webhook: ${sig}, stopping`);
      clearTimeout(timers.ca);
      clearTimeout(timers.cert);
      await server.close();
      await claimCache.stop();
      kube.close();
      resolve(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
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
