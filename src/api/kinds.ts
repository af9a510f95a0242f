// Every kind berth serves, and lookup by apiVersion + kind.
import { BFD_PROFILE } from './bfd-profile.ts';
import { BGP_ADVERTISEMENT } from './bgp-advertisement.ts';
import { BGP_PEER } from './bgp-peer.ts';
import { BGP_PEER_V1BETA1 } from './bgp-peer-v1beta1.ts';
import { COMMUNITY } from './community.ts';
import { CONFIGURATION_STATE } from './configuration-state.ts';
import { IP_ADDRESS_CLAIM } from './ip-address-claim.ts';
import { IP_ADDRESS_POOL } from './ip-address-pool.ts';
import { L2_ADVERTISEMENT } from './l2-advertisement.ts';
import { SERVICE_L2_STATUS } from './service-l2-status.ts';
import { SERVICE_BGP_STATUS } from './service-bgp-status.ts';
import type { KindInfo } from './object.ts';

/** The metallb.io configuration kinds (what src/config reads), storage versions plus v1beta1 BGPPeer. */
export const CONFIG_KINDS: readonly KindInfo[] = [
  IP_ADDRESS_POOL,
  L2_ADVERTISEMENT,
  BGP_ADVERTISEMENT,
  BGP_PEER,
  BGP_PEER_V1BETA1,
  COMMUNITY,
  BFD_PROFILE,
];

/** Every served kind/version that has a JSON Schema in policies/schemas. */
export const ALL_KINDS: readonly KindInfo[] = [...CONFIG_KINDS, CONFIGURATION_STATE, SERVICE_L2_STATUS, SERVICE_BGP_STATUS, IP_ADDRESS_CLAIM];

export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  return ALL_KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
}
