// The allocator's public types. Plain data: no Kubernetes types cross this boundary (see architecture map).
import type { Code } from '../shared/codes.ts';
import type { Family } from '../shared/ip.ts';
import type { LabelSelector, Labels } from '../shared/labels.ts';

export type { Family } from '../shared/ip.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Port {
  readonly protocol: Protocol;
  readonly port: number;
}

/** An IPAddressPool as the allocator sees it (already validated by src/config). */
export interface PoolSpec {
  readonly name: string;
  /** CIDRs or `a-b` ranges, in configuration order. */
  readonly addresses: readonly string[];
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  /** Absent when the pool has no serviceAllocation. */
  readonly serviceAllocation?: {
    readonly priority: number;
    /** Namespace names, with namespaceSelectors already resolved to names by the caller. */
    readonly namespaces: readonly string[];
    /** True when the pool declared namespaces or namespaceSelectors (even if they resolved to no name). */
    readonly namespaceConstrained: boolean;
    readonly serviceSelectors: readonly LabelSelector[];
  };
}

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** What the allocator needs to know of a Service. Key = `namespace/name`. */
export interface ServiceRequest {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly ports: readonly Port[];
  /** allow-shared-ip value, '' when absent. */
  readonly sharingKey: string;
  /** '' for externalTrafficPolicy Cluster; canonical selector string for Local. */
  readonly backendKey: string;
  /** Families of the Service's ClusterIPs in order (ipFamilies); ['IPv4'], ['IPv6'] or both. */
  readonly families: readonly Family[];
  readonly ipFamilyPolicy: IpFamilyPolicy;
  /** Requested IPs (spec.loadBalancerIP or the loadBalancerIPs annotation), as written. Empty: none. */
  readonly requestedIPs: readonly string[];
  /** The address-pool annotation, when set. */
  readonly pool?: string;
}

export type AllocResult =
  | { readonly ok: true; readonly ips: readonly string[]; readonly pool: string }
  | { readonly ok: false; readonly code: Code; readonly message: string };

/** Per-pool counters for metrics and IPAddressPool status (saturating at Number.MAX_SAFE_INTEGER... see stats). */
export interface PoolStats {
  readonly pool: string;
  readonly ipv4Total: bigint;
  readonly ipv6Total: bigint;
  readonly ipv4InUse: number;
  readonly ipv6InUse: number;
  /** Distinct services holding IPs in the pool. */
  readonly services: number;
}

/** A holder that a pool change would leave with an IP in no pool. */
export interface Orphan {
  readonly key: string;
  readonly ips: readonly string[];
  /** The pool the IPs came from before the change. */
  readonly pool: string;
}
