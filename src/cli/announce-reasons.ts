// Why nobody announces a Service that has an IP (`berth status`, ANNOUNCED-BY `-`). The speakers' own plans are run
// over the live objects: planLayer2 (MetalLB spec §5.1) with every Node counted alive, and planBgp (§6.1) per Node,
// so the reasons are the speakers' withdraw reasons (spec §8.2: noMatchingAdvertisement, noEndpoints,
// noLocalEndpoints, nodeLabeledExcludeBalancers, ...) with the names of the objects involved. When the plans say some
// node should announce it and no ServiceL2Status/ServiceBGPStatus says one does, the speakers there are not running
// (or not reporting): `speakerNotRunning`, with their Leases' age when they can be read.
import type { BGPAdvertisementConfig, Config, L2AdvertisementConfig } from '../config/types.ts';
import { matchesAny } from '../shared/labels.ts';
import { planBgp, type BgpWithdrawReason } from '../speaker/bgp-plan.ts';
import {
  canServe,
  EXCLUDE_FROM_LB_LABEL,
  planLayer2,
  type EndpointView,
  type L2Decision,
  type NodeView,
  type ServiceView,
} from '../speaker/l2-plan.ts';
import { SPEAKER_LEASE_PREFIX } from '../speaker/liveness/lease.ts';
import type { KubeObject } from '../api/object.ts';
import type { SpeakerLease } from './live.ts';

/** Why a Service with an IP is announced by nobody: a MetalLB withdraw reason (or speakerNotRunning) and the details. */
export interface NotAnnounced {
  reason: string;
  message: string;
}

/** The live objects the reasons are computed from (src/cli/live.ts LiveSnapshot, built configuration). */
export interface AnnounceInputs {
  config: Config;
  nodes: readonly NodeView[];
  endpoints: ReadonlyMap<string, readonly EndpointView[]>;
  /** Absent: the Leases could not be read, nothing is said about them. */
  speakerLeases?: readonly SpeakerLease[] | undefined;
  /** Some speaker reports announcing some Service (ServiceL2Status/ServiceBGPStatus exist); default true. */
  anyAnnouncer?: boolean;
  /** berth's namespace, for the commands suggested. */
  namespace: string;
  /** Now, ms since the epoch (Lease ages). */
  nowMs: number;
}

/**
 * For each Service (speaker views: type LoadBalancer with ingress IPs) that no speaker reports announcing: why.
 * Pure; never throws. Keyed by `namespace/name`.
 */
