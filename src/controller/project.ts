// What the controller keeps of a Service in its cache: only the fields reconcile, the allocator and the writers read
// (config/service.ts ServiceLike), and of the annotations only MetalLB's and berth's. A Service as the API server
// returns it is ~1.5 kB of JSON (more with kubectl's last-applied copy); held 10,000 times that is most of the
// controller's memory, so everything else is dropped at the informer. Non-LoadBalancer Services keep just enough
// to be recognised (type, ClusterIPs) — they matter only when they stop or start being LoadBalancers.
import { ANN_PREFIX, BerthAnnotations, DEPRECATED_PREFIX } from '../api/annotations.ts';
import type { ServiceLike } from '../config/service.ts';

const BERTH_PREFIX = BerthAnnotations.assignedIPs.slice(0, BerthAnnotations.assignedIPs.indexOf('/') + 1);

function ours(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  for (const k in annotations) {
    if (k.startsWith(ANN_PREFIX) || k.startsWith(DEPRECATED_PREFIX) || k.startsWith(BERTH_PREFIX)) {
      (out ??= {})[k] = annotations[k]!;
    }
  }
  return out;
}

export function projectService(svc: ServiceLike): ServiceLike {
  const m = svc.metadata ?? {};
  const s = svc.spec ?? {};
  const lb = s.type === 'LoadBalancer';
  const annotations = ours(m.annotations);
  const ingress = svc.status?.loadBalancer?.ingress?.filter((i) => i && typeof i.ip === 'string').map((i) => ({ ip: i.ip! }));
  const spec: NonNullable<ServiceLike['spec']> = { ...(s.type !== undefined ? { type: s.type } : {}) };
  if (s.clusterIP !== undefined) spec.clusterIP = s.clusterIP;
  if (s.clusterIPs !== undefined) spec.clusterIPs = s.clusterIPs;
  if (lb) {
    if (s.loadBalancerIP !== undefined) spec.loadBalancerIP = s.loadBalancerIP;
    if (s.loadBalancerClass !== undefined) spec.loadBalancerClass = s.loadBalancerClass;
    if (s.ports !== undefined) spec.ports = s.ports.map((p) => ({ ...(p.protocol ? { protocol: p.protocol } : {}), ...(p.port !== undefined ? { port: p.port } : {}) }));
    if (s.externalTrafficPolicy !== undefined) spec.externalTrafficPolicy = s.externalTrafficPolicy;
    // The selector is only read for the sharing backend key, which exists for externalTrafficPolicy Local only.
    if (s.externalTrafficPolicy === 'Local' && s.selector !== undefined) spec.selector = s.selector;
    if (s.ipFamilies !== undefined) spec.ipFamilies = s.ipFamilies;
    if (s.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = s.ipFamilyPolicy;
  } else if (s.loadBalancerClass !== undefined) {
    spec.loadBalancerClass = s.loadBalancerClass;
  }
  return {
    ...(svc.apiVersion !== undefined ? { apiVersion: svc.apiVersion } : {}),
    ...(svc.kind !== undefined ? { kind: svc.kind } : {}),
    metadata: {
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
      ...(lb && m.labels !== undefined ? { labels: m.labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
    spec,
    ...(ingress && ingress.length > 0 ? { status: { loadBalancer: { ingress } } } : {}),
  };
}
