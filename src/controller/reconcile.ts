// The per-Service reconcile (MetalLB controller/service.go convergeBalancer, adapted to claims being the truth):
//   deleted / not LoadBalancer / no ClusterIP → release its claims, clear status and annotations;
//   otherwise find the IPs it holds (claims; else the admission annotation or a status left by MetalLB, re-claimed),
//   drop them if they no longer fit (requested IP or pool changed, family changed, config no longer allows them:
//   ClearAssignment), add the other family when a PreferDualStack Service holds one IP (additional-family.ts),
//   allocate through the shared claim step when it holds nothing (the fallback for Services the webhook never saw),
//   then write status.loadBalancer.ingress + annotations if they differ, and bind the Service's
//   uid/ports into its claims.
// No I/O of its own: everything goes through ReconcileDeps.
import type { ServiceRequest } from '../allocator/types.ts';
import { PLACEHOLDER_SEP, syncIp, type RequestLookup } from '../claims/allocator-sync.ts';
import type { ClaimHolder } from '../api/claim.ts';
import { claimFor, releaseHolder } from '../claims/claim-step.ts';
import { isSelf, unsettledHolders } from '../claims/holders.ts';
import {
  assignedIPs,
  ingressIPs,
  isLoadBalancer,
  isOurClass,
  serviceRequestFrom,
  type ServiceLike,
} from '../config/service.ts';
import { canonicalIp, familyOf } from '../shared/ip.ts';
import { addOtherFamily, wantsOtherFamily } from './additional-family.ts';
import { bindHolder } from './bind-holder.ts';
import { converge, goQuoteList } from './converge.ts';
import type { ReconcileDeps, SyncResult, WriteResult } from './deps.ts';

export interface ReconcileInput {
  /** `namespace/name`. */
  readonly key: string;
  /** The Service as last seen; undefined when it was deleted. */
  readonly svc: ServiceLike | undefined;
  /** False until a valid configuration was loaded (MetalLB: do nothing before the first config). */
  readonly configLoaded: boolean;
  /** The deleted Service as last seen (svc undefined): only its own entries are released. */
  readonly deleted?: ServiceLike;
}

/**
 * The cached Service is older than the stored one (or was deleted and created again): nothing may be released on its
 * say-so. Thrown by the release paths, answered as a quiet retry (the newer version's watch event requeues it too).
 */
class StaleCache extends Error {}

export async function reconcileService(d: ReconcileDeps, input: ReconcileInput): Promise<SyncResult> {
  try {
    return await reconcileInner(d, input);
  } catch (e) {
    if (e instanceof StaleCache) return { state: 'retry', message: e.message, afterMs: 1000 };
    throw e;
  }
}

