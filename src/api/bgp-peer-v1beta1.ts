// metallb.io/v1beta1 BGPPeer: served and deprecated, read by berth and converted to v1beta2
// (MetalLB api/v1beta1/bgppeer_types.go, bgppeer_conversion.go; spec metallb-compat.md §1.4).
//
// Every v1beta1 field exists in v1beta2 under the same JSON name with a compatible type (v1beta1 is a subset), which
// is why berth's CRD can declare `conversion: strategy: None` instead of MetalLB's conversion webhook: the API server
// only rewrites apiVersion. The limit: v1beta2-only fields are not in the v1beta1 schema, so an object written back
// through v1beta1 loses them (pruning); use v1beta2 for new manifests.
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';
import { BGP_PEER, type BGPPeer, type BGPPeerSpec, type SecretReference } from './bgp-peer.ts';

export const BGP_PEER_V1BETA1 = kindInfo(METALLB_GROUP, 'v1beta1', 'BGPPeer', 'bgppeers', 'Namespaced');

/** v1beta1's own node selector type: like a LabelSelector, but `values` must be non-empty. */
export interface LegacyNodeSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values: string[] }>;
}

export interface BGPPeerSpecV1beta1 {
  myASN: number;
  peerASN: number;
  peerAddress: string;
  sourceAddress?: string;
  /** 0-16384, no default in v1beta1. */
  peerPort?: number;
  holdTime?: string;
  keepaliveTime?: string;
  routerID?: string;
  nodeSelectors?: LegacyNodeSelector[];
  password?: string;
  passwordSecret?: SecretReference;
  bfdProfile?: string;
  ebgpMultiHop?: boolean;
  vrf?: string;
}

export interface BGPPeerV1beta1 extends KubeObject<BGPPeerSpecV1beta1, Record<string, never>> {
  spec: BGPPeerSpecV1beta1;
}

/** v1beta1 spec → v1beta2 spec. Unset fields stay unset; the legacy node selectors are label selectors already. */
export function convertBGPPeerSpecV1beta1(spec: BGPPeerSpecV1beta1): BGPPeerSpec {
  const out: BGPPeerSpec = { myASN: spec.myASN };
  const copy = <K extends keyof BGPPeerSpecV1beta1 & keyof BGPPeerSpec>(k: K): void => {
    if (spec[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = spec[k];
  };
  copy('peerASN');
  copy('peerAddress');
  copy('sourceAddress');
  copy('holdTime');
  copy('keepaliveTime');
  copy('routerID');
  copy('password');
  copy('bfdProfile');
  copy('ebgpMultiHop');
  copy('vrf');
  // v1beta1 has no default and its Go field is omitempty: 0 means unset, so v1beta2's default (179) applies.
  if (spec.peerPort !== undefined && spec.peerPort !== 0) out.peerPort = spec.peerPort;
  if (spec.passwordSecret !== undefined) out.passwordSecret = { ...spec.passwordSecret };
  if (spec.nodeSelectors !== undefined) {
    out.nodeSelectors = spec.nodeSelectors.map((s) => ({
      ...(s.matchLabels !== undefined ? { matchLabels: { ...s.matchLabels } } : {}),
      ...(s.matchExpressions !== undefined
        ? {
            matchExpressions: s.matchExpressions.map((e) => ({
              key: e.key,
              operator: e.operator,
              values: [...(e.values ?? [])],
            })),
          }
        : {}),
    }));
  }
  return out;
}

/** A whole v1beta1 object as its v1beta2 equivalent (metadata kept, status dropped: BGPPeer has none). */
export function convertBGPPeerV1beta1(obj: BGPPeerV1beta1): BGPPeer {
  return {
    apiVersion: BGP_PEER.apiVersion,
    kind: BGP_PEER.kind,
    metadata: { ...obj.metadata },
    spec: convertBGPPeerSpecV1beta1(obj.spec),
  };
}
