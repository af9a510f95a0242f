// The claim step: the allocator (in memory, possibly stale) proposes IP(s); the Service takes them atomically by
// creating IPAddressClaim objects named by the IP (KEP-1880: the API server lets the first create win).
// Shared by the mutating webhook (at admission) and the controller (fallback for Services the webhook never saw).
//
//   create → ok: ours.  AlreadyExists → read it: ours already (idempotent) / shareable (add us as a holder, with the
//   read resourceVersion; 409 → re-read, re-check) / someone else's → teach the allocator, roll back what this round
//   took (dual stack: both or neither), propose again. Bounded: LB_CLAIM_CONFLICT when every round lost a race.
import type { AllocResult, AllocatorApi, Port, ServiceRequest } from '../allocator/types.ts';
import { newClaim, type ClaimHolder, type IPAddressClaim } from '../api/claim.ts';
import { formatIp, parseIp } from '../shared/ip.ts';
import { recordHeld, syncIp, type RequestLookup } from './allocator-sync.ts';
import { PLACEHOLDER_SEP } from './allocator-sync.ts';
import { holderKey, isEarlier, isSelf, liveSharingProblem, samePorts, sharingProblem, type ClaimIdentity } from './holders.ts';
import type { ClaimStore } from './store.ts';

export interface ClaimStepDeps {
  readonly store: ClaimStore;
  readonly allocator: AllocatorApi;
  /** Proposal rounds before giving up with LB_CLAIM_CONFLICT (default 8). */
  readonly maxAttempts?: number;
  /**
   * The other holders' live Services: their labels, used when a lost claim is taught to the allocator, and their
   * current sharing/backend keys and ports, which a newcomer must also meet to join their claim (liveSharingProblem).
   */
  readonly lookup?: RequestLookup;
  /**
   * Waits after a lost round (default: random 0..min(2^round, 64) ms). Replicas that lost a race usually lost it to
   * another replica whose claims their informer has not delivered yet; a short jittered pause lets it arrive instead
   * of proposing the next IP every replica proposes too (the "thundering herd" of lowest-free allocation).
   */
  readonly backoff?: (round: number) => Promise<void>;
  /**
   * Random source in [0, 1) for spreading retries (default Math.random). After a lost race the proposal moves a
   * random distance above the lowest free IP (KEP-1880's allocator starts at a random offset for the same reason):
   * replicas that all propose the lowest free IP keep colliding. The first proposal is always MetalLB's choice.
   */
  readonly rng?: () => number;
}

function defaultBackoff(round: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** round, 64);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const DEFAULT_MAX_ATTEMPTS = 8;
/** Read-modify-write rounds on one claim (create/read/update races) before the IP counts as lost for this round. */
const PER_IP_ROUNDS = 8;

type Granted = Extract<AllocResult, { ok: true }>;

type Take =
  | { readonly kind: 'taken'; readonly ip: string; readonly wrote: boolean }
  | {
      readonly kind: 'lost';
      readonly ip: string;
      readonly claim: IPAddressClaim | undefined;
      readonly why: string;
      /** Lost to a holder's live Service (liveSharingProblem), which the allocator's view, built from claims, cannot see. */
      readonly live?: boolean;
    };

/**
 * Allocates and claims IP(s) for the Service `key` (`namespace/name`). On success the allocator records exactly the
 * returned IPs for `key` and a claim lists the Service as a holder of each. `dryRun`: the same answer, no claim
 * written and the allocator left as it was.
 *
 * `identity` (see ClaimIdentity): a CREATE never inherits what an earlier Service of the same name still holds (it
 * may take such an IP over only when it requests it explicitly); an UPDATE keeps the IPs its stored version holds
 * while they satisfy the request, whichever replica answers; entries it adds carry its uid and `admittedOn`.
 *
 * Every failure path rolls back: a lost round, a refused request and a rejected store call (transport error, 422)
 * all leave the claims and the allocator as they were before the call (a rejection is re-thrown after the rollback).
 */
