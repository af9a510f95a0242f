import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { decisionLabels, webhookMetrics } from './metrics.ts';
import { allow, deny, errored } from './review.ts';

test('decisionLabels: result and reason of allowed, pending, denied and errored reviews', () => {
  assert.deepEqual(decisionLabels(allow('u', { auditAnnotations: { 'assigned-ips': '192.168.1.220', pool: 'default' } })), {
    result: 'allowed',
    reason: 'none',
  });
  assert.deepEqual(decisionLabels(allow('u', { auditAnnotations: { pending: 'LB_NO_POOLS' } })), { result: 'pending', reason: 'LB_NO_POOLS' });
  assert.deepEqual(decisionLabels(deny('u', 'pool "default" is exhausted', { code: 'LB_POOL_EXHAUSTED' })), {
    result: 'denied',
    reason: 'LB_POOL_EXHAUSTED',
  });
  assert.deepEqual(decisionLabels(deny('u', 'no')), { result: 'denied', reason: 'Forbidden' });
  assert.deepEqual(decisionLabels(errored('u', 503, 'berth webhook is not ready')), { result: 'error', reason: 'InternalError' });
  assert.deepEqual(decisionLabels(errored('u', 400, 'undecodable')), { result: 'error', reason: 'LB_BAD_REVIEW' });
});

test('observe counts requests, latency and decisions by result and reason on the injected registry', async () => {
  const reg = new Registry();
  const m = webhookMetrics(reg);
  m.observe('mutate-service', 'CREATE', 'patched', 0.003, allow('a', { patch: [{ op: 'add', path: '/x', value: 1 }] }));
  m.observe('mutate-service', 'CREATE', 'denied', 0.002, deny('b', 'exhausted', { code: 'LB_POOL_EXHAUSTED' }));
  m.observe('mutate-service', 'CREATE', 'denied', 0.002, deny('c', 'exhausted', { code: 'LB_POOL_EXHAUSTED' }));
  m.observe('validate-service', 'UPDATE', 'allowed', 0.001); // no response: requests and latency only
  const text = await reg.metrics();
  assert.match(text, /^berth_webhook_decisions_total\{webhook="mutate-service",result="denied",reason="LB_POOL_EXHAUSTED"\} 2$/m);
  assert.match(text, /^berth_webhook_decisions_total\{webhook="mutate-service",result="allowed",reason="none"\} 1$/m);
  assert.doesNotMatch(text, /^berth_webhook_decisions_total\{webhook="validate-service"/m);
  assert.match(text, /^berth_webhook_requests_total\{webhook="mutate-service",operation="CREATE",result="denied"\} 2$/m);
  assert.match(text, /^berth_webhook_request_duration_seconds_count\{webhook="mutate-service"\} 3$/m);
  assert.match(text, /^berth_webhook_request_duration_seconds_bucket\{le="0.002",webhook="mutate-service"\} 2$/m);
});
