// What kube-controller-manager's EndpointSlice and Endpoints controllers would store for a Service with a
// selector, computed from the Pods the lab runs (k8s.io/endpointslice reconciler.go and utils.go,
// pkg/controller/endpoint/endpoints_controller.go). Pure functions: the workload controller writes the result.
import { isPlainObject, type KubeObject } from '../types.ts';

/** The managed-by label value of slices the EndpointSlice controller owns (discovery.k8s.io/v1). */
export const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
/** Set by the Endpoints controller on the Endpoints it writes, so the mirroring controller skips them. */
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
/** maxEndpointsPerSlice default of kube-controller-manager (--max-endpoints-per-slice). */
export const MAX_ENDPOINTS_PER_SLICE = 100;

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string => (typeof x === 'string' ? x : '');

export type AddressType = 'IPv4' | 'IPv6';

export interface SlicePort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

/** One EndpointSlice's content: the controller matches it to a stored slice by addressType and ports. */
export interface DesiredSlice {
  addressType: AddressType;
  /** Absent on the placeholder slice kept for a Service that selects no ready-to-list Pod. */
  ports?: SlicePort[];
  /** null on the placeholder (what kube-apiserver returns for the controller's empty list). */
  endpoints: SliceEndpoint[] | null;
}

/** The Service's selector, or undefined when it has none (then no controller manages its endpoints). */
export function serviceSelector(svc: KubeObject): Record<string, string> | undefined {
  const spec = obj(svc['spec']);
  if (spec['type'] === 'ExternalName') return undefined;
  const sel = spec['selector'];
  if (!isPlainObject(sel) || Object.keys(sel).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) out[k] = typeof v === 'string' ? v : String(v);
  return out;
}

/** Every key=value of `selector` is among `labels` (a Service selector is a plain equality map). */
export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

export const isIPv6 = (ip: string): boolean => ip.includes(':');

/** The Pod's IPs (status.podIPs, else status.podIP). */
export function podIPs(pod: KubeObject): string[] {
  const st = obj(pod['status']);
  const list = arr(st['podIPs'])
    .map((p) => str(obj(p)['ip']))
    .filter(Boolean);
  if (list.length) return list;
  const one = str(st['podIP']);
  return one ? [one] : [];
}

/** The Pod's Ready condition is True (pkg/api/v1/pod IsPodReady). */
export function podReady(pod: KubeObject): boolean {
  return arr(obj(pod['status'])['conditions']).some((c) => obj(c)['type'] === 'Ready' && obj(c)['status'] === 'True');
}

function terminal(pod: KubeObject): boolean {
  const phase = obj(pod['status'])['phase'];
  return phase === 'Succeeded' || phase === 'Failed';
}

/** Resolves a Service port's targetPort for one Pod (podutil.FindPort): a number, or a named container port. */
export function resolveTargetPort(port: Obj, pod: KubeObject): number | undefined {
  const tp = port['targetPort'] ?? port['port'];
  if (typeof tp === 'number') return tp;
  if (typeof tp === 'string' && /^\d+$/.test(tp)) return Number(tp);
  const proto = str(port['protocol']) || 'TCP';
  for (const c of arr(obj(pod['spec'])['containers'])) {
    for (const cp of arr(obj(c)['ports'])) {
      const p = obj(cp);
      if (p['name'] === tp && (str(p['protocol']) || 'TCP') === proto && typeof p['containerPort'] === 'number') return p['containerPort'];
    }
  }
  return undefined;
}

function podPorts(svc: KubeObject, pod: KubeObject): SlicePort[] {
  const out: SlicePort[] = [];
  for (const raw of arr(obj(svc['spec'])['ports'])) {
    const p = obj(raw);
    const port = resolveTargetPort(p, pod);
    if (port === undefined) continue;
    const sp: SlicePort = { name: str(p['name']), port, protocol: str(p['protocol']) || 'TCP' };
    if (typeof p['appProtocol'] === 'string') sp.appProtocol = p['appProtocol'];
    out.push(sp);
  }
  return out;
}

