// The webhook's own metrics (registered on an injected registry; no module-level singletons).
// berth_webhook_requests_total / _duration_seconds feed the "webhook error rate" and latency alerts.
import { Counter, Histogram, type Registry } from 'prom-client';

export type ReviewResult = 'allowed' | 'patched' | 'denied' | 'error';

export interface WebhookMetrics {
  observe(webhook: string, operation: string, result: ReviewResult, seconds: number): void;
}

export function webhookMetrics(registry: Registry): WebhookMetrics {
  const requests = new Counter({
    name: 'berth_webhook_requests_total',
    help: 'Admission reviews answered, by webhook path, operation and result (allowed, patched, denied, error).',
    labelNames: ['webhook', 'operation', 'result'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'berth_webhook_request_duration_seconds',
    help: 'Time to answer an admission review, by webhook path.',
    labelNames: ['webhook'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    observe(webhook, operation, result, seconds) {
      requests.inc({ webhook, operation, result });
      duration.observe({ webhook }, seconds);
    },
  };
}
