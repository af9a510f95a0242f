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
// One info log line per change (`decision: announce|withdraw`, `protocol: bgp`), as the layer-2 Speaker writes.
import type { EventSink, ObjectRef } from '../kube/events.ts';
import type { BgpDecision } from './bgp-plan.ts';
import { nodeAssignedMessage, type SpeakerMetricsPort } from './speaker.ts';

export interface BgpAnnouncementsOptions {
  /** This node's name (label `node`, the event message). */
  node: string;
  /** metallb_speaker_announced (src/metrics/speaker-metrics.ts); called with protocol `bgp`. */
  metrics?: Pick<SpeakerMetricsPort, 'announced'>;
  /** Where nodeAssigned goes. */
  events?: EventSink;
  /** The Service an event is about (uid and resourceVersion from the cache); default: kind, name and namespace only. */
  serviceRef?: (key: string) => ObjectRef | undefined;
  /** One line per change (announce / withdraw). */
  log?: (fields: Record<string, unknown>, message: string) => void;
}

const SEP = '\u0000';

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
  /** `service\0ip` announced over BGP by this node at the last update → its peers. */
  #announced = new Map<string, readonly string[]>();
  /** Services with at least one IP in #announced. */
  #services = new Set<string>();

  constructor(o: BgpAnnouncementsOptions) {
    this.#o = o;
  }

  /** The (Service, IP) pairs announced now, as `namespace/name` → IPs (for tests and logs). */
  announced(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const k of this.#announced.keys()) {
      const [service, ip] = k.split(SEP) as [string, string];
      const l = out.get(service);
      if (l) l.push(ip);
      else out.set(service, [ip]);
    }
    return out;
  }

  /** Takes the decisions of this node's latest BGP plan (BgpPlan.decisions) and raises the changes' signals. */
  update(decisions: readonly BgpDecision[]): void {
    const self = this.#o.node;
    const now = new Map<string, readonly string[]>();
    const services = new Set<string>();
    for (const d of decisions) {
      if (!d.announced || d.peers.length === 0) continue;
      now.set(`${d.service}${SEP}${d.ip}`, d.peers);
      services.add(d.service);
    }
    let byKey: Map<string, BgpDecision> | undefined;
    let decided: Set<string> | undefined;
    for (const k of this.#announced.keys()) {
      if (now.has(k)) continue;
      const [service, ip] = k.split(SEP) as [string, string];
      this.#o.metrics?.announced(service, ip, false, 'bgp');
      byKey ??= new Map(decisions.map((d) => [`${d.service}${SEP}${d.ip}`, d]));
      decided ??= new Set(decisions.map((d) => d.service));
      const d = byKey.get(k);
      // No decision for the IP: the Service has other IPs now, or is gone (deleted, no longer a LoadBalancer, no IP).
      const reason = d === undefined ? (decided.has(service) ? 'loadBalancerIPChanged' : 'serviceDeleted') : (d.reason ?? 'noPeer');
      this.#o.log?.({ decision: 'withdraw', service, ip, node: self, protocol: 'bgp', reason }, `speaker: withdrawing ${ip} of ${service} from BGP: ${reason}`);
    }
    for (const [k, peers] of now) {
      if (this.#announced.has(k)) continue;
      const [service, ip] = k.split(SEP) as [string, string];
      this.#o.metrics?.announced(service, ip, true, 'bgp');
      this.#o.log?.({ decision: 'announce', service, ip, node: self, protocol: 'bgp', peers }, `speaker: announcing ${ip} for ${service} over BGP to ${peers.join(', ')}`);
    }
    for (const service of services) {
      if (this.#services.has(service)) continue;
      const sink = this.#o.events;
      if (!sink) continue;
      const ref = this.#o.serviceRef?.(service) ?? { kind: 'Service', apiVersion: 'v1', ...splitKey(service) };
      sink.event(ref, 'Normal', 'nodeAssigned', nodeAssignedMessage(self, 'bgp'));
    }
    this.#announced = now;
    this.#services = services;
  }
}