export async function claimFor(
  deps: ClaimStepDeps,
  key: string,
  req: ServiceRequest,
  opts: { readonly dryRun: boolean; readonly identity?: ClaimIdentity },
): Promise<AllocResult> {
  const { allocator } = deps;
  const identity = opts.identity ?? {};
  if (opts.dryRun) return dryRunAllocate(allocator, key, req, identity);

  const attempts = Math.max(1, deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const holder: ClaimHolder = {
    namespace: req.namespace,
    name: req.name,
    service: key,
    ...(identity.uid !== undefined ? { uid: identity.uid } : {}),
    ...(identity.admittedOn !== undefined ? { admittedOn: identity.admittedOn } : {}),
    ports: req.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
  };
  const entry = { holder, identity, requested: req.requestedIPs, ...(deps.lookup ? { live: deps.lookup } : {}) };
  const snapshot = snapshotOf(allocator, key);
  prepare(allocator, key, req, identity, deps.lookup);
  const lost: string[] = [];
  // IPs lost to a holder's live Service: the allocator (which sees the claim's stale key) would propose them again.
  const avoid = new Set<string>();
  for (let attempt = 0; attempt < attempts; attempt++) {
    const before = allocator.ipsOf(key)?.ips ?? [];
    const beforeInfo = before.length > 0 ? allocator.holdersOf(before[0]!).find((h) => h.key === key) : undefined;
    const proposed = firstProposal(allocator, key, req, identity, attempt);
    if (!proposed.ok) {
      restore(allocator, key, snapshot, deps.lookup);
      return proposed;
    }
    const spreadOut =
      attempt > 0 && req.requestedIPs.length === 0 && !proposed.ips.every((ip) => before.includes(ip))
        ? spread(allocator, key, req, proposed, attempt, deps.rng ?? Math.random, before)
        : proposed;
    const r = avoiding(allocator, key, req, spreadOut, avoid);
    if (!r) break;

    const took: Array<Extract<Take, { kind: 'taken' }>> = [];
    let loss: Extract<Take, { kind: 'lost' }> | undefined;
    try {
      for (const ip of r.ips) {
        const t = await takeIp(deps.store, ip, r.pool, entry, req, before.includes(ip));
        if (t.kind === 'lost') {
          loss = t;
          break;
        }
        took.push(t);
      }
    } catch (e) {
      // A rejected store call (API server unreachable, 422...): undo what this round wrote, then the allocator.
      await undo(deps.store, took, holder);
      restore(allocator, key, snapshot, deps.lookup);
      throw e;
    }
    if (!loss) return r;

    // Lost a race (or the allocator did not know the claim): undo this round, learn the claim, propose again.
    lost.push(`${loss.ip} (${loss.why})`);
    if (loss.live) avoid.add(loss.ip);
    await undo(deps.store, took, holder);
    allocator.release(key);
    if (beforeInfo && !before.includes(loss.ip)) {
      // Keep what the Service held before this round (its claims still exist) so the view stays true.
      recordHeld(allocator, key, beforeInfo, beforeInfo.ports, before, deps.lookup);
    }
    syncIp(allocator, loss.ip, loss.claim, { ...(deps.lookup ? { lookup: deps.lookup } : {}) });
    if (attempt + 1 < attempts) await (deps.backoff ?? defaultBackoff)(attempt);
  }
  restore(allocator, key, snapshot, deps.lookup);
  return {
    ok: false,
    code: 'LB_CLAIM_CONFLICT',
    message:
      `could not claim an IP for "${key}" after ${attempts} attempts: other writers took ` +
      `${lost.slice(-3).join(', ')}; retry the request`,
  };
}

/** What the allocator recorded for `key` (to put back on failure). */
interface Snapshot {
  readonly ips: readonly string[];
  readonly info: { sharingKey: string; backendKey: string; ports: readonly Port[] } | undefined;
}

function snapshotOf(allocator: AllocatorApi, key: string): Snapshot {
  const ips = allocator.ipsOf(key)?.ips ?? [];
  const info = ips.length > 0 ? allocator.holdersOf(ips[0]!).find((h) => h.key === key) : undefined;
  return { ips: [...ips], info };
}

/** Puts `key`'s allocator record back as `snap` had it (failure paths). */
function restore(allocator: AllocatorApi, key: string, snap: Snapshot, lookup: RequestLookup | undefined): void {
  allocator.release(key);
  for (const ip of snap.ips) {
    for (const h of allocator.holdersOf(ip)) if (h.key === `${key}${PLACEHOLDER_SEP}${ip}`) allocator.release(h.key);
  }
  if (snap.info && snap.ips.length > 0) recordHeld(allocator, key, snap.info, snap.info.ports, snap.ips, lookup);
}

/**
 * Makes the allocator's record for `key` start from the truth of the request's identity:
 * - CREATE: whatever `key` holds belongs to an earlier Service of that name; it stays taken (under placeholder keys
 *   `key@ip`, which the claims sync knows) but is not this Service's to keep (issue: a re-created Service inherited
 *   the old one's IP from a pool it never asked for);
 * - UPDATE with stored IPs: `key` holds exactly those (this replica's allocator may lag or lead the claims).
 */
function prepare(
  allocator: AllocatorApi,
  key: string,
  req: ServiceRequest,
  identity: ClaimIdentity,
  lookup: RequestLookup | undefined,
): void {
  const cur = allocator.ipsOf(key);
  if (identity.creating) {
    if (cur) {
      const info = allocator.holdersOf(cur.ips[0]!).find((h) => h.key === key);
      allocator.release(key);
      if (info) for (const ip of cur.ips) recordHeld(allocator, `${key}${PLACEHOLDER_SEP}${ip}`, info, info.ports, [ip], lookup);
    }
    // An earlier Service's IP that this one requests explicitly is taken over (takeIp replaces the entry).
    for (const ip of req.requestedIPs) {
      for (const h of allocator.holdersOf(ip)) if (h.key === `${key}${PLACEHOLDER_SEP}${ip}`) allocator.release(h.key);
    }
    return;
  }
  const stored = identity.stored ?? [];
  if (stored.length === 0) return;
  if (cur && cur.ips.length === stored.length && stored.every((ip) => cur.ips.includes(ip))) return;
  // Parked copies of the stored IPs (placeholders of this key) are this Service's own.
  for (const ip of stored) {
    for (const h of allocator.holdersOf(ip)) if (h.key === `${key}${PLACEHOLDER_SEP}${ip}`) allocator.release(h.key);
  }
  const keep = { ...req, requestedIPs: [...stored] };
  const info = cur ? allocator.holdersOf(cur.ips[0]!).find((h) => h.key === key) : undefined;
  allocator.release(key);
  const a = allocator.assign(key, keep, stored);
  if (!a.ok && info && cur) recordHeld(allocator, key, info, info.ports, cur.ips, lookup);
}

/**
 * The first proposal of a round: the stored IPs when they still satisfy the request (an UPDATE that keeps its IP
 * request never moves), else the allocator's answer (MetalLB's order; it keeps a held IP that still fits).
 */
function firstProposal(
  allocator: AllocatorApi,
  key: string,
  req: ServiceRequest,
  identity: ClaimIdentity,
  attempt: number,
): AllocResult {
  const stored = identity.stored ?? [];
  if (attempt === 0 && stored.length > 0 && !identity.creating) {
    const sameAsRequested = req.requestedIPs.length === 0 || sameSet(req.requestedIPs, stored);
    if (sameAsRequested && allocator.check(key, req, stored).ok) {
      const a = allocator.assign(key, req, stored);
      if (a.ok) return a;
    }
  }
  return allocator.allocate(key, req);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** Removes the entries this round wrote (best effort: a failure here leaves them to the repair loop). */
async function undo(store: ClaimStore, took: ReadonlyArray<Extract<Take, { kind: 'taken' }>>, holder: ClaimHolder): Promise<void> {
  for (const t of took) {
    if (!t.wrote) continue;
    try {
      await releaseHolder(store, t.ip, holder, { match: (h) => h.admittedOn === holder.admittedOn && h.uid === holder.uid });
    } catch {
      // The repair loop releases what a failed round left once its grace period is over.
    }
  }
}

/**
 * After a lost round, the allocator's lowest-free answer moved up by a random offset (window growing per round),
 * when the moved IPs are free, in the same pool and acceptable to the allocator; else the answer as is.
 */
function spread(
  allocator: AllocatorApi,
  key: string,
  req: ServiceRequest,
  r: Granted,
  round: number,
  rng: () => number,
  keep: readonly string[],
): Granted {
  // Round 1 looks 64 addresses up, each later round 4 times further (the view may lag far behind the claims).
  const window = Math.min(16 * 4 ** round, 1 << 20);
  for (let tries = 0; tries < 8; tries++) {
    const moved: string[] = [];
    for (const ip of r.ips) {
      // An IP the Service already holds stays put (PreferDualStack adding its second family must not move the first).
      if (keep.includes(ip)) {
        moved.push(ip);
        continue;
      }
      const p = parseIp(ip);
      const off = BigInt(Math.floor(rng() * window));
      if (!p || off === 0n) return r;
      const next = formatIp(p.family, p.value + off);
      if (allocator.poolOf(next) !== r.pool || allocator.holdersOf(next).length > 0) break;
      moved.push(next);
    }
    if (moved.length !== r.ips.length) continue;
    if (!allocator.check(key, req, moved).ok) continue;
    const a = allocator.assign(key, req, moved);
    if (a.ok) return a;
  }
  return r;
}

/**
 * `r` when it proposes no IP of `avoid`; else a proposal of free IPs only (the allocator asked as if the Service did
 * not share, then recorded with its real request), or undefined when there is none (or the avoided IP is requested).
 */
function avoiding(allocator: AllocatorApi, key: string, req: ServiceRequest, r: Granted, avoid: ReadonlySet<string>): Granted | undefined {
  if (!r.ips.some((ip) => avoid.has(ip))) return r;
  if (req.requestedIPs.length > 0 || req.sharingKey === '') return undefined;
  const alone = allocator.allocate(key, { ...req, sharingKey: '' });
  if (!alone.ok || alone.ips.some((ip) => avoid.has(ip))) return undefined;
  const a = allocator.assign(key, req, alone.ips);
  return a.ok ? a : undefined;
}

/** The allocator's answer without recording it: an allocation made only to be answered is undone synchronously. */
function dryRunAllocate(allocator: AllocatorApi, key: string, req: ServiceRequest, identity: ClaimIdentity): AllocResult {
  const before = allocator.ipsOf(key);
  const stored = identity.creating ? [] : (identity.stored ?? []);
  const keepable = stored.length > 0 ? stored : identity.creating ? [] : (before?.ips ?? []);
  const sameRequest = req.requestedIPs.length === 0 || sameSet(req.requestedIPs, keepable);
  if (keepable.length > 0 && sameRequest) {
    const c = allocator.check(key, req, keepable);
    if (c.ok) return { ok: true, ips: [...keepable], pool: allocator.poolOf(keepable[0]!) ?? before?.pool ?? '' };
  }
  const snap = snapshotOf(allocator, key);
  // CREATE: what the name holds is an earlier Service's, so it is not offered to this one.
  if (identity.creating && before) allocator.release(key);
  const r = allocator.allocate(key, req);
  // Restore: JS runs this synchronously, so no other request can observe the temporary record.
  restore(allocator, key, snap, undefined);
  return r;
}

/**
 * Takes one IP for the entry's Service: create the claim, or join/refresh an existing one it may hold or share.
 * An entry under the same namespace/name that is not this Service's (an earlier Service of that name) blocks the IP,
 * unless the IP is explicitly requested: then the entry is taken over (the earlier Service is gone, or — a CREATE of a
 * name that exists — the create fails at storage and the controller rebinds the entry to the live Service).
 * An UPDATE taking an IP its stored version does not name stamps the entry with `admittedOn`, so the controller
 * never releases it while the admission may be in flight.
 */
async function takeIp(
  store: ClaimStore,
  ip: string,
  pool: string,
  entry: {
    readonly holder: ClaimHolder;
    readonly identity: ClaimIdentity;
    readonly requested: readonly string[];
    /** The other holders' live Services (their keys now), when the caller knows them: see liveSharingProblem. */
    readonly live?: RequestLookup;
  },
  req: ServiceRequest,
  readFirst: boolean,
): Promise<Take> {
  const { holder, identity } = entry;
  let read = readFirst;
  let why = 'kept changing';
  for (let round = 0; round < PER_IP_ROUNDS; round++) {
    let cur: IPAddressClaim | undefined;
    if (read) cur = await store.get(ip);
    if (!cur) {
      const c = await store.create(
        newClaim({ ip, pool, sharingKey: req.sharingKey, backendKey: req.backendKey, holders: [holder] }),
      );
      if (c.ok) return { kind: 'taken', ip, wrote: true };
      read = true;
      cur = await store.get(ip);
      if (!cur) continue; // deleted between our create and read: try the create again
    }
    read = true;
    const mine = cur.spec.holders.findIndex((h) => isSelf(h, holder.namespace, holder.name, identity));
    const earlier = cur.spec.holders.findIndex((h) => isEarlier(h, holder.namespace, holder.name, identity));
    if (earlier >= 0 && mine < 0 && !entry.requested.includes(ip)) {
      const h = cur.spec.holders[earlier]!;
      return {
        kind: 'lost',
        ip,
        claim: cur,
        why: `${ip} is still held by an earlier Service ${holderKey(h)}${h.uid ? ` (uid ${h.uid})` : ''}, released once its deletion is seen`,
      };
    }
    const problem = sharingProblem(cur, req);
    if (problem) return { kind: 'lost', ip, claim: cur, why: problem };
    const liveProblem = liveSharingProblem(cur, req, entry.live);
    if (liveProblem) return { kind: 'lost', ip, claim: cur, why: liveProblem, live: true };
    const at = mine >= 0 ? mine : earlier;
    const own = at >= 0 ? cur.spec.holders[at]! : undefined;
    const stamp =
      identity.admittedOn !== undefined && !(identity.stored ?? []).includes(ip) && own?.admittedOn !== identity.admittedOn;
    if (
      mine >= 0 &&
      !stamp &&
      samePorts(own!.ports, holder.ports) &&
      cur.spec.sharingKey === req.sharingKey &&
      cur.spec.backendKey === req.backendKey
    ) {
      return { kind: 'taken', ip, wrote: false };
    }
    // Join the holders, refresh our own entry (ports, keys, admission stamp) or take over an earlier Service's; the
    // read resourceVersion guards the write.
    const next: ClaimHolder =
      mine >= 0
        ? {
            ...own!,
            service: holder.service ?? own!.service ?? `${holder.namespace}/${holder.name}`,
            ports: holder.ports,
            ...(holder.uid !== undefined ? { uid: holder.uid } : {}),
            ...(stamp ? { admittedOn: identity.admittedOn! } : {}),
          }
        : holder;
    const holders = at >= 0 ? cur.spec.holders.map((h, i) => (i === at ? next : h)) : [...cur.spec.holders, next];
    const u = await store.update({
      ...cur,
      spec: { ...cur.spec, sharingKey: req.sharingKey, backendKey: req.backendKey, holders },
    });
    if (u.ok) return { kind: 'taken', ip, wrote: mine < 0 };
    why = `claim ${cur.metadata.name} kept changing`;
  }
  return { kind: 'lost', ip, claim: await store.get(ip), why };
}

export type ReleaseResult =
  | { readonly ok: true; readonly action: 'deleted' | 'updated' | 'absent' | 'kept' }
  | { readonly ok: false; readonly reason: 'Conflict' };

/**
 * Removes a holder from the claim of `ip`; deletes the claim when no holder remains. Every write carries the read
 * resourceVersion (a holder added concurrently is never lost); 409 → re-read and retry, bounded.
 * `match` is asked about the entry on every fresh read: when it says no (the entry changed hands — another uid, a
 * newer admission stamp), nothing is written and the answer is `kept`.
 */
export async function releaseHolder(
  store: ClaimStore,
  ip: string,
  holder: { readonly namespace: string; readonly name: string },
  opts: { readonly maxAttempts?: number; readonly match?: (entry: ClaimHolder) => boolean } = {},
): Promise<ReleaseResult> {
  const attempts = opts.maxAttempts ?? PER_IP_ROUNDS;
  const key = holderKey(holder);
  for (let i = 0; i < attempts; i++) {
    const cur = await store.get(ip);
    if (!cur) return { ok: true, action: 'absent' };
    const ours = cur.spec.holders.filter((h) => holderKey(h) === key);
    if (ours.length === 0) return { ok: true, action: 'absent' };
    if (opts.match && !ours.some((h) => opts.match!(h))) return { ok: true, action: 'kept' };
    const rest = cur.spec.holders.filter((h) => holderKey(h) !== key || (opts.match !== undefined && !opts.match(h)));
    if (rest.length === 0) {
      const d = await store.delete(ip, { resourceVersion: cur.metadata.resourceVersion });
      if (d.ok || d.reason === 'NotFound') return { ok: true, action: 'deleted' };
      continue;
    }
    const u = await store.update({ ...cur, spec: { ...cur.spec, holders: rest } });
    if (u.ok) return { ok: true, action: 'updated' };
    if (u.reason === 'NotFound') return { ok: true, action: 'absent' };
  }
  return { ok: false, reason: 'Conflict' };
}
