// The BGP plan of one node: the BGPPeers it keeps sessions with and, per peer, the routes it announces (prefix and
// attributes), why each (Service, IP) is or is not announced, and the ServiceBGPStatus to write. Pure and
// deterministic (same world, whatever the order of its lists → same plan); it never throws.
// Sources: MetalLB speaker/bgp_controller.go (ShouldAnnounce, SetBalancer, updateAds, syncPeers),
// internal/bgp/native/native.go (Set: identical prefixes deduplicated, communities merged), speaker/main.go (withdraw
// reasons); spec metallb-compat.md §1.3-§1.5, §6.1, §8.2, §8.4; draft-ietf-idr-link-bandwidth §2 (docs/bgp.md).
import type { BGPAdvertisementConfig, Config, PeerConfig } from '../config/types.ts';
import { parseCommunity } from '../config/community.ts';
import { FAMILY_BITS, formatCidr, type Family } from '../shared/ip.ts';
import { matchesAny } from '../shared/labels.ts';
import { community, linkBandwidth, type ExtendedCommunity, type LargeCommunity } from './bgp/wire/index.ts';
import {
  EXCLUDE_FROM_LB_LABEL,
  canServe,
  compilePools,
  parseOnce,
  poolContains,
  type EndpointView,
  type L2World,
  type NodeView,
  type ServiceView,
  type WithdrawReason,
} from './l2-plan.ts';

/** What the BGP plan reads: the layer-2 world without liveness (every eligible node announces, ECMP at the router). */
export type BgpWorld = Pick<L2World, 'config' | 'nodes' | 'services' | 'endpoints'>;

/** MetalLB's withdraw reasons (spec §8.2) the BGP plan can give. */
export type BgpWithdrawReason = WithdrawReason | 'conflictingAdvertisements';

/** One route to one peer: what the session sends in an UPDATE (src/speaker/bgp/wire RouteAttributes shapes). */
export interface BgpRoute {
  /** Canonical CIDR: the IP masked to the advertisement's aggregationLength(V6), e.g. `198.51.100.0/24`. */
  prefix: string;
  family: Family;
  /** LOCAL_PREF: only on iBGP sessions (peer's ASN == myASN), else undefined (RFC 4271 §5.1.5). */
  localPref?: number;
  /** RFC 1997 values (high 16 bits : low 16 bits), ascending, no duplicates: the union over every contribution. */
  communities: number[];
  /** RFC 8092, ascending, no duplicates. */
  largeCommunities: LargeCommunity[];
  /** The link-bandwidth community (berth.io/bgp-link-bandwidth) when an advertisement asks for it, else []. */
  extendedCommunities: ExtendedCommunity[];
  /** Services (`namespace/name`) whose IPs the prefix carries, sorted. */
  services: string[];
}

/** A BGPPeer this node has a session with, and the routes for it (keyed by prefix, in address order). */
export interface BgpPeerPlan {
  name: string;
  peer: PeerConfig;
  /** peerASN == myASN, or dynamicASN internal. */
  ibgp: boolean;
  routes: Map<string, BgpRoute>;
}

/** Per (Service, IP): whether this node announces it, to which peers as which prefixes, or why not. */
export interface BgpDecision {
  /** `namespace/name`. */
  service: string;
  /** Canonical IP (as written when it does not parse: reason invalidIP). */
  ip: string;
  announced: boolean;
  /** Why not (only when announced is false). */
  reason?: BgpWithdrawReason;
  pool?: string;
  /** Peers the IP goes to, sorted (may be [] when announced: no matching ad names a peer of this node). */
  peers: string[];
  /** Prefixes it is announced as, sorted (one per aggregation length in use). */
  prefixes: string[];
}

/** A prefix not sent to an iBGP peer because the Services behind it ask for different LOCAL_PREFs. */
export interface BgpConflict {
  peer: string;
  prefix: string;
  /** localPref → services asking for it. */
  localPrefs: Array<{ localPref: number; services: string[] }>;
}

/** The status of a metallb.io/v1beta1 ServiceBGPStatus this node keeps (MetalLB §1.7, §8.4). */
export interface ServiceBgpStatusView {
  node: string;
  serviceName: string;
  serviceNamespace: string;
  /** Peer names this node intends to announce the Service to (not session state), sorted. */
  peers: string[];
}

export interface BgpPlan {
  node: string;
  /** Sessions to have, by peer name in name order. */
  peers: Map<string, BgpPeerPlan>;
  /** One per (Service, IP), Services by key, IPs in status order. */
  decisions: BgpDecision[];
  /** ServiceBGPStatus per Service (`namespace/name`) announced to at least one peer; others' objects are deleted. */
  statuses: Map<string, ServiceBgpStatusView>;
  conflicts: BgpConflict[];
}

/** One (Service, IP, ad, peer) contribution to a route, before merging. */
interface Contribution {
  service: ServiceView;
  localPref: number;
  communities: string[];
  /** bits/s per endpoint when the ad carries berth.io/bgp-link-bandwidth. */
  bandwidthUnit: number | undefined;
  /** [service.key], made once and shared by the routes this contribution alone makes (one per peer; read-only). */
  services: string[] | undefined;
  /** The sessions it goes to (shared, read-only: the PlanContext's sessionList when the ad names no peer). */
  peers: readonly string[];
  /** The decision (of its Service's part) it comes from. */
  index: number;
  /** Its prefix (BgpPlanner), set when it is attached. */
  record: PrefixRecord | undefined;
}

