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

/**
 * Frozen arrays shared by every projected Service with the same content: port lists (`[{TCP, 80}]`) and IP families
 * (`['IPv4']`) repeat across nearly all Services, and 10,000 copies of each cost ~1.5 MB of heap (an array and its
 * elements per Service). Bounded: past `SHARED_MAX` distinct lists, new ones are built per Service as before.
 * Frozen so that nothing can change one Service's list through another's (every reader only reads them).
 */
const SHARED_MAX = 1000;
const sharedLists = new Map<string, readonly unknown[]>();
function sharedList<T>(key: string, make: () => T[]): T[] {
  const hit = sharedLists.get(key);
  if (hit) return hit as T[];
  const list = make();
  if (sharedLists.size >= SHARED_MAX) return list;
  for (const x of list) if (x !== null && typeof x === 'object') Object.freeze(x);
  sharedLists.set(key, Object.freeze(list));
  return list;
}

function projectPorts(ports: readonly Port[] | undefined, intern: Intern): Port[] | undefined {
  if (!Array.isArray(ports)) return undefined;
  const key = `p|${JSON.stringify(ports.map((p) => [p?.protocol, p?.port]))}`;
  return sharedList(key, () => ports.map((p): Port => ({ protocol: str(p?.protocol, intern), port: p?.port })));
}

function projectFamilies(families: readonly string[] | undefined, intern: Intern): string[] | undefined {
  if (!Array.isArray(families)) return undefined;
  return sharedList(`f|${JSON.stringify(families)}`, () => families.map((f) => intern(f)));
}

/** `a` when equal to `b`'s value, else `b`: keeps one string across versions of an object. */
function keep(a: string | undefined, b: string | undefined): string | undefined {
  return a !== undefined && a === b ? a : b;
}

/**
 * `intern` shares the low-cardinality strings (type, families, policies, protocols, namespace, pool names). `old`, the
 * cached version of the same Service, lends its strings where they are equal (name, uid, ClusterIPs, assigned IPs):
 * the claims' cache shares them with the Service it finds (kube/claim-cache.ts compactClaim), and a new version that
 * brought its own copies would leave the claims holding the old ones beside them (issue 12, controller memory).
 */
export function projectService(svc: ServiceLike, intern: Intern = same, old?: ServiceLike): ServiceLike {
  const m = svc.metadata ?? {};
  const s = svc.spec ?? {};
  const om = old?.metadata;
  const os = old?.spec;
  const lb = s.type === 'LoadBalancer';
  // Built by map (an array of exactly its length): grown by push, a one-element array kept room for 17.
  const withIp = (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i && typeof i.ip === 'string');
  const annotations = ours(m.annotations, intern);
  // The status repeats the IPs of berth.io/assigned-ips: one string for both (JSON.parse made two copies).
  let assigned = annotations?.[BerthAnnotations.assignedIPs];
  if (annotations && assigned !== undefined) {
    const was = om?.annotations?.[BerthAnnotations.assignedIPs];
    if (was === assigned) annotations[BerthAnnotations.assignedIPs] = assigned = was;
  }
  const ips = withIp.length === 0 ? undefined : withIp.length === 1 ? same1(withIp[0]!.ip!, assigned) : Object.freeze(withIp.map((i) => same1(i.ip!, assigned)));
  // The usual single-stack `clusterIPs: [clusterIP]` shares the clusterIP string (JSON.parse made two copies), and
  // the previous version's when unchanged.
  const clusterIP = keep(os?.clusterIP, s.clusterIP);
  const cips = s.clusterIPs;
  const single = Array.isArray(cips) && cips.length === 1 && cips[0] === clusterIP && clusterIP !== undefined;
  const clusterIPs = single ? (os?.clusterIPs?.length === 1 && os.clusterIPs[0] === clusterIP ? os.clusterIPs : [clusterIP]) : cips;
  const spec: Spec = {
    type: str(s.type, intern),
    clusterIP,
    clusterIPs,
    loadBalancerClass: str(s.loadBalancerClass, intern),
    loadBalancerIP: lb ? s.loadBalancerIP : undefined,
    ports: lb ? projectPorts(s.ports, intern) : undefined,
    externalTrafficPolicy: lb ? str(s.externalTrafficPolicy, intern) : undefined,
    // The selector is only read for the sharing backend key, which exists for externalTrafficPolicy Local only.
    selector: lb && s.externalTrafficPolicy === 'Local' ? s.selector : undefined,
    ipFamilies: lb ? projectFamilies(s.ipFamilies, intern) : undefined,
    ipFamilyPolicy: lb ? str(s.ipFamilyPolicy, intern) : undefined,
  };
  return new ProjectedService(
    str(svc.apiVersion, intern),
    str(svc.kind, intern),
    {
      name: keep(om?.name, m.name),
      namespace: str(m.namespace, intern),
      uid: keep(om?.uid, m.uid),
      resourceVersion: m.resourceVersion,
      labels: lb ? m.labels : undefined,
      annotations,
    },
    spec,
    ips,
  );
}

/** `ip`, or `assigned` when it is the same text (one string for the annotation and the status). */
function same1(ip: string, assigned: string | undefined): string {
  return ip === assigned ? assigned : ip;
}

type Status = NonNullable<ServiceLike['status']>;

/**
 * A projected Service. Its `status` (`{loadBalancer: {ingress: [{ip}]}}`, the only part of the status berth reads) is
 * built when read from the ingress IPs it keeps: the nested objects cost ~136 bytes per Service (1.4 MB at 10,000;
 * issue 12, controller memory). Every reader only reads it (status.loadBalancer.ingress); JSON includes it (toJSON).
 */
class ProjectedService implements ServiceLike {
  apiVersion: string | undefined;
  kind: string | undefined;
  metadata: NonNullable<ServiceLike['metadata']>;
  spec: Spec;
  /** status.loadBalancer.ingress[].ip: the one IP, a frozen list of several, or none. */
  readonly #ips: string | readonly string[] | undefined;

  constructor(apiVersion: string | undefined, kind: string | undefined, metadata: NonNullable<ServiceLike['metadata']>, spec: Spec, ips: string | readonly string[] | undefined) {
    this.apiVersion = apiVersion;
    this.kind = kind;
    this.metadata = metadata;
    this.spec = spec;
    this.#ips = ips;
  }

  /** A new object at each read: `{loadBalancer: {ingress: [{ip}, ...]}}`, undefined when the Service has no ingress IP. */
  get status(): Status | undefined {
    const ips = this.#ips;
    if (ips === undefined) return undefined;
    return { loadBalancer: { ingress: typeof ips === 'string' ? [{ ip: ips }] : ips.map((ip) => ({ ip })) } };
  }

  toJSON(): ServiceLike {
    return { apiVersion: this.apiVersion, kind: this.kind, metadata: this.metadata, spec: this.spec, status: this.status };
  }
}
