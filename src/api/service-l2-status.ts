// metallb.io/v1beta1 ServiceL2Status: status-only, one object per layer-2 Service, written by the speaker that
// announces it (MetalLB api/v1beta1/servicel2status_types.go, internal/k8s/controllers/layer2_status_controller.go;
// spec metallb-compat.md §1.7, §8.4). Created with generateName `l2-` in the speaker's namespace, labelled with the
// node and the Service; status.node/serviceName/serviceNamespace are immutable (CEL `self == oldSelf`).
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const SERVICE_L2_STATUS = kindInfo(METALLB_GROUP, 'v1beta1', 'ServiceL2Status', 'servicel2statuses', 'Namespaced');

export interface ServiceL2StatusStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
  /** Only when the announcement is restricted to listed interfaces. */
  interfaces?: Array<{ name?: string }>;
}

export interface ServiceL2Status extends KubeObject<never, ServiceL2StatusStatus> {
  status?: ServiceL2StatusStatus;
}

/** The labels MetalLB puts on ServiceL2Status (and ServiceBGPStatus) objects. */
export const SERVICE_STATUS_LABELS = {
  node: 'metallb.io/node',
  serviceName: 'metallb.io/service-name',
  serviceNamespace: 'metallb.io/service-namespace',
} as const;