/**
 * The BGP plan of `node` (MetalLB spec §6.1):
 * - sessions: every BGPPeer whose nodeSelectors match the node's labels (none = every node);
 * - for each Service IP: its pool (`ipNotAllowed` if none), the pool's BGPAdvertisements (`noMatchingAdvertisement`
 *   if none), those selecting this node (`notOwner`), those matching the Service's labels (`noMatchingAdvertisement`),
 *   `sharedIPWithServiceSelector` (a shared IP with a selector ad), the node (`nodeNetworkUnavailable`,
 *   `nodeLabeledExcludeBalancers`), the endpoints (ETP=Cluster: a serving endpoint anywhere, else `noEndpoints`;
 *   ETP=Local: one on this node, else `noLocalEndpoints`, or `noEndpoints` when there is none at all), and the
 *   matching ads' LOCAL_PREFs (two with the same aggregation length for the IP's family and a common peer of this
 *   node that differ → `conflictingAdvertisements`, as MetalLB's speaker);
 * - each remaining ad gives the prefix (IP masked to its aggregation length) with its localPref and communities, sent
 *   to its `peers` (by name, among this node's sessions) or to every session;
 * - per peer, identical prefixes are merged: communities united, services listed; LOCAL_PREF only on iBGP, where
 *   Services asking for different values for one prefix make berth withdraw that prefix from that peer (listed in
 *   `conflicts`) rather than pick one;
 * - link bandwidth (ads annotated berth.io/bgp-link-bandwidth): Σ over the Services of the prefix of
 *   (ready endpoints counted for the Service) × (its per-endpoint rate) / 8, in bytes/s, non-transitive, with the
 *   peer's myASN; the endpoints counted are this node's for ETP=Local and all of them for ETP=Cluster.
 * An unknown node gets no sessions and `notOwner` everywhere. Nodes and Services are taken once per name/key.
 * It is the first (full) plan of a fresh BgpPlanner; the speaker keeps one planner and replans incrementally.
 */
export function planBgp(world: BgpWorld, node: string): BgpPlan {
  return new BgpPlanner().plan(world, node);
}

/** Memo of parsed community texts (the same few values recur on every route and every replan). */
const parsedCommunities = new Map<string, ReturnType<typeof parseCommunity>>();

function parseCommunityOnce(text: string): ReturnType<typeof parseCommunity> {
  let p = parsedCommunities.get(text);
  if (p === undefined) {
    if (parsedCommunities.size >= 4096) parsedCommunities.clear();
    parsedCommunities.set(text, (p = parseCommunity(text)));
  }
  return p;
}

/** An ad's community texts parsed, sorted and deduplicated, once per ad (keyed by its communities array). */
const communitiesMemo = new WeakMap<readonly string[], { standard: number[]; large: LargeCommunity[] }>();

function communitiesOf(texts: readonly string[]): { standard: number[]; large: LargeCommunity[] } {
  let m = communitiesMemo.get(texts);
  if (m) return m;
  const standard = new Set<number>();
  const large = new Map<string, LargeCommunity>();
  for (const text of texts) {
    const p = parseCommunityOnce(text);
    if (!p.ok) continue;
    if (p.value.kind === 'standard') standard.add(community(p.value.high, p.value.low));
    else {
      const v = {
        globalAdministrator: p.value.global,
        localData1: p.value.local1,
        localData2: p.value.local2,
      };
      large.set(`${v.globalAdministrator}:${v.localData1}:${v.localData2}`, v);
    }
  }
  m = {
    standard: [...standard].sort((a, b) => a - b),
    large: [...large.values()].sort(
      (a, b) =>
        a.globalAdministrator - b.globalAdministrator ||
        a.localData1 - b.localData1 ||
        a.localData2 - b.localData2,
    ),
  };
  communitiesMemo.set(texts, m);
  return m;
}

/** Merges the contributions to one (peer, prefix) whose LOCAL_PREFs agree (or do not matter: eBGP). */
function mergeRoute(
  prefix: string,
  family: Family,
  from: readonly Contribution[],
  ibgp: boolean,
  peer: PeerConfig,
  world: BgpWorld,
  node: string,
): BgpRoute {
  if (from.length === 1 && from[0]!.bandwidthUnit === undefined) {
    // One contribution (the usual host route): its ad's communities, parsed once per ad and shared (read-only).
    const c = from[0]!;
    const parsed = communitiesOf(c.communities);
    return route(prefix, family, ibgp ? c.localPref : undefined, parsed.standard, parsed.large, NO_EXTENDED, (c.services ??= [c.service.key]));
  }
  const standard = new Set<number>();
  const large = new Map<string, LargeCommunity>();
  for (const c of from) {
    for (const text of c.communities) {
      const p = parseCommunityOnce(text);
      if (!p.ok) continue; // an unresolved alias: the config refused or deferred it
      if (p.value.kind === 'standard') standard.add(community(p.value.high, p.value.low));
      else {
        const v = {
          globalAdministrator: p.value.global,
          localData1: p.value.local1,
          localData2: p.value.local2,
        };
        large.set(`${v.globalAdministrator}:${v.localData1}:${v.localData2}`, v);
      }
    }
  }
  const services =
    from.length === 1 ? [from[0]!.service.key] : [...new Set(from.map((c) => c.service.key))].sort();
  // Link bandwidth: per Service the largest per-endpoint rate among its annotated contributions.
  const unitOf = new Map<string, { svc: ServiceView; unit: number }>();
  for (const c of from) {
    if (c.bandwidthUnit === undefined) continue;
    const u = unitOf.get(c.service.key);
    if (!u || c.bandwidthUnit > u.unit) unitOf.set(c.service.key, { svc: c.service, unit: c.bandwidthUnit });
  }
  const extendedCommunities: ExtendedCommunity[] = [];
  if (unitOf.size > 0) {
    let bitsPerSecond = 0;
    for (const { svc, unit } of unitOf.values()) bitsPerSecond += readyEndpointsFor(world, svc, node) * unit;
    extendedCommunities.push(linkBandwidth(peer.myASN, bitsPerSecond / 8));
  }
  return route(
    prefix,
    family,
    ibgp ? from[0]!.localPref : undefined,
    [...standard].sort((a, b) => a - b),
    [...large.values()].sort(
      (a, b) =>
        a.globalAdministrator - b.globalAdministrator ||
        a.localData1 - b.localData1 ||
        a.localData2 - b.localData2,
    ),
    extendedCommunities.length > 0 ? extendedCommunities : NO_EXTENDED,
    services,
  );
}

