// `berth plan --live PATH...`: the configuration in PATH (a Git overlay, as a pull request would change it) against
// the live cluster's Services and claims. What a reviewer runs on a pull request: which Services keep their IPs, which
// would be orphaned (the webhook denies such a pool change unless the pool carries berth.io/allow-orphaning: "true"),
// which Services without an IP would get one, and what the new Services in PATH would get.
// Two readings of PATH (LiveMode): `replace` (default) — PATH is the whole configuration, a live pool it lacks is
// deleted (kubectl apply --prune, an Argo CD sync with prune); `merge` (--merge) — PATH's objects are applied over the
// live ones, nothing is deleted (kubectl apply without --prune). In both, PATH's objects are first checked together
// with the live objects they do not replace, as the webhook checks each one when it is applied: the live pools a
// replace drops still exist then (kubectl apply --prune deletes them after applying), so a pool overlapping one of
// them is refused (LB_POOL_OVERLAP naming both pools) and that change can never happen as written.
// The same code as the webhook's pool guard (Allocator.planPools/setPools over the claims) and its Service decision.
import type { KubeObject } from '../api/object.ts';
import { validateObjects } from '../config/index.ts';
import { isLoadBalancer, isOurClass, serviceKey, serviceRequestFrom, type ServiceLike } from '../config/service.ts';
import { DEFAULT_POLICY, type AdmissionPolicy } from '../webhook/policy.ts';
import { exhaustedAction } from '../webhook/service-policy.ts';
import { identity, type InputDoc } from './inputs.ts';
import { formatLocated, locate } from './locate.ts';
import { allocatorFromClaims, liveConfig, type LiveSnapshot } from './live.ts';
import { serviceFieldErrors } from './service-fields.ts';

/** What the change does to one Service. */
export type LiveChange = 'keeps' | 'moves' | 'orphaned' | 'gets' | 'pending' | 'denied';

export interface LivePlanRow {
  namespace: string;
  name: string;
  /** `live` for a Service in the cluster, else `file:line` of the document in PATH. */
  source: string;
  /** The IPs it holds now (claims). */
  now: string[];
  /** The IPs it holds after the change (empty: none). */
  next: string[];
  pool?: string;
  change: LiveChange;
  reason?: { code: string; message: string };
}

/** How PATH's objects relate to the live ones (see the file comment). */
export type LiveMode = 'replace' | 'merge';

export interface LivePlan {
  mode: LiveMode;
  /**
   * Problems of the configuration in PATH, alone or with the live objects it does not replace (nothing else is
   * planned then). `file:line kind/name: message`, as berth validate prints them.
   */
  problems: string[];
  /** True when `problems` come from PATH's objects together with live ones (PATH alone is valid). */
  liveConflict: boolean;
  /** Live IPAddressPools PATH does not name: deleted (`replace`) or kept (`merge`). Sorted. */
  unlistedPools: string[];
  rows: LivePlanRow[];
  /** Services whose IPs would be in no pool: the webhook refuses the pool change while there are any. */
  orphaned: number;
}

const ORPHAN_REASON =
  'its IP is in no pool of the new configuration: the webhook denies this pool change (move the Service first, or annotate the pool with berth.io/allow-orphaning: "true")';

/**
 * Plans PATH's configuration over a live snapshot (pure). Live Services first (sorted by key), then PATH's Services
 * that are not live, in document order. An invalid configuration plans nothing (`problems`).
 */
