// metallb.io/v1beta1 ServiceBGPStatus: status-only, one object per (Service, announcing node), written by that node's
// speaker from its BGP plan (src/speaker/bgp-plan.ts `statuses`) (MetalLB api/v1beta1/servicebgpstatus_types.go,
// internal/k8s/controllers/bgp_status_controller.go; spec metallb-compat.md §1.7, §8.4). Created with generateName
// `bgp-` in the speaker's namespace, labelled like ServiceL2Status (SERVICE_STATUS_LABELS), owned by the speaker Pod;
// deleted when the node stops advertising the Service to every peer. node/serviceName/serviceNamespace are immutable.
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const SERVICE_BGP_STATUS = kindInfo(
  METALLB_GROUP,
  'v1beta1',
  'ServiceBGPStatus',
  'servicebgpstatuses',
  'Namespaced',
);

export interface ServiceBGPStatusStatus {
  node?: string;
  serviceName?: string;
  serviceNamespace?: string;
  /** BGPPeer names the node intends to advertise the Service to (not the session state). */
  peers?: string[];
}

export interface ServiceBGPStatus extends KubeObject<never, ServiceBGPStatusStatus> {
  status?: ServiceBGPStatusStatus;
}

/** generateName prefix of the objects (MetalLB). */
export const SERVICE_BGP_STATUS_GENERATE_NAME = 'bgp-';
