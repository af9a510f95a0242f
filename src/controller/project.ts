// What the controller keeps of a Service in its cache: only the fields reconcile, the allocator and the writers read
// (config/service.ts ServiceLike), and of the annotations only MetalLB's and berth's. A Service as the API server
// returns it is ~1.5 kB of JSON (more with kubectl's last-applied copy); held 10,000 times that is most of the
// controller's memory, so everything else is dropped at the informer. Non-LoadBalancer Services keep just enough
// to be recognised (type, ClusterIPs) — they matter only when they stop or start being LoadBalancers.
// The objects are built with fixed literal shapes (absent fields are undefined, never conditionally spread): V8 then
// shares one hidden class among all of them, where conditional spreads cost a hidden class per object.
import { ANN_PREFIX, BerthAnnotations, DEPRECATED_PREFIX } from '../api/annotations.ts';
import type { ServiceLike } from '../config/service.ts';

const BERTH_PREFIX = BerthAnnotations.assignedIPs.slice(0, BerthAnnotations.assignedIPs.indexOf('/') + 1);

/** Shares one copy of a repeated string (see kube/intern.ts); identity by default. */
export type Intern = (s: string) => string;
const same: Intern = (s) => s;

function ours(annotations: Record<string, string> | undefined, intern: Intern): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  for (const k in annotations) {
    if (k.startsWith(ANN_PREFIX) || k.startsWith(DEPRECATED_PREFIX) || k.startsWith(BERTH_PREFIX)) {
      // Values such as pool names and sharing keys repeat; the assigned IPs do not.
      const v = annotations[k]!;
      (out ??= {})[k] = k === BerthAnnotations.assignedIPs ? v : intern(v);
    }
  }
  return out;
}

function str(v: string | undefined, intern: Intern): string | undefined {
  return v === undefined ? undefined : intern(v);
}

type Spec = NonNullable<ServiceLike['spec']>;
type Port = NonNullable<Spec['ports']>[number];

/** `intern` shares the low-cardinality strings (type, families, policies, protocols, namespace, pool names). */
export function projectService(svc: ServiceLike, intern: Intern = same): ServiceLike {
  const m = svc.metadata ?? {};
  const s = svc.spec ?? {};
  const lb = s.type === 'LoadBalancer';
  let ingress: Array<{ ip: string }> | undefined;
  for (const i of svc.status?.loadBalancer?.ingress ?? []) {
    if (i && typeof i.ip === 'string') (ingress ??= []).push({ ip: i.ip });
  }
  const spec: Spec = {
    type: str(s.type, intern),
    clusterIP: s.clusterIP,
    clusterIPs: s.clusterIPs,
    loadBalancerClass: str(s.loadBalancerClass, intern),
    loadBalancerIP: lb ? s.loadBalancerIP : undefined,
    ports: lb ? s.ports?.map((p): Port => ({ protocol: str(p.protocol, intern), port: p.port })) : undefined,
    externalTrafficPolicy: lb ? str(s.externalTrafficPolicy, intern) : undefined,
    // The selector is only read for the sharing backend key, which exists for externalTrafficPolicy Local only.
    selector: lb && s.externalTrafficPolicy === 'Local' ? s.selector : undefined,
    ipFamilies: lb ? s.ipFamilies?.map((f) => intern(f)) : undefined,
    ipFamilyPolicy: lb ? str(s.ipFamilyPolicy, intern) : undefined,
  };
  return {
    apiVersion: str(svc.apiVersion, intern),
    kind: str(svc.kind, intern),
    metadata: {
      name: m.name,
      namespace: str(m.namespace, intern),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: lb ? m.labels : undefined,
      annotations: ours(m.annotations, intern),
    },
    spec,
    status: ingress ? { loadBalancer: { ingress } } : undefined,
  };
}