/** Pods the Service selects that belong in its endpoints: same namespace, selected, not terminal, with an IP. */
export function selectedPods(svc: KubeObject, pods: readonly KubeObject[]): KubeObject[] {
  const sel = serviceSelector(svc);
  if (!sel) return [];
  return pods
    .filter((p) => p.metadata.namespace === svc.metadata.namespace && selects(sel, p.metadata.labels) && !terminal(p) && podIPs(p).length > 0)
    .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

/**
 * The EndpointSlices the EndpointSlice controller keeps for `svc` given `pods` (any namespace; filtered here)
 * and `nodes` (for topology.kubernetes.io/zone): one group per address family of `spec.ipFamilies` and per
 * distinct resolved port list, at most MAX_ENDPOINTS_PER_SLICE endpoints each; a family with no endpoint gets
 * one placeholder slice. A Service without a selector gets [] (its slices are someone else's).
 */
export function desiredEndpointSlices(svc: KubeObject, pods: readonly KubeObject[], nodes: readonly KubeObject[] = []): DesiredSlice[] {
  if (!serviceSelector(svc)) return [];
  const spec = obj(svc['spec']);
  const families = arr(spec['ipFamilies']).filter((f): f is AddressType => f === 'IPv4' || f === 'IPv6');
  if (families.length === 0) families.push('IPv4');
  const publishNotReady = spec['publishNotReadyAddresses'] === true;
  const zoneOf = new Map(nodes.map((n) => [n.metadata.name ?? '', n.metadata.labels?.['topology.kubernetes.io/zone']]));
  const selected = selectedPods(svc, pods);
  const out: DesiredSlice[] = [];
  for (const family of families) {
    const groups = new Map<string, { ports: SlicePort[]; endpoints: SliceEndpoint[] }>();
    for (const pod of selected) {
      const ip = podIPs(pod).find((a) => isIPv6(a) === (family === 'IPv6'));
      if (!ip) continue;
      const ports = podPorts(svc, pod);
      const key = JSON.stringify(ports);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { ports, endpoints: [] }));
      const ready = podReady(pod);
      const terminating = !!pod.metadata.deletionTimestamp;
      const ps = obj(pod['spec']);
      const ep: SliceEndpoint = {
        addresses: [ip],
        conditions: { ready: publishNotReady || (ready && !terminating), serving: publishNotReady || ready, terminating },
        targetRef: { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' },
      };
      if (typeof ps['hostname'] === 'string' && ps['hostname'] && ps['subdomain'] === svc.metadata.name) ep.hostname = ps['hostname'];
      const node = str(ps['nodeName']);
      if (node) {
        ep.nodeName = node;
        const zone = zoneOf.get(node);
        if (zone) ep.zone = zone;
      }
      g.endpoints.push(ep);
    }
    if (groups.size === 0) {
      out.push({ addressType: family, endpoints: null });
      continue;
    }
    for (const g of groups.values()) {
      for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
        out.push({ addressType: family, ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
      }
    }
  }
  return out;
}

/**
 * The `subsets` of the core/v1 Endpoints object the Endpoints controller keeps for `svc` (primary IP family
 * only; ready Pods in `addresses`, the others in `notReadyAddresses`), or [] when nothing is selected.
 */
export function desiredEndpointsSubsets(svc: KubeObject, pods: readonly KubeObject[]): Obj[] {
  if (!serviceSelector(svc)) return [];
  const spec = obj(svc['spec']);
  const primary = arr(spec['ipFamilies'])[0] === 'IPv6' ? 'IPv6' : 'IPv4';
  const publishNotReady = spec['publishNotReadyAddresses'] === true;
  const groups = new Map<string, { ports: SlicePort[]; addresses: Obj[]; notReadyAddresses: Obj[] }>();
  for (const pod of selectedPods(svc, pods)) {
    if (pod.metadata.deletionTimestamp && !publishNotReady) continue;
    const ip = podIPs(pod).find((a) => isIPv6(a) === (primary === 'IPv6'));
    if (!ip) continue;
    const ports = podPorts(svc, pod);
    const key = JSON.stringify(ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports, addresses: [], notReadyAddresses: [] }));
    const addr: Obj = { ip, targetRef: { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' } };
    const node = str(obj(pod['spec'])['nodeName']);
    if (node) addr['nodeName'] = node;
    (publishNotReady || podReady(pod) ? g.addresses : g.notReadyAddresses).push(addr);
  }
  return [...groups.values()].map((g) => {
    const s: Obj = {};
    if (g.addresses.length) s['addresses'] = g.addresses;
    if (g.notReadyAddresses.length) s['notReadyAddresses'] = g.notReadyAddresses;
    if (g.ports.length) s['ports'] = g.ports.map((p) => (p.name ? p : { port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
    return s;
  });
}
