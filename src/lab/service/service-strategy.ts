// Service semantics of kube-apiserver 1.32 that berth can observe: scheme defaults (pkg/apis/core/v1/defaults.go
// SetDefaults_Service), ClusterIP/ipFamilies/nodePort allocation (pkg/registry/core/service/storage/alloc.go),
// update rules (strategy.go PrepareForUpdate, dropTypeDependentFields, patchAllocatedValues) and the
// validation subset (pkg/apis/core/validation ValidateService) with its messages.
import { familyOf, type Family } from '../../shared/ip.ts';
import { qualifiedNameProblems, nameProblems } from '../names.ts';
import { FieldErrors, type FieldError } from '../status.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import type { IpAllocator, PortAllocator } from './ip-allocator.ts';

export interface SvcPort {
  name?: string;
  protocol?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface SvcSpec {
  type?: string;
  ports?: SvcPort[];
  selector?: Record<string, string>;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  sessionAffinity?: string;
  sessionAffinityConfig?: unknown;
  externalTrafficPolicy?: string;
  internalTrafficPolicy?: string;
  allocateLoadBalancerNodePorts?: boolean;
  loadBalancerClass?: string;
  loadBalancerIP?: string;
  healthCheckNodePort?: number;
  externalName?: string;
  externalIPs?: string[];
  [k: string]: unknown;
}

export interface SvcStatus {
  loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string; ipMode?: string; ports?: unknown[] }> };
  conditions?: unknown[];
  [k: string]: unknown;
}

export const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

export interface ServiceIpam {
  ips: Partial<Record<Family, IpAllocator>>;
  nodePorts: PortAllocator;
}

/** Allocations made by one write: revert() undoes them (failure, dry run), commit() frees what the write dropped. */
export class Txn {
  private readonly undo: Array<() => void> = [];
  private readonly later: Array<() => void> = [];
  allocated(release: () => void): void {
    this.undo.push(release);
  }
  releaseOnCommit(release: () => void): void {
    this.later.push(release);
  }
  commit(): void {
    for (const f of this.later) f();
  }
  revert(): void {
    for (const f of this.undo) f();
  }
}

export function specOf(svc: KubeObject): SvcSpec {
  if (!isPlainObject(svc['spec'])) svc['spec'] = {};
  return svc['spec'] as SvcSpec;
}

function statusOf(svc: KubeObject): SvcStatus | undefined {
  return isPlainObject(svc['status']) ? (svc['status'] as SvcStatus) : undefined;
}

const needsNodePorts = (s: SvcSpec) => s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
const needsClusterIP = (s: SvcSpec) => s.type !== 'ExternalName';
const isHeadless = (s: SvcSpec) => s.clusterIP === 'None' || s.clusterIPs?.[0] === 'None';
const needsHealthCheck = (s: SvcSpec) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';

/** Scheme defaulting: runs on decode and again after every mutating-webhook patch. */
export function defaultService(svc: KubeObject): void {
  const s = specOf(svc);
  if (!s.sessionAffinity) s.sessionAffinity = 'None';
  if (s.sessionAffinity === 'None') delete s.sessionAffinityConfig;
  if (s.sessionAffinity === 'ClientIP') {
    const cfg = isPlainObject(s.sessionAffinityConfig) ? s.sessionAffinityConfig : {};
    const cip = isPlainObject(cfg['clientIP']) ? cfg['clientIP'] : {};
    if (cip['timeoutSeconds'] === undefined) cip['timeoutSeconds'] = 10800;
    cfg['clientIP'] = cip;
    s.sessionAffinityConfig = cfg;
  }
  if (!s.type) s.type = 'ClusterIP';
  if (Array.isArray(s.ports)) {
    for (const p of s.ports) {
      if (!isPlainObject(p)) continue;
      if (!p.protocol) p.protocol = 'TCP';
      if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
    }
  }
  const externallyAccessible = s.type === 'LoadBalancer' || s.type === 'NodePort' || (s.type === 'ClusterIP' && (s.externalIPs?.length ?? 0) > 0);
  if (externallyAccessible && !s.externalTrafficPolicy) s.externalTrafficPolicy = 'Cluster';
  if (s.internalTrafficPolicy === undefined && (s.type === 'NodePort' || s.type === 'LoadBalancer' || s.type === 'ClusterIP')) {
    s.internalTrafficPolicy = 'Cluster';
  }
  if (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts === undefined) s.allocateLoadBalancerNodePorts = true;
  defaultIngressIpMode(svc);
}

