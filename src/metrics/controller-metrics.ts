// berth's own controller metrics (docs/metrics.md), beside MetalLB's names (allocator-metrics.ts, client-metrics.ts):
//   berth_claims_held{pool}             gauge: IPAddressClaims in the claim cache, per pool, read at each scrape
//                                       (claimsHeldMetric; the controller process registers it)
//   berth_claim_repairs_total{action}   counter: claim repair loop actions (released, deleted, error)
//   berth_time_to_ip_seconds            histogram: Service creation (metadata.creationTimestamp) to its IP in status
// The last two (berthControllerMetrics) need the controller's hooks: repaired() after each repair pass and
// timeToIP() when it first writes an IP to a Service's status (src/controller/controller.ts, not wired yet).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the repair loop reports (src/controller/repair.ts RepairReport, the fields counted here). */
export interface RepairCounts {
  readonly released: ReadonlyArray<{ readonly deleted: boolean }>;
  readonly errors: readonly string[];
}

export interface BerthControllerMetrics {
  /** One repair pass: each released holder counts `released`, or `deleted` when its claim was deleted; errors `error`. */
  repaired(report: RepairCounts): void;
  /**
   * A Service got its first IP in status `seconds` after it was created (>= 0; a negative or non-finite value,
   * e.g. from clock skew between the API server and this process, is counted as 0 / ignored respectively).
   */
  timeToIP(seconds: number): void;
}

/** Buckets of berth_time_to_ip_seconds: from 10 ms (webhook path, status written at once) to 2 minutes. */
export const TIME_TO_IP_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/**
 * Registers berth_claims_held on `registry`: `claims` (the claim cache's list(), IPAddressClaim objects with
 * `spec.pool`) is read at every scrape and counted per pool; pools without claims have no series.
 */
export function claimsHeldMetric(registry: Registry, claims: () => ReadonlyArray<{ readonly spec: { readonly pool: string } }>): void {
  new Gauge({
    name: 'berth_claims_held',
    help: 'IPAddressClaims (berth.io) held, per pool, as the claim cache sees them at scrape time.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      const byPool = new Map<string, number>();
      for (const c of claims()) byPool.set(c.spec.pool, (byPool.get(c.spec.pool) ?? 0) + 1);
      for (const [pool, n] of byPool) this.set({ pool }, n);
    },
  });
}

/** Registers berth_claim_repairs_total and berth_time_to_ip_seconds on `registry` (fed by the controller's hooks). */
export function berthControllerMetrics(registry: Registry): BerthControllerMetrics {
  const repairs = new Counter({
    name: 'berth_claim_repairs_total',
    help: 'Claim repair loop actions: released (an orphaned holder removed), deleted (its claim deleted), error.',
    labelNames: ['action'],
    registers: [registry],
  });
  // Every action exported from the start (0), so rate() and absent() see the series before the first repair.
  for (const action of ['released', 'deleted', 'error']) repairs.inc({ action }, 0);
  const timeToIp = new Histogram({
    name: 'berth_time_to_ip_seconds',
    help: "Seconds from a LoadBalancer Service's creation to its first IP in status.",
    buckets: [...TIME_TO_IP_BUCKETS],
    registers: [registry],
  });
  return {
    repaired(report) {
      for (const r of report.released) repairs.inc({ action: r.deleted ? 'deleted' : 'released' });
      if (report.errors.length > 0) repairs.inc({ action: 'error' }, report.errors.length);
    },
    timeToIP(seconds) {
      if (!Number.isFinite(seconds)) return;
      timeToIp.observe(Math.max(0, seconds));
    },
  };
}