/** The empty extended communities of every route without link bandwidth (shared, frozen: routes are read-only). */
const NO_EXTENDED: ExtendedCommunity[] = Object.freeze([]) as unknown as ExtendedCommunity[];

/**
 * A BgpRoute as one of two object literals (localPref present only for iBGP): no object spread, which in V8 gives
 * every object it makes a map of its own (~240 bytes per route at 10,000 prefixes; heap snapshot of bench/bgp-speaker.ts).
 */
function route(
  prefix: string,
  family: Family,
  localPref: number | undefined,
  communities: number[],
  largeCommunities: LargeCommunity[],
  extendedCommunities: ExtendedCommunity[],
  services: string[],
): BgpRoute {
  return localPref !== undefined
    ? { prefix, family, localPref, communities, largeCommunities, extendedCommunities, services }
    : { prefix, family, communities, largeCommunities, extendedCommunities, services };
}

/**
 * The endpoints that weigh this node's route for `svc`: ready ones (not merely serving: a terminating endpoint
 * attracts no new traffic), on this node for ETP=Local, anywhere for ETP=Cluster (kube-proxy spreads the traffic over
 * every endpoint whichever node receives it, so every announcing node gets the same weight).
 */
export function readyEndpointsFor(world: BgpWorld, svc: ServiceView, node: string): number {
  const eps = world.endpoints.get(svc.key) ?? [];
  return eps.filter((e) => e.ready && (svc.externalTrafficPolicy !== 'Local' || e.nodeName === node)).length;
}

/** Two matching ads send one prefix (same aggregation length) to a common peer with different LOCAL_PREFs. */
function hasLocalPrefConflict(
  targets: ReadonlyArray<{ ad: BGPAdvertisementConfig; peers: string[]; len: number }>,
): boolean {
  for (let i = 0; i < targets.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = targets[i]!;
      const b = targets[j]!;
      if (a.len !== b.len || a.ad.localPref === b.ad.localPref) continue;
      if (a.peers.some((p) => b.peers.includes(p))) return true;
    }
  }
  return false;
}

/**
 * What changed for one peer between two plans: the routes to (re)announce (new prefix, or any attribute differs) and
 * the prefixes to withdraw, each in address order. A later BgpSpeaker.sync(plan) sends only these.
 */
export function diffRoutes(
  before: ReadonlyMap<string, BgpRoute> | undefined,
  after: ReadonlyMap<string, BgpRoute> | undefined,
): { announce: BgpRoute[]; withdraw: string[] } {
  const announce: BgpRoute[] = [];
  const withdraw: string[] = [];
  for (const [prefix, r] of after ?? []) {
    const old = before?.get(prefix);
    if (!old || !sameAttributes(old, r)) announce.push(r);
  }
  for (const prefix of before?.keys() ?? []) if (!after?.has(prefix)) withdraw.push(prefix);
  return { announce, withdraw };
}

/** The attributes a peer sees are equal (services are bookkeeping, not sent). */
export function sameAttributes(a: BgpRoute, b: BgpRoute): boolean {
  if (a === b) return true;
  return (
    a.prefix === b.prefix &&
    a.localPref === b.localPref &&
    sameList(a.communities, b.communities, (x, y) => x === y) &&
    sameList(
      a.largeCommunities,
      b.largeCommunities,
      (x, y) =>
        x.globalAdministrator === y.globalAdministrator &&
        x.localData1 === y.localData1 &&
        x.localData2 === y.localData2,
    ) &&
    sameList(a.extendedCommunities, b.extendedCommunities, (x, y) => JSON.stringify(x) === JSON.stringify(y))
  );
}

function sameList<T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!eq(a[i]!, b[i]!)) return false;
  return true;
}

function adSelectsNode(ad: BGPAdvertisementConfig, node: NodeView): boolean {
  return ad.nodeSelectors.length === 0 || matchesAny(ad.nodeSelectors, node.labels);
}

function mask(family: Family, value: bigint, len: number): bigint {
  const bits = BigInt(FAMILY_BITS[family]);
  const host = bits - BigInt(len);
  return (value >> host) << host;
}