export function planLive(
  docs: readonly InputDoc[],
  live: LiveSnapshot,
  opts: { lbClass?: string | undefined; policy?: AdmissionPolicy; mode?: LiveMode } = {},
): LivePlan {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const mode = opts.mode ?? 'replace';
  const objects = docs.map((d) => d.object as KubeObject);
  const configObjects = objects.filter((o) => o.apiVersion?.startsWith('metallb.io/'));
  const validateOpts = { namespace: live.namespace, namespaces: live.namespaces };
  const built = validateObjects(configObjects, validateOpts);
  const inputIds = new Set(configObjects.map((o) => identity(o as Record<string, unknown>)));
  const unlistedPools = live.config.pools
    .filter((o) => !inputIds.has(identity(o as Record<string, unknown>)))
    .map((o) => o.metadata?.name ?? '')
    .sort();
  const head = { mode, unlistedPools };
  if (!built.config)
    return { ...head, problems: built.problems.map((p) => formatLocated(locate(p, docs))), liveConflict: false, rows: [], orphaned: 0 };

  // PATH's objects with the live ones they do not replace, live first: the webhook's view when PATH is applied, so an
  // overlap is reported on PATH's pool against the live one ("... (IPAddressPool "default", spec.addresses[0])").
  const c = live.config;
  const kept = [...c.pools, ...c.l2Advertisements, ...c.bgpAdvertisements, ...c.bgpPeers, ...c.communities, ...c.bfdProfiles].filter(
    (o) => !inputIds.has(identity(o as Record<string, unknown>)),
  );
  const combined = validateObjects([...kept, ...configObjects], validateOpts);
  const conflicts = combined.problems.filter((p) => p.object !== undefined && inputIds.has(p.object));
  if (conflicts.length > 0 || (mode === 'merge' && !combined.config)) {
    const shown = conflicts.length > 0 ? conflicts : combined.problems;
    return { ...head, problems: shown.map((p) => formatLocated(locate(p, docs))), liveConflict: true, rows: [], orphaned: 0 };
  }
  const target = mode === 'merge' ? combined.config!.pools : built.config.pools;

  const alloc = allocatorFromClaims(live, liveConfig(live).config?.pools ?? []);
  const before = new Map(alloc.allocations().map((a) => [a.key, a.ips]));
  const { orphaned } = alloc.setPools(target);
  const orphanKeys = new Set(orphaned.map((o) => o.key));

  const rows: LivePlanRow[] = [];
  const decide = (svc: ServiceLike, source: string): LivePlanRow => {
    const key = serviceKey(svc);
    const row = { namespace: svc.metadata?.namespace || 'default', name: svc.metadata?.name ?? '', source };
    const now = [...(before.get(key) ?? [])];
    if (orphanKeys.has(key)) return { ...row, now, next: [], change: 'orphaned', reason: { code: 'LB_ORPHANED', message: ORPHAN_REASON } };
    const r = serviceRequestFrom(svc);
    if (!r.ok) return { ...row, now, next: now, change: now.length > 0 ? 'keeps' : 'denied', reason: { code: r.code, message: r.message } };
    const a = alloc.allocate(key, r.req);
    if (a.ok) {
      const next = [...a.ips];
      const same = now.length === next.length && now.every((ip) => next.includes(ip));
      return { ...row, now, next, pool: a.pool, change: now.length === 0 ? 'gets' : same ? 'keeps' : 'moves' };
    }
    const held = alloc.ipsOf(key);
    if (held) return { ...row, now, next: [...held.ips], pool: held.pool, change: 'keeps', reason: { code: a.code, message: a.message } };
    const change: LiveChange = exhaustedAction(policy, a.code) === 'pending' || source === 'live' ? 'pending' : 'denied';
    return { ...row, now, next: [], change, reason: { code: a.code, message: a.message } };
  };

  const liveLb = live.services
    .filter((s) => isLoadBalancer(s) && isOurClass(s, opts.lbClass))
    .sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
  const liveKeys = new Set(liveLb.map(serviceKey));
  for (const svc of liveLb) rows.push(decide(svc, 'live'));
  for (const d of docs) {
    const o = d.object as ServiceLike;
    if (o.kind !== 'Service' || o.apiVersion !== 'v1' || !isOurClass(o, opts.lbClass)) continue;
    const fieldErrors = serviceFieldErrors(o);
    if ((fieldErrors.length === 0 && !isLoadBalancer(o)) || liveKeys.has(serviceKey(o))) continue;
    if (fieldErrors.length > 0) {
      const row = { namespace: o.metadata?.namespace || 'default', name: o.metadata?.name ?? '', source: `${d.file}:${d.line}` };
      rows.push({ ...row, now: [], next: [], change: 'denied', reason: { code: 'LB_BAD_SERVICE', message: fieldErrors.join('; ') } });
      continue;
    }
    rows.push(decide(o, `${d.file}:${d.line}`));
  }
  return { ...head, problems: [], liveConflict: false, rows, orphaned: rows.filter((r) => r.change === 'orphaned').length };
}
