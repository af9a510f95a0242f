// The layer-2 plan: for every (Service, IP), which node answers ARP/NDP for it, on which interfaces, or why nobody
// does. Pure and node-independent: every speaker computes the same plan from the same world, whatever the order of
// its inputs, and then keeps the part it owns (`announcementsFor`).
// Sources: MetalLB speaker/layer2_controller.go (ShouldAnnounce, l2AdsForService, speakersForPool,
// nodesWithEndpoint, ipAdvertisementFor), speaker/main.go (handleService withdraw reasons),
// design/l2-preferred-node-selection.md (ad-scoped preference scores); spec metallb-compat.md §2.2, §5.1, §5.2, §8.2.
import type { Config, L2AdvertisementConfig } from '../config/types.ts';
import { parseAddressEntry } from '../config/addresses.ts';
import { formatIp, parseIp, type Family } from '../shared/ip.ts';
import { matchesAny, matchesSelector } from '../shared/labels.ts';
import { balancedOwners, metallbOrder, topTier, type Candidate } from './election.ts';

/** Node label whose presence (any value) removes the node from announcing (spec §2.2; --ignore-exclude-lb drops it). */
export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeView {
  name: string;
  labels: Record<string, string>;
  /** Condition NetworkUnavailable=True. */
  networkUnavailable: boolean;
}

export interface ServiceView {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** status.loadBalancer.ingress[].ip, in order; the first one is the election key. */
  ips: string[];
  /** metallb.io/ip-allocated-from-pool. */
  pool?: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** metallb.io/allow-shared-ip (presence matters for sharedIPWithServiceSelector). */
  sharingKey?: string;
}

/** One endpoint of a Service's EndpointSlices; it can serve when `ready || serving` (MetalLB EndpointCanServe). */
export interface EndpointView {
  nodeName?: string;
  ready: boolean;
  serving: boolean;
}

export interface L2World {
  config: Config;
  nodes: NodeView[];
  services: ServiceView[];
  /** `namespace/name` → endpoints. */
  endpoints: ReadonlyMap<string, readonly EndpointView[]>;
  /** Nodes whose speaker is alive (liveness; or every node when liveness is off, as MetalLB without memberlist). */
  liveSpeakers: ReadonlySet<string>;
}

/** MetalLB's withdraw reasons (spec §8.2) that the plan can give. */
export type WithdrawReason =
  | 'notOwner'
  | 'noMatchingAdvertisement'
  | 'noEndpoints'
  | 'noLocalEndpoints'
  | 'nodeNetworkUnavailable'
  | 'nodeLabeledExcludeBalancers'
  | 'sharedIPWithServiceSelector'
  | 'noIPAllocated'
  | 'invalidIP'
  | 'ipNotAllowed';

export interface L2Decision {
  /** `namespace/name`. */
  service: string;
  /** Canonical IP (as written when it does not parse: reason invalidIP). */
  ip: string;
  /** The node that answers; undefined: nobody, `reason` says why. */
  owner: string | undefined;
  /** Interfaces the owner answers on; [] = every layer-2 interface. */
  interfaces: string[];
  /** Elected by balanced mode (every applicable L2Advertisement has berth.io/l2-balance: "true"). */
  balanced: boolean;
  /** Why nobody announces (only when owner is undefined). */
  reason?: WithdrawReason;
  /** The eligible nodes in failover order (MetalLB's order; in balanced mode the owner first). */
  candidates: string[];
  /** The pool the IP belongs to, when found. */
  pool?: string;
}

/** Structurally src/speaker/layer2/announcer.ts's Announcement (interfaces.md). */
export interface Announcement {
  ip: string;
  /** `namespace/name`. */
  service: string;
  /** [] = every layer-2 interface. */
  interfaces: string[];
}

export interface CompiledPool {
  name: string;
  ranges: Array<{ family: Family; first: bigint; last: bigint }>;
}

