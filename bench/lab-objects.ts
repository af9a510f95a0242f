// Helpers the benches that fill the lab API server share (bench/speaker-rss.ts, bench/bgp-speaker.ts), and the
// router/node network namespaces of the BGP benches (bench/bgp.ts, bench/bgp-speaker.ts).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../image/bundle.ts';
import type { KubeClient, KubeObject } from '../src/kube/client.ts';
import { connect } from '../src/kube/connect.ts';
import { Resources } from '../src/kube/resources.ts';
import type { NodeProcess } from '../src/lab/processes.ts';
import type { TestLab } from '../src/lab/testing.ts';

/** Awaits a KubeClient result; throws `<what>: <message>` unless it succeeded or the object already exists. */
export async function must<T>(
  what: string,
  p: Promise<{ ok: true; value: T } | { ok: false; error: { kind: string; message: string } }>,
): Promise<void> {
  const r = await p;
  if (!r.ok && r.error.kind !== 'AlreadyExists') throw new Error(`${what}: ${r.error.message}`);
}

/** Runs kubectl against the lab (120 s limit, `input` on stdin); returns stdout, throws with stderr on a non-zero exit. */
export async function kubectl(t: TestLab, args: string[], input?: string): Promise<string> {
  const r = await t.kubectl(args, input !== undefined ? { input, timeoutMs: 120_000 } : { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Applies the metallb.io CRDs of gitops/base/crds to the lab. */
export async function applyMetallbCrds(t: TestLab): Promise<void> {
  const crds = readdirSync(join(REPO, 'gitops/base/crds')).filter((f) => /\.io\.yaml$/.test(f));
  await kubectl(t, ['apply', ...crds.flatMap((f) => ['-f', join(REPO, 'gitops/base/crds', f)])]);
}

/** One bench Service: its IP (written to status), family, the pool named in its annotation, the node of its endpoint. */
export interface BenchService {
  ip: string;
  family: 'IPv4' | 'IPv6';
  pool: string;
  nodeName: string;
}

/**
 * Creates Service `svc-<i>` in `namespace` (LoadBalancer, port 80 → 8080, its IP in status as the controller writes
 * it) and EndpointSlice `svc-<i>-1` with one ready endpoint (192.0.2.x or 2001:db8:53::x) on `s.nodeName`. The Service
 * has no selector: a real cluster's Service has one EndpointSlice holding its Pods' endpoints, and with a selector (and
 * no Pods) the lab's EndpointSlice controller added an empty second slice to every bench Service (20,000 slices in
 * the speaker's cache at 10,000 Services, about 2.5 MiB more than a real cluster of that size).
 */
export async function createBenchService(client: KubeClient, namespace: string, i: number, s: BenchService): Promise<void> {
  const name = `svc-${i}`;
  const { ip, family } = s;
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, annotations: { 'metallb.io/ip-allocated-from-pool': s.pool } },
    spec: {
      type: 'LoadBalancer',
      allocateLoadBalancerNodePorts: false,
      ipFamilies: [family],
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  };
  await must(`create Service ${name}`, client.create(Resources.services, svc, { namespace }));
  await must(
    `status of Service ${name}`,
    client.patch(Resources.services, name, { status: { loadBalancer: { ingress: [{ ip }] } } }, { namespace, subresource: 'status' }),
  );
  const slice: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace, labels: { 'kubernetes.io/service-name': name } },
    addressType: family,
    endpoints: [
      {
        addresses: [family === 'IPv4' ? `192.0.2.${(i % 250) + 1}` : `2001:db8:53::${(i + 1).toString(16)}`],
        nodeName: s.nodeName,
        conditions: { ready: true },
      },
    ],
    ports: [{ name: '', port: 8080, protocol: 'TCP' }],
  };
  await must(`create EndpointSlice ${name}-1`, client.create(Resources.endpointSlices, slice, { namespace }));
}

