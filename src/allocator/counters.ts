// Pool counters as MetalLB reports them (internal/allocator/allocator.go poolCount / updatePoolStats; spec §3.4,
// §8.3): int64 values, where IPv6 capacity saturates at MaxInt64. PoolStats keeps exact bigint totals (a /64 holds
// 2^64 addresses, more than int64 can hold); this turns them into the numbers that go into the
// metallb_allocator_* gauges and the IPAddressPool status (assignedIPv4/IPv6, availableIPv4/IPv6).
//
// Saturation rule: MetalLB returns MaxInt64 for the IPv6 (and overall) capacity as soon as one CIDR has >= 62 host
// bits. Every such CIDR alone has >= 2^62 addresses, so berth saturates when the exact IPv6 total reaches 2^62.
// Deviations, both for configurations MetalLB mis-counts: (1) a pool whose IPv6 total reaches 2^62 only through
// several smaller CIDRs (five /67s...) also saturates here, where MetalLB would sum them; (2) MetalLB keeps adding the
// following CIDRs to MaxInt64 and overflows (negative gauges); berth stays at MaxInt64 and keeps the IPv4 total exact.
import type { PoolStats } from './types.ts';

export const MAX_INT64 = (1n << 63n) - 1n;
const HUGE = 1n << 62n;

export interface MetalLBCounters {
  readonly pool: string;
  /** metallb_allocator_addresses_total */
  readonly addressesTotal: bigint;
  /** metallb_allocator_ipv4_addresses_total */
  readonly ipv4AddressesTotal: bigint;
  /** metallb_allocator_ipv6_addresses_total (MaxInt64 for huge pools) */
  readonly ipv6AddressesTotal: bigint;
  /** metallb_allocator_addresses_in_use_total (distinct IPs; a shared IP counts once) */
  readonly addressesInUse: number;
  /** status.assignedIPv4 and metallb_allocator_ipv4_addresses_in_use_total */
  readonly assignedIPv4: number;
  /** status.assignedIPv6 and metallb_allocator_ipv6_addresses_in_use_total */
  readonly assignedIPv6: number;
  /** status.availableIPv4 = capacity - assigned */
  readonly availableIPv4: bigint;
  /** status.availableIPv6 = capacity - assigned (MaxInt64 - assigned for huge pools, as MetalLB) */
  readonly availableIPv6: bigint;
}

/** MetalLB's int64 view of one pool's counters. Gauges take `Number(x)` (MaxInt64 → 9.223372036854776e18). */
export function metallbCounters(s: PoolStats): MetalLBCounters {
  const v4 = s.ipv4Total;
  const v6 = s.ipv6Total >= HUGE ? MAX_INT64 : s.ipv6Total;
  const total = v6 === MAX_INT64 ? MAX_INT64 : v4 + v6;
  return {
    pool: s.pool,
    addressesTotal: total,
    ipv4AddressesTotal: v4,
    ipv6AddressesTotal: v6,
    addressesInUse: s.ipv4InUse + s.ipv6InUse,
    assignedIPv4: s.ipv4InUse,
    assignedIPv6: s.ipv6InUse,
    availableIPv4: v4 - BigInt(s.ipv4InUse),
    availableIPv6: v6 - BigInt(s.ipv6InUse),
  };
}
