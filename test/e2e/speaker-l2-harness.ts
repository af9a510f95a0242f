// Set-up shared by the layer-2 speaker end-to-end test and `npm run bench:failover`: the lab (API server +
// controller, no webhook, persisted so the API server can be stopped and restarted on the same port and store),
// the namespace segment with one `berth speaker` per node (src/lab/network), and the client-side probes run with the
// real tools inside the client namespace: arping (iputils), ndisc6, ping, `ip neigh`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeClient, KubeObject } from '../../src/kube/client.ts';
import { Resources } from '../../src/kube/resources.ts';
import { startLabNetwork, type LabNetwork, type LabNetworkOptions } from '../../src/lab/network/network.ts';
import { inNamespace, neighbour, NETWORK_SERVICE_CIDRS, networkSupport, run } from '../../src/lab/network/topology.ts';
import { startLab, type Lab } from '../../src/lab/server.ts';
import { metallbOrder } from '../../src/speaker/election.ts';
import { until } from '../helpers/poll.ts';

export const SPEAKER_MAIN = fileURLToPath(new URL('../../src/speaker/main.ts', import.meta.url));
export const APP_NS = 'default';

/** Why the layer-2 end-to-end tests cannot run here, or undefined when they can. */
export async function l2SkipReason(): Promise<string | undefined> {
  const s = await networkSupport();
  if (!s.ok) return s.reason;
  for (const tool of ['arping', 'ndisc6', 'ping', 'tcpdump']) {
    const w = await run('sh', ['-c', `command -v ${tool}`]);
    if (w.code !== 0) return `${tool} is not installed (apt-get install iputils-arping ndisc6 iputils-ping tcpdump)`;
  }
  if (!existsSync(SPEAKER_MAIN)) return 'berth speaker (src/speaker/main.ts) does not exist yet';
  return undefined;
}

export interface EndpointSpec {
  node: string;
  ready: boolean;
}

