// What both Service webhooks first decide about a request: is it ours, and what does the Service ask for.
import type { Family, ServiceRequest } from '../allocator/types.ts';
import { assignedIPs, ingressIPs, isLoadBalancer, isOurClass, serviceRequestFrom, type ServiceLike } from '../config/service.ts';
import { canonicalIp, familyOf } from '../shared/ip.ts';
import type { Code } from '../shared/codes.ts';
import type { AdmissionRequest } from './review.ts';

export type ServiceContext =
  | { readonly kind: 'skip'; readonly why: string; readonly warnings: string[] }
  | { readonly kind: 'bad'; readonly code: Code; readonly message: string }
  | {
      readonly kind: 'ours';
      readonly svc: ServiceLike;
      readonly key: string;
      readonly req: ServiceRequest;
      readonly warnings: string[];
    };

export function serviceContext(
  request: AdmissionRequest,
  opts: { readonly lbClass?: string | undefined; readonly clusterFamilies?: readonly Family[] | undefined },
): ServiceContext {
  if (request.kind.kind !== 'Service' || request.kind.group !== '') {
    return { kind: 'skip', why: `not a Service (${request.kind.kind})`, warnings: [] };
  }
  if (request.subResource) return { kind: 'skip', why: `subresource ${request.subResource}`, warnings: [] };
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') {
    return { kind: 'skip', why: `operation ${request.operation}`, warnings: [] };
  }
  const svc = request.object as ServiceLike;
  if (!isLoadBalancer(svc)) return { kind: 'skip', why: 'not type LoadBalancer', warnings: [] };
  if (!isOurClass(svc, opts.lbClass)) return { kind: 'skip', why: 'another loadBalancerClass', warnings: [] };
  const name = svc.metadata?.name || request.name;
  if (!name) {
    // Mutating admission runs before the name is generated (apiserver handlers/create.go): no key to claim under.
    return {
      kind: 'skip',
      why: 'generateName without a name',
      warnings: ['berth assigns IPs to Services created with generateName after creation (controller), not at admission'],
    };
  }
  const namespace = svc.metadata?.namespace || request.namespace || 'default';
  const named: ServiceLike = { ...svc, metadata: { ...svc.metadata, name, namespace } };
  const r = serviceRequestFrom(named, opts.clusterFamilies ? { clusterFamilies: opts.clusterFamilies } : {});
  if (!r.ok) return { kind: 'bad', code: r.code, message: r.message };
  return { kind: 'ours', svc: named, key: `${namespace}/${name}`, req: r.req, warnings: r.warnings };
}

/** What the stored version of a Service (an UPDATE's oldObject) holds and asked for. */
export interface StoredService {
  /** It was a LoadBalancer of our class whose request parsed (else every request of the new version is new). */
  readonly req: ServiceRequest | undefined;
  /** IPs it holds: its `berth.io/assigned-ips`, else status.loadBalancer.ingress (canonical, v4 first). */
  readonly ips: string[];
  readonly uid: string | undefined;
  readonly resourceVersion: string | undefined;
}

/** Reads an UPDATE's oldObject as the webhook needs it; undefined for a CREATE or an unreadable oldObject. */
export function storedService(
  request: AdmissionRequest,
  opts: { readonly lbClass?: string | undefined; readonly clusterFamilies?: readonly Family[] | undefined },
): StoredService | undefined {
  if (request.operation !== 'UPDATE' || request.oldObject === null || typeof request.oldObject !== 'object') return undefined;
  const old = request.oldObject as ServiceLike;
  const name = old.metadata?.name || request.name;
  const namespace = old.metadata?.namespace || request.namespace || 'default';
  const named: ServiceLike = { ...old, metadata: { ...old.metadata, name, namespace } };
  const ours = isLoadBalancer(named) && isOurClass(named, opts.lbClass);
  const r = ours ? serviceRequestFrom(named, opts.clusterFamilies ? { clusterFamilies: opts.clusterFamilies } : {}) : undefined;
  const assigned = canonicalList(assignedIPs(named));
  const ips = ours ? (assigned.length > 0 ? assigned : canonicalList(ingressIPs(named))) : [];
  const uid = typeof old.metadata?.uid === 'string' && old.metadata.uid !== '' ? old.metadata.uid : undefined;
  const rv = (old.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
  return {
    req: r?.ok ? r.req : undefined,
    ips,
    uid,
    resourceVersion: typeof rv === 'string' && rv !== '' ? rv : undefined,
  };
}

/**
 * What in the IP request changed between two versions, or undefined when nothing did. The IP request is what decides
 * the IPs: requested IPs, pool, sharing key, backend key (externalTrafficPolicy/selector), ports, families and family
 * policy. Labels are not part of it (a label change that takes a Service out of a pool's serviceSelectors is the
 * configuration's business, handled by the controller like MetalLB's ClearAssignment).
 */
export function requestChange(before: ServiceRequest, after: ServiceRequest): string | undefined {
  const set = (xs: readonly string[]) => [...xs].sort().join(',');
  if (set(before.requestedIPs.map((ip) => canonicalIp(ip) ?? ip)) !== set(after.requestedIPs.map((ip) => canonicalIp(ip) ?? ip))) {
    return 'requested IPs';
  }
  if ((before.pool ?? '') !== (after.pool ?? '')) return 'address pool';
  if (before.sharingKey !== after.sharingKey) return 'sharing key';
  if (before.backendKey !== after.backendKey) return 'externalTrafficPolicy or selector';
  const ports = (r: ServiceRequest) => set(r.ports.map((p) => `${p.protocol}/${p.port}`));
  if (ports(before) !== ports(after)) return 'ports';
  if (before.families.join(',') !== after.families.join(',') || before.ipFamilyPolicy !== after.ipFamilyPolicy) {
    return 'IP families';
  }
  return undefined;
}

function canonicalList(ips: readonly string[]): string[] {
  const out: string[] = [];
  for (const ip of ips) {
    const c = canonicalIp(ip);
    if (c && !out.includes(c)) out.push(c);
  }
  return out.sort((a, b) => (familyOf(a) === 'IPv6' ? 1 : 0) - (familyOf(b) === 'IPv6' ? 1 : 0));
}
