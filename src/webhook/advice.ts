// Warning texts for Services admitted without an IP: why, and what would fix it. Pure.
import type { AllocResult } from '../allocator/types.ts';

/**
 * The warning for an admitted Service that holds no IP (an UPDATE that leaves its IP request as it was), from what a
 * dry-run allocation answers now: the reason and the remedies, or that the controller assigns the free IP shortly.
 */
export function noIpWarning(key: string, now: AllocResult): string {
  if (now.ok) {
    return `${key} has no IP yet; ${now.ips.join(', ')} from pool "${now.pool}" is free and the controller assigns it shortly`;
  }
  const remedy =
    now.code === 'LB_NO_POOLS'
      ? 'create an IPAddressPool that serves it'
      : now.code === 'LB_POOL_EXHAUSTED'
        ? 'free an IP, enlarge the pool, or share an IP with metallb.io/allow-shared-ip'
        : 'change the request (metallb.io/loadBalancerIPs, metallb.io/address-pool, ports) or the pools';
  return `${key} has no IP: ${now.message}; it keeps waiting (<pending>) until that changes: ${remedy}`;
}
