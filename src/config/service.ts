// Service → ServiceRequest: the one place that reads a Kubernetes Service for allocation (MetalLB's k8salloc).
// Pure. Used by the webhook (at admission), the controller (reconcile) and `berth plan` (offline), so all three read
// annotations, requested IPs, families, ports and sharing keys the same way.
import type { Family, IpFamilyPolicy, Port, Protocol, ServiceRequest } from '../allocator/types.ts';
import { Annotations, BerthAnnotations, deprecatedKeys, readAnnotation } from '../api/annotations.ts';
import type { Code } from '../shared/codes.ts';
import { canonicalIp, familyOf } from '../shared/ip.ts';
import { formatLabels } from '../shared/labels.ts';

/** The parts of a v1 Service that berth reads. Every field optional: input may be hostile. */
export interface ServiceLike {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    type?: string;
    loadBalancerIP?: string;
    loadBalancerClass?: string;
    ports?: Array<{ name?: string; protocol?: string; port?: number }>;
    selector?: Record<string, string>;
    externalTrafficPolicy?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    clusterIP?: string;
    clusterIPs?: string[];
  };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

export interface ServiceRequestOptions {
  /** Families the cluster serves, primary first. Decides the family of a Service that names none. Default ['IPv4']. */
  clusterFamilies?: readonly Family[];
}

export type ServiceRequestResult =
  | { ok: true; req: ServiceRequest; warnings: string[] }
  | { ok: false; code: Code; message: string };

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
const POLICIES: readonly IpFamilyPolicy[] = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];

export function serviceKey(svc: ServiceLike): string {
  return `${svc.metadata?.namespace || 'default'}/${svc.metadata?.name ?? ''}`;
}

export function isLoadBalancer(svc: ServiceLike): boolean {
  return svc.spec?.type === 'LoadBalancer';
}

/**
 * MetalLB's loadBalancerClass filter: with no class configured only Services without a class are ours; with a class,
 * only Services whose class is exactly it (MetalLB service_controller.go, filterByLoadBalancerClass).
 */
export function isOurClass(svc: ServiceLike, lbClass?: string): boolean {
  const c = svc.spec?.loadBalancerClass ?? '';
  return lbClass ? c === lbClass : c === '';
}

/** IPs in status.loadBalancer.ingress (entries with only a hostname are ignored, as MetalLB does). */
export function ingressIPs(svc: ServiceLike): string[] {
  const out: string[] = [];
  for (const i of arr(svc.status?.loadBalancer?.ingress)) if (i && typeof i.ip === 'string' && i.ip) out.push(i.ip);
  return out;
}