/** The first item per key after sorting by key (inputs with duplicate names are taken once, deterministically). */
function firstByName<T>(items: readonly T[], key: (t: T) => unknown): Map<string, T> {
  const out = new Map<string, T>();
  const valid = items.filter((t) => typeof key(t) === 'string' && key(t) !== '');
  const byKey = (a: T, b: T): number =>
    cmp(key(a) as string, key(b) as string) || cmp(JSON.stringify(a), JSON.stringify(b));
  for (const t of valid.sort(byKey)) {
    const k = key(t) as string;
    if (!out.has(k)) out.set(k, t);
  }
  return out;
}

/** firstByName's items as a list in key order (no map: the Services of a plan are only walked). */
function firstByNameList<T>(items: readonly T[], key: (t: T) => unknown): T[] {
  const valid = items.filter((t) => typeof key(t) === 'string' && key(t) !== '');
  valid.sort((a, b) => cmp(key(a) as string, key(b) as string) || cmp(JSON.stringify(a), JSON.stringify(b)));
  let n = 0;
  for (let i = 0; i < valid.length; i++) {
    if (n > 0 && key(valid[n - 1]!) === key(valid[i]!)) continue;
    valid[n++] = valid[i]!;
  }
  valid.length = n;
  return valid;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- Incremental planning -----------------------------------------------------------------------------------------
//
// Memory layout (issue 9: 10,000 Services × 3 peers in a speaker under 96 MB): one PrefixRecord per prefix whatever the
// number of peers (its address, its contributions, each naming its peers through a shared array), one output map per
// peer (prefix → BgpRoute, in address order, never changed once handed out), and one BgpRoute shared by the peers
// that see the same attributes. No per-(peer, prefix) bookkeeping object, no sort-key strings.

/** One prefix some Service contributes to: where it sorts and who asks for it. */
interface PrefixRecord {
  prefix: string;
  family: Family;
  /** First address (host bits zero); for host routes the parsed IP's own value (shared with the parse memo). */
  first: bigint;
  len: number;
  /**
   * Contributions, sorted by Service key (stable) before each merge; the contribution itself when it is the only one
   * (nearly every prefix: a one-element list is 56 bytes per prefix), an empty list when none is left.
   */
  from: Contribution | Contribution[];
}

/** planBgp's address order: IPv4 before IPv6, then first address, then length. */
function byAddress(a: PrefixRecord, b: PrefixRecord): number {
  if (a.family !== b.family) return a.family === 'IPv4' ? -1 : 1;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  return a.len - b.len;
}

/** One Service's part of a plan: its decisions (before conflict drops) and its contributions to prefixes. */
interface ServicePart {
  svc: ServiceView;
  eps: readonly EndpointView[];
  /** Its decisions; the decision itself when it is the only one (a one-element list is 56 bytes per Service). */
  decisions: BgpDecision | BgpDecision[];
  /** Its contributions (each with its record, peers and decision index); the contribution itself when only one. */
  contributions: Contribution | Contribution[];
  /** Its ServiceBGPStatus when no conflict drops one of its routes (undefined: not announced to any peer). */
  status: ServiceBgpStatusView | undefined;
  /** The last plan (BgpPlanner's count) whose world had this Service. */
  gen: number;
}

/** Everything of a plan that does not depend on the Services and endpoints. */
interface PlanContext {
  config: Config;
  node: string;
  selfKey: string;
  self: NodeView | undefined;
  sessions: PeerConfig[];
  sessionNames: Set<string>;
  pools: ReturnType<typeof compilePools>;
  ads: BGPAdvertisementConfig[];
  aggregateText: (family: Family, first: bigint, len: number) => string;
  /** Session names in name order (the `peers` of an ad without peers; shared, read-only). */
  sessionList: string[];
  /** Per pool name: its ads selecting this node (planBgp's ofPool / forNode), computed once per context. */
  adsOfPool: Map<string, { ofPool: number; forNode: BGPAdvertisementConfig[]; anySelector: boolean }>;
  /** Per pool name and family, when no ad of the pool has serviceSelectors: the targets and whether they conflict. */
  targetsOf: Map<string, { targets: Target[]; conflict: boolean; peers: string[] }>;
}

interface Target {
  ad: BGPAdvertisementConfig;
  /** Shared, read-only: ctx.sessionList for an ad without `peers`. */
  peers: string[];
  len: number;
}

interface PeerState {
  peer: PeerConfig;
  ibgp: boolean;
  /** The routes handed out last (address order); replaced, never edited, when they change. */
  routes: Map<string, BgpRoute>;
  conflicts: Map<string, BgpConflict>;
}

function planContext(world: BgpWorld, node: string): PlanContext {
  const config = world.config;
  const self = firstByName(world.nodes, (n) => n.name).get(node);
  const peerConfigs = [...firstByName(config.peers, (p) => p.name).values()].sort((a, b) =>
    cmp(a.name, b.name),
  );
  const sessions = self
    ? peerConfigs.filter((p) => p.nodeSelectors.length === 0 || matchesAny(p.nodeSelectors, self.labels))
    : [];
  const aggregates = new Map<string, string>();
  return {
    config,
    node,
    selfKey: JSON.stringify(self ?? null),
    self,
    sessions,
    sessionNames: new Set(sessions.map((p) => p.name)),
    pools: compilePools(config),
    ads: [...config.bgpAdvertisements].sort((a, b) => cmp(a.name, b.name)),
    sessionList: sessions.map((p) => p.name),
    adsOfPool: new Map(),
    targetsOf: new Map(),
    aggregateText: (family, first, len) => {
      const k = `${family}|${first}|${len}`;
      let t = aggregates.get(k);
      if (t === undefined) aggregates.set(k, (t = formatCidr(family, first, len)));
      return t;
    },
  };
}

/** Attaches a contribution to the record of its prefix (BgpPlanner.plan's, called by planService). */
type Attach = (c: Contribution, prefix: string, family: Family, first: bigint, len: number) => void;

/** The decisions and contributions of one Service (planBgp's per-IP pass, same rules and order). */
function planService(
  ctx: PlanContext,
  svc: ServiceView,
  eps: readonly EndpointView[],
  attach: Attach,
): ServicePart {
  const { self, node, pools, ads, sessionNames } = ctx;
  const decisions: BgpDecision[] = [];
  const contributions: Contribution[] = [];
  for (const raw of Array.isArray(svc.ips) ? svc.ips : []) {
    const ip = parseOnce(raw);
    if (!ip) {
      decisions.push({ service: svc.key, peers: NO_NAMES, prefixes: NO_NAMES, ip: String(raw), announced: false, reason: 'invalidIP' });
      continue;
    }
    const named = svc.pool !== undefined ? pools.find((p) => p.name === svc.pool) : undefined;
    const pool = named && poolContains(named, ip) ? named : pools.find((p) => poolContains(p, ip));
    if (!pool) {
      withdrawn(decisions, svc.key, ip.canonical, undefined, 'ipNotAllowed');
      continue;
    }
    let sel = ctx.adsOfPool.get(pool.name);
    if (!sel) {
      const ofPool = ads.filter((ad) => ad.pools.includes(pool.name));
      const forNode = self ? ofPool.filter((ad) => adSelectsNode(ad, self)) : [];
      sel = {
        ofPool: ofPool.length,
        forNode,
        anySelector: forNode.some((ad) => ad.serviceSelectors.length > 0),
      };
      ctx.adsOfPool.set(pool.name, sel);
    }
    if (sel.ofPool === 0) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'noMatchingAdvertisement');
      continue;
    }
    const forNode = sel.forNode;
    if (forNode.length === 0) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'notOwner');
      continue;
    }
    const matching = !sel.anySelector
      ? forNode
      : forNode.filter(
          (ad) => ad.serviceSelectors.length === 0 || matchesAny(ad.serviceSelectors, svc.labels),
        );
    if (matching.length === 0) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'noMatchingAdvertisement');
      continue;
    }
    if (
      svc.sharingKey !== undefined &&
      sel.anySelector &&
      matching.some((ad) => ad.serviceSelectors.length > 0)
    ) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'sharedIPWithServiceSelector');
      continue;
    }
    if (self!.networkUnavailable) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'nodeNetworkUnavailable');
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(self!.labels, EXCLUDE_FROM_LB_LABEL)) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'nodeLabeledExcludeBalancers');
      continue;
    }
    // (No filtered copy of the endpoints: one pass, nothing allocated.)
    let serving = false;
    let servingHere = false;
    for (const e of eps) {
      if (!canServe(e)) continue;
      serving = true;
      if (e.nodeName === node) servingHere = true;
    }
    if (!serving) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'noEndpoints');
      continue;
    }
    if (svc.externalTrafficPolicy === 'Local' && !servingHere) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'noLocalEndpoints');
      continue;
    }
    // Targets depend on the pool, the family and (with serviceSelectors) the labels: shared when they cannot differ.
    const cacheKey = sel.anySelector ? undefined : `${pool.name}\n${ip.family}`;
    let tc = cacheKey !== undefined ? ctx.targetsOf.get(cacheKey) : undefined;
    if (!tc) {
      const targets: Target[] = matching.map((ad) => {
        const named = ad.peers.filter((p) => sessionNames.has(p));
        return {
          ad,
          // The session list itself when the ad names every session: contributions then need no filtering per peer.
          peers:
            ad.peers.length === 0 || named.join('\n') === ctx.sessionList.join('\n')
              ? ctx.sessionList
              : named,
          len: ip.family === 'IPv4' ? ad.aggregationLength : ad.aggregationLengthV6,
        };
      });
      tc = {
        targets,
        conflict: hasLocalPrefConflict(targets),
        peers: [...new Set(targets.flatMap((t) => t.peers))].sort(),
      };
      if (cacheKey !== undefined) ctx.targetsOf.set(cacheKey, tc);
    }
    if (tc.conflict) {
      withdrawn(decisions, svc.key, ip.canonical, pool.name, 'conflictingAdvertisements');
      continue;
    }
    const prefixes: string[] = [];
    const bits = FAMILY_BITS[ip.family];
    const index = decisions.length;
    for (const t of tc.targets) {
      const len = Math.max(0, Math.min(bits, t.len));
      // Host routes (the default) are the IP itself.
      const first = len === bits ? ip.value : mask(ip.family, ip.value, len);
      // join: one flat string (a template literal keeps a concatenated string over a copy: 32 bytes more per prefix,
      // and this string is the key of the routes maps and of every session's Adj-RIB-Out).
      const prefix = len === bits ? [ip.canonical, len].join('/') : ctx.aggregateText(ip.family, first, len);
      if (t.peers.length === 0) continue;
      if (!prefixes.includes(prefix)) prefixes.push(prefix);
      // Every member in the literal (`services` is filled in later): a member added afterwards gives each of the
      // 10,000s of contributions a 40-byte property array.
      const c: Contribution = {
        service: svc,
        localPref: t.ad.localPref,
        communities: t.ad.communities,
        bandwidthUnit: t.ad.linkBandwidth ? t.ad.linkBandwidth.perEndpointBitsPerSecond : undefined,
        services: undefined,
        peers: t.peers,
        index,
        record: undefined,
      };
      contributions.push(c);
      attach(c, prefix, ip.family, first, len);
    }
    decisions.push({
      service: svc.key,
      // Shared with the other Services of the pool (plans are read-only).
      peers: tc.peers,
      prefixes: exact(prefixes.length > 1 ? prefixes.sort() : prefixes),
      ip: ip.canonical,
      announced: true,
      pool: pool.name,
    });
  }
  const ds = exact(decisions);
  return { svc, eps, decisions: one(ds), contributions: one(contributions), status: statusOf(ctx.node, svc, ds), gen: 0 };
}

