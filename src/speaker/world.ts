// Kubernetes objects → the views l2-plan.ts decides on (NodeView, ServiceView, EndpointView), and the object lists
// buildConfig reads. Pure: the speaker's main.ts feeds it its informers' caches. Every field of an input object is
// optional (input may be hostile or half-written); what cannot be read is skipped, never thrown.
// Sources: MetalLB internal/k8s/epslices/endpoint_slices.go (EndpointCanServe), internal/k8s/nodes/nodes.go
// (NetworkUnavailable, exclude-from-external-load-balancers), spec metallb-compat.md §2.2.
import { readAnnotation } from '../api/annotations.ts';
import { ingressIPs, isLoadBalancer, isOurClass, type ServiceLike } from '../config/service.ts';
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
  const ips = canonicalIps(ingressIPs(svc));
  if (ips.length === 0) return undefined;
  const ann = isRecord(svc.metadata?.annotations) ? svc.metadata.annotations : undefined;
  const pool = readAnnotation(ann, 'ipAllocatedFromPool')?.value;
  const sharing = readAnnotation(ann, 'allowSharedIP');
  // One literal with every member (no object spread: V8 gives every object a spread makes a map of its own, ~240 bytes
  // each at 10,000 Services; no member added afterwards either: that gives the object a 40-byte property array).
  const namespace = svc.metadata?.namespace || 'default';
  // serviceKey(svc), as one flat string: a template literal makes a concatenated string (32 bytes) over a new
  // `namespace/` string (32) kept for the view's life; join copies both parts into one string (40 bytes).
  const key = [namespace, name].join('/');
  const labels = isRecord(svc.metadata?.labels) && Object.keys(svc.metadata.labels).length > 0 ? { ...svc.metadata.labels } : NO_LABELS;
  const externalTrafficPolicy = svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
  if (sharing !== undefined) {
    const sharingKey = sharing.value;
    return pool
      ? { key, namespace, name, labels, ips, externalTrafficPolicy, pool, sharingKey }
      : { key, namespace, name, labels, ips, externalTrafficPolicy, sharingKey };
  }
  return pool ? { key, namespace, name, labels, ips, externalTrafficPolicy, pool } : { key, namespace, name, labels, ips, externalTrafficPolicy };
}

/** The labels of a view whose Service has none: one frozen object shared by every such view (views are read-only). */
const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;
/** The empty list shared where nothing is (frozen: read-only). */
const NONE: readonly never[] = Object.freeze([]);

/**
 * Canonical IPs of `raw`, in order, without duplicates or unparsable entries; an array of exactly that length (a push
 * on [] reserves 17 slots: 152 bytes per one-IP Service), and the input's own string when it is already canonical.
 */