/** IPs recorded at admission in `berth.io/assigned-ips` (empty when absent or blank). */
export function assignedIPs(svc: ServiceLike): string[] {
  const v = svc.metadata?.annotations?.[BerthAnnotations.assignedIPs];
  if (typeof v !== 'string') return [];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The requested IPs of a Service, with where they came from; an error when both fields are set or one is bad. */
export function requestedIPs(
  svc: ServiceLike,
): { ok: true; ips: string[]; source: string } | { ok: false; code: Code; message: string } {
  const ann = readAnnotation(svc.metadata?.annotations, 'loadBalancerIPs');
  const field = typeof svc.spec?.loadBalancerIP === 'string' ? svc.spec.loadBalancerIP.trim() : '';
  const annValue = ann?.value.trim() ?? '';
  if (annValue !== '' && field !== '') {
    return {
      ok: false,
      code: 'LB_BOTH_IP_FIELDS',
      message:
        `spec.loadBalancerIP (${field}) and ${ann!.key} (${annValue}) are both set; use only the annotation ` +
        `(service can not have both ${Annotations.loadBalancerIPs} and svc.Spec.LoadBalancerIP)`,
    };
  }
  const source = annValue !== '' ? ann!.key : 'spec.loadBalancerIP';
  const raw = annValue !== '' ? annValue.split(',').map((s) => s.trim()) : field !== '' ? [field] : [];
  for (const ip of raw) {
    if (!canonicalIp(ip)) {
      return { ok: false, code: 'LB_BAD_REQUESTED_IP', message: `"${ip}" in ${source} is not a valid IP address` };
    }
  }
  if (raw.length > 2) {
    return {
      ok: false,
      code: 'LB_BAD_REQUESTED_IP',
      message: `${source} requests ${raw.length} IPs (${raw.join(', ')}); at most 2 (one IPv4 and one IPv6)`,
    };
  }
  if (raw.length === 2 && familyOf(raw[0]!) === familyOf(raw[1]!)) {
    return {
      ok: false,
      code: 'LB_BAD_REQUESTED_IP',
      message: `${source} requests ${raw.join(', ')}: two IPs must be one IPv4 and one IPv6`,
    };
  }
  return { ok: true, ips: raw.map((ip) => canonicalIp(ip)!), source };
}

/** The Service's IP families, primary first (spec.ipFamilies, else clusterIPs, else the policy and cluster families). */
export function serviceFamilies(svc: ServiceLike, opts: ServiceRequestOptions = {}): Family[] {
  const cluster: readonly Family[] = opts.clusterFamilies?.length ? opts.clusterFamilies : ['IPv4'];
  const policy = policyOf(svc);
  let fams: Family[] = [];
  for (const f of arr(svc.spec?.ipFamilies)) if ((f === 'IPv4' || f === 'IPv6') && !fams.includes(f)) fams.push(f);
  if (fams.length === 0) {
    const clusterIPs = arr(svc.spec?.clusterIPs);
    const ips = clusterIPs.length ? clusterIPs : typeof svc.spec?.clusterIP === 'string' ? [svc.spec.clusterIP] : [];
    for (const ip of ips) {
      const f = typeof ip === 'string' ? familyOf(ip) : undefined;
      if (f && !fams.includes(f)) fams.push(f);
    }
  }
  if (fams.length === 0) {
    if (policy === 'SingleStack') fams = [cluster[0]!];
    else if (policy === 'RequireDualStack') fams = dual(cluster[0]!);
    else fams = [...cluster];
  }
  if (policy === 'SingleStack') fams = fams.slice(0, 1);
  return fams;
}

function dual(primary: Family): Family[] {
  return primary === 'IPv4' ? ['IPv4', 'IPv6'] : ['IPv6', 'IPv4'];
}

function policyOf(svc: ServiceLike): IpFamilyPolicy {
  const p = svc.spec?.ipFamilyPolicy;
  return POLICIES.includes(p as IpFamilyPolicy) ? (p as IpFamilyPolicy) : 'SingleStack';
}

/** Reads everything the allocator needs from a Service. Never throws, whatever the input. */
export function serviceRequestFrom(svc: ServiceLike, opts: ServiceRequestOptions = {}): ServiceRequestResult {
  const name = svc.metadata?.name ?? '';
  const namespace = svc.metadata?.namespace || 'default';
  const annotations = svc.metadata?.annotations;
  const warnings = deprecatedKeys(annotations).map(
    (k) => `${k} is deprecated; use ${k.replace('metallb.universe.tf/', 'metallb.io/')}`,
  );
  const requested = requestedIPs(svc);
  if (!requested.ok) return requested;

  const ports: Port[] = [];
  for (const p of arr(svc.spec?.ports)) {
    const protocol = (p?.protocol ?? 'TCP') as Protocol;
    if (!PROTOCOLS.includes(protocol) || typeof p?.port !== 'number') continue;
    ports.push({ protocol, port: p.port });
  }
  const local = svc.spec?.externalTrafficPolicy === 'Local';
  const pool = readAnnotation(annotations, 'addressPool')?.value.trim();
  const req: ServiceRequest = {
    namespace,
    name,
    labels: stringMap(svc.metadata?.labels),
    ports,
    sharingKey: readAnnotation(annotations, 'allowSharedIP')?.value ?? '',
    backendKey: local ? formatLabels(stringMap(svc.spec?.selector)) : '',
    families: serviceFamilies(svc, opts),
    ipFamilyPolicy: policyOf(svc),
    requestedIPs: requested.ips,
    ...(pool ? { pool } : {}),
  };
  return { ok: true, req, warnings };
}

/** The value when it is an array, else [] (input may be hostile: `ports: 5` must not throw). */
function arr<T>(v: readonly T[] | undefined): readonly T[] {
  return Array.isArray(v) ? v : [];
}

/** Only string-valued entries of a label map. */
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  }
  return out;
}