/** The pools' address entries as bigint ranges (entries that do not parse are skipped: the config refused them). */
export function compilePools(config: Config): CompiledPool[] {
  return config.pools.map((p) => ({
    name: p.name,
    ranges: p.addresses.flatMap((a) => {
      const r = parseAddressEntry(a);
      return r.ok ? r.cidrs.map((c) => ({ family: c.family, first: c.first, last: c.last })) : [];
    }),
  }));
}

export function poolContains(pool: CompiledPool, ip: { family: Family; value: bigint }): boolean {
  return pool.ranges.some((r) => r.family === ip.family && r.first <= ip.value && ip.value <= r.last);
}

/** MetalLB EndpointCanServe: ready, or serving (terminating but still serving). */
export const canServe = (e: EndpointView): boolean => e.ready || e.serving;

export interface ParsedIp {
  family: Family;
  value: bigint;
  canonical: string;
}

/** Memo of parsed IP texts (parsing with ipaddr.js costs tens of µs; a speaker replans the same IPs on every change). */
const parsedIps = new Map<string, ParsedIp | null>();
const PARSED_IPS_MAX = 1 << 16;

/** Parses an IP text once (memoised): family, value and canonical text, or undefined. */
export function parseOnce(raw: string): ParsedIp | undefined {
  let p = parsedIps.get(raw);
  if (p === undefined) {
    const v = typeof raw === 'string' ? parseIp(raw) : undefined;
    // A literal, not { ...v }: V8 gives every object a spread makes a map of its own (~240 bytes per IP).
    // The canonical text is the key string itself when equal (nearly always): no second copy per IP (issue 9 RSS).
    const canonical = v ? formatIp(v.family, v.value) : '';
    p = v ? { family: v.family, value: v.value, canonical: canonical === raw ? raw : canonical } : null;
    if (parsedIps.size >= PARSED_IPS_MAX) parsedIps.clear();
    parsedIps.set(raw, p);
  }
  return p ?? undefined;
}

/** The ad selects the node: no nodeSelectors, or one of them matches (MetalLB ad.Nodes). */
function adSelectsNode(ad: L2AdvertisementConfig, node: NodeView): boolean {
  return ad.nodeSelectors.length === 0 || matchesAny(ad.nodeSelectors, node.labels);
}

/** Ad-scoped preference score: per applicable ad selecting the node, the weights of its matching preferences. */
function scoreOf(ads: readonly L2AdvertisementConfig[], node: NodeView): number {
  let score = 0;
  for (const ad of ads) {
    if (!adSelectsNode(ad, node)) continue;
    for (const p of ad.preferredNodeSelectors) {
      if (Number.isFinite(p.weight) && matchesSelector(p.preference ?? {}, node.labels)) score += p.weight;
    }
  }
  return score;
}

/** Union of the interfaces of the applicable ads that select the owner; [] when one of them says "every interface". */
function interfacesFor(ads: readonly L2AdvertisementConfig[], owner: NodeView): string[] {
  const out = new Set<string>();
  for (const ad of ads) {
    if (!adSelectsNode(ad, owner)) continue;
    if (ad.interfaces.length === 0) return [];
    for (const i of ad.interfaces) out.add(i);
  }
  return [...out].sort();
}

type Eligibility =
  | { ok: false; reason: WithdrawReason; pool?: string }
  | { ok: true; pool: string; ads: L2AdvertisementConfig[]; candidates: readonly Candidate[] };

/**
 * MetalLB's steps 1-6 (spec §5.1) for one IP of a Service: its pool, the applicable ads, the candidate nodes with
 * their preference scores, or the withdraw reason of the first filter that leaves nothing.
 */