/** A ServicePart's decisions or contributions as stored: the element itself when it is the only one, else exact(a). */
function one<T extends object>(a: T[]): T | T[] {
  return a.length === 1 ? a[0]! : exact(a);
}

/** A ServicePart's decisions or contributions as a list (see one()). */
function list<T extends object>(x: T | T[]): readonly T[] {
  return Array.isArray(x) ? x : [x];
}

/** The empty peers/prefixes of a withdrawn decision (shared, frozen: plans are read-only). */
const NO_NAMES: string[] = Object.freeze([]) as unknown as string[];

/**
 * `a` itself when empty (then the shared empty list) or exactly as long as its elements, else a copy of that length:
 * a push on [] reserves 17 slots (152 bytes), and a Service's part holds several one-element lists (issue 9 memory).
 */
function exact<T>(a: T[]): T[] {
  if (a.length === 0) return NO_NAMES as unknown as T[];
  if (a.length === 1) return [a[0]!];
  return a.slice();
}

/** Records that one IP of `service` is not announced, and why. */
function withdrawn(
  decisions: BgpDecision[],
  service: string,
  ip: string,
  pool: string | undefined,
  reason: BgpWithdrawReason,
): void {
  const d: BgpDecision = { service, peers: NO_NAMES, prefixes: NO_NAMES, ip, announced: false, reason };
  if (pool !== undefined) d.pool = pool;
  decisions.push(d);
}

