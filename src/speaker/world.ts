// Kubernetes objects → the views l2-plan.ts decides on (NodeView, ServiceView, EndpointView), and the object lists
// buildConfig reads. Pure: the speaker's main.ts feeds it its informers' caches. Every field of an input object is
// optional (input may be hostile or half-written); what cannot be read is skipped, never thrown.
// Sources: MetalLB internal/k8s/epslices/endpoint_slices.go (EndpointCanServe), internal/k8s/nodes/nodes.go
// (NetworkUnavailable, exclude-from-external-load-balancers), spec metallb-compat.md §2.2.
import { readAnnotation } from '../api/annotations.ts';
import { ingressIPs, isLoadBalancer, isOurClass, serviceKey, type ServiceLike } from '../config/service.ts';
import type { Config } from '../config/types.ts';
import { canonicalIp } from '../shared/ip.ts';
import { matchesAny } from '../shared/labels.ts';

/** The label that removes a node from announcing (unless --ignore-exclude-lb), spec §2.2. */
export const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
/** The label an EndpointSlice names its Service with. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Structurally l2-plan.ts's NodeView (interfaces.md). */
export interface NodeView {
  name: string;
  labels: Record<string, string>;
  networkUnavailable: boolean;
}

/** Structurally l2-plan.ts's ServiceView (interfaces.md). */
export interface ServiceView {
  key: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** status.loadBalancer.ingress[].ip, canonical, in order. */
  ips: string[];
  pool?: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  sharingKey?: string;
}

/** Structurally l2-plan.ts's EndpointView (interfaces.md). */
export interface EndpointView {
  nodeName?: string;
  ready: boolean;
  serving: boolean;
}

interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: { conditions?: Array<{ type?: string; status?: string }>; addresses?: Array<{ type?: string; address?: string }> };
}

interface EndpointSliceLike {
  metadata?: { namespace?: string; labels?: Record<string, string> };
  endpoints?: Array<{ nodeName?: string; conditions?: { ready?: boolean | null; serving?: boolean | null } }>;
}

