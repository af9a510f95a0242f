// MetalLB's announcement signals in BGP mode (issue 9, spec metallb-compat.md §7 and §8.1): the gauge
// metallb_speaker_announced{service,protocol="bgp",node,ip} and the Normal Event `nodeAssigned` "announcing from node
// "<node>" with protocol "bgp"" on the Service, from each BGP plan of this node (bgp-plan.ts BgpPlan.decisions).
//
// MetalLB (speaker/main.go handleService / deleteBalancerProtocol, protocol "bgp"): once bgp_controller.go
// ShouldAnnounce passed (an advertisement of the pool selects the node and the Service, endpoints as ETP asks) and
// SetBalancer handed the routes to the sessions, the gauge is set to 1 for every IP of the Service and nodeAssigned is
// emitted; when the Service stops being announced over BGP (a withdraw reason: serviceDeleted, noEndpoints, …, or its
// IPs changed: loadBalancerIPChanged) the series of its IPs are deleted, not set to 0.
// berth, per (Service, IP) decision of the plan: an IP counts as announced over BGP when the plan announces it AND
// sends it to at least one BGPPeer session of this node (`peers` not empty: an advertisement whose `peers` name no
// session of this node announces nothing, as the ServiceBGPStatus says). Its series is set when it becomes so and
// deleted when it stops (any withdraw reason, the IP replaced, the Service gone). nodeAssigned is emitted when a
// Service goes from no IP announced to some (MetalLB emits it on every successful pass; Kubernetes' event correlation
// folds those repeats into one Event's count, which berth's EventRecorder does too: here the repeats are not sent).
// One info log line per change (`decision: announce|withdraw`, `protocol: bgp`), as the layer-2 Speaker writes, when
// a plan changes a few IPs; a plan changing more (a BGPAdvertisement created at 10,000 Services: 10,000 lines queued
// for stdout held ~25 MiB of the speaker) writes them at debug level and one info summary with the counts.
import type { EventSink, ObjectRef } from '../kube/events.ts';
import type { BgpDecision } from './bgp-plan.ts';
import { nodeAssignedMessage, type SpeakerMetricsPort } from './speaker.ts';

export interface BgpAnnouncementsOptions {
  /** This node's name (label `node`, the event message). */
  node: string;
  /**
   * metallb_speaker_announced (src/metrics/speaker-metrics.ts): given the last plan's announced pairs to read at each
   * scrape (announcedFrom) when the port has it, else called with protocol `bgp` for each change.
   */
  metrics?: Pick<SpeakerMetricsPort, 'announced' | 'announcedFrom'>;
  /** Where nodeAssigned goes. */
  events?: EventSink;
  /** The Service an event is about (uid and resourceVersion from the cache); default: kind, name and namespace only. */
  serviceRef?: (key: string) => ObjectRef | undefined;
  /** One line per change (announce / withdraw) when an update has at most LINES_AT_INFO; else one summary (info). */
  log?: (fields: Record<string, unknown>, message: string) => void;
  /** The per-change lines of an update with more than LINES_AT_INFO changes (debug); unset: not built at all. */
  debug?: (fields: Record<string, unknown>, message: string) => void;
}

/** Changes per update up to which each one gets its own `log` line (beyond: `debug` lines and one `log` summary). */
export const LINES_AT_INFO = 16;

/** The IPs of one Service: one string (nearly always) or several. */
type Ips = string | string[];
const ipsOf = (v: Ips): readonly string[] => (typeof v === 'string' ? [v] : v);

