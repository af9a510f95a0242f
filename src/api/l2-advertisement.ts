// metallb.io/v1beta1 L2Advertisement (MetalLB api/v1beta1/l2advertisement_types.go; spec metallb-compat.md §1.2).
import type { LabelSelector } from '../shared/labels.ts';
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const L2_ADVERTISEMENT = kindInfo(
  METALLB_GROUP,
  'v1beta1',
  'L2Advertisement',
  'l2advertisements',
  'Namespaced',
);

/** Soft preference for the L2 owner election: weights of matching selectors are summed per node. */
export interface PreferredNodeSelector {
  /** 1-100. */
  weight: number;
  preference: LabelSelector;
}

export interface L2AdvertisementSpec {
  /** Pools by name. Both this and ipAddressPoolSelectors empty: every pool. */
  ipAddressPools?: string[];
  ipAddressPoolSelectors?: LabelSelector[];
  /** Empty: every node may announce. */
  nodeSelectors?: LabelSelector[];
  /** Empty: answer on every interface. */
  interfaces?: string[];
  /** Empty: every Service of the selected pools. */
  serviceSelectors?: LabelSelector[];
  preferredNodeSelectors?: PreferredNodeSelector[];
}

export interface L2Advertisement extends KubeObject<L2AdvertisementSpec, Record<string, never>> {
  spec?: L2AdvertisementSpec;
}

export type L2AdvertisementSpecWithDefaults = Required<L2AdvertisementSpec>;

/** Every list present (empty when absent). */
export function withL2AdvertisementDefaults(
  spec: L2AdvertisementSpec | undefined,
): L2AdvertisementSpecWithDefaults {
  return {
    ipAddressPools: spec?.ipAddressPools ?? [],
    ipAddressPoolSelectors: spec?.ipAddressPoolSelectors ?? [],
    nodeSelectors: spec?.nodeSelectors ?? [],
    interfaces: spec?.interfaces ?? [],
    serviceSelectors: spec?.serviceSelectors ?? [],
    preferredNodeSelectors: spec?.preferredNodeSelectors ?? [],
  };
}