async function reconcileInner(d: ReconcileDeps, input: ReconcileInput): Promise<SyncResult> {
  const { key, svc } = input;
  // Only a pass that fails to add the other family again keeps the entry (see ReconcileDeps.additionalFailures).
  const lastFailure = d.additionalFailures?.get(key);
  d.additionalFailures?.delete(key);
  if (!svc) {
    // Deletions always pass the class filter (MetalLB filterByLoadBalancerClass lets deletes through).
    const freed = await releaseDeleted(d, key, input.deleted);
    return freed.ok ? { state: 'success', freed: freed.freed } : { state: 'error', message: freed.message, freed: true };
  }
  if (!isOurClass(svc, d.lbClass)) return { state: 'success' };
  if (!input.configLoaded) return { state: 'success' };
  if (!isLoadBalancer(svc) || clusterIPsOf(svc).length === 0) return clear(d, key, svc);

  const parsed = serviceRequestFrom(svc, d.requestOptions);
  if (!parsed.ok) {
    if (d.claims.heldBy(key).length > 0) {
      d.recorder.record(svc, 'Warning', 'LoadBalancerFailed', `invalid requested loadbalancer IPs: ${parsed.message}`);
    } else {
      d.recorder.record(svc, 'Warning', 'AllocationFailed', `Failed to allocate IP for "${key}": ${parsed.message}`);
    }
    return { state: 'errorNoRetry', message: parsed.message };
  }
  const req = parsed.req;
  const clusterIPs = clusterIPsOf(svc);
  if (req.ipFamilyPolicy === 'RequireDualStack' && clusterIPs.length < 2) {
    d.recorder.record(
      svc,
      'Warning',
      'not enough clusterips',
      `Service requires dual stack but not enough clusterips ${JSON.stringify(clusterIPs)}`,
    );
    const r = await clear(d, key, svc);
    return r.state === 'success' ? { state: 'errorNoRetry', message: 'not enough clusterips', freed: r.freed } : r;
  }

  const cur = await currentIPs(d, key, svc, req);
  if (!cur.ok) return { state: 'error', message: cur.message, freed: cur.freed };
  if (cur.kept) {
    return {
      state: 'pending',
      message: `no IPAddressPool is configured; ${key} keeps ${cur.kept.join(', ')} until a pool containing it exists`,
      freed: cur.freed,
    };
  }
  let freed = cur.freed;
  let ips = cur.ips;

  if (ips.length > 0) {
    const why = invalidity(d, key, req, ips);
    if (why?.retry) return { state: 'retry', message: why.message, afterMs: 1000, freed };
    if (why !== undefined) {
      if (why.event) {
        d.recorder.record(
          svc,
          'Normal',
          'ClearAssignment',
          `current IP for "${key}" not allowed by config, will attempt for new IP assignment: ${why.message}`,
        );
      }
      const r = await releaseAll(d, key, svc);
      if (!r.ok) return { state: 'error', message: r.message, freed: true };
      freed = true;
      ips = [];
    }
  }

  // Step 12: PreferDualStack holding one family → one IP of the other from the same pool, or say why not.
  let allocatedMessage: string | undefined;
  let retry: string | undefined;
  if (wantsOtherFamily(req, ips)) {
    const a = await addOtherFamily(
      { store: d.store, allocator: d.allocator, ...lookupOf(d), ...attemptsOf(d) },
      key,
      req,
      ips[0]!,
      identityOf(svc),
    );
    if (a.ok) {
      ips = [...a.ips];
      allocatedMessage = `Assigned additional IP "${a.added}"`;
    } else if (a.transient) {
      // A lost claim race: keep the one IP, publish it, and retry with backoff (no event, as for fallback allocation).
      retry = a.message;
      if (lastFailure !== undefined) d.additionalFailures?.set(key, lastFailure);
    } else {
      const note = `${ips[0]!}|${a.message}`;
      if (note !== lastFailure) {
        d.recorder.record(svc, 'Normal', 'AdditionalAssignFailed', `cannot assign additional IP in PreferDualStack: ${a.message}`);
      }
      d.additionalFailures?.set(key, note);
    }
  }

  if (ips.length === 0) {
    const r = await claimFor(
      { store: d.store, allocator: d.allocator, ...lookupOf(d), ...attemptsOf(d) },
      key,
      req,
      { dryRun: false, identity: identityOf(svc) },
    ).catch(async (e: unknown) => {
      // A rejected claim write (API server unreachable, admission refused): the Service holds nothing now (what it
      // held was released above), so its status and annotations must not keep showing a released IP another Service
      // may take (issue 12, test/e2e/correctness-backoff). Best effort; the error is retried with backoff.
      await converge(d, svc, [], undefined).catch(() => undefined);
      throw e;
    });
    if (!r.ok) {
      if (r.code === 'LB_CLAIM_CONFLICT') return { state: 'error', message: r.message, freed };
      d.recorder.record(svc, 'Warning', 'AllocationFailed', `Failed to allocate IP for "${key}": ${r.message}`);
      const w = await converge(d, svc, [], undefined);
      if (!w.ok) return writeFailure(w.write, freed);
      return { state: 'pending', message: r.message, freed };
    }
    ips = [...r.ips];
  }

  const pool = d.allocator.ipsOf(key)?.pool ?? d.allocator.poolOf(ips[0]!);
  const w = await converge(d, svc, ips, pool, allocatedMessage);
  if (!w.ok) return writeFailure(w.write, freed);

  // A cached version older than the stored one never writes its sharing/backend key back into the claims (chaos seed 3:
  // a lagging leader put back the allow-shared-ip a Service had dropped, newcomers joined on it and the Service was
  // moved; minimal edit by h3): StaleCache, retried once the cache has the stored version.
  const keyChange = ips.some((ip) => {
    const c = d.claims.get(ip);
    return c !== undefined && (c.spec.sharingKey !== req.sharingKey || c.spec.backendKey !== req.backendKey);
  });
  if (keyChange) await assertCurrent(d, key, svc);
  for (const ip of ips) {
    const b = await bindHolder(d.store, d.claims, ip, req, svc.metadata?.uid);
    if (!b.ok) return { state: 'error', message: b.message, freed };
  }
  if (retry !== undefined) return { state: 'error', message: retry, freed };
  return { state: 'success', freed };
}