/** Service → its IPs that `decisions` announce to at least one peer (keys and IPs: the decisions' own strings). */
function announcedOf(decisions: readonly BgpDecision[]): Map<string, Ips> {
  const out = new Map<string, Ips>();
  for (const d of decisions) {
    if (!d.announced || d.peers.length === 0) continue;
    const cur = out.get(d.service);
    if (cur === undefined) out.set(d.service, d.ip);
    else if (typeof cur === 'string') out.set(d.service, [cur, d.ip]);
    else cur.push(d.ip);
  }
  return out;
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: 'default', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/**
 * Follows which (Service, IP) this node announces over BGP, plan after plan, and raises MetalLB's signals for the
 * changes (see the file comment). `update` never throws on its own (a throwing port propagates).
 */
export class BgpAnnouncements {
  readonly #o: BgpAnnouncementsOptions;
  /**
   * The decisions of the last update, as handed in (the plan's own array: its decision objects are never changed
   * afterwards, bgp-plan.ts copies one before editing it). What was announced is computed from them when needed,
   * instead of a map kept per Service (10,000 Services: a ~0.5 MiB table, and ~1 MiB of keys before that).
   */
  #prev: readonly BgpDecision[] = [];
  #message: string | undefined;

  /** The metrics port reads the series at scrape time (announcedFrom): no announced() call per change. */
  readonly #scraped: boolean;

  constructor(o: BgpAnnouncementsOptions) {
    this.#o = o;
    this.#scraped = o.metrics?.announcedFrom !== undefined;
    o.metrics?.announcedFrom?.('bgp', (visit) => {
      for (const d of this.#prev) if (d.announced && d.peers.length > 0) visit(d.service, d.ip);
    });
  }

  /** The (Service, IP) pairs announced now, as `namespace/name` → IPs (for tests and logs). */
  announced(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [service, ips] of announcedOf(this.#prev)) out.set(service, [...ipsOf(ips)]);
    return out;
  }

  /**
   * Takes the decisions of this node's latest BGP plan (BgpPlan.decisions) and raises the changes' signals. Up to
   * LINES_AT_INFO changes each get a `log` line; more (a BGPAdvertisement created at 10,000 Services) get `debug`
   * lines and one `log` summary with the counts (`announced`, `withdrawn`, `services` announced now).
   */
  update(decisions: readonly BgpDecision[]): void {
    const self = this.#o.node;
    const before = announcedOf(this.#prev);
    const now = announcedOf(decisions);
    type Line = [Record<string, unknown>, string];
    const lines: Line[] = [];
    let withdrawn = 0;
    let added = 0;
    const verbose = (): boolean => lines.length < LINES_AT_INFO || this.#o.debug !== undefined;
    let byKey: Map<string, BgpDecision> | undefined;
    let decided: Set<string> | undefined;
    for (const [service, ips] of before) {
      const next = now.get(service);
      for (const ip of ipsOf(ips)) {
        if (next !== undefined && (next === ip || (typeof next !== 'string' && next.includes(ip)))) continue;
        withdrawn++;
        if (!this.#scraped) this.#o.metrics?.announced(service, ip, false, 'bgp');
        if (!this.#o.log || !verbose()) continue;
        byKey ??= new Map(decisions.map((d) => [`${d.service}\u0000${d.ip}`, d]));
        decided ??= new Set(decisions.map((d) => d.service));
        const d = byKey.get(`${service}\u0000${ip}`);
        // No decision for the IP: the Service has other IPs now, or is gone (deleted, no longer a LoadBalancer, no IP).
        const reason = d === undefined ? (decided.has(service) ? 'loadBalancerIPChanged' : 'serviceDeleted') : (d.reason ?? 'noPeer');
        lines.push([{ decision: 'withdraw', service, ip, node: self, protocol: 'bgp', reason }, `speaker: withdrawing ${ip} of ${service} from BGP: ${reason}`]);
      }
    }
    let newServices = 0;
    for (const d of decisions) {
      if (!d.announced || d.peers.length === 0) continue;
      const had = before.get(d.service);
      if (had !== undefined && (had === d.ip || (typeof had !== 'string' && had.includes(d.ip)))) continue;
      added++;
      if (!this.#scraped) this.#o.metrics?.announced(d.service, d.ip, true, 'bgp');
      if (this.#o.log && verbose()) {
        lines.push([
          { decision: 'announce', service: d.service, ip: d.ip, node: self, protocol: 'bgp', peers: d.peers },
          `speaker: announcing ${d.ip} for ${d.service} over BGP to ${d.peers.join(', ')}`,
        ]);
      }
    }
    const sink = this.#o.events;
    // One message string for every Service (the event recorder keeps it per Event: 10,000 copies otherwise).
    const message = (this.#message ??= nodeAssignedMessage(self, 'bgp'));
    for (const service of now.keys()) {
      if (before.has(service)) continue;
      newServices++;
      if (!sink) continue;
      const ref = this.#o.serviceRef?.(service) ?? { kind: 'Service', apiVersion: 'v1', ...splitKey(service) };
      sink.event(ref, 'Normal', 'nodeAssigned', message);
    }
    this.#prev = decisions;
    const log = this.#o.log;
    if (!log) return;
    const changes = added + withdrawn;
    if (changes <= LINES_AT_INFO) {
      for (const [f, m] of lines) log(f, m);
      return;
    }
    for (const [f, m] of lines) this.#o.debug?.(f, m);
    log(
      { decision: 'summary', node: self, protocol: 'bgp', announced: added, withdrawn, services: now.size, newServices },
      `speaker: BGP announcements: ${added} IPs announced, ${withdrawn} withdrawn; ${now.size} Services announced over BGP`,
    );
  }
}
