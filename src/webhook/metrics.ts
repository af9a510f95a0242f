// The webhook's own metrics (registered on an injected registry; no module-level singletons); docs/metrics.md.
//   berth_webhook_requests_total{webhook,operation,result}    reviews answered (allowed, patched, denied, error)
//   berth_webhook_request_duration_seconds{webhook}           admission latency histogram (seconds)
//   berth_webhook_decisions_total{webhook,result,reason}      decisions by result (allowed, pending, denied, error)
//                                                             and reason (problem code of docs/errors.md, e.g.
//                                                             LB_POOL_EXHAUSTED; `none` when allowed without one)
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AdmissionResponse } from './review.ts';

export type ReviewResult = 'allowed' | 'patched' | 'denied' | 'error';

/** What a review decided, as the decision log names it (app.ts decisionOf): `pending` = allowed without an IP. */
export type DecisionResult = 'allowed' | 'pending' | 'denied' | 'error';

export interface WebhookMetrics {
  /**
   * One review answered on `webhook` (the route name, e.g. mutate-service) for `operation` (CREATE, UPDATE...),
   * in `seconds`. With `response`, the decision is also counted by result and reason.
   */
  observe(webhook: string, operation: string, result: ReviewResult, seconds: number, response?: AdmissionResponse): void;
}

/**
 * The decision (result, reason) of an admission response: reason is the problem code the webhook put in the
 * audit annotations (`code` when denied, `pending` when allowed without an IP), else the status reason of an error
 * (InternalError, BadRequest...), else `none`. Codes come from a fixed catalogue (docs/errors.md), so the label's
 * cardinality is bounded.
 */
export function decisionLabels(r: AdmissionResponse): { result: DecisionResult; reason: string } {
  const audit = r.auditAnnotations ?? {};
  const code = r.status?.code;
  const result: DecisionResult = r.allowed
    ? audit['pending']
      ? 'pending'
      : 'allowed'
    : code !== undefined && (code >= 500 || code === 400 || code === 413)
      ? 'error'
      : 'denied';
  const reason = audit['pending'] ?? audit['code'] ?? (result === 'allowed' ? undefined : r.status?.reason) ?? 'none';
  return { result, reason };
}

/** Registers the webhook's metrics on `registry` (a second registry may hold the same names). */
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
  const decisions = new Counter({
    name: 'berth_webhook_decisions_total',
    help: 'Admission decisions, by webhook path, result (allowed, pending, denied, error) and reason (problem code, or none).',
    labelNames: ['webhook', 'result', 'reason'],
    registers: [registry],
  });
  return {
    observe(webhook, operation, result, seconds, response) {
      requests.inc({ webhook, operation, result });
      duration.observe({ webhook }, seconds);
      if (response) decisions.inc({ webhook, ...decisionLabels(response) });
    },
  };
}