/** Clears a Service that should hold nothing (not LoadBalancer, no ClusterIP): release, then empty status/annotations. */
async function clear(d: ReconcileDeps, key: string, svc: ServiceLike): Promise<SyncResult> {
  const r = await releaseAll(d, key, svc);
  if (!r.ok) return { state: 'error', message: r.message, freed: true };
  const w = await converge(d, svc, [], undefined);
  if (!w.ok) return writeFailure(w.write, r.freed);
  return { state: 'success', freed: r.freed };
}

/**
 * Removes the live Service `svc` (key `namespace/name`) from every claim it holds — or from `only` — deleting claims
 * left without holders, and forgets it in the allocator. Never releases an entry an admission newer than `svc` added
 * (uid = svc's and `admittedOn` = svc's resourceVersion: that admission may be in flight), and releases nothing when
 * the cached `svc` is not the stored version (StaleCache): a newer version may name these IPs.
 */
async function releaseAll(
  d: ReconcileDeps,
  key: string,
  svc: ServiceLike,
  only?: readonly string[],
): Promise<{ ok: true; freed: boolean; released: string[] } | { ok: false; message: string }> {
  const holder = holderOf(key);
  const ips = only ?? d.claims.heldBy(key).map((c) => c.spec.ip);
  if (ips.length > 0) await assertCurrent(d, key, svc);
  const uid = svc.metadata?.uid || undefined;
  const rv = svc.metadata?.resourceVersion || undefined;
  const match = (h: ClaimHolder) => !(uid !== undefined && h.uid === uid && h.admittedOn !== undefined && h.admittedOn === rv);
  const released: string[] = [];
  for (const ip of ips) {
    const r = await releaseHolder(d.store, ip, holder, { match });
    if (!r.ok) return { ok: false, message: `releasing ${ip} held by ${key}: the claim kept changing` };
    if (r.action === 'deleted' || r.action === 'updated') released.push(canon(ip));
  }
  const had = d.allocator.ipsOf(key) !== undefined;
  if (!only) d.allocator.release(key);
  return { ok: true, freed: released.length > 0 || (!only && had), released };
}

/** Throws StaleCache unless the stored Service has the cached version's uid and resourceVersion. */
async function assertCurrent(d: ReconcileDeps, key: string, svc: ServiceLike): Promise<void> {
  if (!d.writer.current) return;
  const h = holderOf(key);
  const cur = await d.writer.current(h.namespace, h.name);
  const uid = svc.metadata?.uid || undefined;
  const rv = svc.metadata?.resourceVersion || undefined;
  if (cur && cur.uid === uid && cur.resourceVersion === rv) return;
  throw new StaleCache(
    cur
      ? `${key}: the cached version (resourceVersion ${rv ?? '?'}) is behind the stored one (${cur.resourceVersion ?? '?'}); waiting for it`
      : `${key}: deleted since the cached version; waiting for the delete`,
  );
}

/**
 * Releases what a deleted Service held: entries bound to its uid, and unbound entries (a CREATE admission's, not yet
 * bound) on the IPs its last version named, once no Service of that name is stored. Other unbound entries may be a
 * new Service's admission in flight under the same name: the repair loop decides them after its grace period.
 */