export function whyNotAnnounced(services: readonly ServiceView[], inputs: AnnounceInputs): Map<string, NotAnnounced> {
  const out = new Map<string, NotAnnounced>();
  if (services.length === 0) return out;
  const { config, nodes, endpoints } = inputs;
  const world = { config, nodes: [...nodes], services: [...services], endpoints, liveSpeakers: new Set(nodes.map((n) => n.name)) };
  const l2 = new Map<string, L2Decision[]>();
  for (const d of planLayer2(world)) {
    const list = l2.get(d.service) ?? [];
    list.push(d);
    l2.set(d.service, list);
  }
  // Per Service: node → its BGP decision (announced to which peers, or why not), only if some BGPAdvertisement exists.
  const bgp = new Map<string, Map<string, { peers: string[]; reason?: BgpWithdrawReason }>>();
  if (config.bgpAdvertisements.length > 0) {
    for (const n of nodes) {
      for (const d of planBgp(world, n.name).decisions) {
        let m = bgp.get(d.service);
        if (!m) bgp.set(d.service, (m = new Map()));
        const prev = m.get(n.name);
        if (prev && prev.peers.length > 0) continue; // a dual-stack Service: one announced IP is enough
        m.set(n.name, { peers: d.announced ? d.peers : [], ...(d.announced ? {} : d.reason ? { reason: d.reason } : {}) });
      }
    }
  }
  for (const svc of services) {
    const decisions = l2.get(svc.key) ?? [];
    const invalid = decisions.find((d) => d.reason === 'invalidIP');
    if (invalid) {
      out.set(svc.key, { reason: 'invalidIP', message: `status.loadBalancer.ingress holds "${invalid.ip}", which is not an IP` });
      continue;
    }
    const outside = decisions.find((d) => d.reason === 'ipNotAllowed');
    if (outside) {
      out.set(svc.key, { reason: 'ipNotAllowed', message: `IP ${outside.ip} is in no IPAddressPool: no speaker announces it` });
      continue;
    }
    const pool = decisions.find((d) => d.pool !== undefined)?.pool ?? svc.pool ?? '?';
    const l2Ads = config.l2Advertisements.filter((ad) => ad.pools.includes(pool));
    const bgpAds = config.bgpAdvertisements.filter((ad) => ad.pools.includes(pool));
    if (l2Ads.length === 0 && bgpAds.length === 0) {
      out.set(svc.key, {
        reason: 'noMatchingAdvertisement',
        message: `no L2Advertisement or BGPAdvertisement selects pool "${pool}" (spec.ipAddressPools / ipAddressPoolSelectors): its IPs are not announced`,
      });
      continue;
    }
    // Who the plans say should announce it.
    const l2Owners = [...new Set(decisions.flatMap((d) => (d.owner ? d.candidates : [])))];
    const perNode = bgp.get(svc.key) ?? new Map<string, { peers: string[]; reason?: BgpWithdrawReason }>();
    const bgpNodes = bgpAds.length > 0 ? [...perNode].filter(([, v]) => v.peers.length > 0).map(([n]) => n).sort() : [];
    if (l2Owners.length > 0 || bgpNodes.length > 0) {
      out.set(svc.key, { reason: 'speakerNotRunning', message: speakerMessage(svc, l2Owners, bgpNodes, inputs) });
      continue;
    }
    const parts: string[] = [];
    let reason: string | undefined;
    if (l2Ads.length > 0) {
      const d = decisions[0];
      const r = d?.reason ?? 'noIPAllocated';
      reason = r;
      parts.push(`layer2: ${l2Message(r, svc, pool, l2Ads, inputs)}`);
    }
    if (bgpAds.length > 0) {
      const b = bgpMessage(perNode, svc, pool, bgpAds, inputs);
      reason ??= b.reason;
      parts.push(`bgp: ${b.message}`);
    }
    // The mode is named only when both are configured for the pool.
    const message = parts.length === 1 ? parts[0]!.replace(/^(layer2|bgp): /, '') : parts.join('; ');
    out.set(svc.key, { reason: reason ?? 'noMatchingAdvertisement', message });
  }
  return out;
}

const list = (names: readonly string[], max = 5): string =>
  names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;

/** Why a node cannot announce for `ads` (undefined: it can), in the order of the speakers' filters. */
function nodeProblem(name: string, ads: ReadonlyArray<L2AdvertisementConfig | BGPAdvertisementConfig>, inputs: AnnounceInputs): string | undefined {
  const n = inputs.nodes.find((x) => x.name === name);
  if (!n) return 'no such Node';
  if (n.networkUnavailable) return 'condition NetworkUnavailable=True';
  if (Object.prototype.hasOwnProperty.call(n.labels, EXCLUDE_FROM_LB_LABEL)) return `labelled ${EXCLUDE_FROM_LB_LABEL}`;
  if (!ads.some((ad) => ad.nodeSelectors.length === 0 || matchesAny(ad.nodeSelectors, n.labels))) {
    return `not selected by the nodeSelectors of ${ads.map((a) => a.name).join(', ')}`;
  }
  return undefined;
}