/** Runs `create(client, i)` for i in 0..count-1, 8 at a time, with a client of the lab; resolves with the seconds taken. */
export async function createInParallel(
  t: TestLab,
  count: number,
  create: (client: KubeClient, i: number) => Promise<void>,
): Promise<number> {
  const c = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'berth-bench' });
  if (!c.ok) throw new Error(c.message);
  const began = performance.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < count; i = next++) await create(c.kube.client, i);
      }),
    );
  } finally {
    c.kube.close();
  }
  return (performance.now() - began) / 1000;
}

/**
 * A module to preload into a speaker (`--import`): V8's heap figures on stderr every 2 s, in MiB:
 * `bench-heap used=… total=…` and, with `external`, ` external=…`.
 */
export function heapReporter(external: boolean): string {
  const ext = external ? ' external=${m(h.external_memory)}' : '';
  return (
    'data:text/javascript,' +
    encodeURIComponent(
      "import v8 from 'node:v8'; const m = (x) => (x / 1048576).toFixed(1); setInterval(() => { const h = v8.getHeapStatistics(); " +
        `process.stderr.write(\`bench-heap used=\${m(h.used_heap_size)} total=\${m(h.total_heap_size)}${ext}\\n\`); }, 2000).unref();`,
    )
  );
}

/** The last heap line of `p` (heapReporter's) as `V8 heap U/T MiB used/total[, external E MiB]`, or `V8 heap n/a`. */
export function lastHeap(p: NodeProcess, external: boolean): string {
  const m = [...p.output().matchAll(/bench-heap used=([\d.]+) total=([\d.]+)(?: external=([\d.]+))?/g)].at(-1);
  if (!m) return 'V8 heap n/a';
  return `V8 heap ${m[1]}/${m[2]} MiB used/total` + (external ? `, external ${m[3] ?? 'n/a'} MiB` : '');
}

/**
 * Creates network namespaces `router` and `node` joined by veth `<id>a` (in router) / `<id>b` (in node), with
 * `routerAddrs` / `nodeAddrs` as IPv4 /24s and 2001:db8:77::1/64 / ::2/64 (nodad), links and lo up. Needs root;
 * throws the failing `ip` command's error (the caller deletes the namespaces).
 */
export function routerNodeNetns(id: string, router: string, node: string, routerAddrs: readonly string[], nodeAddrs: readonly string[]): void {
  const sh = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: 'pipe' });
  sh(['netns', 'add', router]);
  sh(['netns', 'add', node]);
  sh(['link', 'add', `${id}a`, 'type', 'veth', 'peer', 'name', `${id}b`]);
  sh(['link', 'set', `${id}a`, 'netns', router]);
  sh(['link', 'set', `${id}b`, 'netns', node]);
  for (const [ns, ifn, a4s, a6] of [
    [router, `${id}a`, routerAddrs, '2001:db8:77::1/64'],
    [node, `${id}b`, nodeAddrs, '2001:db8:77::2/64'],
  ] as const) {
    for (const a of a4s) sh(['-n', ns, 'addr', 'add', `${a}/24`, 'dev', ifn]);
    sh(['-n', ns, 'addr', 'add', a6, 'dev', ifn, 'nodad']);
    sh(['-n', ns, 'link', 'set', ifn, 'up']);
    sh(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
}

/** YAML of v1 Namespaces `names`, one document each, joined by `---` (ends with a newline): for `kubectl apply -f -`. */
export function namespacesYaml(...names: string[]): string {
  return names.map((n) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${n}}\n`).join('---\n');
}

/**
 * BIRD 2 configuration of the BGP benches' router: router id 198.51.100.1 and one passive eBGP protocol `r<i+1>` per
 * address (local routerAddrs[i] AS 64501, neighbor nodeAddrs[i] AS 64500), importing IPv4 and IPv6 unicast, exporting none.
 */
export function birdRouterConf(routerAddrs: readonly string[], nodeAddrs: readonly string[]): string {
  const protocols = routerAddrs
    .map(
      (local, i) => `protocol bgp r${i + 1} {
  local ${local} as 64501;
  neighbor ${nodeAddrs[i]} as 64500;
  passive on;
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}`,
    )
    .join('\n');
  return `router id 198.51.100.1;\nprotocol device { }\n${protocols}\n`;
}
