import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { berthControllerMetrics, claimsHeldMetric } from './index.ts';

const claim = (pool: string) => ({ spec: { pool } });

test('berth_claims_held follows the claim source at every scrape, per pool; a pool without claims has no series', async () => {
  const reg = new Registry();
  let claims = [claim('default'), claim('default'), claim('v6')];
  claimsHeldMetric(reg, () => claims);
  let text = await reg.metrics();
  assert.match(text, /^berth_claims_held\{pool="default"\} 2$/m);
  assert.match(text, /^berth_claims_held\{pool="v6"\} 1$/m);
  claims = [claim('default')];
  text = await reg.metrics();
  assert.match(text, /^berth_claims_held\{pool="default"\} 1$/m);
  assert.doesNotMatch(text, /pool="v6"/);
});

test('berth_claim_repairs_total counts released, deleted and error actions of repair passes', async () => {
  const reg = new Registry();
  const m = berthControllerMetrics(reg);
  m.repaired({ released: [{ deleted: false }, { deleted: true }, { deleted: false }], errors: [] });
  m.repaired({ released: [], errors: ['claim 192.168.1.220: 500', 'claim 192.168.1.221: 500'] });
  const text = await reg.metrics();
  assert.match(text, /^berth_claim_repairs_total\{action="released"\} 2$/m);
  assert.match(text, /^berth_claim_repairs_total\{action="deleted"\} 1$/m);
  assert.match(text, /^berth_claim_repairs_total\{action="error"\} 2$/m);
});

test('berth_time_to_ip_seconds observes durations; negative (clock skew) counts as 0, non-finite is ignored', async () => {
  const reg = new Registry();
  const m = berthControllerMetrics(reg);
  m.timeToIP(0.004);
  m.timeToIP(1.5);
  m.timeToIP(-2);
  m.timeToIP(Number.NaN);
  const text = await reg.metrics();
  assert.match(text, /^berth_time_to_ip_seconds_count 3$/m);
  assert.match(text, /^berth_time_to_ip_seconds_bucket\{le="0.01"\} 2$/m);
  assert.match(text, /^berth_time_to_ip_seconds_bucket\{le="2"\} 3$/m);
  assert.match(text, /^berth_time_to_ip_seconds_sum 1.504$/m);
});
