// The claim repair loop's garbage half (KEP-1880 ipallocator-repair-controller, repairip.go): a claim holder whose
// Service does not exist (or is no longer a LoadBalancer of our class) is removed once the claim is older than the
// grace period (60 s from creationTimestamp = the API server's request timeout, so an admission still in flight is
// never undone), and the claim is deleted when no holder is left. Claims are cluster-scoped and their parents
// namespaced, so no ownerReference can do this.
// berth also waits the grace period from when it *first saw* the holder orphaned: a holder added to an old shared
// claim by an admission still in flight must not be taken for a leak. The other half — live Services whose claims
// are missing — is recreated by the Service reconcile.
import { BerthAnnotations } from '../api/annotations.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import { releaseHolder } from '../claims/claim-step.ts';
import type { ClaimStore } from '../claims/store.ts';
import type { ClaimHolder } from '../api/claim.ts';
import { assignedIPs, ingressIPs, isLoadBalancer, isOurClass, type ServiceLike } from '../config/service.ts';
import { canonicalIp } from '../shared/ip.ts';

export const DEFAULT_CLAIM_GRACE_MS = 60_000;

export interface RepairDeps {
  readonly claims: { list(): IPAddressClaim[] };
  /** The Service with key `namespace/name`, from a synced cache. */
  readonly service: (key: string) => ServiceLike | undefined;
  readonly store: ClaimStore;
  readonly lbClass?: string;
  readonly graceMs?: number;
  /**
   * The stored Service's identity from the API server (ServiceWriter.current): asked before a release, so a cache
   * that lags the Service (it names the IP already, or exists already) never releases a live claim. Rejects on
   * transport failures (the release then waits for a later pass).
   */
  readonly current?: (namespace: string, name: string) => Promise<{ readonly uid?: string; readonly resourceVersion?: string } | undefined>;
}

export interface RepairState {
  /** `ip|namespace/name` → when the holder was first seen orphaned (ms). */
  readonly orphanSince: Map<string, number>;
}

export interface RepairReport {
  readonly released: Array<{ ip: string; holder: string; deleted: boolean }>;
  /** Orphaned holders still inside their grace period. */
  readonly waiting: number;
  /** When the next one becomes due (ms), if any. */
  readonly nextDueAt?: number;
  readonly errors: string[];
}

export function newRepairState(): RepairState {
  return { orphanSince: new Map() };
}

/** Is this holder's Service gone (or no longer entitled to an IP)? */
export function holderOrphaned(svc: ServiceLike | undefined, lbClass?: string): boolean {
  return !svc || !isLoadBalancer(svc) || !isOurClass(svc, lbClass);
}

/**
 * Is this claim entry a leak? Its Service is gone or no longer entitled to an IP; or the entry belongs to an earlier
 * Service of the same name (another uid); or the Service names neither this IP in `berth.io/assigned-ips` nor in its
 * status (an admission that added it was refused later in the chain, or a CREATE that failed at storage). Only ever
 * acted on after the grace period, so an admission in flight is never undone.
 */
export function entryOrphaned(svc: ServiceLike | undefined, entry: ClaimHolder, ip: string, lbClass?: string): boolean {
  if (holderOrphaned(svc, lbClass)) return true;
  const uid = svc!.metadata?.uid;
  if (entry.uid !== undefined && uid !== undefined && uid !== '' && entry.uid !== uid) return true;
  // The usual cases first, building nothing (a pass visits every claim: at 50,000 claims every array here was 3 per
  // claim per pass): the annotation is exactly this IP, or a status entry is.
  const ann = svc!.metadata?.annotations?.[BerthAnnotations.assignedIPs];
  if (ann === ip) return false;
  const ingress = svc!.status?.loadBalancer?.ingress;
  if (Array.isArray(ingress)) for (const i of ingress) if (i?.ip === ip) return false;
  // Then as the claim spells it among several, then canonicalised.
  const named = [...assignedIPs(svc!), ...ingressIPs(svc!)];
  if (named.includes(ip)) return false;
  const canon = canonicalIp(ip) ?? ip;
  return !named.some((x) => (canonicalIp(x) ?? x) === canon);
}

export async function repairClaims(d: RepairDeps, st: RepairState, now: number): Promise<RepairReport> {
  const grace = d.graceMs ?? DEFAULT_CLAIM_GRACE_MS;
  const released: RepairReport['released'] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  let waiting = 0;
  let nextDueAt: number | undefined;
  for (const c of d.claims.list()) {
    for (const h of c.spec?.holders ?? []) {
      const key = `${h.namespace}/${h.name}`;
      if (!entryOrphaned(d.service(key), h, c.spec.ip, d.lbClass)) continue;
      // Parsed for orphaned entries only: a pass over 50,000 claims parsed 50,000 timestamps every 15 s (issue 12).
      const created = Date.parse(c.metadata.creationTimestamp ?? '');
      const id = `${c.spec.ip}|${key}`;
      seen.add(id);
      const since = st.orphanSince.get(id) ?? now;
      st.orphanSince.set(id, since);
      const due = Math.max(Number.isNaN(created) ? now : created, since) + grace;
      if (now < due) {
        waiting++;
        nextDueAt = nextDueAt === undefined ? due : Math.min(nextDueAt, due);
        continue;
      }
      if (d.current) {
        // The cache may lag the Service (chaos seed 4: an informer 5 s behind under load released the claim the
        // leader had written with the Service's status, and another Service took the IP): when the stored Service
        // is the holder's and newer than the cached one, decide on a later pass.
        let live: { readonly uid?: string; readonly resourceVersion?: string } | undefined;
        try {
          live = await d.current(h.namespace, h.name);
        } catch (e) {
          errors.push(`reading Service ${key} before releasing ${c.spec.ip}: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        const cached = d.service(key);
        const same = live !== undefined && (h.uid === undefined || live.uid === undefined || live.uid === h.uid);
        if (same && cached?.metadata?.resourceVersion !== live!.resourceVersion) {
          waiting++;
          const retryAt = now + Math.min(grace, 1000);
          nextDueAt = nextDueAt === undefined ? retryAt : Math.min(nextDueAt, retryAt);
          continue;
        }
      }
      try {
        // Only this very entry: if it changed meanwhile (bound, re-stamped by a newer admission), it is kept.
        const r = await releaseHolder(d.store, c.spec.ip, h, {
          match: (x) => x.uid === h.uid && x.admittedOn === h.admittedOn && entryOrphaned(d.service(key), x, c.spec.ip, d.lbClass),
        });
        if (r.ok) {
          if (r.action !== 'kept') released.push({ ip: c.spec.ip, holder: key, deleted: r.action === 'deleted' });
          st.orphanSince.delete(id);
        } else {
          errors.push(`releasing ${c.spec.ip} held by ${key}: the claim kept changing`);
        }
      } catch (e) {
        errors.push(`releasing ${c.spec.ip} held by ${key}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  for (const id of [...st.orphanSince.keys()]) if (!seen.has(id)) st.orphanSince.delete(id);
  return { released, waiting, ...(nextDueAt !== undefined ? { nextDueAt } : {}), errors };
}