/** The ServiceBGPStatus of a Service from its final decisions, or undefined when no decision names a peer. */
function statusOf(
  node: string,
  svc: ServiceView,
  decisions: readonly BgpDecision[],
): ServiceBgpStatusView | undefined {
  if (decisions.length === 1) {
    // One IP: its peers are already sorted and unique (and read-only: shared).
    const d = decisions[0]!;
    if (!d.announced || d.peers.length === 0) return undefined;
    return { node, serviceName: svc.name, serviceNamespace: svc.namespace, peers: d.peers };
  }
  const names = new Set<string>();
  for (const d of decisions) if (d.announced) for (const p of d.peers) names.add(p);
  if (names.size === 0) return undefined;
  return { node, serviceName: svc.name, serviceNamespace: svc.namespace, peers: [...names].sort() };
}

/**
 * `a` and `b` print the same JSON (plain data: objects, arrays, strings, numbers, booleans, null; undefined members
 * count as absent; key order does not matter): a Service view or endpoint list that plans the same.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    if (!Object.prototype.hasOwnProperty.call(x, k) || x[k] === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(y, k) || !sameJson(x[k], y[k])) return false;
    n++;
  }
  for (const k in y) if (Object.prototype.hasOwnProperty.call(y, k) && y[k] !== undefined) n--;
  return n === 0;
}

/** Same BgpRoute for a peer (attributes and Services): the previous object is kept. */
function sameRoute(a: BgpRoute, b: BgpRoute): boolean {
  return a === b || (sameAttributes(a, b) && sameList(a.services, b.services, (x, y) => x === y));
}

/**
 * planBgp that remembers its last plan and redoes only what changed (issue 9: 10,000 Services replanned on every
 * event). A plan is the same as planBgp(world, node) (a fresh planner's full plan) — same routes, decisions, statuses,
 * conflicts, map orders (the property test in bgp-plan.test.ts checks it over random change sequences) — with three
 * differences that do not show in the values: a Service whose view and endpoints print the same JSON as last time is
 * not replanned, the BgpRoute objects of unchanged routes are the previous plan's (so BgpSpeaker.sync compares them by
 * identity; peers seeing the same attributes share one object), and a peer's routes map whose routes did not change
 * is the previous plan's map object. Plans must be treated as read-only (arrays such as `peers` are shared). A
 * different Config object, node name, or view of this node starts over (a full plan).
 */
export class BgpPlanner {
  #ctx: PlanContext | undefined;
  #parts = new Map<string, ServicePart>();
  #peers = new Map<string, PeerState>();
  /** Every prefix some Service contributes to, whatever the peers. */
  #records = new Map<string, PrefixRecord>();
  /** Plan count: the parts of the Services of this plan carry it (the others are gone). */
  #gen = 0;

