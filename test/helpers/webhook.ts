// The webhook's Service as the lab API server needs it to call a webhook process started by a test: kube-apiserver
// resolves a webhook configuration's clientConfig.service through the Service's EndpointSlices, so the slice points
// at 127.0.0.1 and the process's port (the Service's own port 443 / targetPort 9443 are the manifests').
import assert from 'node:assert/strict';
import { startWebhookProcess, type WebhookProcess } from '../../src/lab/processes.ts';
import { startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { repoPath } from '../../src/webhook/testing-process.ts';

/**
 * YAML of Service `berth-webhook-service` in `namespace` and EndpointSlice `berth-webhook-service-1` with one ready
 * endpoint 127.0.0.1:`port` (port name https, TCP): apply it with `kubectl apply -f -`.
 */
export function webhookServiceYaml(namespace: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: berth-webhook-service, namespace: ${namespace}}
spec:
  ports: [{name: https, port: 443, targetPort: 9443}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: berth-webhook-service-1
  namespace: ${namespace}
  labels: {kubernetes.io/service-name: berth-webhook-service}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: https, port: ${port}, protocol: TCP}]
`;
}

/** Runs kubectl with `args` (stdin `input` when given) and returns its stdout; throws when it fails. */
export type KubectlOk = (args: string[], input?: string) => Promise<string>;

/**
 * Applies the CRDs (gitops/base/crds) and creates the namespaces `namespace` and `shop`, with `ok` (kubectl against the lab).
 */
export async function applyCrdsAndNamespaces(ok: KubectlOk, namespace: string): Promise<void> {
  await ok(['apply', '-k', repoPath('gitops/base/crds')]);
  await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${namespace}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n`);
}

/**
 * Starts the webhook process (src/webhook/main.ts) against the lab API server of `kubeconfigPath` and wires it as
 * kube-apiserver calls it: its Service and EndpointSlice (webhookServiceYaml) in `namespace`, then the webhook
 * configurations (policies/webhooks, applied after the process started, so its caBundle watch sees them appear).
 * Resolves once the process printed `webhook: ready` (within `readyTimeoutMs`); on any failure stops the process and
 * rejects.
 */
export async function startWiredWebhook(ok: KubectlOk, kubeconfigPath: string, namespace: string, readyTimeoutMs = 30_000): Promise<WebhookProcess> {
  const hook = await startWebhookProcess(['--kubeconfig', kubeconfigPath], { waitReady: false });
  try {
    await ok(['apply', '-f', '-'], webhookServiceYaml(namespace, hook.port));
    await ok(['apply', '-k', repoPath('policies/webhooks')]);
    await hook.waitFor(/webhook: ready /, readyTimeoutMs);
    return hook;
  } catch (e) {
    await hook.stop();
    throw e;
  }
}

/** kubectl against the lab `lab()` that must succeed: asserts exit code 0 (message: the command and its stderr). */
export function kubectlOk(lab: () => TestLab): KubectlOk {
  return async (args, input) => {
    const r = await lab().kubectl(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
}

/** A started webhook lab: the lab, and the webhook process unless `skip` says why not (no kubectl). */
export interface WebhookLab {
  t: TestLab;
  hook?: WebhookProcess;
  skip?: string;
}

/**
 * Starts the lab (startTestLab); with kubectl found, applies the CRDs and namespaces (applyCrdsAndNamespaces), the
 * IPAddressPool (`pool`: YAML, or a repository path for `kubectl apply -f`) and the wired webhook process
 * (startWiredWebhook, ready within `readyTimeoutMs`). On a failure after the lab started the lab is stopped.
 */
export async function startWebhookLab(namespace: string, o: { pool: { yaml: string } | { path: string }; readyTimeoutMs: number }): Promise<WebhookLab> {
  const t = await startTestLab();
  if (!t.kubectlPath) return { t, skip: 'kubectl not found (scripts/fetch-kubectl.sh installs one)' };
  try {
    const ok = kubectlOk(() => t);
    await applyCrdsAndNamespaces(ok, namespace);
    await ('yaml' in o.pool ? ok(['apply', '-f', '-'], o.pool.yaml) : ok(['apply', '-f', repoPath(o.pool.path)]));
    return { t, hook: await startWiredWebhook(ok, t.lab.kubeconfigPath, namespace, o.readyTimeoutMs) };
  } catch (e) {
    await t.stop();
    throw e;
  }
}
