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

/**
 * Per-pool counters for metrics and IPAddressPool status. Totals are exact bigints (a /64 has 2^64 addresses); use
 * `metallbCounters` (counters.ts) for MetalLB's int64 view, which saturates IPv6 capacity at MaxInt64.
 */
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

/** One holder of an IP, as the allocator records it. */
export interface Holder {
  readonly key: string;
  readonly sharingKey: string;
  readonly backendKey: string;
  readonly ports: readonly Port[];
}

/**
 * The allocator's surface (implemented by `Allocator` in allocator.ts). Pure and synchronous: no I/O, no timers.
 * Keys are `namespace/name`.
 */
export interface AllocatorApi {
  /** Replaces the pools; re-maps held IPs to the pools that now contain them; drops and reports the others. */
  setPools(pools: readonly PoolSpec[]): { orphaned: Orphan[] };
  /** What setPools would orphan, without changing anything (for the webhook's pool checks and `berth plan`). */
  planPools(pools: readonly PoolSpec[]): { orphaned: Orphan[] };
  /** Chooses and records IP(s) for the Service, MetalLB's decision order. Idempotent for a key that holds valid IPs. */
  allocate(key: string, req: ServiceRequest): AllocResult;
  /** Records exactly these IPs for the Service (requested IPs, restart rebuild, claims seen in the API). */
  assign(key: string, req: ServiceRequest, ips: readonly string[]): AllocResult;
  /** Would `assign(key, req, ips)` succeed? Changes nothing. */
  check(key: string, req: ServiceRequest, ips: readonly string[]): AllocResult;
  /**
   * Records what the API says a key holds (an IPAddressClaim seen by an informer, possibly for a Service that is not
   * stored yet), without the Service's policy checks (family, requested IPs, address-pool, serviceAllocation): only
   * the allocator's invariants are enforced (IPs in one pool, one per family, no clash with other holders).
   * Added by the allocator owner for the claim step's 409 refresh and the restart rebuild.
   */
  restore(key: string, holder: Omit<Holder, 'key'>, ips: readonly string[]): AllocResult;
  /** Frees whatever the key holds (no-op when nothing). */
  release(key: string): void;
  /** IPs held by the key, in allocation order (v4 before v6 for dual stack), or undefined. */
  ipsOf(key: string): { ips: readonly string[]; pool: string } | undefined;
  /** Holders of an IP (several when shared). */
  holdersOf(ip: string): readonly Holder[];
  /** Name of the pool containing the IP (ignoring avoidBuggyIPs), or undefined. */
  poolOf(ip: string): string | undefined;
  /** Counters per pool, in pool-name order. */
  stats(): PoolStats[];
}
