// Prometheus metrics of the liveness edge (berth's own names: MetalLB's memberlist exports none), read from
// Liveness.stats() at scrape time, so the heartbeat path does no metric work. Register once per process; point it at
// the current Liveness with from() (again after a restart: counters continue from where they were).
import { Counter, Gauge, type Registry } from 'prom-client';
import { HEARTBEAT_DROP_REASONS } from './heartbeat.ts';
import type { LivenessStats } from './udp.ts';

export interface LivenessMetrics {
  /** Where the figures come from (undefined: liveness off or not started; the last figures stay). */
  from(source: (() => LivenessStats | undefined) | undefined): void;
}

/**
 * Registers on `registry`:
 * berth_speaker_heartbeats_received_total, berth_speaker_heartbeats_accepted_total,
 * berth_speaker_heartbeats_dropped_total{reason} (every reason exported from 0), berth_speaker_heartbeats_sent_total,
 * berth_speaker_heartbeat_send_errors_total, berth_speaker_heartbeat_sender_starved_total,
 * berth_speaker_liveness_changes_total, berth_speaker_peers_alive, berth_speaker_event_loop_delay_seconds{quantile}.
 */
export function livenessMetrics(registry: Registry): LivenessMetrics {
  let source: (() => LivenessStats | undefined) | undefined;
  let cached: LivenessStats | undefined;
  const read = (): LivenessStats | undefined => {
    try {
      cached = source?.() ?? cached;
    } catch {
      // keep the last figures
    }
    return cached;
  };
  /** Follows a source counter; a source that restarted from 0 continues the exported counter instead of pausing it. */
  const follower = () => {
    const seen = new Map<string, number>();
    return (c: Counter<string>, key: string, v: number, labels: Record<string, string> = {}): void => {
      const prev = seen.get(key) ?? 0;
      const delta = v >= prev ? v - prev : v;
      if (delta > 0) c.inc(labels, delta);
      seen.set(key, v);
    };
  };
  const simple = (name: string, help: string, pick: (s: LivenessStats) => number): void => {
    const follow = follower();
    const c: Counter<string> = new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const s = read();
        if (s) follow(c, '', pick(s));
      },
    });
    c.inc(0);
  };
  simple(
    'berth_speaker_heartbeats_received_total',
    'Liveness datagrams received from peer speakers.',
    (s) => s.received,
  );
  simple(
    'berth_speaker_heartbeats_accepted_total',
    'Heartbeats accepted (authentic, fresh, newer than the last one of that speaker).',
    (s) => s.accepted,
  );
  simple(
    'berth_speaker_heartbeats_sent_total',
    'Heartbeat datagrams sent (one per peer per interval).',
    (s) => s.sent,
  );
  simple(
    'berth_speaker_heartbeat_send_errors_total',
    'Heartbeat datagrams the kernel refused to send.',
    (s) => s.sendErrors,
  );
  simple(
    'berth_speaker_heartbeat_sender_starved_total',
    'Sender rounds without a pre-signed heartbeat (the main event loop stalled for longer than the queue).',
    (s) => s.starved,
  );
  simple(
    'berth_speaker_liveness_changes_total',
    'Changes of the set of alive speakers seen by this speaker.',
    (s) => s.changes,
  );
  const followDrops = follower();
  const drops: Counter<string> = new Counter({
    name: 'berth_speaker_heartbeats_dropped_total',
    help: 'Liveness datagrams dropped, per reason (bad-mac: forged or another key; stale: clocks apart; replayed; truncated; ...).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const s = read();
      if (s) for (const [reason, n] of s.drops) followDrops(drops, reason, n, { reason });
    },
  });
  for (const reason of HEARTBEAT_DROP_REASONS) drops.inc({ reason }, 0);
  const peers: Gauge<string> = new Gauge({
    name: 'berth_speaker_peers_alive',
    help: 'Peer speakers this speaker holds alive (self excluded).',
    registers: [registry],
    collect() {
      const s = read();
      if (s) peers.set(s.peersAlive);
    },
  });
  const eld: Gauge<string> = new Gauge({
    name: 'berth_speaker_event_loop_delay_seconds',
    help: "The speaker main thread's event-loop delay since start (perf_hooks.monitorEventLoopDelay); heartbeats are sent from a worker thread and do not wait for it.",
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      const s = read();
      if (!s) return;
      eld.set({ quantile: '0.5' }, s.eventLoopDelayMs.p50 / 1000);
      eld.set({ quantile: '0.99' }, s.eventLoopDelayMs.p99 / 1000);
      eld.set({ quantile: '1' }, s.eventLoopDelayMs.max / 1000);
    },
  });
  return {
    from(s) {
      source = s;
    },
  };
}
