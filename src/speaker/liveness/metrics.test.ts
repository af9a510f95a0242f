import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { HEARTBEAT_DROP_REASONS, type HeartbeatDropReason } from './heartbeat.ts';
import { livenessMetrics } from './metrics.ts';
import type { LivenessStats } from './udp.ts';

function stats(over: Partial<LivenessStats> = {}): LivenessStats {
  return {
    received: 0,
    accepted: 0,
    drops: new Map<HeartbeatDropReason, number>(HEARTBEAT_DROP_REASONS.map((r) => [r, 0])),
    sent: 0,
    sendErrors: 0,
    starved: 0,
    senderMaxDriftMs: 0,
    eventLoopDelayMs: { p50: 10, p99: 20, max: 40 },
    changes: 0,
    peersAlive: 0,
    ...over,
  };
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('exports every figure from 0, follows the source at scrape time, and continues across a restarted source', async () => {
  const reg = new Registry();
  const m = livenessMetrics(reg);
  let text = await reg.metrics();
  assert.equal(value(text, 'berth_speaker_heartbeats_received_total'), 0);
  assert.equal(value(text, 'berth_speaker_heartbeats_dropped_total{reason="bad-mac"}'), 0);

  let s = stats({
    received: 10,
    accepted: 8,
    sent: 20,
    changes: 2,
    peersAlive: 2,
    drops: new Map([['bad-mac', 2]]),
  });
  m.from(() => s);
  text = await reg.metrics();
  assert.equal(value(text, 'berth_speaker_heartbeats_received_total'), 10);
  assert.equal(value(text, 'berth_speaker_heartbeats_accepted_total'), 8);
  assert.equal(value(text, 'berth_speaker_heartbeats_sent_total'), 20);
  assert.equal(value(text, 'berth_speaker_liveness_changes_total'), 2);
  assert.equal(value(text, 'berth_speaker_peers_alive'), 2);
  assert.equal(value(text, 'berth_speaker_heartbeats_dropped_total{reason="bad-mac"}'), 2);
  assert.equal(value(text, 'berth_speaker_event_loop_delay_seconds{quantile="0.99"}'), 0.02);

  s = stats({ received: 15 });
  text = await reg.metrics();
  assert.equal(value(text, 'berth_speaker_heartbeats_received_total'), 15);
  // a new Liveness (key change restart) starts from 0: the exported counter goes on growing
  s = stats({ received: 3 });
  text = await reg.metrics();
  assert.equal(value(text, 'berth_speaker_heartbeats_received_total'), 18);
  m.from(() => {
    throw new Error('closed');
  });
  text = await reg.metrics();
  assert.equal(
    value(text, 'berth_speaker_heartbeats_received_total'),
    18,
    'a failing source keeps the last figures',
  );
});