function eligibility(
  world: L2World,
  pools: readonly CompiledPool[],
  nodes: readonly NodeView[],
  svc: ServiceView,
  ip: { family: Family; value: bigint },
  nodeCache: Map<string, NodePart>,
): Eligibility {
  const named = svc.pool !== undefined ? pools.find((p) => p.name === svc.pool) : undefined;
  const pool = named && poolContains(named, ip) ? named : pools.find((p) => poolContains(p, ip));
  if (!pool) return { ok: false, reason: 'ipNotAllowed' };
  const eps = world.endpoints.get(svc.key) ?? [];
  if (!eps.some(canServe)) return { ok: false, reason: 'noEndpoints', pool: pool.name };
  const ads = world.config.l2Advertisements.filter(
    (ad) =>
      ad.pools.includes(pool.name) &&
      (ad.serviceSelectors.length === 0 || matchesAny(ad.serviceSelectors, svc.labels)),
  );
  if (ads.length === 0) return { ok: false, reason: 'noMatchingAdvertisement', pool: pool.name };
  if (svc.sharingKey !== undefined && ads.some((ad) => ad.serviceSelectors.length > 0)) {
    return { ok: false, reason: 'sharedIPWithServiceSelector', pool: pool.name };
  }
  const local =
    svc.externalTrafficPolicy === 'Local'
      ? new Set(eps.filter(canServe).flatMap((e) => (e.nodeName ? [e.nodeName] : [])))
      : undefined;
  // The node filters depend only on the ads and the local endpoints' nodes: computed once per plan for each.
  const key = `${ads.map((a) => a.name).join('\n')}\u0001${local ? [...local].sort().join('\n') : '*'}`;
  let nodePart = nodeCache.get(key);
  if (!nodePart) nodeCache.set(key, (nodePart = candidatesFor(world, nodes, ads, local)));
  return 'reason' in nodePart
    ? { ok: false, reason: nodePart.reason, pool: pool.name }
    : { ok: true, pool: pool.name, ads, candidates: nodePart.candidates };
}

type NodePart = { reason: WithdrawReason } | { candidates: readonly Candidate[] };

/** Steps 5-6: live, not NetworkUnavailable, not excluded, selected by an ad, (ETP=Local) hosting an endpoint. */
function candidatesFor(
  world: L2World,
  nodes: readonly NodeView[],
  ads: readonly L2AdvertisementConfig[],
  local: ReadonlySet<string> | undefined,
): NodePart {
  const steps: Array<[WithdrawReason, (n: NodeView) => boolean]> = [
    ['notOwner', (n) => world.liveSpeakers.has(n.name)],
    ['nodeNetworkUnavailable', (n) => !n.networkUnavailable],
    [
      'nodeLabeledExcludeBalancers',
      (n) => !Object.prototype.hasOwnProperty.call(n.labels, EXCLUDE_FROM_LB_LABEL),
    ],
    ['noMatchingAdvertisement', (n) => ads.some((ad) => adSelectsNode(ad, n))],
  ];
  if (local) steps.push(['noLocalEndpoints', (n) => local.has(n.name)]);
  let left = nodes;
  for (const [reason, keep] of steps) {
    left = left.filter(keep);
    if (left.length === 0) return { reason };
  }
  // Frozen: election.ts memoises orders for frozen candidate lists.
  return {
    candidates: Object.freeze(left.map((n) => Object.freeze({ name: n.name, score: scoreOf(ads, n) }))),
  };
}

/**
 * The layer-2 plan (MetalLB spec §5.1 steps 1-7 for every Service and IP at once): one decision per (Service, IP),
 * Services by key, IPs in status order. The owner is the first of `metallbOrder(firstIP, candidates)`, where
 * firstIP is the Service's first ingress IP (canonical), so both IPs of a dual-stack Service go to one node; IPs whose
 * applicable L2Advertisements all carry `berth.io/l2-balance: "true"` are instead spread by `balancedOwners`, grouped
 * by their most-preferred candidate set. Never throws: bad input yields a decision with a reason (invalidIP,
 * ipNotAllowed, ...). Nodes are taken once per name (the first after sorting by name).
 */
