// client-node's generated API clients, for code that prefers them (imported lazily: loading them costs ~30 MB of heap,
// which the controller avoids by using client.ts for its own calls).
import type * as K8s from '@kubernetes/client-node';

export interface TypedClients {
  kc: K8s.KubeConfig;
  core: K8s.CoreV1Api;
  custom: K8s.CustomObjectsApi;
  coordination: K8s.CoordinationV1Api;
  events: K8s.EventsV1Api;
  k8s: typeof K8s;
}

/** Same lookup order as connect(): explicit file, $KUBECONFIG, ~/.kube/config, in-cluster. */
export async function typedClients(opts: { kubeconfig?: string; context?: string } = {}): Promise<TypedClients> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    events: kc.makeApiClient(k8s.EventsV1Api),
    k8s,
  };
}
