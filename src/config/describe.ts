// Small views of a Config used in messages and by the allocator's callers.
import type { PoolSpec } from '../allocator/types.ts';
import type { Config } from './types.ts';

/** `default: 192.168.1.220-192.168.1.250` (addresses as written, comma-separated). */
export function describePoolAddresses(pool: Pick<PoolSpec, 'name' | 'addresses'>): string {
  return `${pool.name}: ${pool.addresses.join(', ')}`;
}

/** The pools as the allocator takes them (already sorted by name, namespaceSelectors resolved). */
export function poolSpecsFrom(config: Config): PoolSpec[] {
  return [...config.pools];
}
