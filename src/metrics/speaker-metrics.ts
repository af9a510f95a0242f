// The speaker's metrics (docs/metrics.md): MetalLB's names and labels (spec metallb-compat.md §7; MetalLB
// speaker/main.go, internal/layer2/stats.go) and berth's own layer-2 figures.
//   metallb_speaker_announced{service,protocol,node,ip}   gauge 1 while this node announces ip for service, protocol
//                                                        layer2 (speaker.ts) or bgp (bgp-announced.ts, read from
//                                                        its last plan at each scrape: announcedFrom)
//   metallb_layer2_requests_received{ip}                 counter: ARP requests / Neighbor Solicitations for ip
//   metallb_layer2_responses_sent{ip}                    counter: ARP replies / Neighbor Advertisements sent
//   metallb_layer2_gratuitous_sent{ip}                   counter: gratuitous ARP / unsolicited NA packets sent
//   berth_l2_frames_dropped_total{reason}                counter: frames dropped by the responder, per DropReason
//   berth_l2_owner_changes_total                         counter: an IP's elected owner moved from one node to another
//   berth_l2_failover_seconds                            histogram: a peer detected dead/leaving → our first gratuitous packet
//   berth_l2_ip_conflicts{ip}                            gauge 1 while a foreign MAC claims ip
// The layer-2 counters are read from the announcer's stats() at scrape time (its Maps only grow; a counter is raised
// by the difference since the previous scrape, so a restarted announcer never makes one go down).
import { Counter, Gauge, Histogram, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { L2Stats, SpeakerMetricsPort } from '../speaker/speaker.ts';

/** Buckets of berth_l2_failover_seconds: 10 ms to 10 s (the target is p99 ≤ 0.5 s after SIGKILL). */
export const FAILOVER_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10];

/** The responder's drop reasons (layer2/responder.ts DropReason), exported from 0 so rate() sees them at once. */
export const DROP_REASONS: readonly string[] = [
  'truncated',
  'malformed',
  'unsupported',
  'not-request',
  'wrong-destination',
  'not-announced',
  'bad-hop-limit',
  'bad-checksum',
  'no-source-link-layer',
  'from-self',
  'queue-full',
];

export interface SpeakerMetrics extends SpeakerMetricsPort {
  /** Where the layer-2 counters come from (the announcer's stats()); read at each scrape. */
  layer2From(stats: () => L2Stats | undefined): void;
  configLoaded(loaded: boolean): void;
  configStale(stale: boolean): void;
}

/** Registers the speaker's metrics on `registry` for node `node`; `client` is clientMetrics(registry) (metallb_k8s_client_*). */
export function speakerMetrics(
  registry: Registry,
  node: string,
  client: { update(ok: boolean): void; configLoaded(v: boolean): void; configStale(v: boolean): void },
): SpeakerMetrics {
  let source: (() => L2Stats | undefined) | undefined;
  let cached: L2Stats | undefined;
  const read = (): L2Stats | undefined => {
    try {
      cached = source?.() ?? cached;
    } catch {
      // keep the last figures
    }
    return cached;
  };
  /** Where the BGP series come from at scrape time (announcedFrom), or none. */
  let announcedSource: ((visit: (service: string, ip: string) => void) => void) | undefined;
  /**
   * metallb_speaker_announced: the layer-2 series (and announced(…, 'bgp') calls) stored as prom-client series; the
   * BGP series of announcedFrom built at each scrape from the speaker's plan, never stored (issue 9: 10,000 series
   * held a labels object, an entry and a hash string each, ~2 MiB).
   */
  class AnnouncedGauge extends Gauge<string> {
    override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
      const m = await super.get();
      if (!announcedSource) return m;
      const values = [...m.values];
      try {
        announcedSource((service, ip) => {
          values.push({ labels: { service, protocol: 'bgp', node, ip }, value: 1 });
        });
      } catch {
        // a failing source adds no series (the scrape still answers)
      }
      return { ...m, values };
    }
  }
  const announced = new AnnouncedGauge({
    name: 'metallb_speaker_announced',
    help: 'Services being announced from this node. This is desired state, it does not guarantee that the routing protocols have converged.',
    labelNames: ['service', 'protocol', 'node', 'ip'],
    registers: [registry],
  });
  /** A counter that follows a growing per-label Map read at scrape time. */
  const following = (name: string, help: string, label: string, pick: (s: L2Stats) => ReadonlyMap<string, number>, initial: readonly string[] = []) => {
    const seen = new Map<string, number>();
    const c: Counter<string> = new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        const s = read();
        if (!s) return;
        for (const [k, v] of pick(s)) {
          const prev = seen.get(k) ?? 0;
          if (v > prev) c.inc({ [label]: k }, v - prev);
          seen.set(k, Math.max(prev, v));
        }
      },
    });
    for (const k of initial) c.inc({ [label]: k }, 0);
    return c;
  };
  following('metallb_layer2_requests_received', 'Number of layer2 requests received for owned IPs', 'ip', (s) => s.requestsReceived);
  following('metallb_layer2_responses_sent', 'Number of layer2 responses sent for owned IPs', 'ip', (s) => s.responsesSent);
  following('metallb_layer2_gratuitous_sent', 'Number of gratuitous layer2 packets sent for owned IPs', 'ip', (s) => s.gratuitousSent);
  following('berth_l2_frames_dropped_total', 'Frames the layer-2 responder dropped, per reason.', 'reason', (s) => s.drops, DROP_REASONS);
  const ownerChanges = new Counter({
    name: 'berth_l2_owner_changes_total',
    help: "Times an IP's elected layer-2 owner moved from one node to another, as this speaker computed it.",
    registers: [registry],
  });
  ownerChanges.inc(0);
  const failover = new Histogram({
    name: 'berth_l2_failover_seconds',
    help: 'Seconds from a peer speaker detected dead or leaving to the first gratuitous ARP/NA this node sent for an IP it took over.',
    buckets: [...FAILOVER_BUCKETS],
    registers: [registry],
  });
  const conflicts = new Gauge({
    name: 'berth_l2_ip_conflicts',
    help: 'IPs a host that is not a berth speaker claims (1 while the conflict lasts).',
    labelNames: ['ip'],
    registers: [registry],
  });
  return {
    layer2From(stats) {
      source = stats;
    },
    announced(service, ip, on, protocol = 'layer2') {
      const labels = { service, protocol, node, ip };
      if (on) announced.set(labels, 1);
      else announced.remove(labels);
    },
    announcedFrom(_protocol, source) {
      announcedSource = source;
    },
    ownerChanged() {
      ownerChanges.inc();
    },
    failover(seconds) {
      if (Number.isFinite(seconds)) failover.observe(Math.max(0, seconds));
    },
    conflict(ip, on) {
      if (on) conflicts.set({ ip }, 1);
      else conflicts.remove({ ip });
    },
    update: (ok) => client.update(ok),
    configLoaded: (v) => client.configLoaded(v),
    configStale: (v) => client.configStale(v),
  };
}