function l2Message(reason: string, svc: ServiceView, pool: string, ads: readonly L2AdvertisementConfig[], inputs: AnnounceInputs): string {
  const names = ads.map((a) => a.name).join(', ');
  switch (reason) {
    case 'noEndpoints':
      return `no ready endpoint (the EndpointSlices of ${svc.key} list none ready or serving; MetalLB announces only a Service that has one)`;
    case 'noLocalEndpoints':
      return `externalTrafficPolicy is Local and no ready endpoint is on a node that may announce it (${localEndpointNodes(svc, ads, inputs)})`;
    case 'nodeLabeledExcludeBalancers':
      return `every node that could announce it is labelled ${EXCLUDE_FROM_LB_LABEL} (${list(inputs.nodes.filter((n) => Object.prototype.hasOwnProperty.call(n.labels, EXCLUDE_FROM_LB_LABEL)).map((n) => n.name))})`;
    case 'nodeNetworkUnavailable':
      return 'every node has condition NetworkUnavailable=True';
    case 'sharedIPWithServiceSelector':
      return `it shares its IP (allow-shared-ip) and an L2Advertisement of pool "${pool}" (${names}) selects Services by label: MetalLB announces no such IP`;
    case 'notOwner':
      return 'the cluster has no Node to announce from';
    case 'noMatchingAdvertisement': {
      const forSvc = ads.filter((ad) => ad.serviceSelectors.length === 0 || matchesAny(ad.serviceSelectors, svc.labels));
      if (forSvc.length === 0) return `the L2Advertisements of pool "${pool}" (${names}) select Services by label and not this one (spec.serviceSelectors)`;
      const why = inputs.nodes.map((n) => `${n.name}: ${nodeProblem(n.name, forSvc, inputs) ?? 'eligible'}`);
      return `the L2Advertisements of pool "${pool}" (${forSvc.map((a) => a.name).join(', ')}) select no eligible Node (${list(why)})`;
    }
    default:
      return `nobody announces it (${reason})`;
  }
}

/** `n3 (labelled …), n4 (no such Node)`: the nodes of the Service's ready endpoints and why none may announce. */
function localEndpointNodes(svc: ServiceView, ads: ReadonlyArray<L2AdvertisementConfig | BGPAdvertisementConfig>, inputs: AnnounceInputs): string {
  const eps = (inputs.endpoints.get(svc.key) ?? []).filter(canServe);
  const where = [...new Set(eps.map((e) => e.nodeName ?? ''))].sort();
  if (where.length === 0) return 'no ready endpoint at all';
  return `ready endpoints on ${list(where.map((n) => (n === '' ? 'an endpoint without nodeName' : `${n} (${nodeProblem(n, ads, inputs) ?? 'eligible'})`)))}`;
}

const BGP_PHRASES: Partial<Record<BgpWithdrawReason, string>> = {
  notOwner: 'not selected by the nodeSelectors of a BGPAdvertisement of the pool',
  noMatchingAdvertisement: 'no BGPAdvertisement of the pool selects this Service (spec.serviceSelectors)',
  noEndpoints: 'no ready endpoint',
  noLocalEndpoints: 'externalTrafficPolicy is Local and the node has no ready endpoint',
  nodeLabeledExcludeBalancers: `labelled ${EXCLUDE_FROM_LB_LABEL}`,
  nodeNetworkUnavailable: 'condition NetworkUnavailable=True',
  sharedIPWithServiceSelector: 'a shared IP with a BGPAdvertisement that selects Services by label',
  conflictingAdvertisements: 'BGPAdvertisements send it to one peer with different localPref',
};

