// Requested IPs held by a Service that no longer exists ("ghost" holders). The controller's repair loop
// (src/controller/repair.ts) releases such entries 60 s after it first sees them; while the controller is down
// nothing does, and a new Service asking for the IP was denied naming a Service that is gone.
//
// At admission the webhook now asks the API server (a consistent GET of the holder's Service) about each other
// holder of a requested IP:
// - the entry carries a uid (the controller bound it once the Service was stored) and the API server has no Service
//   of that namespace/name, or one with another uid: that Service is gone for good (uids are never reused), no
//   admission can still be writing for it (an UPDATE of a deleted object fails at storage), so the entry is released
//   here, by releaseHolder with the read resourceVersion on every write (a holder added concurrently is never lost)
//   and only if the entry is still that uid's (a concurrent takeover or bind is kept). Then the claim step runs again.
// - the entry has no uid (a CREATE admitted while the controller was down, never bound) and no Service of that name
//   exists: it may be an admission still in flight (not stored yet) unless the claim is older than the grace period
//   (60 s, the API server's request timeout); past it, the denial says the holder is deleted and who releases it.
import type { ClaimHolder, IPAddressClaim } from '../api/claim.ts';
import { syncIp, type RequestLookup } from '../claims/allocator-sync.ts';
import { releaseHolder } from '../claims/claim-step.ts';
import { holderKey } from '../claims/holders.ts';
import type { AllocatorApi } from '../allocator/types.ts';
import type { ClaimStore } from '../claims/store.ts';

/** The API server's answer about a Service: its uid, or undefined when no Service of that name exists (404). */
export type ServiceIdentity = (namespace: string, name: string) => Promise<{ readonly uid?: string } | undefined>;

/** The repair loop's grace (src/controller/repair.ts DEFAULT_CLAIM_GRACE_MS): 60 s, kube-apiserver's request timeout. */
export const GHOST_GRACE_MS = 60_000;

export interface GhostDeps {
  readonly store: ClaimStore;
  readonly allocator: AllocatorApi;
  readonly serviceIdentity: ServiceIdentity;
  readonly lookup?: RequestLookup;
  /** Clock (ms) for the grace period (default Date.now). */
  readonly now?: () => number;
  readonly graceMs?: number;
}

export interface GhostReport {
  /** Entries released at admission: `ip` held by `holder` (namespace/name) with `uid`. */
  readonly released: Array<{ readonly ip: string; readonly holder: string; readonly uid: string }>;
  /** Holders known deleted but not released here (no uid): their key → the note the denial carries. */
  readonly deleted: Map<string, string>;
  /** A claim changed under a known-deleted holder (released here, or meanwhile by someone else): worth another round. */
  readonly retry: boolean;
}

/** The note a denial naming a deleted holder carries (the brief's wording; `graceMs` in ms). */
export function deletedNote(graceMs = GHOST_GRACE_MS): string {
  return `deleted; its claim is released by the controller's repair, at most ${Math.round(graceMs / 1000)} s after the controller runs`;
}

/**
 * Looks at every other holder of `ips` (the Service `key`'s explicitly requested IPs) and releases the entries of
 * Services known deleted (see the file comment), keeping the allocator in step with the claims it rewrote.
 * Transport errors on the Service read leave the holder alone (it is not known deleted). Never throws for an
 * API error on the claim writes: a failed release is left to the repair loop.
 */
export async function releaseGhostHolders(d: GhostDeps, key: string, ips: readonly string[]): Promise<GhostReport> {
  const released: GhostReport['released'] = [];
  const deleted = new Map<string, string>();
  let retry = false;
  const now = (d.now ?? Date.now)();
  const grace = d.graceMs ?? GHOST_GRACE_MS;
  for (const ip of ips) {
    let claim: IPAddressClaim | undefined;
    try {
      claim = await d.store.get(ip);
    } catch {
      continue;
    }
    if (!claim) continue;
    let changed = false;
    for (const h of claim.spec.holders) {
      const hk = holderKey(h);
      if (hk === key) continue;
      const gone = await knownDeleted(d.serviceIdentity, h);
      if (!gone) continue;
      if (h.uid === undefined || h.uid === '') {
        const created = Date.parse(claim.metadata.creationTimestamp ?? '');
        if (!Number.isNaN(created) && now - created >= grace) deleted.set(hk, deletedNote(grace));
        continue;
      }
      try {
        const r = await releaseHolder(d.store, ip, h, { match: (x: ClaimHolder) => x.uid === h.uid && x.admittedOn === h.admittedOn });
        if (r.ok && (r.action === 'deleted' || r.action === 'updated')) released.push({ ip: claim.spec.ip, holder: hk, uid: h.uid });
        if (r.ok && r.action !== 'kept') changed = true;
        // 'kept': the entry changed hands meanwhile (re-bound, taken over): no longer this deleted Service's.
        if (!r.ok) deleted.set(hk, deletedNote(grace));
      } catch {
        deleted.set(hk, deletedNote(grace)); // left to the repair loop
      }
    }
    if (changed) {
      retry = true;
      try {
        syncIp(d.allocator, ip, await d.store.get(ip), d.lookup ? { lookup: d.lookup } : {});
      } catch {
        // The claim informer brings the allocator up to date anyway.
      }
    }
  }
  return { released, deleted, retry };
}

async function knownDeleted(identity: ServiceIdentity, h: ClaimHolder): Promise<boolean> {
  let live: { readonly uid?: string } | undefined;
  try {
    live = await identity(h.namespace, h.name);
  } catch {
    return false;
  }
  if (live === undefined) return true;
  return h.uid !== undefined && h.uid !== '' && live.uid !== undefined && live.uid !== '' && live.uid !== h.uid;
}

/** Rewrites `… held by ns/name …` (or `… in use … by ns/name`) in a denial to name the deleted holders as such. */
export function annotateDeleted(message: string, deleted: ReadonlyMap<string, string>): string {
  let out = message;
  for (const [hk, note] of deleted) {
    const m = new RegExp(`\\bby ${hk.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w.-])`).exec(out);
    if (m) {
      const end = m.index + m[0].length;
      out = `${out.slice(0, end)} (${note})${out.slice(end)}`;
    } else out = `${out} (${hk}: ${note})`;
  }
  return out;
}
