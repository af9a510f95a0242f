// metallb.io/v1beta1 BGPAdvertisement (MetalLB api/v1beta1/bgpadvertisement_types.go; spec metallb-compat.md §1.3).
import type { LabelSelector } from '../shared/labels.ts';
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const BGP_ADVERTISEMENT = kindInfo(
  METALLB_GROUP,
  'v1beta1',
  'BGPAdvertisement',
  'bgpadvertisements',
  'Namespaced',
);

export interface BGPAdvertisementSpec {
  /** IPv4 prefix length announced (the IP masked to it). Default 32. */
  aggregationLength?: number;
  /** IPv6 prefix length announced. Default 128. */
  aggregationLengthV6?: number;
  /** LOCAL_PREF, sent to iBGP peers only. Default 0. */
  localPref?: number;
  /** `A:B` (two uint16), `large:X:Y:Z` (three uint32) or the name of a Community alias. */
  communities?: string[];
  ipAddressPools?: string[];
  ipAddressPoolSelectors?: LabelSelector[];
  /** Nodes that act as next hops. Empty: every node. */
  nodeSelectors?: LabelSelector[];
  /** BGPPeer names to announce to. Empty: every peer. */
  peers?: string[];
  /** Only with the default aggregation lengths (CEL rule). Empty: every Service. */
  serviceSelectors?: LabelSelector[];
}

export interface BGPAdvertisement extends KubeObject<BGPAdvertisementSpec, Record<string, never>> {
  spec?: BGPAdvertisementSpec;
}

export const BGP_ADVERTISEMENT_DEFAULTS = {
  aggregationLength: 32,
  aggregationLengthV6: 128,
  localPref: 0,
} as const;

export type BGPAdvertisementSpecWithDefaults = Required<BGPAdvertisementSpec>;

export function withBGPAdvertisementDefaults(
  spec: BGPAdvertisementSpec | undefined,
): BGPAdvertisementSpecWithDefaults {
  return {
    aggregationLength: spec?.aggregationLength ?? BGP_ADVERTISEMENT_DEFAULTS.aggregationLength,
    aggregationLengthV6: spec?.aggregationLengthV6 ?? BGP_ADVERTISEMENT_DEFAULTS.aggregationLengthV6,
    localPref: spec?.localPref ?? BGP_ADVERTISEMENT_DEFAULTS.localPref,
    communities: spec?.communities ?? [],
    ipAddressPools: spec?.ipAddressPools ?? [],
    ipAddressPoolSelectors: spec?.ipAddressPoolSelectors ?? [],
    nodeSelectors: spec?.nodeSelectors ?? [],
    peers: spec?.peers ?? [],
    serviceSelectors: spec?.serviceSelectors ?? [],
  };
}