function bgpMessage(
  perNode: ReadonlyMap<string, { peers: string[]; reason?: BgpWithdrawReason }>,
  svc: ServiceView,
  pool: string,
  ads: readonly BGPAdvertisementConfig[],
  inputs: AnnounceInputs,
): { reason: string; message: string } {
  if (inputs.nodes.length === 0) return { reason: 'notOwner', message: 'the cluster has no Node to announce from' };
  const groups = new Map<string, string[]>();
  for (const n of inputs.nodes) {
    const v = perNode.get(n.name);
    const key = !v ? 'notOwner' : v.reason ?? 'noPeer';
    groups.set(key, [...(groups.get(key) ?? []), n.name]);
  }
  const phrase = (key: string): string => {
    if (key === 'noPeer') return `no BGPPeer of the node takes it (BGPPeer spec.nodeSelectors, or the peers named by ${ads.map((a) => a.name).join(', ')})`;
    if (key === 'noLocalEndpoints') return `externalTrafficPolicy is Local and no ready endpoint is on the node (${localEndpointNodes(svc, ads, inputs)})`;
    return BGP_PHRASES[key as BgpWithdrawReason] ?? key;
  };
  const entries = [...groups];
  const first = entries[0]!;
  if (entries.length === 1) return { reason: first[0], message: `${phrase(first[0])} (every node; pool "${pool}")` };
  return { reason: first[0], message: entries.map(([k, ns]) => `${list(ns)}: ${phrase(k)}`).join('; ') };
}

function speakerMessage(svc: ServiceView, l2: readonly string[], bgpNodes: readonly string[], inputs: AnnounceInputs): string {
  const parts: string[] = [];
  const local = svc.externalTrafficPolicy === 'Local' ? ', externalTrafficPolicy Local: nodes with a ready endpoint only' : '';
  if (l2.length > 0) parts.push(`layer2 may be announced from ${list(l2)} (failover order${local})`);
  if (bgpNodes.length > 0) parts.push(`BGP from ${list(bgpNodes)}`);
  const nodes = [...new Set([...l2, ...bgpNodes])];
  let leases = '';
  if (inputs.speakerLeases) {
    const byNode = new Map(inputs.speakerLeases.map((l) => [l.node, l]));
    leases = `speaker Leases: ${list(
      nodes.map((n) => {
        const l = byNode.get(n);
        if (!l) return `${n} none`;
        if (l.renewMs === undefined) return `${n} never renewed`;
        const age = Math.max(0, Math.round((inputs.nowMs - l.renewMs) / 1000));
        return `${n} renewed ${age} s ago${age > l.durationSeconds ? ` (expired: ${SPEAKER_LEASE_PREFIX}${n})` : ''}`;
      }),
    )}; `;
  }
  const none =
    inputs.anyAnnouncer === false && (inputs.speakerLeases === undefined || inputs.speakerLeases.length === 0)
      ? 'no speaker reports anything in this cluster (no ServiceL2Status, ServiceBGPStatus or speaker Lease): is the speaker DaemonSet deployed? (the lab runs speakers only with berth lab --network) '
      : '';
  return (
    `${parts.join(', ')}, but no speaker reports announcing it (no ServiceL2Status/ServiceBGPStatus): ${none || 'is the speaker running there? '}` +
    `(${leases}kubectl get pods -n ${inputs.namespace} -l app.kubernetes.io/component=speaker -o wide)`
  );
}

// ---------------------------------------------------------------------------------------------------------------------
// Does a reported announcer really announce? ServiceL2Status/ServiceBGPStatus say what a speaker *intends* (MetalLB
// spec §1.7: ServiceBGPStatus peers are "not session state"), and they outlive a SIGKILLed speaker (their owner, the
// Pod, is not deleted by a crash). `berth status` therefore checks each reported (node) / (node → peer) against:
// - the node's speaker Lease (src/speaker/liveness/lease.ts): renewTime + leaseDurationSeconds passed → `speakerDown`;
// - the Events the speaker wrote: Warning `IPConflict` / `announceFailed` on the Service from that node (speaker.ts;
//   the IP is not answered there) → that reason, unless a later Event from that node says the fault ended: Normal
//   `IPConflictCleared` / `announceResumed` (berth only; speaker.ts writes them when the conflict clears or a listed
//   interface exists again) or `nodeAssigned` … "layer2" (the node took the Service anew). A ServiceL2Status is not
//   enough to tell: it is not rewritten when a conflict clears, and the lab's API server keeps no managedFields
//   times. On the BGPPeer, the latest session Event from that node
//   (`BGPSessionUp` vs `BGPSessionDown` / `BFDSessionDown` / any other Warning) → `sessionDown`; the last one
//   `BGPSessionConnectFailed` → `sessionNotEstablished`; no session Event at all → listed (Events expire, 1 h by
//   default on kube-apiserver, so a long-Established session has none; a failing one keeps writing Warnings).

