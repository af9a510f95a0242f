// metallb.io/v1beta2 BGPPeer, the storage version (MetalLB api/v1beta2/bgppeer_types.go; spec metallb-compat.md §1.4).
// Durations are Go duration strings (metav1.Duration: `90s`, `1m30s`, `300ms`).
import type { LabelSelector } from '../shared/labels.ts';
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const BGP_PEER = kindInfo(METALLB_GROUP, 'v1beta2', 'BGPPeer', 'bgppeers', 'Namespaced');

export interface SecretReference {
  name?: string;
  namespace?: string;
}

export interface BGPPeerSpec {
  /** Local AS, required, 0 rejected. */
  myASN: number;
  /** Remote AS; exactly one of peerASN / dynamicASN. */
  peerASN?: number;
  /** `internal` (peer AS = myASN) or `external` (any other); FRR-only in MetalLB, native in berth. */
  dynamicASN?: 'internal' | 'external' | string;
  /** Per-peer local AS (FRR `local-as <ASN> no-prepend replace-as`, MetalLB v0.16); FRR-only in MetalLB, native in berth. */
  localASN?: number;
  peerAddress?: string;
  /** Unnumbered BGP, FRR-only in MetalLB; rejected by berth. */
  interface?: string;
  sourceAddress?: string;
  /** Default 179. */
  peerPort?: number;
  holdTime?: string;
  keepaliveTime?: string;
  connectTime?: string;
  routerID?: string;
  nodeSelectors?: LabelSelector[];
  /** TCP MD5 (RFC 2385); exclusive with passwordSecret. */
  password?: string;
  /** A `kubernetes.io/basic-auth` Secret in the load balancer's namespace, key `password`. */
  passwordSecret?: SecretReference;
  bfdProfile?: string;
  /** Immutable after creation (CEL). */
  enableGracefulRestart?: boolean;
  ebgpMultiHop?: boolean;
  /** Host VRF device to peer through; FRR-only in MetalLB; refused by berth (docs/bgp.md). */
  vrf?: string;
  /** Deprecated, no effect (admission warning). */
  disableMP?: boolean;
  dualStackAddressFamily?: boolean;
}

export interface BGPPeer extends KubeObject<BGPPeerSpec, Record<string, never>> {
  spec: BGPPeerSpec;
}

export const BGP_PEER_DEFAULTS = {
  peerPort: 179,
  enableGracefulRestart: false,
  ebgpMultiHop: false,
  disableMP: false,
  dualStackAddressFamily: false,
  /** Native MetalLB's hold time when unset (internal/bgp/native/native.go NewSession). */
  holdTime: '90s',
} as const;

export type BGPPeerSpecWithDefaults = BGPPeerSpec & {
  peerPort: number;
  nodeSelectors: LabelSelector[];
  enableGracefulRestart: boolean;
  ebgpMultiHop: boolean;
  disableMP: boolean;
  dualStackAddressFamily: boolean;
};

/** CRD defaults (peerPort 179, flags false, nodeSelectors []). holdTime stays unset: the timer rules need to know. */
export function withBGPPeerDefaults(spec: BGPPeerSpec): BGPPeerSpecWithDefaults {
  return {
    ...spec,
    peerPort: spec.peerPort ?? BGP_PEER_DEFAULTS.peerPort,
    nodeSelectors: spec.nodeSelectors ?? [],
    enableGracefulRestart: spec.enableGracefulRestart ?? BGP_PEER_DEFAULTS.enableGracefulRestart,
    ebgpMultiHop: spec.ebgpMultiHop ?? BGP_PEER_DEFAULTS.ebgpMultiHop,
    disableMP: spec.disableMP ?? BGP_PEER_DEFAULTS.disableMP,
    dualStackAddressFamily: spec.dualStackAddressFamily ?? BGP_PEER_DEFAULTS.dualStackAddressFamily,
  };
}
