// The webhook's Service as the lab API server needs it to call a webhook process started by a test: kube-apiserver
// resolves a webhook configuration's clientConfig.service through the Service's EndpointSlices, so the slice points
// at 127.0.0.1 and the process's port (the Service's own port 443 / targetPort 9443 are the manifests').
import { startWebhookProcess, type WebhookProcess } from '../../src/lab/processes.ts';
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