/** The Events that speak about announcements (speaker.ts, bgp-status.ts), reduced to what the checks need. */
export interface AnnounceEvent {
  /** involvedObject. */
  kind: string;
  namespace: string;
  name: string;
  type: string;
  reason: string;
  message: string;
  /** The speaker's node: reportingInstance, source.host, else `node "<name>"` in the message. */
  node?: string;
  /** lastTimestamp (else eventTime, firstTimestamp, creationTimestamp), ms since the epoch. */
  lastMs?: number;
  /** eventTime (MicroTime: sub-second), ms since the epoch: when the Event was first written. */
  firstMs?: number;
  count: number;
}

const L2_EVENT_REASONS = new Set(['IPConflict', 'announceFailed']);
/** Normal Service Events from a node that end its layer-2 faults (speaker.ts): fault reason → the reasons that end it. */
const L2_FAULT_ENDS: Record<string, readonly string[]> = {
  IPConflict: ['IPConflictCleared', 'nodeAssigned'],
  announceFailed: ['announceResumed', 'nodeAssigned'],
};
const L2_END_REASONS = new Set(['IPConflictCleared', 'announceResumed']);
/** The Service Events kept: faults, their ends, and `nodeAssigned` for layer 2 (MetalLB's text names the protocol). */
const keptServiceEvent = (reason: string, message: string): boolean =>
  L2_EVENT_REASONS.has(reason) || L2_END_REASONS.has(reason) || (reason === 'nodeAssigned' && message.includes('protocol "layer2"'));
/** The IP an IPConflict/announceFailed/…Cleared/…Resumed message names (speaker.ts: `IP "x"`, `LB IP "x"`). */
const ipOf = (message: string): string | undefined => /\bIP "([^"]+)"/.exec(message)?.[1];

/**
 * Does `end` (a Normal Event of the same Service and node) come after `fault`? Event times are in seconds; on a tie
 * the sub-second eventTimes decide when both Events happened once, else the fault wins (nothing is claimed that may
 * not hold).
 */
function endsAfter(end: AnnounceEvent, fault: AnnounceEvent): boolean {
  const a = end.lastMs ?? 0;
  const b = fault.lastMs ?? 0;
  if (a !== b) return a > b;
  if (end.count === 1 && fault.count === 1 && end.firstMs !== undefined && fault.firstMs !== undefined) return end.firstMs > fault.firstMs;
  return false;
}

/**
 * The layer-2 fault Events (IPConflict, announceFailed) of one Service from one node that still hold: those that no
 * later ending Event (L2_FAULT_ENDS, for the same IP when both name one) follows; the newest first. Pure.
 */
export function currentL2Faults(events: readonly AnnounceEvent[]): AnnounceEvent[] {
  const faults = events.filter((e) => L2_EVENT_REASONS.has(e.reason));
  const ends = events.filter((e) => e.type !== 'Warning' && !L2_EVENT_REASONS.has(e.reason));
  return faults
    .filter((f) => {
      const ip = ipOf(f.message);
      return !ends.some((e) => {
        if (!(L2_FAULT_ENDS[f.reason] ?? []).includes(e.reason)) return false;
        const eip = e.reason === 'nodeAssigned' ? undefined : ipOf(e.message);
        if (ip !== undefined && eip !== undefined && ip !== eip) return false;
        return endsAfter(e, f);
      });
    })
    .sort((a, b) => (b.lastMs ?? 0) - (a.lastMs ?? 0));
}
/** Session Events on a BGPPeer (bgp-status.ts) that say the session is up. */
const SESSION_UP_REASONS = new Set(['BGPSessionUp']);

