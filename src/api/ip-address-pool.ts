// metallb.io/v1beta1 IPAddressPool (MetalLB api/v1beta1/ipaddresspool_types.go; spec metallb-compat.md §1.1).
import type { LabelSelector } from '../shared/labels.ts';
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const IP_ADDRESS_POOL = kindInfo(
  METALLB_GROUP,
  'v1beta1',
  'IPAddressPool',
  'ipaddresspools',
  'Namespaced',
);

export interface ServiceAllocation {
  /** Lower positive number = higher priority; 0/unset = lowest. */
  priority?: number;
  namespaces?: string[];
  namespaceSelectors?: LabelSelector[];
  serviceSelectors?: LabelSelector[];
}

export interface IPAddressPoolSpec {
  /** CIDRs (`192.168.10.0/24`, `fc00::/124`) or ranges `a-b`; IPv4 and IPv6 may be mixed. Required, non-empty. */
  addresses: string[];
  /** Default true: the pool is used for automatic allocation. */
  autoAssign?: boolean;
  /** Default false: when true, IPv4 addresses ending in .0 or .255 are never allocated. */
  avoidBuggyIPs?: boolean;
  serviceAllocation?: ServiceAllocation;
}

/** Counters written by the controller through the status subresource (§8.3). */
export interface IPAddressPoolStatus {
  assignedIPv4: number;
  assignedIPv6: number;
  availableIPv4: number;
  availableIPv6: number;
}

export interface IPAddressPool extends KubeObject<IPAddressPoolSpec, IPAddressPoolStatus> {
  spec: IPAddressPoolSpec;
}

export const IP_ADDRESS_POOL_DEFAULTS = { autoAssign: true, avoidBuggyIPs: false } as const;

export type IPAddressPoolSpecWithDefaults = IPAddressPoolSpec & {
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
};

/** The spec with the CRD defaults applied (nil autoAssign → true, as MetalLB `addressPoolFromCR`). */
export function withIPAddressPoolDefaults(spec: IPAddressPoolSpec): IPAddressPoolSpecWithDefaults {
  return {
    ...spec,
    autoAssign: spec.autoAssign ?? IP_ADDRESS_POOL_DEFAULTS.autoAssign,
    avoidBuggyIPs: spec.avoidBuggyIPs ?? IP_ADDRESS_POOL_DEFAULTS.avoidBuggyIPs,
  };
}