export interface L2Lab {
  dir: string;
  stack: LabStack;
  /** The API server currently serving (replaced by apiOutage). */
  lab(): Lab;
  client: KubeClient;
  net: LabNetwork;
  clientNs: string;
  /** Node name → MAC of its eth0. */
  macs: ReadonlyMap<string, string>;
  /** MAC → node name (undefined for a MAC that is no lab node's). */
  nodeOf(mac: string): string | undefined;
  /** MetalLB's order of `nodes` (default: every lab node) for `ip` (all scores 0: no preferredNodeSelectors). */
  order(ip: string, nodes?: readonly string[]): string[];
  /** LoadBalancer Service `name` in `default` asking for `ips` (metallb.io/loadBalancerIPs), no selector. */
  createService(name: string, ips: readonly string[], o?: { etp?: 'Cluster' | 'Local' }): Promise<void>;
  /** The Service's EndpointSlice (one per family of its IPs), replacing the previous one. */
  setEndpoints(name: string, endpoints: readonly EndpointSpec[], family?: 'IPv4' | 'IPv6'): Promise<void>;
  /** Waits until the Service's status lists `ip`. */
  waitForIngress(name: string, ip: string, timeoutMs?: number): Promise<void>;
  /** Distinct MACs answering `arping -b` (broadcast every time, so every announcer can answer) for `ip`. */
  arping(ip: string, count?: number): Promise<string[]>;
  /** Distinct MACs in the Neighbor Advertisements `ndisc6 -m` receives for `ip`. */
  ndisc(ip: string): Promise<string[]>;
  /** One ping from the client (fills the client kernel's neighbour table; the answer itself does not matter). */
  ping(ip: string): Promise<void>;
  /** The client kernel's neighbour entry for `ip`. */
  neigh(ip: string): Promise<{ lladdr: string | undefined; state: string } | undefined>;
  /** Events of Service `name` (core/v1). */
  events(name: string): Promise<KubeObject[]>;
  /** Stops the API server, waits `downMs` (running `during` meanwhile), starts it again on the same port and store. */
  apiOutage(downMs: number, during?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

async function must<T>(what: string, r: Promise<{ ok: true; value: T } | { ok: false; error: { message: string } }>): Promise<T> {
  const v = await r;
  if (!v.ok) throw new Error(`${what}: ${v.error.message}`);
  return v.value;
}

export { until };

/**
 * For a test file of the layer-2 lab: l2SkipReason() (printed as `# skipping <what>: <reason>` when set), and the file's
 * before/after hooks starting the lab with startL2Lab(`o`) (unless skipped) and stopping it. `l2()` is the running lab
 * (throws when called before the `before` hook ran or when skipped).
 */
export async function l2LabForFile(
  what: string,
  o: Parameters<typeof startL2Lab>[0] = {},
): Promise<{ skip: string | undefined; l2(): L2Lab }> {
  const skip = await l2SkipReason();
  if (skip) process.stdout.write(`# skipping ${what}: ${skip}\n`);
  let l: L2Lab | undefined;
  before(async () => {
    if (skip) return;
    l = await startL2Lab(o);
  });
  after(async () => {
    await l?.stop();
  });
  return {
    skip,
    l2: () => {
      if (!l) throw new Error(`the layer-2 lab of ${what} is not running`);
      return l;
    },
  };
}

/** Starts the lab, the segment and the speakers (see the file comment). */
export async function startL2Lab(
  o: { nodes?: number; speakerArgs?: readonly string[]; log?: (l: string) => void } & Pick<LabNetworkOptions, 'speakerMode' | 'bundleFile'> = {},
): Promise<L2Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-l2-'));
  const stack = await startLabStack({ dir, webhook: false, devPools: false, persist: true, nodes: 0, serviceCIDRs: NETWORK_SERVICE_CIDRS, ...(o.log ? { log: o.log } : {}) });
  let current: Lab = stack.lab;
  let net: LabNetwork | undefined;
  const stop = async (): Promise<void> => {
    await net?.stop();
    await stack.stop();
    if (current !== stack.lab) await current.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    net = await startLabNetwork({
      labPort: stack.lab.port,
      kubeconfig: stack.lab.kubeconfigPath,
      client: stack.client,
      dir,
      nodes: o.nodes ?? 3,
      ...(o.speakerArgs ? { speakerArgs: o.speakerArgs } : {}),
      ...(o.speakerMode ? { speakerMode: o.speakerMode } : {}),
      ...(o.bundleFile ? { bundleFile: o.bundleFile } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const n = net;
  const client = stack.client;
  const clientNs = n.topology.client.ns;
  const macs = new Map(n.topology.nodes.map((h) => [h.name, h.mac]));
  const byMac = new Map(n.topology.nodes.map((h) => [h.mac, h.name]));
  const familyOf = (ip: string): 'IPv4' | 'IPv6' => (ip.includes(':') ? 'IPv6' : 'IPv4');

  return {
    dir,
    stack,
    lab: () => current,
    client,
    net: n,
    clientNs,
    macs,
    nodeOf: (mac) => byMac.get(mac),
    order: (ip, nodes = n.topology.nodes.map((h) => h.name)) => metallbOrder(ip, nodes.map((name) => ({ name, score: 0 }))),
    createService: async (name, ips, so = {}) => {
      const families = [...new Set(ips.map(familyOf))];
      const svc: KubeObject = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: APP_NS, annotations: { 'metallb.io/loadBalancerIPs': ips.join(',') } },
        spec: {
          type: 'LoadBalancer',
          ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
          externalTrafficPolicy: so.etp ?? 'Cluster',
          ipFamilies: families,
          ipFamilyPolicy: families.length > 1 ? 'RequireDualStack' : 'SingleStack',
        },
      };
      await must(`creating Service ${name}`, applyObject(client, svc));
    },
    setEndpoints: async (name, endpoints, family = 'IPv4') => {
      const addr = (node: string): string => {
        const h = n.node(node);
        return family === 'IPv4' ? h.ipv4 : h.ipv6;
      };
      const slice: KubeObject = {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-${family.toLowerCase()}`, namespace: APP_NS, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'e2e' } },
        addressType: family,
        endpoints: endpoints.map((e) => ({ addresses: [addr(e.node)], nodeName: e.node, conditions: { ready: e.ready, serving: e.ready, terminating: false } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      };
      await must(`writing EndpointSlice of ${name}`, applyObject(client, slice));
    },
    waitForIngress: async (name, ip, timeoutMs = 30_000) => {
      await until(
        `Service ${name} to get ${ip} in status`,
        async () => {
          const s = await client.get(Resources.services, name, APP_NS);
          if (!s.ok) return undefined;
          const ingress = ((s.value.status as { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip);
          return ingress.includes(ip) ? true : undefined;
        },
        timeoutMs,
      );
    },
    arping: async (ip, count = 2) => {
      const r = await inNamespace(clientNs, 'arping', ['-b', '-c', String(count), '-w', String(count + 1), '-I', 'eth0', ip], 20_000);
      return [...new Set([...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase()))].sort();
    },
    ndisc: async (ip) => {
      const r = await inNamespace(clientNs, 'ndisc6', ['-m', '-n', '-r', '2', '-w', '1000', ip, 'eth0'], 20_000);
      return [...new Set([...r.stdout.matchAll(/Target link-layer address: ([0-9A-Fa-f:]{17})/g)].map((m) => m[1]!.toLowerCase()))].sort();
    },
    ping: async (ip) => {
      await inNamespace(clientNs, 'ping', [...(ip.includes(':') ? ['-6'] : []), '-c', '1', '-W', '1', ip], 10_000);
    },
    neigh: (ip) => neighbour(clientNs, ip),
    events: async (name) => {
      const list = await must(`listing events of ${name}`, client.list(Resources.events, { namespace: APP_NS, fieldSelector: `involvedObject.name=${name}` }));
      return list.items;
    },
    apiOutage: async (downMs, during) => {
      const port = current.port;
      await current.stop();
      const t0 = Date.now();
      await during?.();
      const left = downMs - (Date.now() - t0);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      current = await startLab({ dir, port, persist: true, nodes: 0, serviceCIDRs: NETWORK_SERVICE_CIDRS });
    },
    stop,
  };
}