/** core/v1 Events → the AnnounceEvents among them (Service IPConflict/announceFailed, their ends IPConflictCleared/announceResumed, nodeAssigned "layer2"; any BGPPeer event). Never throws. */
export function announceEventsOf(events: readonly KubeObject[]): AnnounceEvent[] {
  const out: AnnounceEvent[] = [];
  for (const raw of events) {
    const e = raw as KubeObject & {
      involvedObject?: { kind?: unknown; namespace?: unknown; name?: unknown };
      reason?: unknown;
      type?: unknown;
      message?: unknown;
      reportingInstance?: unknown;
      source?: { host?: unknown };
      lastTimestamp?: unknown;
      eventTime?: unknown;
      firstTimestamp?: unknown;
      count?: unknown;
    };
    const io = e.involvedObject ?? {};
    const kind = typeof io.kind === 'string' ? io.kind : '';
    const reason = typeof e.reason === 'string' ? e.reason : '';
    const message = typeof e.message === 'string' ? e.message : '';
    if (!((kind === 'Service' && keptServiceEvent(reason, message)) || kind === 'BGPPeer')) continue;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    const node = str(e.reportingInstance) ?? str(e.source?.host) ?? /node "([^"]+)"/.exec(message)?.[1];
    const first = typeof e.eventTime === 'string' && Number.isFinite(Date.parse(e.eventTime)) ? Date.parse(e.eventTime) : undefined;
    const when = [e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata?.creationTimestamp].map((t) => (typeof t === 'string' ? Date.parse(t) : NaN)).find((t) => Number.isFinite(t));
    out.push({
      kind,
      namespace: typeof io.namespace === 'string' ? io.namespace : (e.metadata?.namespace ?? ''),
      name: typeof io.name === 'string' ? io.name : '',
      type: typeof e.type === 'string' ? e.type : '',
      reason,
      message,
      ...(node !== undefined ? { node } : {}),
      ...(when !== undefined ? { lastMs: when } : {}),
      ...(first !== undefined ? { firstMs: first } : {}),
      count: typeof e.count === 'number' ? e.count : 1,
    });
  }
  return out;
}

/** A reported announcer that does not announce (or is not known to): what the status objects claim and why not. */
export interface Unconfirmed {
  mode: 'layer2' | 'bgp';
  node: string;
  /** BGP: the BGPPeer name (absent when the whole node is concerned, e.g. speakerDown). */
  peer?: string;
  /** speakerDown, IPConflict, announceFailed, sessionDown, sessionNotEstablished. */
  reason: string;
  message: string;
}

/** The reported announcers of one Service (src/cli/live.ts Announcers) and what is known about them. */
export interface CheckInputs {
  /** Absent: Leases not readable, nothing said about speakers' liveness. */
  speakerLeases?: readonly SpeakerLease[] | undefined;
  /** Absent: Events not readable, nothing said about conflicts and sessions. */
  events?: readonly AnnounceEvent[] | undefined;
  /** berth's namespace (where the BGPPeers and their Events are). */
  namespace: string;
  nowMs: number;
}

/** The short mark shown after a node or peer in ANNOUNCED-BY. */
export const UNCONFIRMED_MARK: Record<string, string> = {
  speakerDown: 'speaker down',
  IPConflict: 'IP conflict',
  announceFailed: 'announce failed',
  sessionDown: 'session down',
  sessionNotEstablished: 'not established',
};

const ago = (nowMs: number, ms: number | undefined): string => (ms === undefined ? '' : ` ${Math.max(0, Math.round((nowMs - ms) / 1000))} s ago`);

/**
 * Splits the announcers the status objects report for Service `key` (`namespace/name`) into those that really
 * announce and the others, with the reason (see the comment above). Pure; never throws.
 */