const isRecord = (x: unknown): x is Record<string, string> => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A Node → NodeView; undefined without a name. `ignoreExcludeLb` (MetalLB's --ignore-exclude-lb) hides the
 * exclude-from-external-load-balancers label from the plan.
 */
export function nodeView(node: NodeLike, opts: { ignoreExcludeLb?: boolean } = {}): NodeView | undefined {
  const name = node.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const labels: Record<string, string> = isRecord(node.metadata?.labels) ? { ...node.metadata.labels } : {};
  if (opts.ignoreExcludeLb) delete labels[EXCLUDE_LB_LABEL];
  const conditions = Array.isArray(node.status?.conditions) ? node.status.conditions : [];
  const networkUnavailable = conditions.some((c) => c?.type === 'NetworkUnavailable' && c.status === 'True');
  return { name, labels, networkUnavailable };
}

/** The Node's InternalIP (first one, canonical), where the speakers' heartbeats go; undefined when it has none. */
export function nodeInternalIP(node: NodeLike): string | undefined {
  const addrs = Array.isArray(node.status?.addresses) ? node.status.addresses : [];
  for (const a of addrs) {
    if (a?.type === 'InternalIP' && typeof a.address === 'string') {
      const ip = canonicalIp(a.address);
      if (ip) return ip;
    }
  }
  return undefined;
}

/**
 * A Service → ServiceView when the speaker has something to decide about it: type LoadBalancer, of our
 * loadBalancerClass, with at least one ingress IP (canonical; unparsable entries dropped). Undefined otherwise
 * (MetalLB's withdraw reasons notLoadBalancer / noIPAllocated: nobody announces it).
 */
export function serviceView(svc: ServiceLike, opts: { lbClass?: string } = {}): ServiceView | undefined {
  const name = svc.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  if (!isLoadBalancer(svc) || !isOurClass(svc, opts.lbClass)) return undefined;
  const ips: string[] = [];
  for (const raw of ingressIPs(svc)) {
    const ip = canonicalIp(raw);
    if (ip && !ips.includes(ip)) ips.push(ip);
  }
  if (ips.length === 0) return undefined;
  const ann = isRecord(svc.metadata?.annotations) ? svc.metadata.annotations : undefined;
  const pool = readAnnotation(ann, 'ipAllocatedFromPool')?.value;
  const sharing = readAnnotation(ann, 'allowSharedIP');
  return {
    key: serviceKey(svc),
    namespace: svc.metadata?.namespace || 'default',
    name,
    labels: isRecord(svc.metadata?.labels) ? { ...svc.metadata.labels } : {},
    ips,
    ...(pool ? { pool } : {}),
    externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    ...(sharing !== undefined ? { sharingKey: sharing.value } : {}),
  };
}

/**
 * Whether BGP has anything to do on `node`: a BGPPeer of `config` whose nodeSelectors match the node's labels (none =
 * every node; MetalLB's peer selection, bgp-plan.ts). False when the node is not known (no NodeView): no session runs
 * then. The speaker loads its BGP code only once this is true (main.ts, issue 8).
 */
export function bgpWanted(config: Pick<Config, 'peers'>, node: Pick<NodeView, 'labels'> | undefined): boolean {
  if (!node) return false;
  return config.peers.some((p) => p.nodeSelectors.length === 0 || matchesAny(p.nodeSelectors, node.labels));
}

/**
 * EndpointSlices → endpoints per Service (`namespace/name` from the kubernetes.io/service-name label). An endpoint's
 * `ready` is conditions.ready with nil meaning true, `serving` is conditions.serving with nil meaning `ready`
 * (MetalLB EndpointCanServe: ready nil/true, or serving true — terminating-but-serving counts).
 */
export function endpointViews(slices: readonly EndpointSliceLike[]): Map<string, EndpointView[]> {
  const out = new Map<string, EndpointView[]>();
  for (const s of slices) {
    const svc = isRecord(s.metadata?.labels) ? s.metadata.labels[SERVICE_NAME_LABEL] : undefined;
    if (typeof svc !== 'string' || svc === '') continue;
    const key = `${s.metadata?.namespace || 'default'}/${svc}`;
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    for (const ep of Array.isArray(s.endpoints) ? s.endpoints : []) {
      if (!ep || typeof ep !== 'object') continue;
      const ready = ep.conditions?.ready ?? true;
      const serving = ep.conditions?.serving ?? ready;
      list.push({ ...(typeof ep.nodeName === 'string' && ep.nodeName ? { nodeName: ep.nodeName } : {}), ready, serving });
    }
  }
  return out;
}

/**
 * The memberlist Secret's key (`data.secretkey`, base64) as bytes; undefined when absent or empty. `stringData` is
 * read too (kube-apiserver folds it into `data` on write; the lab keeps it as written).
 */
export function memberlistKey(secret: { data?: Record<string, string>; stringData?: Record<string, string> } | undefined): Buffer | undefined {
  const b64 = secret?.data?.['secretkey'];
  if (typeof b64 === 'string' && b64 !== '') {
    const key = Buffer.from(b64, 'base64');
    return key.length > 0 ? key : undefined;
  }
  const text = secret?.stringData?.['secretkey'];
  return typeof text === 'string' && text !== '' ? Buffer.from(text, 'utf8') : undefined;
}

/** Interned strings (intern()); cleared when full, so hostile input cannot grow it without bound. */
const internTable = new Map<string, string>();
const INTERN_MAX = 4096;

/**
 * The one copy of `s` among the strings the speaker's caches hold (JSON.parse makes a new copy of every value: 10,000
 * Services held 10,000 copies of "LoadBalancer", of their namespace, …). For low-cardinality fields only (namespaces,
 * kinds, node names, label and annotation keys, pool names): at most 4,096 entries, the table starts over when full.
 * Non-strings are returned as they are.
 */
export function intern<T>(s: T): T {
  if (typeof s !== 'string') return s;
  const have = internTable.get(s);
  if (have !== undefined) return have as T;
  if (internTable.size >= INTERN_MAX) internTable.clear();
  internTable.set(s, s);
  return s;
}

/** A string record with interned keys and values (labels); undefined when `r` is not a record. */
function internRecord(r: unknown, keep: (k: string) => boolean = () => true): Record<string, string> | undefined {
  if (!isRecord(r)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (keep(k) && typeof v === 'string') out[intern(k)] = intern(v);
  return out;
}

const isMetalLBAnnotation = (k: string): boolean => k.startsWith('metallb.io/') || k.startsWith('metallb.universe.tf/');

/**
 * What the speaker keeps of a Service in its cache (its memory is mostly Services and EndpointSlices): identity,
 * labels, MetalLB's annotations, type/class/ETP, and the ingress IPs (`status.loadBalancer.ingress[].ip` only).
 * Everything serviceView reads, nothing more; low-cardinality strings interned.
 */
export function projectService<T extends ServiceLike>(svc: T): T {
  const m = svc.metadata ?? {};
  const ann = internRecord(m.annotations, isMetalLBAnnotation) ?? {};
  const labels = internRecord(m.labels);
  const spec = svc.spec ?? {};
  const ingress = svc.status?.loadBalancer?.ingress;
  return {
    apiVersion: intern(svc.apiVersion),
    kind: intern(svc.kind),
    metadata: {
      name: m.name,
      namespace: intern(m.namespace),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(labels ? { labels } : {}),
      ...(Object.keys(ann).length > 0 ? { annotations: ann } : {}),
    },
    spec: { type: intern(spec.type), loadBalancerClass: intern(spec.loadBalancerClass), externalTrafficPolicy: intern(spec.externalTrafficPolicy) },
    ...(svc.status?.loadBalancer
      ? {
          status: {
            loadBalancer: Array.isArray(ingress)
              ? { ingress: ingress.flatMap((i) => (i && typeof i.ip === 'string' ? [{ ip: i.ip }] : [])) }
              : {},
          },
        }
      : {}),
  } as T;
}

/** What the speaker keeps of an EndpointSlice: its Service label and, per endpoint, nodeName and conditions. */
export function projectEndpointSlice<T extends EndpointSliceLike & { apiVersion?: string; kind?: string; metadata?: { name?: string; resourceVersion?: string } }>(
  s: T,
): T {
  const svc = isRecord(s.metadata?.labels) ? s.metadata.labels[SERVICE_NAME_LABEL] : undefined;
  return {
    apiVersion: intern(s.apiVersion),
    kind: intern(s.kind),
    metadata: {
      name: s.metadata?.name,
      namespace: intern(s.metadata?.namespace),
      resourceVersion: s.metadata?.resourceVersion,
      ...(svc !== undefined ? { labels: { [SERVICE_NAME_LABEL]: svc } } : {}),
    },
    endpoints: (Array.isArray(s.endpoints) ? s.endpoints : []).map((e) => ({
      ...(e?.nodeName ? { nodeName: intern(e.nodeName) } : {}),
      conditions: { ready: e?.conditions?.ready ?? null, serving: e?.conditions?.serving ?? null },
    })),
  } as T;
}

/**
 * What the speaker keeps of its ServiceL2Status / ServiceBGPStatus objects (service-status.ts reads them): name,
 * namespace, resourceVersion, uid, labels (node and Service) and status, as they are; strings of the metadata interned.
 * Not the managedFields, ownerReferences, timestamps, generateName.
 */
export function projectStatusObject<T extends { apiVersion?: string; kind?: string; metadata?: Record<string, unknown> }>(o: T): T {
  const m = o.metadata ?? {};
  const labels = internRecord(m.labels);
  const status = (o as { status?: unknown }).status;
  return {
    apiVersion: intern(o.apiVersion),
    kind: intern(o.kind),
    metadata: {
      name: m.name,
      namespace: intern(m.namespace),
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(labels ? { labels } : {}),
    },
    ...(status !== undefined ? { status } : {}),
  } as unknown as T;
}

/** ServiceViews already computed, per cached (projected, never edited) Service object, per loadBalancerClass. */
const viewCache = new Map<string, WeakMap<object, ServiceView | null>>();

/**
 * serviceView of a cached Service object, computed once per object (the informer replaces an object on every change,
 * never edits it): each plan then reuses the same views and the same key and IP strings instead of making new ones
 * for every Service on every recompute (what the Speaker's and announcer's maps hold is shared, not copied).
 */
export function cachedServiceView(svc: ServiceLike & object, opts: { lbClass?: string } = {}): ServiceView | undefined {
  const cls = opts.lbClass ?? '';
  let cache = viewCache.get(cls);
  if (!cache) viewCache.set(cls, (cache = new WeakMap()));
  const have = cache.get(svc);
  if (have !== undefined) return have ?? undefined;
  const v = serviceView(svc, opts);
  cache.set(svc, v ?? null);
  return v;
}