async function releaseDeleted(
  d: ReconcileDeps,
  key: string,
  last: ServiceLike | undefined,
): Promise<{ ok: true; freed: boolean } | { ok: false; message: string }> {
  const holder = holderOf(key);
  const uid = last?.metadata?.uid || undefined;
  const named = last ? canonList([...assignedIPs(last), ...ingressIPs(last)]) : [];
  const claims = d.claims.heldBy(key);
  let recreated: boolean | undefined;
  let freed = false;
  for (const c of claims) {
    const ip = canon(c.spec.ip);
    const entries = c.spec.holders.filter((h) => h.namespace === holder.namespace && h.name === holder.name);
    const bound = uid !== undefined && entries.some((h) => h.uid === uid);
    const unboundNamed = named.includes(ip) && entries.some((h) => h.uid === undefined);
    if (!bound && !unboundNamed) continue;
    if (unboundNamed && !bound && recreated === undefined) {
      recreated = d.writer.current ? (await d.writer.current(holder.namespace, holder.name)) !== undefined : false;
    }
    const match = (h: ClaimHolder) => (uid !== undefined && h.uid === uid) || (h.uid === undefined && recreated === false && named.includes(ip));
    const r = await releaseHolder(d.store, c.spec.ip, holder, { match });
    if (!r.ok) return { ok: false, message: `releasing ${c.spec.ip} held by ${key}: the claim kept changing` };
    if (r.action === 'deleted' || r.action === 'updated') freed = true;
  }
  const had = d.allocator.ipsOf(key) !== undefined;
  d.allocator.release(key);
  return { ok: true, freed: freed || had };
}

type Current =
  | { readonly ok: true; readonly ips: string[]; readonly freed: boolean; readonly kept?: readonly string[] }
  | { readonly ok: false; readonly message: string; readonly freed: boolean };

/**
 * The IPs the Service holds now, v4 first. Source of truth in order: the admission annotation (`berth.io/assigned-ips`:
 * the webhook's decision; the claims must agree), the claims, then status.loadBalancer.ingress (written by MetalLB
 * before berth, or by berth before its claims were lost). Claims beyond those IPs are released (never an entry an
 * admission newer than `svc` added); missing claims are recreated through the claim step (the repair half of
 * KEP-1880's bidirectional check). Claim entries of an earlier Service of the same name (another uid) are never this
 * Service's: they are released, not inherited. With no pool at all, IPs a Service shows without holding a claim
 * (MetalLB's, or set before berth) are kept as they are (`kept`) and claimed once a pool contains them (MetalLB #2887).
 */
