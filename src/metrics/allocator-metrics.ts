// MetalLB's allocator gauges, per pool (internal/allocator/stats.go; spec metallb-compat.md §7). A shared IP counts once.
// `metallb_allocator_services_allocated_total` is registered but never set by MetalLB; berth sets it to the number of
// Services holding an IP in the pool (documented deviation: the name promises it, and dashboards can use it).
import { Gauge, type Registry } from 'prom-client';
import { metallbCounters } from '../allocator/counters.ts';
import type { PoolStats } from '../allocator/types.ts';

export interface AllocatorMetrics {
  /** Sets every gauge from the allocator's counters; pools absent from `stats` lose their series. */
  update(stats: readonly PoolStats[]): void;
}

export function allocatorMetrics(registry: Registry): AllocatorMetrics {
  const g = (name: string, help: string): Gauge<'pool'> =>
    new Gauge({ name, help, labelNames: ['pool'], registers: [registry] });
  const total = g('metallb_allocator_addresses_total', 'Number of usable IP addresses, per pool');
  const total4 = g('metallb_allocator_ipv4_addresses_total', 'Number of usable IPv4 addresses, per pool');
  const total6 = g('metallb_allocator_ipv6_addresses_total', 'Number of usable IPv6 addresses, per pool');
  const used = g('metallb_allocator_addresses_in_use_total', 'Number of IP addresses in use, per pool');
  const used4 = g('metallb_allocator_ipv4_addresses_in_use_total', 'Number of IPv4 addresses in use, per pool');
  const used6 = g('metallb_allocator_ipv6_addresses_in_use_total', 'Number of IPv6 addresses in use, per pool');
  const services = g(
    'metallb_allocator_services_allocated_total',
    'Number of Services holding an IP address, per pool (set by berth; MetalLB registers it without setting it)',
  );
  const all = [total, total4, total6, used, used4, used6, services];
  let known = new Set<string>();
  return {
    update(stats) {
      const now = new Set<string>();
      for (const s of stats) {
        now.add(s.pool);
        const l = { pool: s.pool };
        // int64 as MetalLB counts (IPv6 capacity saturates at MaxInt64); a gauge is a float64 anyway.
        const c = metallbCounters(s);
        total.set(l, Number(c.addressesTotal));
        total4.set(l, Number(c.ipv4AddressesTotal));
        total6.set(l, Number(c.ipv6AddressesTotal));
        used.set(l, c.addressesInUse);
        used4.set(l, c.assignedIPv4);
        used6.set(l, c.assignedIPv6);
        services.set(l, s.services);
      }
      for (const pool of known) if (!now.has(pool)) for (const m of all) m.remove({ pool });
      known = now;
    },
  };
}
