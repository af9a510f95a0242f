// The embedded lab API server: a Kubernetes-compatible HTTPS API on 127.0.0.1 that real kubectl and
// @kubernetes/client-node use (the end-to-end test bed and what `npm start` runs).
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateLabCerts } from './certs.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { Registry } from './registry.ts';
import { Store } from './store.ts';
import { Rest, type Admission } from './rest.ts';
import { HttpApi } from './http-api.ts';
import { WatchHub } from './watch.ts';
import { IpAllocator, PortAllocator } from './service/ip-allocator.ts';
import { markServiceAllocations, type ServiceIpam } from './service/service-strategy.ts';
import { Persister, loadSnapshot } from './persist.ts';
import { WebhookAdmission } from './admission/webhook-admission.ts';
import type { KubeObject } from './types.ts';
import { WorkloadController } from './workloads/controller.ts';
import { bootstrapNodes } from './workloads/nodes.ts';
import { ensureProcessDeployment, PodLogs, type ProcessLogs } from './workloads/pod-logs.ts';

export interface LabOptions {
  dir: string; // folder for certs, kubeconfig, persisted state (created if missing)
  port?: number; // 0 or undefined = random free port on 127.0.0.1
  persist?: boolean; // load <dir>/state.json + journal at start; journal every write before answering (persist.ts)
  serviceCIDRs?: { ipv4?: string; ipv6?: string }; // defaults 10.96.0.0/12 and fd00:10:96::/112
  log?: (line: string) => void;
  /** Watch history window in events (default 20,000); older resourceVersions get 410 Gone. */
  watchHistory?: number;
  /** kube-apiserver's --service-node-port-range (default "30000-32767", 2,768 ports: 10,000 LoadBalancer
   *  Services need `allocateLoadBalancerNodePorts: false` or a wider range, exactly as on a real cluster). */
  serviceNodePortRange?: string;
  /** Nodes created at start when the lab has none (`lab-node-1`..N, InternalIP 192.0.2.101..; default 3). */
  nodes?: number;
  /** Delay between a Pod's binding and its Running/Ready status, in ms (default 300). */
  podStartDelayMs?: number;
  /** IPv4 /24 blocks Pod IPs come from (src/lab/workloads/pod-ips.ts; `berth lab --network` passes NETWORK_POD_IPV4_BLOCKS). */
  podIpv4Blocks?: readonly string[];
  /**
   * The processes the lab runs for berth (controller, webhook) and their log files: the lab keeps Deployment
   * metallb-controller in `namespace` for them and serves its Pods' `kubectl logs` from those files
   * (src/lab/workloads/pod-logs.ts). Without it, no such Deployment; every Pod's log is empty.
   */
  processLogs?: ProcessLogs;
}

export interface Lab {
  url: string; // https://127.0.0.1:<port>
  port: number;
  kubeconfigPath: string; // <dir>/kubeconfig (context "berth-lab", CA embedded, bearer token)
  caPem: string; // the lab CA (PEM)
  /** HTTP requests received since start, by User-Agent (watches count once; benches measure API load with it). */
  requestCounts(): ReadonlyMap<string, number>;
  stop(): Promise<void>; // closes the server and all watches; persists if enabled
}

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * GET on this path answers the requests received since start as JSON `[[userAgent, kind, count], …]` (kind: see
 * requestKind). Not a Kubernetes path: benches use it to count API requests per Service by client.
 */
export const REQUEST_COUNTS_PATH = '/debug/berth-lab/requests';

/**
 * A request's kind without object names: `METHOD resource[/subresource]`, `WATCH resource` for watches, `LIST` for a
 * collection GET (e.g. `PATCH services/status`, `POST ipaddressclaims.metallb.io`, `GET ipaddressclaims.metallb.io`).
 */
export function requestKind(method: string, url: string): string {
  const [path = '', query = ''] = url.split('?');
  const seg = path.split('/').filter((x) => x !== '');
  // /api/v1/... or /apis/GROUP/VERSION/...
  let i = seg[0] === 'api' ? 2 : seg[0] === 'apis' ? 3 : -1;
  if (i < 0 || seg.length <= i) return `${method} ${path}`;
  const group = seg[0] === 'apis' ? seg[1] : undefined;
  if (seg[i] === 'namespaces' && seg.length > i + 2) i += 2;
  const resource = seg[i] ?? '';
  const name = seg[i + 1];
  const sub = seg[i + 2];
  const what = `${resource}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}`;
  if (method === 'GET' && /(^|&)watch=(true|1)(&|$)/.test(query)) return `WATCH ${what}`;
  return `${method === 'GET' && name === undefined ? 'LIST' : method} ${what}`;
}

function nodePortAllocator(range: string | undefined): PortAllocator {
  if (!range) return new PortAllocator();
  const m = /^(\d+)-(\d+)$/.exec(range.trim());
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535 || lo > hi) throw new Error(`lab: serviceNodePortRange "${range}" is not a port range like 30000-32767`);
  return new PortAllocator(lo, hi);
}

function loadOrCreateToken(dir: string): string {
  const f = join(dir, 'token');
  if (existsSync(f)) {
    const t = readFileSync(f, 'utf8').trim();
    if (t) return t;
  }
  const t = randomBytes(24).toString('hex');
  writeFileSync(f, t + '\n', { mode: 0o600 });
  return t;
}

