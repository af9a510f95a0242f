// Shared set-up of the correctness end-to-end tests (issues 7 and 12): a lab (src/lab/testing.ts) with berth's CRDs,
// the webhook configurations of policies/webhooks, N webhook processes (each behind its own EndpointSlice of
// berth-webhook-service, so a test can choose which replica answers) and, on demand, a controller process with
// /metrics. Everything is driven with the real kubectl. Pools use the documentation ranges (RFC 5737, RFC 3849).
// Only APIs that exist at 17cd0f0 are used, so the tests can be run against that commit to show they fail there.
import { repoObjects } from '../../src/cli/lab.ts';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeClient, KubeObject } from '../../src/kube/client.ts';
import { connect, type Kube } from '../../src/kube/connect.ts';
import { startControllerProcess, startWebhookProcess, type ControllerProcess, type WebhookProcess } from '../../src/lab/processes.ts';
import { startTestLab, type KubectlResult, type TestLab } from '../../src/lab/testing.ts';

export const NS = 'metallb-system';
export const APP_NS = 'shop';
const WEBHOOK_SERVICE = 'berth-webhook-service';

/** The parts of a Service the tests read. */
export interface Svc {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { externalTrafficPolicy?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

/** The parts of an IPAddressClaim the tests read. */
export interface Claim {
  metadata: { name: string; resourceVersion: string; creationTimestamp?: string };
  spec: { ip: string; pool: string; holders: Array<{ namespace: string; name: string; uid?: string }> };
}

export interface KubeEvent {
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  series?: { count?: number };
  involvedObject?: { name?: string; namespace?: string; uid?: string };
  regarding?: { name?: string; namespace?: string; uid?: string };
  note?: string;
}

export interface Stack {
  t: TestLab;
  kube: Kube;
  client: KubeClient;
  webhooks: WebhookProcess[];
  controller: ControllerProcess | undefined;
  /** Runs kubectl; never throws (the result carries the exit code). */
  run(args: string[], input?: string): Promise<KubectlResult>;
  /** Runs kubectl and throws with its stderr when it fails; returns stdout. */
  ok(args: string[], input?: string): Promise<string>;
  startController(id?: string, extra?: string[]): Promise<ControllerProcess>;
  /** Makes only webhook replica `i` ready in the EndpointSlices (every call of the lab then goes to it). */
  routeTo(i: number): Promise<void>;
  /** Makes every webhook replica ready. */
  routeToAll(): Promise<void>;
  /** Makes no webhook replica ready: the webhook is "down" (failurePolicy Ignore lets Services through). */
  routeToNone(): Promise<void>;
  svc(name: string, namespace?: string): Promise<Svc | undefined>;
  ips(name: string, namespace?: string): Promise<string[]>;
  claims(): Promise<Claim[]>;
  events(namespace?: string): Promise<KubeEvent[]>;
  /** Value of a metric sample (no labels) on the controller's /metrics, or undefined if absent. */
  controllerMetric(name: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Webhook processes to start (default 1; 0 = no webhook, configurations not applied). */
  webhooks?: number;
  /** YAML applied with kubectl once the webhooks are ready (pools, advertisements). */
  config?: string;
  /** Start a controller once the configuration is applied (default true). */
  controller?: boolean;
  controllerArgs?: string[];
}

/** Short leader-election timings (one replica leads within a second). */
const FAST_LEASE = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

/** The EndpointSlice routing berth-webhook-service to replica `i` (its own slice, so readiness is per replica). */
const slice = (i: number, port: number, ready: boolean): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${WEBHOOK_SERVICE}-r${i}`, namespace: NS, labels: { 'kubernetes.io/service-name': WEBHOOK_SERVICE } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready, serving: ready } }],
  ports: [{ name: 'https', port, protocol: 'TCP' }],
});

/** An IPAddressPool manifest. */
export function poolYaml(name: string, addresses: string[], opts: { autoAssign?: boolean; annotations?: Record<string, string> } = {}): string {
  const ann = opts.annotations ? `  annotations:\n${Object.entries(opts.annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : '';
  return `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: ${name}
  namespace: ${NS}
${ann}spec:
  addresses: [${addresses.map((a) => `"${a}"`).join(', ')}]
${opts.autoAssign === false ? '  autoAssign: false\n' : ''}`;
}

/** A LoadBalancer Service manifest in APP_NS. */
export function serviceYaml(
  name: string,
  opts: { annotations?: Record<string, string>; labels?: Record<string, string>; port?: number; etp?: 'Cluster' | 'Local'; extraSpec?: string; generateName?: boolean } = {},
): string {
  const ann = opts.annotations && Object.keys(opts.annotations).length > 0
    ? `  annotations:\n${Object.entries(opts.annotations).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n`
    : '';
  const labels = opts.labels ? `  labels:\n${Object.entries(opts.labels).map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : '';
  return `apiVersion: v1
kind: Service
metadata:
  ${opts.generateName ? 'generateName' : 'name'}: ${name}
  namespace: ${APP_NS}
${ann}${labels}spec:
  type: LoadBalancer
  selector: {app: ${name}}
${opts.etp ? `  externalTrafficPolicy: ${opts.etp}\n` : ''}${opts.extraSpec ?? ''}  ports:
  - port: ${opts.port ?? 80}
    targetPort: 8080
`;
}

/** Starts the lab, CRDs, namespaces, webhook replicas and (by default) the controller. Undefined when no kubectl. */
export async function startStack(opts: StackOptions = {}): Promise<Stack | undefined> {
  const t = await startTestLab();
  if (!t.kubectlPath) {
    await t.stop();
    return undefined;
  }
  const conn = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'e2e' });
  if (!conn.ok) {
    await t.stop();
    throw new Error(conn.message);
  }
  const kube = conn.kube;
  const client = kube.client;
  const webhooks: WebhookProcess[] = [];
  let controller: ControllerProcess | undefined;
  const run = (args: string[], input?: string): Promise<KubectlResult> => t.kubectl(args, input !== undefined ? { input } : {});
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await run(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    await Promise.all([controller?.stop(), ...webhooks.map((w) => w.stop())]);
    kube.close();
    await t.stop();
  };
  // Through the API (not kubectl): routing is test plumbing, done before each request of a round.
  const route = async (ready: (i: number) => boolean): Promise<void> => {
    for (const [i, w] of webhooks.entries()) {
      const r = await applyObject(client, slice(i, w.port, ready(i)));
      if (!r.ok) throw new Error(`routing the webhook Service to replica ${i}: ${r.error.message}`);
    }
  };
  const startController = async (id = 'ctl-0', extra: string[] = []): Promise<ControllerProcess> => {
    const c = await startControllerProcess([
      '--kubeconfig', t.lab.kubeconfigPath,
      '--namespace', NS,
      '--metrics-port', 'auto',
      '--metrics-host', '127.0.0.1',
      '--replica-id', id,
      ...FAST_LEASE,
      ...extra,
    ]);
    controller = c;
    return c;
  };
  try {
    for (const crd of repoObjects('gitops/base/crds')) {
      const r = await applyObject(client, crd);
      if (!r.ok) throw new Error(`CRD ${crd.metadata?.name}: ${r.error.message}`);
    }
    await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ${APP_NS}}\n`);
    const n = opts.webhooks ?? 1;
    if (n > 0) {
      await ok(
        ['apply', '-f', '-'],
        `apiVersion: v1\nkind: Service\nmetadata: {name: ${WEBHOOK_SERVICE}, namespace: ${NS}}\nspec:\n  ports: [{name: https, port: 443, targetPort: 9443}]\n`,
      );
      for (const o of repoObjects('policies/webhooks')) {
        const r = await applyObject(client, o);
        if (!r.ok) throw new Error(`${o.kind} ${o.metadata?.name}: ${r.error.message}`);
      }
      for (let i = 0; i < n; i++) webhooks.push(await startWebhookProcess(['--kubeconfig', t.lab.kubeconfigPath, '--namespace', NS], { waitReady: false }));
      await route(() => true);
      for (const w of webhooks) await w.waitFor(/webhook: ready /, 30_000);
    }
    if (opts.config) await ok(['apply', '-f', '-'], opts.config);
    if (opts.controller !== false) await startController('ctl-0', opts.controllerArgs ?? []);
  } catch (e) {
    await stop();
    throw e;
  }
  const svc = async (name: string, namespace = APP_NS): Promise<Svc | undefined> => {
    const r = await run(['get', 'svc', name, '-n', namespace, '-o', 'json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as Svc) : undefined;
  };
  return {
    t,
    kube,
    client,
    webhooks,
    get controller() {
      return controller;
    },
    run,
    ok,
    startController,
    routeTo: (i) => route((j) => j === i),
    routeToAll: () => route(() => true),
    routeToNone: () => route(() => false),
    svc,
    async ips(name, namespace = APP_NS) {
      const s = await svc(name, namespace);
      return (s?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
    },
    async claims() {
      return (JSON.parse(await ok(['get', 'ipaddressclaims.berth.io', '-o', 'json'])) as { items: Claim[] }).items;
    },
    async events(namespace = APP_NS) {
      return (JSON.parse(await ok(['get', 'events', '-n', namespace, '-o', 'json'])) as { items: KubeEvent[] }).items;
    },
    async controllerMetric(name) {
      const port = controller?.metricsPort;
      if (!port) throw new Error('the controller serves no /metrics');
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    },
    stop,
  };
}

/** Polls `check` until it returns a value (not undefined), or fails naming `what` (the e2e tests' one poller). */
export { eventually } from './controller-harness.ts';

/** Resolves after `ms` (observation windows only: never used as an assertion). */
export const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lines of `text` matching `re`. */
export const linesMatching = (text: string, re: RegExp): string[] => text.split('\n').filter((l) => re.test(l));
