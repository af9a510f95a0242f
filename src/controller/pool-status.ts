// IPAddressPool status counters from the allocator (MetalLB pool_status_controller.go; spec §8.3): assigned = distinct
// IPs of a family in use in the pool; available = usable capacity (after avoidBuggyIPs) minus assigned; int64,
// saturating at MaxInt64 for huge IPv6 ranges.
import { MAX_INT64, metallbCounters } from '../allocator/counters.ts';
import type { PoolStats } from '../allocator/types.ts';

export interface PoolCounters {
  readonly assignedIPv4: bigint;
  readonly assignedIPv6: bigint;
  readonly availableIPv4: bigint;
  readonly availableIPv6: bigint;
}

export function poolCounters(s: PoolStats): PoolCounters {
  const c = metallbCounters(s);
  return {
    assignedIPv4: BigInt(c.assignedIPv4),
    assignedIPv6: BigInt(c.assignedIPv6),
    availableIPv4: c.availableIPv4,
    availableIPv6: c.availableIPv6,
  };
}

export function sameCounters(a: PoolCounters | undefined, b: PoolCounters): boolean {
  return (
    a !== undefined &&
    a.assignedIPv4 === b.assignedIPv4 &&
    a.assignedIPv6 === b.assignedIPv6 &&
    a.availableIPv4 === b.availableIPv4 &&
    a.availableIPv6 === b.availableIPv6
  );
}

/** Counters as a pool object's status shows them (numbers or digit strings), for comparing with what we would write. */
export function countersFromStatus(status: unknown): PoolCounters | undefined {
  if (status === null || typeof status !== 'object') return undefined;
  const s = status as Record<string, unknown>;
  const big = (v: unknown): bigint | undefined => {
    // JSON.parse rounds MaxInt64 up to 2^63: saturate what comes back as we saturate what we write.
    if (typeof v === 'number' && Number.isInteger(v)) return clamp(BigInt(v));
    if (typeof v === 'string' && /^\d+$/.test(v)) return clamp(BigInt(v));
    return undefined;
  };
  const a4 = big(s.assignedIPv4);
  const a6 = big(s.assignedIPv6);
  const v4 = big(s.availableIPv4);
  const v6 = big(s.availableIPv6);
  if (a4 === undefined || a6 === undefined || v4 === undefined || v6 === undefined) return undefined;
  return { assignedIPv4: a4, assignedIPv6: a6, availableIPv4: v4, availableIPv6: v6 };
}

function clamp(v: bigint): bigint {
  return v > MAX_INT64 ? MAX_INT64 : v < 0n ? 0n : v;
}
