// The claim step: the allocator (in memory, possibly stale) proposes IP(s); the Service takes them atomically by
// creating IPAddressClaim objects named by the IP (KEP-1880: the API server lets the first create win).
// Shared by the mutating webhook (at admission) and the controller (fallback for Services the webhook never saw).
//
//   create → ok: ours.  AlreadyExists → read it: ours already (idempotent) / shareable (add us as a holder, with the
//   read resourceVersion; 409 → re-read, re-check) / someone else's → teach the allocator, roll back what this round
//   took (dual stack: both or neither), propose again. Bounded: LB_CLAIM_CONFLICT when every round lost a race.
import type { AllocResult, AllocatorApi, ServiceRequest } from '../allocator/types.ts';
import { newClaim, type ClaimHolder, type IPAddressClaim } from '../api/claim.ts';
import { formatIp, parseIp } from '../shared/ip.ts';
import { recordHeld, syncIp, type RequestLookup } from './allocator-sync.ts';
import { holderKey, samePorts, sharingProblem } from './holders.ts';
import type { ClaimStore } from './store.ts';

export interface ClaimStepDeps {
  readonly store: ClaimStore;
  readonly allocator: AllocatorApi;
  /** Proposal rounds before giving up with LB_CLAIM_CONFLICT (default 8). */
  readonly maxAttempts?: number;
  /** Labels of other holders, used when a lost claim is taught to the allocator. */
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
  | { readonly kind: 'lost'; readonly ip: string; readonly claim: IPAddressClaim | undefined; readonly why: string };

/**
 * Allocates and claims IP(s) for the Service `key` (`namespace/name`). On success the allocator records exactly the
 * returned IPs for `key` and a claim lists the Service as a holder of each. `dryRun`: the same answer, no claim
 * written and the allocator left as it was.
 */
export async function claimFor(
  deps: ClaimStepDeps,
  key: string,
  req: ServiceRequest,
  opts: { readonly dryRun: boolean },
): Promise<AllocResult> {
  const { allocator } = deps;
  if (opts.dryRun) return dryRunAllocate(allocator, key, req);

  const attempts = Math.max(1, deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const holder: ClaimHolder = {
    namespace: req.namespace,
    name: req.name,
    ports: req.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
  };
  const lost: string[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const before = allocator.ipsOf(key)?.ips ?? [];
    const beforeInfo = before.length > 0 ? allocator.holdersOf(before[0]!).find((h) => h.key === key) : undefined;
    const proposed = allocator.allocate(key, req);
    if (!proposed.ok) return proposed;
    const r =
      attempt > 0 && req.requestedIPs.length === 0 && !proposed.ips.every((ip) => before.includes(ip))
        ? spread(allocator, key, req, proposed, attempt, deps.rng ?? Math.random, before)
        : proposed;

    const took: Array<Extract<Take, { kind: 'taken' }>> = [];
    let loss: Extract<Take, { kind: 'lost' }> | undefined;
    for (const ip of r.ips) {
      const t = await takeIp(deps.store, ip, r.pool, holder, req, before.includes(ip));
      if (t.kind === 'lost') {
        loss = t;
        break;
      }
      took.push(t);
    }
    if (!loss) return r;

    // Lost a race (or the allocator did not know the claim): undo this round, learn the claim, propose again.
    lost.push(`${loss.ip} (${loss.why})`);
    for (const t of took) if (t.wrote) await releaseHolder(deps.store, t.ip, holder);
    allocator.release(key);
    if (beforeInfo && !before.includes(loss.ip)) {
      // Keep what the Service held before this round (its claims still exist) so the view stays true.
      recordHeld(allocator, key, beforeInfo, beforeInfo.ports, before, deps.lookup);
    }
    syncIp(allocator, loss.ip, loss.claim, { ...(deps.lookup ? { lookup: deps.lookup } : {}) });
    if (attempt + 1 < attempts) await (deps.backoff ?? defaultBackoff)(attempt);
  }
  return {
    ok: false,
    code: 'LB_CLAIM_CONFLICT',
    message:
      `could not claim an IP for "${key}" after ${attempts} attempts: other writers took ` +
      `${lost.slice(-3).join(', ')}; retry the request`,
  };
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

/** The allocator's answer without recording it: an allocation made only to be answered is undone synchronously. */
function dryRunAllocate(allocator: AllocatorApi, key: string, req: ServiceRequest): AllocResult {
  const before = allocator.ipsOf(key);
  const sameRequest =
    req.requestedIPs.length === 0 || (before && req.requestedIPs.every((ip) => before.ips.includes(ip)));
  if (before && sameRequest) {
    const c = allocator.check(key, req, before.ips);
    if (c.ok) return { ok: true, ips: [...before.ips], pool: before.pool };
  }
  const beforeHolders = before ? before.ips.map((ip) => allocator.holdersOf(ip).find((h) => h.key === key)) : [];
  const r = allocator.allocate(key, req);
  // Restore: JS runs this synchronously, so no other request can observe the temporary record.
  allocator.release(key);
  if (before) {
    const info = beforeHolders.find((h) => h !== undefined);
    if (info) recordHeld(allocator, key, info, info.ports, before.ips);
  }
  return r;
}

/** Takes one IP for `holder`: create the claim, or join/refresh an existing one we may hold or share. */
async function takeIp(
  store: ClaimStore,
  ip: string,
  pool: string,
  holder: ClaimHolder,
  req: ServiceRequest,
  readFirst: boolean,
): Promise<Take> {
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
    const mine = cur.spec.holders.findIndex((h) => h.namespace === holder.namespace && h.name === holder.name);
    const problem = sharingProblem(cur, req);
    if (problem) return { kind: 'lost', ip, claim: cur, why: problem };
    if (
      mine >= 0 &&
      samePorts(cur.spec.holders[mine]!.ports, holder.ports) &&
      cur.spec.sharingKey === req.sharingKey &&
      cur.spec.backendKey === req.backendKey
    ) {
      return { kind: 'taken', ip, wrote: false };
    }
    // Join the holders, or refresh our own entry (ports or keys changed); the read resourceVersion guards it.
    const holders =
      mine >= 0
        ? cur.spec.holders.map((h, i) => (i === mine ? { ...h, ports: holder.ports } : h))
        : [...cur.spec.holders, holder];
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
  | { readonly ok: true; readonly action: 'deleted' | 'updated' | 'absent' }
  | { readonly ok: false; readonly reason: 'Conflict' };

/**
 * Removes a holder from the claim of `ip`; deletes the claim when no holder remains. Every write carries the read
 * resourceVersion (a holder added concurrently is never lost); 409 → re-read and retry, bounded.
 */
export async function releaseHolder(
  store: ClaimStore,
  ip: string,
  holder: { readonly namespace: string; readonly name: string },
  opts: { readonly maxAttempts?: number } = {},
): Promise<ReleaseResult> {
  const attempts = opts.maxAttempts ?? PER_IP_ROUNDS;
  const key = holderKey(holder);
  for (let i = 0; i < attempts; i++) {
    const cur = await store.get(ip);
    if (!cur) return { ok: true, action: 'absent' };
    const rest = cur.spec.holders.filter((h) => holderKey(h) !== key);
    if (rest.length === cur.spec.holders.length) return { ok: true, action: 'absent' };
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
