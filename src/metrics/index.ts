// berth's metrics: MetalLB's names, on an injected prom-client Registry (no global registry).
export { allocatorMetrics, type AllocatorMetrics } from './allocator-metrics.ts';
export { clientMetrics, type ClientMetrics } from './client-metrics.ts';
export { berthControllerMetrics, claimsHeldMetric, TIME_TO_IP_BUCKETS, type BerthControllerMetrics, type RepairCounts } from './controller-metrics.ts';
export { metricsHandler, serveMetrics, type MetricsServer, type NodeHandler } from './server.ts';