async function currentIPs(d: ReconcileDeps, key: string, svc: ServiceLike, req: ServiceRequest): Promise<Current> {
  const { namespace, name } = holderOf(key);
  const uid = svc.metadata?.uid || undefined;
  const identity = uid !== undefined ? { uid } : {};
  const mine = d.claims.heldBy(key);
  const self = (c: { spec: { holders: ClaimHolder[] } }) => c.spec.holders.some((h) => isSelf(h, namespace, name, identity));
  const held = mine.filter(self).map((c) => canon(c.spec.ip));
  const earlier = mine.filter((c) => !self(c)).map((c) => canon(c.spec.ip));
  const ann = canonList(assignedIPs(svc));
  const status = canonList(ingressIPs(svc));
  // Without the admission annotation, only entries bound to this very Service (its uid) are its IPs: an unbound
  // entry was added by a CREATE admission, and the Service that admission stored carries berth.io/assigned-ips — this
  // one does not, so the entry is an earlier Service's of the same name (chaos seed 4: a new Service got the IP an
  // earlier one had requested from a non-autoAssign pool). It is released below, as an earlier Service's would be.
  const bound = uid === undefined ? held : mine.filter((c) => c.spec.holders.some((h) => h.namespace === namespace && h.name === name && h.uid === uid)).map((c) => canon(c.spec.ip));
  const wanted = ann.length > 0 ? ann : bound.length > 0 ? bound : status;
  let freed = false;

  // Step 8: a set of IPs no Service can hold (MetalLB ipfamily.ForAddressesIPs fails) — say so, start again.
  const bad = familyProblem(wanted);
  if (bad !== undefined) {
    d.recorder.record(svc, 'Warning', 'nolbIPsIPFamily', `Failed to retrieve LBIPs IPFamily for "${key}": ${bad}`);
    const r = await releaseAll(d, key, svc);
    if (!r.ok) return { ok: false, message: r.message, freed: true };
    return { ok: true, ips: [], freed: r.freed };
  }

  const extra = [...held, ...earlier].filter((ip) => !wanted.includes(ip));
  if (extra.length > 0) {
    const r = await releaseAll(d, key, svc, extra);
    if (!r.ok) return { ok: false, message: r.message, freed: true };
    freed = r.freed;
    // Only IPs really released (an entry a newer admission added is kept, and is no move).
    const moved = held.filter(
      (ip) => r.released.includes(ip) && familyOf(ip) !== undefined && wanted.some((w) => familyOf(w) === familyOf(ip)),
    );
    if (moved.length > 0 && ann.length > 0 && req.requestedIPs.length === 0) {
      // berth moved it (a changed request the held IP could not serve), not the user: say so, as MetalLB does.
      d.recorder.record(
        svc,
        'Normal',
        'ClearAssignment',
        `current IP for "${key}" not allowed by config, will attempt for new IP assignment: ${moved.join(', ')} ` +
          `no longer fits the Service; it holds ${wanted.join(', ')} since admission`,
      );
    }
    for (const ip of extra) syncIp(d.allocator, ip, await d.store.get(ip), lookupOf(d));
  }
  if (wanted.length === 0) return { ok: true, ips: [], freed };

  const missing: string[] = [];
  for (const ip of wanted) {
    if (held.includes(ip)) continue;
    // The claim informer may lag the store (the webhook created the claim a moment ago): ask the store.
    const c = await d.store.get(ip);
    if (c && self(c)) syncIp(d.allocator, ip, c, lookupOf(d));
    else missing.push(ip);
  }
  if (missing.length === 0) return { ok: true, ips: v4First(wanted), freed };

  // Requested IPs that differ from what it held: nothing to recreate, the Service wants something else now.
  if (req.requestedIPs.length > 0 && !sameSet(req.requestedIPs.map(canon), wanted)) {
    const r = await releaseAll(d, key, svc);
    return r.ok ? { ok: true, ips: [], freed: true } : { ok: false, message: r.message, freed: true };
  }
  if (held.length === 0 && d.allocator.stats().length === 0) return { ok: true, ips: [], freed, kept: wanted };
  // Re-claimed as requested IPs, which must match the Service's families; a PreferDualStack Service may hold one
  // family (step 8's exception), so that one IP is re-claimed as single stack (step 12 then adds the other).
  const fam = familyOf(wanted[0]!);
  const oneOfDual = wanted.length === 1 && req.families.length === 2 && req.ipFamilyPolicy === 'PreferDualStack' && fam;
  const again: ServiceRequest = oneOfDual
    ? { ...req, requestedIPs: wanted, families: [oneOfDual], ipFamilyPolicy: 'SingleStack' }
    : { ...req, requestedIPs: wanted };
  const r = await claimFor(
    { store: d.store, allocator: d.allocator, ...lookupOf(d), ...attemptsOf(d) },
    key,
    again,
    { dryRun: false, identity },
  );
  if (r.ok) return { ok: true, ips: [...r.ips], freed };
  if (r.code === 'LB_CLAIM_CONFLICT') return { ok: false, message: r.message, freed };
  d.recorder.record(
    svc,
    'Normal',
    'ClearAssignment',
    `current IP for "${key}" not allowed by config, will attempt for new IP assignment: ${r.message}`,
  );
  const rel = await releaseAll(d, key, svc);
  if (!rel.ok) return { ok: false, message: rel.message, freed: true };
  return { ok: true, ips: [], freed: true };
}

/**
 * Why held IPs must go, or undefined when they still fit (MetalLB convergeBalancer steps 8-11). `event`: say so with
 * ClearAssignment (the config no longer allows them); a changed request is silent, as in MetalLB.
 */
