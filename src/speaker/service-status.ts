// What the speaker reads back from its cached ServiceL2Status / ServiceBGPStatus objects (MetalLB's CRDs,
// api/v1beta1/servicel2status_types.go and servicebgpstatus_types.go): the object's name, the labels that say which node
// and Service it is for, and a status body read defensively (the cache may hold objects written by anyone).
import { SERVICE_STATUS_LABELS } from '../api/service-l2-status.ts';
import type { KubeObject } from '../kube/client.ts';

/** A cached per-Service status object as the status writers see it. */
export interface ServiceStatusObject<B> {
  name: string;
  /** Label metallb.io/node. */
  node: string | undefined;
  /** `namespace/name` from the labels metallb.io/service-namespace and metallb.io/service-name. */
  service: string | undefined;
  status: B | undefined;
}

/** The status fields every per-Service status kind has (MetalLB: node, serviceName, serviceNamespace). */
export interface ServiceStatusCommon {
  node: string;
  serviceName: string;
  serviceNamespace: string;
}

/**
 * Reads a cached object: labels → node and Service; `status` → the body when `status.node` is a string (else
 * undefined), its common fields defaulted to '' and the kind's own fields taken by `rest` from the raw status.
 * Never throws.
 */
export function readServiceStatusObject<B extends ServiceStatusCommon>(
  o: KubeObject,
  rest: (raw: Record<string, unknown>) => Omit<B, keyof ServiceStatusCommon>,
): ServiceStatusObject<B> {
  const labels = o.metadata?.labels ?? {};
  const ns = labels[SERVICE_STATUS_LABELS.serviceNamespace];
  const name = labels[SERVICE_STATUS_LABELS.serviceName];
  const st = (o as { status?: Record<string, unknown> }).status;
  const common = (s: Record<string, unknown>): ServiceStatusCommon => ({
    node: s.node as string,
    serviceName: typeof s.serviceName === 'string' ? s.serviceName : '',
    serviceNamespace: typeof s.serviceNamespace === 'string' ? s.serviceNamespace : '',
  });
  return {
    name: o.metadata?.name ?? '',
    node: labels[SERVICE_STATUS_LABELS.node],
    service: ns && name ? `${ns}/${name}` : undefined,
    status:
      st && typeof st === 'object' && typeof st.node === 'string'
        ? ({ ...common(st), ...rest(st) } as B)
        : undefined,
  };
}