  /** The plan of `node` in `world` (see planBgp); never throws. */
  plan(world: BgpWorld, node: string): BgpPlan {
    const self = firstByName(world.nodes, (n) => n.name).get(node);
    if (
      !this.#ctx ||
      this.#ctx.config !== world.config ||
      this.#ctx.node !== node ||
      this.#ctx.selfKey !== JSON.stringify(self ?? null)
    ) {
      this.#ctx = planContext(world, node);
      this.#parts.clear();
      this.#records.clear();
      this.#peers = new Map(
        this.#ctx.sessions.map((p) => [
          p.name,
          {
            peer: p,
            ibgp: p.peerASN === p.myASN || p.dynamicASN === 'internal',
            routes: new Map(),
            conflicts: new Map(),
          },
        ]),
      );
    }
    const ctx = this.#ctx;
    const records = this.#records;
    const services = firstByNameList(world.services, (s) => s.key);
    const dirty = new Set<PrefixRecord>();
    const remove = (part: ServicePart): void => {
      const key = part.svc.key;
      for (const c of list(part.contributions)) {
        const rec = c.record;
        if (!rec) continue;
        const from = list(rec.from);
        if (from.some((x) => x.service.key === key)) {
          const left = from.filter((x) => x.service.key !== key);
          rec.from = left.length === 1 ? left[0]! : left;
        }
        dirty.add(rec);
      }
    };
    const gen = ++this.#gen;
    const parts: ServicePart[] = [];
    const attach: Attach = (c, prefix, family, first, len) => {
      let rec = records.get(prefix);
      // The contribution itself while it is the only one; then a literal two-element array (a push on [] would
      // reserve 17 slots).
      if (!rec) records.set(prefix, (rec = { prefix, family, first, len, from: c }));
      else if (!Array.isArray(rec.from)) rec.from = [rec.from, c];
      else if (rec.from.length === 0) rec.from = c;
      else rec.from.push(c);
      c.record = rec;
      dirty.add(rec);
    };
    for (const svc of services) {
      const eps = world.endpoints.get(svc.key) ?? [];
      const old = this.#parts.get(svc.key);
      if (old && old.svc === svc && old.eps === eps) {
        old.gen = gen;
        parts.push(old);
        continue;
      }
      if (old && sameJson(old.svc, svc) && sameJson(old.eps, eps)) {
        old.svc = svc;
        old.eps = eps;
        old.gen = gen;
        parts.push(old);
        continue;
      }
      if (old) remove(old);
      const part = planService(ctx, svc, eps, attach);
      part.gen = gen;
      this.#parts.set(svc.key, part);
      parts.push(part);
    }
    for (const [key, part] of this.#parts) {
      if (part.gen === gen) continue;
      remove(part);
      this.#parts.delete(key);
    }

    // The changed prefixes in address order, each merged once per peer (one BgpRoute shared by peers that agree).
    const changed = [...dirty].sort(byAddress);
    for (const rec of changed) {
      if (Array.isArray(rec.from) && rec.from.length > 1) rec.from.sort((a, b) => cmp(a.service.key, b.service.key));
    }
    const peers = new Map<string, BgpPeerPlan>();
    const conflicts: BgpConflict[] = [];
    const dropped = new Set<string>();
    const states = ctx.sessions.map((p) => this.#peers.get(p.name)!);
    /** Per peer, its changes in address order (parallel arrays): a new route, or undefined to remove the prefix. */
    const updRecs: PrefixRecord[][] = states.map(() => []);
    const updRoutes: Array<Array<BgpRoute | undefined>> = states.map(() => []);
    for (const rec of changed) {
      const all = list(rec.from);
      const unfiltered = all.every((c) => c.peers === ctx.sessionList);
      /** The route merged from every contribution, for the peers that get them all (shared by those that agree). */
      // One per kind of session (eBGP, iBGP: LOCAL_PREF differs), so eBGP peers listed around an iBGP one still share.
      let sharedE: { asn: number; route: BgpRoute } | undefined;
      let sharedI: { asn: number; route: BgpRoute } | undefined;
      for (let i = 0; i < states.length; i++) {
        const st = states[i]!;
        const p = st.peer;
        const from = unfiltered
          ? all
          : all.filter((c) => c.peers === ctx.sessionList || c.peers.includes(p.name));
        const old = st.routes.get(rec.prefix);
        if (from.length === 0) {
          st.conflicts.delete(rec.prefix);
          if (old) {
            updRecs[i]!.push(rec);
            updRoutes[i]!.push(undefined);
          }
          continue;
        }
        const lp = from[0]!.localPref;
        if (!st.ibgp || from.every((c) => c.localPref === lp)) {
          st.conflicts.delete(rec.prefix);
          const bandwidth = from.some((c) => c.bandwidthUnit !== undefined);
          let r: BgpRoute;
          const shared = st.ibgp ? sharedI : sharedE;
          if (unfiltered && shared && (!bandwidth || shared.asn === p.myASN)) r = shared.route;
          else {
            r = mergeRoute(rec.prefix, rec.family, from, st.ibgp, p, world, ctx.node);
            if (unfiltered) {
              if (st.ibgp) sharedI = { asn: p.myASN, route: r };
              else sharedE = { asn: p.myASN, route: r };
            }
          }
          // The same route as before keeps its object (and the peer its map when nothing else changed).
          if (old && sameRoute(old, r)) continue;
          updRecs[i]!.push(rec);
          updRoutes[i]!.push(r);
          continue;
        }
        const prefs = new Map<number, Set<string>>();
        for (const c of from) {
          let s = prefs.get(c.localPref);
          if (!s) prefs.set(c.localPref, (s = new Set()));
          s.add(c.service.key);
        }
        st.conflicts.set(rec.prefix, {
          peer: p.name,
          prefix: rec.prefix,
          localPrefs: [...prefs.entries()]
            .sort(([a], [b]) => a - b)
            .map(([localPref, s]) => ({ localPref, services: [...s].sort() })),
        });
        if (old) {
          updRecs[i]!.push(rec);
          updRoutes[i]!.push(undefined);
        }
      }
    }
    /** Per peer, its routes map before this plan (peers that had one map and get the same updates keep sharing one). */
    const before = states.map((st) => st.routes);
    for (let i = 0; i < states.length; i++) {
      const st = states[i]!;
      const p = st.peer;
      if (updRecs[i]!.length > 0) {
        // The usual case (every ad to every session): every peer gets the same changes; one map for all of them.
        let j = 0;
        for (; j < i; j++) {
          const b = before[j]!;
          if ((b === before[i] || (b.size === 0 && before[i]!.size === 0)) && sameList(updRecs[j]!, updRecs[i]!, (x, y) => x === y) && sameList(updRoutes[j]!, updRoutes[i]!, (x, y) => x === y)) break;
        }
        st.routes = j < i ? states[j]!.routes : merged(st.routes, updRecs[i]!, updRoutes[i]!, records);
      }
      peers.set(p.name, { name: p.name, peer: p, ibgp: st.ibgp, routes: st.routes });
      if (st.conflicts.size > 0) {
        const recs = [...st.conflicts.keys()].map((k) => records.get(k)!).sort(byAddress);
        for (const rec of recs) {
          conflicts.push(st.conflicts.get(rec.prefix)!);
          dropped.add(`${p.name}\n${rec.prefix}`);
        }
      }
    }
    for (const rec of changed) if (Array.isArray(rec.from) && rec.from.length === 0) records.delete(rec.prefix);

    const decisions: BgpDecision[] = [];
    const statuses = new Map<string, ServiceBgpStatusView>();
    for (const part of parts) {
      let ds = list(part.decisions);
      let status = part.status;
      if (
        dropped.size > 0 &&
        list(part.contributions).some((c) => c.peers.some((pe) => dropped.has(`${pe}\n${c.record!.prefix}`)))
      ) {
        ds = ds.map((d) => ({ ...d }));
        const routesOf = new Map<number, Array<[string, string]>>();
        for (const c of list(part.contributions)) {
          let r = routesOf.get(c.index);
          if (!r) routesOf.set(c.index, (r = []));
          for (const pe of c.peers) r.push([pe, c.record!.prefix]);
        }
        for (const [index, routes] of routesOf) {
          const d = ds[index]!;
          const kept = routes.filter(([pe, pr]) => !dropped.has(`${pe}\n${pr}`));
          if (routes.length > 0 && kept.length === 0) {
            d.announced = false;
            d.reason = 'conflictingAdvertisements';
            d.peers = [];
            d.prefixes = [];
            continue;
          }
          d.peers = [...new Set(kept.map(([pe]) => pe))].sort();
          d.prefixes = [...new Set(kept.map(([, x]) => x))].sort();
        }
        status = statusOf(ctx.node, part.svc, ds);
      }
      for (const d of ds) decisions.push(d);
      if (status) statuses.set(part.svc.key, status);
    }
    return { node, peers, decisions, statuses, conflicts };
  }
}