function invalidity(
  d: ReconcileDeps,
  key: string,
  req: ServiceRequest,
  ips: readonly string[],
): { event: boolean; message: string; retry?: boolean } | undefined {
  if (req.requestedIPs.length > 0 && !sameSet(req.requestedIPs.map(canon), ips)) {
    return { event: false, message: `requested IPs ${req.requestedIPs.join(',')} differ from ${ips.join(',')}` };
  }
  const pool = d.allocator.poolOf(ips[0]!);
  if (req.pool !== undefined && pool !== undefined && pool !== req.pool) {
    return { event: false, message: `address-pool ${req.pool} differs from ${pool}` };
  }
  const fams = ips.map((ip) => familyOf(ip));
  const fits =
    (fams.length === req.families.length && req.families.every((f) => fams.includes(f))) ||
    (req.families.length === 2 && req.ipFamilyPolicy === 'PreferDualStack' && fams.length === 1);
  if (!fits) return { event: false, message: `IP family of ${ips.join(',')} does not match the Service` };
  // The claims sync may have parked an IP under a placeholder (`key@ip`, when it could not tell the Service's labels
  // yet); now that the Service is known, its real key takes the IP over.
  for (const ip of ips) {
    for (const h of d.allocator.holdersOf(ip)) if (h.key.startsWith(`${key}${PLACEHOLDER_SEP}`)) d.allocator.release(h.key);
  }
  const r = d.allocator.assign(key, req, ips);
  if (!r.ok) {
    // Refused next to an entry that is no live Service's settled one (stale, or an admission not bound yet): wait for
    // it to be released or bound instead of moving a Service off the IP it holds (chaos seed 5, minimal edit by h3).
    const unsettled = unsettledHolders((ip) => d.allocator.holdersOf(ip), (ip) => d.claims.get(ip), key, ips, (k) => (d.lookup ? d.lookup(k) : true));
    if (unsettled.length > 0) return { event: false, retry: true, message: `${r.message}; waiting for the entries of ${unsettled.join(', ')} to be bound or released` };
    return { event: true, message: r.message };
  }
  return undefined;
}

/** Why `ips` have no IP family (MetalLB: more than 2 IPs, or 2 of one family), or undefined when they have one. */
function familyProblem(ips: readonly string[]): string | undefined {
  if (ips.length > 2) return `${ips.length} IPs ${goQuoteList(ips)}: a Service holds at most one IPv4 and one IPv6 address`;
  if (ips.length === 2 && familyOf(ips[0]!) === familyOf(ips[1]!)) {
    return `IPs ${goQuoteList(ips)} are both ${familyOf(ips[0]!) ?? 'unknown'}: a dual-stack Service holds one of each family`;
  }
  return undefined;
}

function writeFailure(w: WriteResult, freed: boolean): SyncResult {
  if (w.ok) return { state: 'success', freed };
  // Deleted meanwhile: its delete event comes next and releases it.
  if (w.reason === 'NotFound') return { state: 'success', freed };
  // Changed since the cached version (a newer admission): its update event comes next; nothing was overwritten.
  if (w.reason === 'Conflict') return { state: 'retry', message: w.message, afterMs: 1000, freed };
  return { state: 'error', message: w.message, freed };
}

function identityOf(svc: ServiceLike): { uid?: string } {
  return svc.metadata?.uid ? { uid: svc.metadata.uid } : {};
}

function holderOf(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function clusterIPsOf(svc: ServiceLike): string[] {
  const s = svc.spec;
  const ips = s?.clusterIPs?.length ? s.clusterIPs : s?.clusterIP ? [s.clusterIP] : [];
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

function canon(ip: string): string {
  return canonicalIp(ip) ?? ip;
}

function canonList(ips: readonly string[]): string[] {
  return v4First(ips.map(canon).filter((ip, i, all) => canonicalIp(ip) !== undefined && all.indexOf(ip) === i));
}

function v4First(ips: readonly string[]): string[] {
  return [...ips].sort((a, b) => (familyOf(a) === 'IPv6' ? 1 : 0) - (familyOf(b) === 'IPv6' ? 1 : 0));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function lookupOf(d: ReconcileDeps): { lookup?: RequestLookup } {
  return d.lookup ? { lookup: d.lookup } : {};
}

function attemptsOf(d: ReconcileDeps): { maxAttempts?: number } {
  return d.maxClaimAttempts !== undefined ? { maxAttempts: d.maxClaimAttempts } : {};
}

