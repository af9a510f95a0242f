// Shared set-up of the controller end-to-end tests: a lab (src/lab/testing.ts) with berth's CRDs, namespace
// metallb-system and the dev pool applied with the real kubectl, plus controller processes started on demand.
import type { IPAddressClaim } from '../../src/api/claim.ts';
import { repoObjects } from '../../src/cli/lab.ts';
import { startControllerProcess, type ControllerProcess } from '../../src/lab/processes.ts';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { connect, type Kube } from '../../src/kube/connect.ts';
import { Resources } from '../../src/kube/resources.ts';
import { startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { until } from '../helpers/poll.ts';

export const NS = 'metallb-system';
/** Short leader-election timings so failover happens within seconds. */
export const FAST_LEASE = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

export interface ControllerLab {
  t: TestLab;
  kube: Kube;
  client: KubeClient;
  controllers: ControllerProcess[];
  startController(id: string, extra?: string[]): Promise<ControllerProcess>;
  kubectl(args: string[], input?: string): Promise<string>;
  /** LoadBalancer IPs in status, by `namespace/name`, read with `kubectl get svc -A -o json`. */
  serviceIPs(): Promise<Map<string, string[]>>;
  claims(): Promise<IPAddressClaim[]>;
  stop(): Promise<void>;
}

export async function controllerLab(): Promise<ControllerLab | undefined> {
  const t = await startTestLab();
  if (!t.kubectlPath) {
    await t.stop();
    return undefined;
  }
  const conn = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'e2e' });
  if (!conn.ok) throw new Error(conn.message);
  const kube = conn.kube;
  const client = kube.client;
  const controllers: ControllerProcess[] = [];
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await t.kubectl(args, input !== undefined ? { input } : {});
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(controllers.map((c) => c.stop()));
    kube.close();
    await t.stop();
  };
  try {
    for (const crd of repoObjects('gitops/base/crds')) {
      const r = await applyObject(client, crd);
      if (!r.ok) throw new Error(`CRD ${crd.metadata?.name}: ${r.error.message}`);
    }
    await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n`);
    await kubectl(['apply', '-f', 'examples/dev/']);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    t,
    kube,
    client,
    controllers,
    kubectl,
    async startController(id, extra = []) {
      const c = await startControllerProcess([
        '--kubeconfig',
        t.lab.kubeconfigPath,
        '--namespace',
        NS,
        '--metrics-port',
        'auto',
        '--metrics-host',
        '127.0.0.1',
        '--replica-id',
        id,
        ...FAST_LEASE,
        ...extra,
      ]);
      controllers.push(c);
      return c;
    },
    async serviceIPs() {
      const list = JSON.parse(await kubectl(['get', 'svc', '-A', '-o', 'json'])) as {
        items: Array<{ metadata: { namespace: string; name: string }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>;
      };
      const out = new Map<string, string[]>();
      for (const s of list.items) {
        out.set(`${s.metadata.namespace}/${s.metadata.name}`, (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? ''));
      }
      return out;
    },
    async claims() {
      const r = await client.list<IPAddressClaim>(Resources.ipAddressClaims);
      if (!r.ok) throw new Error(r.error.message);
      return r.value.items;
    },
    stop,
  };
}

/** Polls `check` every 200 ms until it returns a value (not undefined), or fails with `what` and the last error. */
export function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  return until(what, check, timeoutMs);
}

/** `n` LoadBalancer Services in one multi-document YAML (one kubectl call creates them all). */
export function servicesYaml(namespace: string, prefix: string, n: number): string {
  return Array.from(
    { length: n },
    (_, i) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${prefix}-${i}\n  namespace: ${namespace}\nspec:\n  type: LoadBalancer\n  ports:\n  - port: 80\n`,
  ).join('---\n');
}