/**
 * A new routes map: `old` (address order) with the updates (`recs[i]` → `routes[i]`, address order; undefined =
 * removed) applied, new prefixes inserted at their place.
 */
function merged(
  old: ReadonlyMap<string, BgpRoute>,
  recs: readonly PrefixRecord[],
  routes: ReadonlyArray<BgpRoute | undefined>,
  records: ReadonlyMap<string, PrefixRecord>,
): Map<string, BgpRoute> {
  const out = new Map<string, BgpRoute>();
  /** Indexes of the new prefixes (not in `old`), in address order. */
  const adds: number[] = [];
  let edits: Map<string, BgpRoute | undefined> | undefined;
  let removed = 0;
  for (let j = 0; j < recs.length; j++) {
    const prefix = recs[j]!.prefix;
    if (!old.has(prefix)) adds.push(j);
    else {
      (edits ??= new Map()).set(prefix, routes[j]);
      if (routes[j] === undefined) removed++;
    }
  }
  // Everything removed (a withdraw of all): nothing to walk.
  if (removed === old.size && adds.length === 0) return out;
  let i = 0;
  for (const [prefix, r] of old) {
    if (i < adds.length) {
      const rec = records.get(prefix)!;
      while (i < adds.length && byAddress(recs[adds[i]!]!, rec) < 0) {
        out.set(recs[adds[i]!]!.prefix, routes[adds[i]!]!);
        i++;
      }
    }
    if (edits?.has(prefix)) {
      const nr = edits.get(prefix);
      if (nr) out.set(prefix, nr);
    } else out.set(prefix, r);
  }
  for (; i < adds.length; i++) out.set(recs[adds[i]!]!.prefix, routes[adds[i]!]!);
  return out;
}