export async function startLab(opts: LabOptions): Promise<Lab> {
  const log = opts.log ?? (() => undefined);
  mkdirSync(opts.dir, { recursive: true });
  const { ca, server: serving } = await loadOrCreateLabCerts(opts.dir);
  const token = loadOrCreateToken(opts.dir);
  const stateFile = join(opts.dir, 'state.json');

  const registry = new Registry();
  let persister: Persister | undefined;
  const store = new Store({ historyLimit: opts.watchHistory ?? 20_000, onCommit: () => persister?.schedule() });
  const ipam: ServiceIpam = {
    ips: {
      IPv4: new IpAllocator(opts.serviceCIDRs?.ipv4 ?? '10.96.0.0/12'),
      IPv6: new IpAllocator(opts.serviceCIDRs?.ipv6 ?? 'fd00:10:96::/112'),
    },
    nodePorts: nodePortAllocator(opts.serviceNodePortRange),
  };
  const admission: Admission = new WebhookAdmission({ store, registry, log });
  const timers = new Set<NodeJS.Timeout>();
  const rest = new Rest(registry, store, ipam, admission, {
    schedule: (fn, ms) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
    afterWrite: (type, obj) => {
      if (type.storeKey === 'apiextensions.k8s.io/customresourcedefinitions') registry.applyCrd(obj);
    },
    afterDelete: (type, obj) => {
      if (type.storeKey !== 'apiextensions.k8s.io/customresourcedefinitions') return;
      const t = registry.removeCrd(obj.metadata.name ?? '');
      // Deleting a CRD deletes its objects (the customresourcecleanup finalizer's work, done at once).
      if (t) for (const o of store.list(t.storeKey)) store.remove(t.storeKey, o.metadata.namespace, o.metadata.name ?? '');
    },
  });

  if (opts.persist) {
    const snap = loadSnapshot(stateFile, log);
    if (snap) {
      store.restore(snap);
      for (const crd of store.list('apiextensions.k8s.io/customresourcedefinitions')) registry.applyCrd(crd);
      for (const svc of store.list('core/services')) markServiceAllocations(ipam, svc);
      log(`lab: restored ${Object.values(snap.buckets).reduce((n, b) => n + b.length, 0)} objects at resourceVersion ${snap.resourceVersion}`);
    }
    persister = new Persister(stateFile, store, { log });
  }
  await bootstrap(rest, store, registry);
  await bootstrapNodes(rest, store, registry, opts.nodes);
  const workloads = new WorkloadController({ store, rest, registry, log, ...(opts.podStartDelayMs !== undefined ? { podStartDelayMs: opts.podStartDelayMs } : {}), ...(opts.podIpv4Blocks ? { podIpv4Blocks: opts.podIpv4Blocks } : {}) });
  workloads.start();
  if (opts.processLogs) await ensureProcessDeployment(rest, store, registry, opts.processLogs);
  const podLogs = new PodLogs(store, opts.processLogs);
  for (const ns of store.list('core/namespaces')) if (ns.metadata.deletionTimestamp) rest.finalizeNamespace(ns.metadata.name ?? '');

  const watches = new WatchHub(store);
  const api = new HttpApi({ registry, rest, watches, token, serverAddress: () => `127.0.0.1:${port}`, log, durable: () => store.durable(), podLogs });
  const requestCounts = new Map<string, number>();
  const requestKinds = new Map<string, number>();
  const count = (req: IncomingMessage): void => {
    const ua = req.headers['user-agent'] ?? '';
    requestCounts.set(ua, (requestCounts.get(ua) ?? 0) + 1);
    const k = `${ua}\u0000${requestKind(req.method ?? '', req.url ?? '')}`;
    requestKinds.set(k, (requestKinds.get(k) ?? 0) + 1);
  };
  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem, minVersion: 'TLSv1.2', keepAlive: true }, (req, res) => {
    if (req.method === 'GET' && req.url === REQUEST_COUNTS_PATH) {
      // Benches read what each client asked for (bench:controller: requests per Service by client and kind).
      const body = JSON.stringify([...requestKinds].map(([k, n]) => [...k.split('\u0000'), n]));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    count(req);
    api.handle(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 0; // watches are long-lived
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(opts.dir, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, url, ca.certPem, token);
  log(`lab: serving ${url} kubeconfig=${kubeconfigPath}`);

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    kubeconfigPath,
    caPem: ca.certPem,
    requestCounts: () => requestCounts,
    stop: () =>
      (stopped ??= (async () => {
        await workloads.stop();
        podLogs.close();
        for (const t of timers) clearTimeout(t);
        timers.clear();
        watches.closeAll();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          for (const s of sockets) s.destroy();
        });
        (admission as WebhookAdmission).close();
        await persister?.close();
      })()),
  };
}

/** Objects every cluster has: system namespaces and the `default/kubernetes` Service (first IP of the range). */
async function bootstrap(rest: Rest, store: Store, registry: Registry): Promise<void> {
  const target = (plural: string, namespace: string, name: string) => ({ type: registry.resolve('', 'v1', plural)!, version: 'v1', namespace, name, subresource: '' });
  for (const ns of SYSTEM_NAMESPACES) {
    if (store.get('core/namespaces', undefined, ns)) continue;
    await rest.create(target('namespaces', '', ns), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { dryRun: false });
  }
  if (!store.get('core/services', 'default', 'kubernetes')) {
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }], sessionAffinity: 'None' },
    };
    await rest.create(target('services', 'default', 'kubernetes'), svc, { dryRun: false });
  }
}