function canonicalIps(raw: readonly string[]): string[] {
  if (raw.length === 1) {
    const ip = canonicalIp(raw[0]!);
    return ip === undefined ? [] : [ip === raw[0] ? raw[0] : ip];
  }
  const ips: string[] = [];
  for (const r of raw) {
    const ip = canonicalIp(r);
    if (ip && !ips.includes(ip)) ips.push(ip === r ? r : ip);
  }
  return ips.slice();
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
 * Memory (issue 9, 10,000 Services): the lists and views are read-only and shared — one EndpointView object per
 * distinct (nodeName, ready, serving), one list per slice object computed once (the informer replaces an object on
 * change, never edits it), and a Service with one slice gets that slice's list itself; so the planner keeps no copy per
 * Service and an unchanged slice gives the same list (BgpPlanner's identity check).
 */
export function endpointViews(slices: readonly EndpointSliceLike[]): Map<string, EndpointView[]> {
  const out = new Map<string, EndpointView[]>();
  /** Services with more than one slice: their list is a new array (the first slice's list is never edited). */
  let joined: Set<string> | undefined;
  for (const s of slices) {
    const svc = isRecord(s.metadata?.labels) ? s.metadata.labels[SERVICE_NAME_LABEL] : undefined;
    if (typeof svc !== 'string' || svc === '') continue;
    const key = `${s.metadata?.namespace || 'default'}/${svc}`;
    const mine = sliceEndpoints(s);
    const have = out.get(key);
    if (have === undefined) out.set(key, mine);
    else if (mine.length > 0) {
      if (have.length === 0) out.set(key, mine);
      else if (joined?.has(key)) for (const e of mine) have.push(e);
      else {
        (joined ??= new Set()).add(key);
        out.set(key, have.concat(mine));
      }
    }
  }
  return out;
}

/**
 * Per endpoints list (never edited once cached: the informer replaces a slice on change): its endpoints as shared
 * views. Keyed by the list, not the slice: projectEndpointSlice gives slices with the same endpoints one shared list,
 * so 20,000 slices of 10,000 Services make a handful of entries (a WeakMap entry per slice held 0.5 MiB of table).
 */
const sliceViews = new WeakMap<object, EndpointView[]>();

function sliceEndpoints(s: EndpointSliceLike): EndpointView[] {
  const eps = Array.isArray(s.endpoints) ? s.endpoints : [];
  const cached = sliceViews.get(eps);
  if (cached) return cached;
  const list: EndpointView[] = [];
  for (const ep of eps) {
    if (!ep || typeof ep !== 'object') continue;
    const ready = ep.conditions?.ready ?? true;
    const serving = ep.conditions?.serving ?? ready;
    list.push(endpointView(typeof ep.nodeName === 'string' && ep.nodeName ? ep.nodeName : undefined, ready, serving));
  }
  const exact = list.length === 0 ? (NONE as unknown as EndpointView[]) : list.length === 1 ? [list[0]!] : list.slice();
  if (eps.length > 0) sliceViews.set(eps, exact);
  return exact;
}

/** Shared EndpointViews by (nodeName, ready, serving); cleared when full (node names are few). */
const endpointViewTable = new Map<string, EndpointView>();

function endpointView(nodeName: string | undefined, ready: boolean, serving: boolean): EndpointView {
  const k = `${nodeName ?? ''}\n${ready ? 1 : 0}${serving ? 1 : 0}`;
  let v = endpointViewTable.get(k);
  if (v === undefined) {
    v = Object.freeze(nodeName !== undefined ? { nodeName, ready, serving } : { ready, serving });
    if (endpointViewTable.size >= INTERN_MAX) endpointViewTable.clear();
    endpointViewTable.set(k, v);
  }
  return v;
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

/** Shared frozen records (sharedRecord()) by content; cleared when full. */
const recordTable = new Map<string, object>();

/**
 * One frozen object per distinct small string record (a Service's MetalLB annotations, its projected spec): 10,000
 * Services of one pool hold one `{"metallb.io/ip-allocated-from-pool": "bench"}` instead of 10,000. Records over 512
 * characters are returned as they are. Read-only: the cache's objects are never edited (the informer replaces them).
 */
function sharedRecord<R extends Record<string, string | undefined>>(r: R): R {
  const k = JSON.stringify(r);
  if (k.length > 512) return r;
  let have = recordTable.get(k);
  if (have === undefined) {
    if (recordTable.size >= INTERN_MAX) recordTable.clear();
    recordTable.set(k, (have = Object.freeze(r)));
  }
  return have as R;
}

/**
 * What the speaker keeps of a Service in its cache (its memory is mostly Services and EndpointSlices): identity,
 * labels, MetalLB's annotations, type/class/ETP, and the ingress IPs (`status.loadBalancer.ingress[].ip` only).
 * Everything serviceView reads, nothing more; low-cardinality strings interned, identical labels, annotations and
 * specs shared (frozen), the ingress list exactly as long as it is.
 */
export function projectService<T extends ServiceLike>(svc: T): T {
  const m = svc.metadata ?? {};
  const ann = internRecord(m.annotations, isMetalLBAnnotation) ?? {};
  const labels = internRecord(m.labels);
  const spec = svc.spec ?? {};
  const ingress = svc.status?.loadBalancer?.ingress;
  // Object literals with every member (no member added afterwards: that gives the object a property array, 40 bytes).
  const [name, namespace, uid, resourceVersion] = [m.name, intern(m.namespace), m.uid, m.resourceVersion];
  const annotations = Object.keys(ann).length > 0 ? sharedRecord(ann) : undefined;
  const shared = labels ? sharedRecord(labels) : undefined;
  const metadata = shared
    ? annotations
      ? { name, namespace, uid, resourceVersion, labels: shared, annotations }
      : { name, namespace, uid, resourceVersion, labels: shared }
    : annotations
      ? { name, namespace, uid, resourceVersion, annotations }
      : { name, namespace, uid, resourceVersion };
  const apiVersion = intern(svc.apiVersion);
  const kind = intern(svc.kind);
  const projectedSpec = sharedRecord({ type: intern(spec.type), loadBalancerClass: intern(spec.loadBalancerClass), externalTrafficPolicy: intern(spec.externalTrafficPolicy) });
  if (!svc.status?.loadBalancer) return { apiVersion, kind, metadata, spec: projectedSpec } as unknown as T;
  if (!Array.isArray(ingress)) return { apiVersion, kind, metadata, spec: projectedSpec, status: NO_INGRESS } as unknown as T;
  const ips: string[] = [];
  for (const i of ingress) if (i && typeof i.ip === 'string') ips.push(i.ip);
  return new ProjectedService(apiVersion, kind, metadata, projectedSpec, ips.length === 1 ? ips[0]! : ips.slice()) as unknown as T;
}

/** `status: { loadBalancer: {} }` (a load balancer status without an ingress list), shared and frozen. */
const NO_INGRESS = Object.freeze({ loadBalancer: Object.freeze({}) });

/**
 * A projected Service with an ingress list: its IPs kept as one string (nearly always) or a list, and `status` built
 * from them when read (`{ loadBalancer: { ingress: [{ ip }, …] } }`, a new object each time) rather than kept as four
 * objects per Service (issue 9 RSS: ~1.5 MiB at 10,000 Services). Only cachedServiceView reads it, once per object.
 * `status` is a getter of the class, so it is not an own property (JSON.stringify and spreads do not carry it).
 */
class ProjectedService {
  readonly #ips: string | string[];
  constructor(
    readonly apiVersion: string | undefined,
    readonly kind: string | undefined,
    readonly metadata: object,
    readonly spec: object,
    ips: string | string[],
  ) {
    this.#ips = ips;
  }

  get status(): { loadBalancer: { ingress: Array<{ ip: string }> } } {
    const ips = this.#ips;
    return { loadBalancer: { ingress: typeof ips === 'string' ? [{ ip: ips }] : ips.map((ip) => ({ ip })) } };
  }
}

/** What the speaker keeps of an EndpointSlice: its Service label and, per endpoint, nodeName and conditions (shared). */
export function projectEndpointSlice<T extends EndpointSliceLike & { apiVersion?: string; kind?: string; metadata?: { name?: string; resourceVersion?: string } }>(
  s: T,
): T {
  const svc = isRecord(s.metadata?.labels) ? s.metadata.labels[SERVICE_NAME_LABEL] : undefined;
  const [name, namespace, resourceVersion] = [s.metadata?.name, intern(s.metadata?.namespace), s.metadata?.resourceVersion];
  // A literal key (SERVICE_NAME_LABEL), not a computed one: V8 gives `{[k]: v}` room for 4 members (56 bytes, not 32).
  const metadata = svc !== undefined ? { name, namespace, resourceVersion, labels: { 'kubernetes.io/service-name': svc } } : { name, namespace, resourceVersion };
  const eps = Array.isArray(s.endpoints) ? s.endpoints : [];
  return {
    apiVersion: intern(s.apiVersion),
    kind: intern(s.kind),
    metadata,
    endpoints: eps.length === 0 ? NONE : sharedEndpointList(eps.map((e) => projectedEndpoint(e?.nodeName ? intern(e.nodeName) : undefined, e?.conditions?.ready ?? null, e?.conditions?.serving ?? null))),
  } as unknown as T;
}

/** Shared frozen lists of projected endpoints (sharedEndpointList()) by content; cleared when full. */
const endpointListTable = new Map<string, readonly object[]>();
/** Ids of the shared projected endpoints, for endpointListTable's keys. */
const projectedEndpointIds = new WeakMap<object, number>();
let nextProjectedEndpointId = 0;

/**
 * One frozen list per distinct list of (shared) projected endpoints of up to 16: 10,000 Services with one ready
 * endpoint on one node give their 20,000 slices one `[{nodeName: "n1", …}]` (a list per slice was 56 bytes, and
 * sliceViews' WeakMap an entry per slice). Longer lists are returned as they are.
 */
function sharedEndpointList(list: object[]): readonly object[] {
  if (list.length > 16) return list;
  let k = '';
  for (const e of list) {
    let id = projectedEndpointIds.get(e);
    if (id === undefined) projectedEndpointIds.set(e, (id = nextProjectedEndpointId++));
    k += `${id},`;
  }
  let have = endpointListTable.get(k);
  if (have === undefined) {
    if (endpointListTable.size >= INTERN_MAX) endpointListTable.clear();
    endpointListTable.set(k, (have = Object.freeze(list.length === 1 ? [list[0]!] : list.slice())));
  }
  return have;
}

/** Shared projected endpoints by (nodeName, ready, serving); cleared when full. */
const projectedEndpointTable = new Map<string, object>();

function projectedEndpoint(nodeName: string | undefined, ready: boolean | null, serving: boolean | null): object {
  const k = `${nodeName ?? ''}\n${String(ready)}\n${String(serving)}`;
  let e = projectedEndpointTable.get(k);
  if (e === undefined) {
    const conditions = Object.freeze({ ready, serving });
    e = Object.freeze(nodeName !== undefined ? { nodeName, conditions } : { conditions });
    if (projectedEndpointTable.size >= INTERN_MAX) projectedEndpointTable.clear();
    projectedEndpointTable.set(k, e);
  }
  return e;
}

/** Label keys of the per-Service status objects whose values are few (node, namespace): interned; the Service name is not. */
const LOW_CARDINALITY_STATUS_LABELS = new Set(['metallb.io/node', 'metallb.io/service-namespace']);

/** Shared frozen lists of strings (a status's peers) by content; cleared when full. */
const stringListTable = new Map<string, readonly string[]>();

/**
 * What the speaker keeps of its ServiceL2Status / ServiceBGPStatus objects (service-status.ts reads them): name,
 * namespace, resourceVersion (the informer compares it), labels (node and Service) and status, with the same values —
 * not the uid, which nothing reads (a 36-character string per object: ~0.6 MiB with 10,000 statuses); the metadata's and the
 * status's low-cardinality strings (kinds, namespaces, node) interned, the Service name one string for the label and
 * `status.serviceName`, lists of strings (`status.peers`) shared and frozen (10,000 ServiceBGPStatus of one node hold
 * one ["r1","r2","r3"]). Not the managedFields, ownerReferences, timestamps, generateName.
 */
export function projectStatusObject<T extends { apiVersion?: string; kind?: string; metadata?: Record<string, unknown> }>(o: T): T {
  const m = o.metadata ?? {};
  const raw = isRecord(m.labels) ? m.labels : undefined;
  let labels: Record<string, string> | undefined;
  if (raw) {
    labels = {};
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') labels[intern(k)] = LOW_CARDINALITY_STATUS_LABELS.has(k) ? intern(v) : v;
  }
  const status = (o as { status?: unknown }).status;
  const [name, namespace, resourceVersion] = [m.name, intern(m.namespace), m.resourceVersion];
  const metadata = labels ? { name, namespace, resourceVersion, labels } : { name, namespace, resourceVersion };
  const [apiVersion, kind] = [intern(o.apiVersion), intern(o.kind)];
  return (status !== undefined ? { apiVersion, kind, metadata, status: compactStatus(status, labels) } : { apiVersion, kind, metadata }) as unknown as T;
}

/** A status body with the same values: strings of node/serviceNamespace interned, serviceName shared with the label, string lists shared. */
function compactStatus(status: unknown, labels: Record<string, string> | undefined): unknown {
  if (typeof status !== 'object' || status === null || Array.isArray(status)) return status;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(status as Record<string, unknown>)) {
    if (typeof v === 'string') {
      const name = labels?.['metallb.io/service-name'];
      out[k] = k === 'serviceName' && v === name ? name : k === 'node' || k === 'serviceNamespace' ? intern(v) : v;
    } else if (Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === 'string')) out[k] = sharedStrings(v as string[]);
    else out[k] = v;
  }
  return out;
}

function sharedStrings(list: readonly string[]): readonly string[] {
  const k = list.join('\u0000');
  if (k.length > 1024) return list;
  let have = stringListTable.get(k);
  if (have === undefined) {
    if (stringListTable.size >= INTERN_MAX) stringListTable.clear();
    stringListTable.set(k, (have = Object.freeze(list.map((x) => intern(x)))));
  }
  return have;
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
