// What both Service webhooks first decide about a request: is it ours, and what does the Service ask for.
import type { Family, ServiceRequest } from '../allocator/types.ts';
import { isLoadBalancer, isOurClass, serviceRequestFrom, type ServiceLike } from '../config/service.ts';
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