export function checkAnnouncers(
  key: string,
  reported: { l2Nodes: readonly string[]; bgp: ReadonlyArray<{ node: string; peers: readonly string[] }> },
  inputs: CheckInputs,
): { l2Nodes: string[]; bgp: Array<{ node: string; peers: string[] }>; unconfirmed: Unconfirmed[] } {
  const unconfirmed: Unconfirmed[] = [];
  const leases = new Map((inputs.speakerLeases ?? []).map((l) => [l.node, l]));
  const speakerDown = (node: string): string | undefined => {
    const l = leases.get(node);
    if (!l || l.renewMs === undefined) return undefined;
    const age = Math.round((inputs.nowMs - l.renewMs) / 1000);
    if (age <= l.durationSeconds) return undefined;
    return `the speaker of node "${node}" is down: its Lease ${SPEAKER_LEASE_PREFIX}${node} was last renewed ${age} s ago (lease ${l.durationSeconds} s); its status objects stay until its Pod is deleted`;
  };
  const i = key.indexOf('/');
  const [svcNs, svcName] = i < 0 ? ['default', key] : [key.slice(0, i), key.slice(i + 1)];
  const l2Nodes: string[] = [];
  for (const node of reported.l2Nodes) {
    const down = speakerDown(node);
    if (down) {
      unconfirmed.push({ mode: 'layer2', node, reason: 'speakerDown', message: down });
      continue;
    }
    const ev = currentL2Faults((inputs.events ?? []).filter((e) => e.kind === 'Service' && e.namespace === svcNs && e.name === svcName && e.node === node))[0];
    if (ev) {
      unconfirmed.push({ mode: 'layer2', node, reason: ev.reason, message: `layer2 from ${node}: ${ev.reason}${ago(inputs.nowMs, ev.lastMs)}: ${ev.message}` });
      continue;
    }
    l2Nodes.push(node);
  }
  const bgp: Array<{ node: string; peers: string[] }> = [];
  for (const b of reported.bgp) {
    const down = speakerDown(b.node);
    if (down) {
      unconfirmed.push({ mode: 'bgp', node: b.node, reason: 'speakerDown', message: down });
      continue;
    }
    const peers: string[] = [];
    for (const peer of b.peers) {
      if (!inputs.events) {
        peers.push(peer);
        continue;
      }
      const last = inputs.events
        .filter((e) => e.kind === 'BGPPeer' && e.namespace === inputs.namespace && e.name === peer && e.node === b.node)
        .sort((x, y) => (y.lastMs ?? 0) - (x.lastMs ?? 0) || (x.type === 'Warning' ? -1 : 0) - (y.type === 'Warning' ? -1 : 0))[0];
      // Same second (Event times are in seconds): the Warning wins, nothing is claimed that may not hold.
      if (last && SESSION_UP_REASONS.has(last.reason)) {
        peers.push(peer);
        continue;
      }
      if (last && (last.type === 'Warning' || last.reason === 'BFDSessionUp')) {
        // BGPSessionConnectFailed (bgp-status.ts): the session never got up since; any other: it went down.
        const never = last.reason === 'BGPSessionConnectFailed';
        unconfirmed.push({
          mode: 'bgp',
          node: b.node,
          peer,
          reason: never ? 'sessionNotEstablished' : 'sessionDown',
          message: `bgp ${b.node} → ${peer}: ${never ? 'not Established: ' : ''}${last.reason}${ago(inputs.nowMs, last.lastMs)}: ${last.message}`,
        });
        continue;
      }
      // No session Event from that node at all: Events expire (1 h by default on kube-apiserver), so an Established
      // session soon has none; a session that fails keeps writing BGPSessionConnectFailed (at least every 5 min,
      // bgp-status.ts) or BGPSessionDown. Absence is not a failure: the peer stays listed.
      peers.push(peer);
    }
    if (peers.length > 0 || b.peers.length === 0) bgp.push({ node: b.node, peers });
  }
  return { l2Nodes, bgp, unconfirmed };
}
