// What src/config produces: the validated, defaulted configuration every component runs on (MetalLB's config.Config).
import type { PoolSpec } from '../allocator/types.ts';
import type { KubeObject } from '../api/object.ts';
import type { PreferredNodeSelector } from '../api/l2-advertisement.ts';
import type { BFDProfileSpecWithDefaults } from '../api/bfd-profile.ts';
import type { SecretReference } from '../api/bgp-peer.ts';
import type { Problem } from '../shared/codes.ts';
import type { LabelSelector } from '../shared/labels.ts';

export interface LabelledName {
  name: string;
  labels: Record<string, string>;
}

/** The raw objects of one cluster (or one Git overlay): everything is validated together, as MetalLB does. */
export interface ClusterResources {
  pools: KubeObject[];
  l2Advertisements: KubeObject[];
  bgpAdvertisements: KubeObject[];
  /** metallb.io/v1beta2 or v1beta1 (converted). */
  bgpPeers: KubeObject[];
  communities: KubeObject[];
  bfdProfiles: KubeObject[];
  /** Namespaces with their labels, to resolve pools' namespaceSelectors. */
  namespaces: LabelledName[];
  /** Nodes with their labels; when given, advertisements and peers also carry the names of the nodes they select. */
  nodes?: LabelledName[];
}

export interface BuildOptions {
  /** The load balancer's namespace: metallb.io objects elsewhere are refused (`resource must be created in ...`). */
  namespace: string;
  /**
   * Skip references that may legitimately not exist yet (MetalLB's webhooks blank them, `resetTransientErrorsFields`):
   * a peer's bfdProfile, and community aliases used by BGPAdvertisements. Such errors then appear at load time only.
   */
  deferTransient?: boolean;
}

export interface L2AdvertisementConfig {
  name: string;
  /** Names of the existing pools it applies to, sorted. */
  pools: string[];
  /** Empty: every node. */
  nodeSelectors: LabelSelector[];
  /** Nodes selected, sorted; only when ClusterResources.nodes was given. */
  nodes?: string[];
  /** Empty: every interface. */
  interfaces: string[];
  /** Empty: every Service. */
  serviceSelectors: LabelSelector[];
  preferredNodeSelectors: PreferredNodeSelector[];
  /** berth.io/l2-balance: "true" on the object: balanced owner election (src/speaker/election.ts). */
  balanced?: boolean;
}

export interface BGPAdvertisementConfig {
  name: string;
  pools: string[];
  aggregationLength: number;
  aggregationLengthV6: number;
  localPref: number;
  /** Community values, aliases resolved, canonical text (`65000:100`, `large:1:2:3`). */
  communities: string[];
  /** Peer names; empty: every peer. */
  peers: string[];
  nodeSelectors: LabelSelector[];
  nodes?: string[];
  serviceSelectors: LabelSelector[];
  /** berth.io/bgp-link-bandwidth on the object: link-bandwidth community, bits/s per ready endpoint (docs/bgp.md). */
  linkBandwidth?: { perEndpointBitsPerSecond: number };
}

export interface PeerConfig {
  name: string;
  myASN: number;
  /** 0 when dynamicASN is set. */
  peerASN: number;
  /** BGPPeer dynamicASN: any peer AS equal to myASN (internal) or different (external). */
  dynamicASN?: 'internal' | 'external';
  /** BGPPeer localASN: the AS this session speaks as instead of myASN (FRR local-as … no-prepend replace-as). */
  localASN?: number;
  /**
   * BGPPeer vrf: the VRF device to bind the session socket to (SO_BINDTODEVICE). Never set today: parsePeer refuses
   * vrf until a VRF peering is proven against FRR (docs/bgp.md).
   */
  vrf?: string;
  /**
   * BGPPeer interface (BGP unnumbered, RFC 8950): the session runs to the router that sends Router Advertisements on
   * this interface, over IPv6 link-locals; peerAddress is '' then (bgp/session.ts `interface`, docs/bgp.md).
   */
  interface?: string;
  /** Canonical IP; '' with `interface`. */
  peerAddress: string;
  sourceAddress?: string;
  peerPort: number;
  /** Hold time in ms, rounded down to whole seconds; undefined: the native default (90 s). */
  holdTimeMs?: number;
  keepaliveTimeMs?: number;
  connectTimeMs?: number;
  routerID?: string;
  nodeSelectors: LabelSelector[];
  nodes?: string[];
  password?: string;
  passwordSecret?: SecretReference;
  bfdProfile?: string;
  enableGracefulRestart: boolean;
  ebgpMultiHop: boolean;
  dualStackAddressFamily: boolean;
}

export type BFDProfileConfig = { name: string } & BFDProfileSpecWithDefaults;

export interface Config {
  /** Sorted by name; namespaceSelectors already resolved to names. */
  pools: PoolSpec[];
  l2Advertisements: L2AdvertisementConfig[];
  bgpAdvertisements: BGPAdvertisementConfig[];
  peers: PeerConfig[];
  /** Community alias → canonical value. */
  communities: Record<string, string>;
  bfdProfiles: BFDProfileConfig[];
}

export interface BuildResult {
  /** Undefined when any problem was found (every problem is an error). */
  config?: Config;
  problems: Problem[];
  /** Accepted but worth saying (deprecated fields, references to missing pools). */
  warnings: string[];
}

/** Native BGP's hold time when a peer sets neither holdTime nor keepaliveTime (MetalLB native.go NewSession). */
export const DEFAULT_HOLD_TIME_MS = 90_000;