/** status.loadBalancer.ingress[].ipMode defaults to VIP when an ip is set (KEP-1860, GA in 1.32). */
export function defaultIngressIpMode(svc: KubeObject): void {
  const st = statusOf(svc);
  if (specOf(svc).type !== 'LoadBalancer' || !st || !isPlainObject(st.loadBalancer)) return;
  for (const ing of st.loadBalancer.ingress ?? []) if (isPlainObject(ing) && ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
}

/** Static validation of a Service (create and update). */
export function validateService(svc: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const s = specOf(svc);
  const name = svc.metadata.name ?? '';
  for (const p of nameProblems(name, 'dns1035-label')) errs.push(FieldErrors.invalid('metadata.name', name, p));
  if (!TYPES.includes(s.type ?? '')) {
    errs.push(FieldErrors.notSupported('spec.type', s.type ?? '', TYPES));
    return errs;
  }
  if (s.type === 'ExternalName') {
    if (!s.externalName) errs.push(FieldErrors.required('spec.externalName'));
  } else if (!Array.isArray(s.ports) || s.ports.length === 0) {
    if (!isHeadless(s)) errs.push(FieldErrors.required('spec.ports'));
  }
  const ports = Array.isArray(s.ports) ? s.ports : [];
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((raw: unknown, i) => {
    const f = `spec.ports[${i}]`;
    if (!isPlainObject(raw)) {
      errs.push(FieldErrors.invalid(f, raw, 'must be an object'));
      return;
    }
    const p = raw as SvcPort;
    if (ports.length > 1 && !p.name) errs.push(FieldErrors.required(`${f}.name`));
    if (p.name !== undefined && typeof p.name !== 'string') errs.push(FieldErrors.invalid(`${f}.name`, p.name, 'must be a string'));
    else if (p.name) {
      for (const m of nameProblems(p.name, 'dns1123-label')) errs.push(FieldErrors.invalid(`${f}.name`, p.name, m));
      if (names.has(p.name)) errs.push(FieldErrors.duplicate(`${f}.name`, p.name));
      names.add(p.name);
    }
    if (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      errs.push(FieldErrors.invalid(`${f}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    }
    if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol ?? '')) errs.push(FieldErrors.notSupported(`${f}.protocol`, p.protocol ?? '', ['SCTP', 'TCP', 'UDP']));
    const key = `${p.port}/${p.protocol}`;
    if (keys.has(key)) errs.push(FieldErrors.duplicate(f, { port: p.port, protocol: p.protocol }));
    keys.add(key);
    if (p.nodePort !== undefined && p.nodePort !== 0 && s.type === 'ClusterIP') {
      errs.push(FieldErrors.forbidden(`${f}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
    }
  });
  if (s.loadBalancerClass !== undefined && s.loadBalancerClass !== null) {
    if (s.type !== 'LoadBalancer') errs.push(FieldErrors.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
    else for (const m of qualifiedNameProblems(String(s.loadBalancerClass))) errs.push(FieldErrors.invalid('spec.loadBalancerClass', s.loadBalancerClass, m));
  }
  if (s.allocateLoadBalancerNodePorts !== undefined && s.type !== 'LoadBalancer') {
    errs.push(FieldErrors.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  if (s.externalTrafficPolicy !== undefined && !['Cluster', 'Local'].includes(s.externalTrafficPolicy)) {
    errs.push(FieldErrors.notSupported('spec.externalTrafficPolicy', s.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (s.ipFamilyPolicy !== undefined && !['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(s.ipFamilyPolicy)) {
    errs.push(FieldErrors.notSupported('spec.ipFamilyPolicy', s.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  for (const [i, f] of (s.ipFamilies ?? []).entries()) {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(FieldErrors.notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
  }
  if ((s.ipFamilies?.length ?? 0) > 2) errs.push(FieldErrors.invalid('spec.ipFamilies', s.ipFamilies, 'may specify no more than one IP for each IP family'));
  if (s.ipFamilies?.length === 2 && s.ipFamilies[0] === s.ipFamilies[1]) errs.push(FieldErrors.duplicate('spec.ipFamilies[1]', s.ipFamilies[1]));
  for (const [i, ip] of (s.clusterIPs ?? []).entries()) {
    if (ip === 'None' && i === 0) continue;
    if (!familyOf(ip)) errs.push(FieldErrors.invalid(`spec.clusterIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (s.clusterIP && s.clusterIPs?.length && s.clusterIP !== s.clusterIPs[0]) {
    errs.push(FieldErrors.invalid('spec.clusterIPs', s.clusterIPs, 'first value must match `clusterIP`'));
  }
  if (s.loadBalancerIP && !familyOf(s.loadBalancerIP)) {
    errs.push(FieldErrors.invalid('spec.loadBalancerIP', s.loadBalancerIP, 'must be a valid IP address'));
  }
  errs.push(...validateServiceStatus(svc));
  return errs;
}

export function validateServiceStatus(svc: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const ing = statusOf(svc)?.loadBalancer?.ingress;
  if (ing !== undefined && !Array.isArray(ing)) return [FieldErrors.invalid('status.loadBalancer.ingress', ing, 'must be a list')];
  (ing ?? []).forEach((e, i) => {
    const f = `status.loadBalancer.ingress[${i}]`;
    if (!isPlainObject(e)) {
      errs.push(FieldErrors.invalid(f, e, 'must be an object'));
      return;
    }
    if (e.ip !== undefined && e.ip !== '' && !familyOf(e.ip)) errs.push(FieldErrors.invalid(`${f}.ip`, e.ip, 'must be a valid IP address'));
    if (e.ipMode !== undefined && !e.ip) errs.push(FieldErrors.forbidden(`${f}.ipMode`, 'may only be set when `ip` is set'));
    if (e.ipMode !== undefined && e.ipMode !== 'VIP' && e.ipMode !== 'Proxy') errs.push(FieldErrors.notSupported(`${f}.ipMode`, e.ipMode, ['Proxy', 'VIP']));
  });
  return errs;
}

/** Create: status wiped (PrepareForCreate), ipFamilies/policy set, ClusterIPs and nodePorts allocated. */
export function prepareServiceCreate(ipam: ServiceIpam, svc: KubeObject, txn: Txn): FieldError[] {
  // PrepareForCreate: `service.Status = api.ServiceStatus{}`, which serializes as {"loadBalancer":{}}.
  svc['status'] = { loadBalancer: {} };
  const s = specOf(svc);
  const errs = initFamilies(ipam, s);
  if (errs.length) return errs;
  errs.push(...allocateClusterIPs(ipam, s, txn, []));
  if (errs.length) return errs;
  errs.push(...allocateNodePorts(ipam, s, txn, undefined));
  return errs;
}

function initFamilies(ipam: ServiceIpam, s: SvcSpec): FieldError[] {
  if (!needsClusterIP(s)) {
    delete s.clusterIP;
    delete s.clusterIPs;
    delete s.ipFamilies;
    delete s.ipFamilyPolicy;
    return [];
  }
  if (s.clusterIP && !s.clusterIPs?.length) s.clusterIPs = [s.clusterIP];
  const headless = isHeadless(s);
  const ipsFams = (s.clusterIPs ?? []).filter((ip) => ip !== 'None').map((ip) => familyOf(ip));
  const families: Family[] = [];
  for (const f of s.ipFamilies ?? []) if ((f === 'IPv4' || f === 'IPv6') && !families.includes(f)) families.push(f);
  const errs: FieldError[] = [];
  ipsFams.forEach((f, i) => {
    if (f && families[i] && families[i] !== f) {
      errs.push(FieldErrors.invalid(`spec.ipFamilies[${i}]`, families[i], `must match the ip family of the clusterIPs[${i}] (${f})`));
    }
  });
  if (errs.length) return errs;
  if (!s.ipFamilyPolicy) {
    if (headless && (!s.selector || Object.keys(s.selector).length === 0)) s.ipFamilyPolicy = 'RequireDualStack';
    else if ((s.ipFamilies?.length ?? 0) > 1 || (s.clusterIPs?.length ?? 0) > 1) {
      return [FieldErrors.invalid('spec.ipFamilyPolicy', null, 'must be RequireDualStack or PreferDualStack when multiple IP families are specified')];
    } else s.ipFamilyPolicy = 'SingleStack';
  }
  if (s.ipFamilyPolicy === 'SingleStack' && ((s.ipFamilies?.length ?? 0) > 1 || (s.clusterIPs?.length ?? 0) > 1)) {
    return [FieldErrors.invalid('spec.ipFamilyPolicy', 'SingleStack', 'must be RequireDualStack or PreferDualStack when multiple IP families are specified')];
  }
  if (families.length === 0) {
    const f0 = ipsFams[0];
    families.push(f0 ?? (ipam.ips.IPv4 ? 'IPv4' : 'IPv6'));
  }
  if (s.ipFamilyPolicy !== 'SingleStack' && families.length === 1) {
    const other: Family = families[0] === 'IPv4' ? 'IPv6' : 'IPv4';
    const f1 = ipsFams[1];
    if (ipam.ips[other]) families.push(f1 ?? other);
    else if (s.ipFamilyPolicy === 'RequireDualStack') {
      return [FieldErrors.invalid('spec.ipFamilyPolicy', 'RequireDualStack', 'this cluster is not configured for dual-stack services')];
    }
  }
  for (const [i, f] of families.entries()) {
    if (!ipam.ips[f]) return [FieldErrors.invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster')];
  }
  s.ipFamilies = s.ipFamilyPolicy === 'SingleStack' ? families.slice(0, 1) : families;
  return [];
}

function allocateClusterIPs(ipam: ServiceIpam, s: SvcSpec, txn: Txn, keep: string[]): FieldError[] {
  if (!needsClusterIP(s)) return [];
  if (isHeadless(s)) {
    s.clusterIP = 'None';
    s.clusterIPs = ['None'];
    return [];
  }
  const fams = (s.ipFamilies ?? []) as Family[];
  const out: string[] = [];
  for (const [i, fam] of fams.entries()) {
    const alloc = ipam.ips[fam]!;
    const want = s.clusterIPs?.[i];
    if (want) {
      if (keep.includes(want)) {
        out.push(want);
        continue;
      }
      const r = alloc.allocateSpecific(want);
      if (r !== 'ok') {
        const why =
          r === 'in-use'
            ? `failed to allocate IP ${want}: provided IP is already allocated`
            : `failed to allocate IP ${want}: the provided IP (${want}) is not in the valid range. The range of valid IPs is ${alloc.cidr}`;
        return [FieldErrors.invalid('spec.clusterIPs', s.clusterIPs, why)];
      }
      txn.allocated(() => alloc.release(want));
      out.push(want);
    } else {
      const ip = alloc.allocateNext();
      if (!ip) return [FieldErrors.invalid('spec.clusterIPs', s.clusterIPs ?? [], `failed to allocate IP: range is full (${alloc.cidr})`)];
      txn.allocated(() => alloc.release(ip));
      out.push(ip);
    }
  }
  s.clusterIPs = out;
  s.clusterIP = out[0]!;
  return [];
}

function allocateNodePorts(ipam: ServiceIpam, s: SvcSpec, txn: Txn, old: SvcSpec | undefined): FieldError[] {
  const np = ipam.nodePorts;
  const oldPorts = new Set<number>();
  if (old && needsNodePorts(old)) for (const p of old.ports ?? []) if (p.nodePort) oldPorts.add(p.nodePort);
  if (old?.healthCheckNodePort) oldPorts.add(old.healthCheckNodePort);
  const mine = new Set<number>();
  const errs: FieldError[] = [];
  const take = (field: string, want: number | undefined): number | undefined => {
    if (want) {
      if (mine.has(want) || oldPorts.has(want)) {
        mine.add(want);
        return want;
      }
      const r = np.allocateSpecific(want);
      if (r !== 'ok') {
        errs.push(
          FieldErrors.invalid(
            field,
            want,
            r === 'in-use' ? 'provided port is already allocated' : `provided port is not in the valid range. The range of valid ports is ${np.min}-${np.max}`,
          ),
        );
        return undefined;
      }
      txn.allocated(() => np.release(want));
      mine.add(want);
      return want;
    }
    const p = np.allocateNext();
    if (p === undefined) {
      errs.push(FieldErrors.invalid(field, 0, 'range is full'));
      return undefined;
    }
    txn.allocated(() => np.release(p));
    mine.add(p);
    return p;
  };
  if (needsNodePorts(s)) {
    (s.ports ?? []).forEach((p, i) => {
      const got = take(`spec.ports[${i}].nodePort`, p.nodePort || undefined);
      if (got) p.nodePort = got;
    });
  } else if (s.type === 'LoadBalancer') {
    // allocateLoadBalancerNodePorts: false keeps only explicitly requested node ports.
    (s.ports ?? []).forEach((p, i) => {
      if (p.nodePort) take(`spec.ports[${i}].nodePort`, p.nodePort);
    });
  }
  if (needsHealthCheck(s)) {
    const got = take('spec.healthCheckNodePort', s.healthCheckNodePort || undefined);
    if (got) s.healthCheckNodePort = got;
  } else if (s.healthCheckNodePort && s.type !== 'LoadBalancer') {
    delete s.healthCheckNodePort;
  }
  for (const p of oldPorts) if (!mine.has(p)) txn.releaseOnCommit(() => np.release(p));
  return errs;
}

/** Main-resource update: keep old status, carry allocated values the client omitted, drop type-dependent fields. */
export function prepareServiceUpdate(svc: KubeObject, old: KubeObject): void {
  const s = specOf(svc);
  const o = specOf(old);
  if (old['status'] !== undefined) svc['status'] = old['status'];
  else delete svc['status'];
  // patchAllocatedValues: a PUT that omits allocated fields keeps them.
  if (needsClusterIP(o) && needsClusterIP(s)) {
    if (!s.clusterIP && !s.clusterIPs?.length) {
      if (o.clusterIP !== undefined) s.clusterIP = o.clusterIP;
      if (o.clusterIPs !== undefined) s.clusterIPs = [...o.clusterIPs];
    } else if (s.clusterIP && !s.clusterIPs?.length && o.clusterIPs?.[0] === s.clusterIP) {
      s.clusterIPs = [...o.clusterIPs];
    }
    if (!s.ipFamilies && o.ipFamilies) s.ipFamilies = [...o.ipFamilies];
    if (!s.ipFamilyPolicy && o.ipFamilyPolicy) s.ipFamilyPolicy = o.ipFamilyPolicy;
  }
  if (needsNodePorts(o) && needsNodePorts(s)) {
    for (const p of s.ports ?? []) {
      if (p.nodePort) continue;
      const match = (o.ports ?? []).find((q) => q.port === p.port && q.protocol === p.protocol) ?? (s.ports?.length === 1 && o.ports?.length === 1 ? o.ports[0] : undefined);
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
  if (needsHealthCheck(o) && needsHealthCheck(s) && !s.healthCheckNodePort && o.healthCheckNodePort) s.healthCheckNodePort = o.healthCheckNodePort;
  // dropTypeDependentFields: only fields the user left as they were.
  if (needsNodePorts(o) && !needsNodePorts(s) && !(s.type === 'LoadBalancer')) {
    for (const p of s.ports ?? []) {
      const match = (o.ports ?? []).find((q) => q.port === p.port && q.protocol === p.protocol);
      if (p.nodePort && match?.nodePort === p.nodePort) delete p.nodePort;
    }
  }
  if (s.type !== 'LoadBalancer') {
    if (o.type === 'LoadBalancer') {
      if (s.loadBalancerClass === o.loadBalancerClass) delete s.loadBalancerClass;
      if (s.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) delete s.allocateLoadBalancerNodePorts;
      if (s.healthCheckNodePort === o.healthCheckNodePort) delete s.healthCheckNodePort;
    }
    const st = statusOf(svc);
    if (st?.loadBalancer) svc['status'] = { ...st, loadBalancer: {} };
  }
  if (s.type === 'ExternalName' && o.type !== 'ExternalName') {
    if (s.clusterIP === o.clusterIP) delete s.clusterIP;
    if (JSON.stringify(s.clusterIPs) === JSON.stringify(o.clusterIPs)) delete s.clusterIPs;
    delete s.ipFamilies;
    delete s.ipFamilyPolicy;
  }
  if (!s.externalTrafficPolicy && (s.type === 'LoadBalancer' || s.type === 'NodePort')) s.externalTrafficPolicy = 'Cluster';
}

/** Update-only rules (immutability), messages as kube-apiserver. */
export function validateServiceUpdate(svc: KubeObject, old: KubeObject): FieldError[] {
  const s = specOf(svc);
  const o = specOf(old);
  const errs: FieldError[] = [];
  if (needsClusterIP(o) && needsClusterIP(s) && o.clusterIPs?.length) {
    const n = s.clusterIPs ?? [];
    if (n[0] !== o.clusterIPs[0]) errs.push(FieldErrors.invalid('spec.clusterIPs[0]', n[0] ?? '', 'may not change once set'));
  }
  if (o.type === 'LoadBalancer' && s.type === 'LoadBalancer' && (o.loadBalancerClass ?? null) !== (s.loadBalancerClass ?? null)) {
    errs.push(FieldErrors.invalid('spec.loadBalancerClass', s.loadBalancerClass ?? null, 'may not change once set'));
  }
  return errs;
}

/** Update allocations: type changes, dual-stack upgrades and downgrades, new ports. */
export function allocateServiceUpdate(ipam: ServiceIpam, svc: KubeObject, old: KubeObject, txn: Txn): FieldError[] {
  const s = specOf(svc);
  const o = specOf(old);
  const oldIps = needsClusterIP(o) && !isHeadless(o) ? (o.clusterIPs ?? []) : [];
  if (needsClusterIP(s)) {
    const errs = initFamilies(ipam, s);
    if (errs.length) return errs;
    if (s.ipFamilyPolicy === 'SingleStack' && (s.clusterIPs?.length ?? 0) > 1) s.clusterIPs = s.clusterIPs!.slice(0, 1);
    const e2 = allocateClusterIPs(ipam, s, txn, oldIps);
    if (e2.length) return e2;
  }
  const nowIps = needsClusterIP(s) ? (s.clusterIPs ?? []) : [];
  for (const ip of oldIps) {
    if (!nowIps.includes(ip)) {
      const f = familyOf(ip);
      const a = f ? ipam.ips[f] : undefined;
      if (a) txn.releaseOnCommit(() => a.release(ip));
    }
  }
  return allocateNodePorts(ipam, s, txn, o);
}

/** services/status: everything but status comes from the stored object. */
export function prepareServiceStatusUpdate(svc: KubeObject, old: KubeObject): KubeObject {
  const out: KubeObject = { ...old, metadata: old.metadata };
  if (svc['status'] !== undefined) out['status'] = svc['status'];
  else delete out['status'];
  defaultIngressIpMode(out);
  return out;
}

/** Marks an already-stored Service's allocations as used (after a restart). */
export function markServiceAllocations(ipam: ServiceIpam, svc: KubeObject): void {
  const s = specOf(svc);
  if (needsClusterIP(s) && !isHeadless(s)) {
    for (const ip of s.clusterIPs ?? []) {
      const f = familyOf(ip);
      if (f) ipam.ips[f]?.allocateSpecific(ip);
    }
  }
  if (needsNodePorts(s) || s.type === 'LoadBalancer') for (const p of s.ports ?? []) if (p.nodePort) ipam.nodePorts.allocateSpecific(p.nodePort);
  if (s.healthCheckNodePort) ipam.nodePorts.allocateSpecific(s.healthCheckNodePort);
}

export function releaseServiceAllocations(ipam: ServiceIpam, svc: KubeObject): void {
  const s = specOf(svc);
  if (needsClusterIP(s) && !isHeadless(s)) {
    for (const ip of s.clusterIPs ?? []) {
      const f = familyOf(ip);
      if (f) ipam.ips[f]?.release(ip);
    }
  }
  for (const p of s.ports ?? []) if (p.nodePort) ipam.nodePorts.release(p.nodePort);
  if (s.healthCheckNodePort) ipam.nodePorts.release(s.healthCheckNodePort);
}