export function planLayer2(world: L2World): L2Decision[] {
  const pools = compilePools(world.config);
  const nodes: NodeView[] = [];
  const nodeByName = new Map<string, NodeView>();
  for (const n of [...world.nodes].sort((a, b) => cmp(a.name, b.name))) {
    if (typeof n.name !== 'string' || n.name === '' || nodeByName.has(n.name)) continue;
    nodeByName.set(n.name, n);
    nodes.push(n);
  }
  const decisions: L2Decision[] = [];
  // Balanced IPs: group (signature of the top-tier candidate names) → election keys; filled in after the pass.
  const groups = new Map<string, { candidates: Candidate[]; keys: Set<string> }>();
  const pending: Array<{
    d: L2Decision;
    group: string;
    key: string;
    ads: L2AdvertisementConfig[];
    all: readonly Candidate[];
  }> = [];
  const seen = new Set<string>();
  const nodeCache = new Map<string, NodePart>();
  const tiers = new Map<readonly Candidate[], { tier: Candidate[]; group: string }>();
  for (const svc of [...world.services].sort((a, b) => cmp(a.key, b.key))) {
    if (seen.has(svc.key)) continue;
    seen.add(svc.key);
    const firstValid = svc.ips.map(parseOnce).find((p) => p !== undefined)?.canonical;
    for (const raw of svc.ips) {
      const parsed = parseOnce(raw);
      const ip = parsed?.canonical;
      const base = {
        service: svc.key,
        interfaces: [] as string[],
        balanced: false,
        candidates: [] as string[],
      };
      if (!parsed || !ip || !firstValid) {
        decisions.push({ ...base, ip: raw, owner: undefined, reason: 'invalidIP' });
        continue;
      }
      const e = eligibility(world, pools, nodes, svc, parsed, nodeCache);
      if (!e.ok) {
        decisions.push({
          ...base,
          ip,
          owner: undefined,
          reason: e.reason,
          ...(e.pool ? { pool: e.pool } : {}),
        });
        continue;
      }
      const balanced = e.ads.every((ad) => ad.balanced === true);
      if (!balanced) {
        const order = metallbOrder(firstValid, e.candidates);
        const owner = order[0]!;
        decisions.push({
          ...base,
          ip,
          owner,
          interfaces: interfacesFor(e.ads, nodeByName.get(owner)!),
          candidates: order,
          pool: e.pool,
        });
        continue;
      }
      let t = tiers.get(e.candidates);
      if (!t) {
        const tier = topTier(e.candidates);
        const names = tier.map((c) => c.name).sort();
        tiers.set(e.candidates, (t = { tier, group: names.join('\n') }));
      }
      const { tier, group } = t;
      let g = groups.get(group);
      if (!g) groups.set(group, (g = { candidates: tier, keys: new Set() }));
      g.keys.add(firstValid);
      const d: L2Decision = { ...base, ip, owner: undefined, balanced: true, pool: e.pool };
      decisions.push(d);
      pending.push({ d, group, key: firstValid, ads: e.ads, all: e.candidates });
    }
  }
  const owners = new Map<string, Map<string, string>>();
  for (const [sig, g] of groups) owners.set(sig, balancedOwners([...g.keys], g.candidates));
  for (const p of pending) {
    const owner = owners.get(p.group)!.get(p.key)!;
    p.d.owner = owner;
    p.d.interfaces = interfacesFor(p.ads, nodeByName.get(owner)!);
    p.d.candidates = [owner, ...metallbOrder(p.key, p.all).filter((n) => n !== owner)];
  }
  return decisions;
}

/** Why `node` does not announce the decision's IP (undefined when it is the owner): the plan's reason, else notOwner. */
export function withdrawReasonFor(node: string, d: L2Decision): WithdrawReason | undefined {
  if (d.owner === node) return undefined;
  return d.reason ?? 'notOwner';
}

/**
 * What `node` announces: one Announcement per decision it owns, sorted by IP then Service. An IP shared by several
 * Services (allow-shared-ip) appears once per Service; the announcer answers for the IP while any of them holds it.
 */
export function announcementsFor(node: string, decisions: readonly L2Decision[]): Announcement[] {
  return decisions
    .filter((d) => d.owner === node)
    .map((d) => ({ ip: d.ip, service: d.service, interfaces: [...d.interfaces] }))
    .sort((a, b) => cmp(a.ip, b.ip) || cmp(a.service, b.service));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
