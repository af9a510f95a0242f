// MetalLB convergeBalancer step 12 (metallb-compat.md §3.1; MetalLB AllocateFromPoolForAdditionalFamily): a
// PreferDualStack Service with dual ClusterIPs that holds one IP tries, on each reconcile, to add one IP of the other
// family from the pool it already uses. It goes through the claim step like any allocation (the allocator's
// allocate() keeps the held IP and adds the missing family from the same pool when one is free), so a race with the
// webhook or another replica over the new IP is settled by the claim.
import type { AllocatorApi, ServiceRequest } from '../allocator/types.ts';
import { claimFor, type ClaimStepDeps } from '../claims/claim-step.ts';
import type { ClaimIdentity } from '../claims/holders.ts';
import { familyOf, type Family } from '../shared/ip.ts';

export type AddFamilyResult =
  | { readonly ok: true; readonly ips: readonly string[]; readonly added: string }
  | { readonly ok: false; readonly transient: boolean; readonly message: string };

/** True when a Service holding one IP should ask for the other family (no requested IPs: those pin what it holds). */
export function wantsOtherFamily(req: ServiceRequest, held: readonly string[]): boolean {
  return (
    held.length === 1 &&
    req.families.length === 2 &&
    req.ipFamilyPolicy === 'PreferDualStack' &&
    req.requestedIPs.length === 0
  );
}

/**
 * Claims one IP of the family `held` lacks, from `held`'s pool. `ok`: the Service now holds both (v4 first);
 * else it keeps `held` alone (`transient`: every claim round lost a race, worth a retry; otherwise the pool has no
 * free address of that family, or the allocator refused).
 */
export async function addOtherFamily(
  deps: ClaimStepDeps,
  key: string,
  req: ServiceRequest,
  held: string,
  identity: ClaimIdentity = {},
): Promise<AddFamilyResult> {
  const want: Family = familyOf(held) === 'IPv6' ? 'IPv4' : 'IPv6';
  // The claim step keeps IPs the Service already holds when it spreads a retry, so the held IP never moves.
  const r = await claimFor(deps, key, req, { dryRun: false, identity });
  if (!r.ok) return { ok: false, transient: r.code === 'LB_CLAIM_CONFLICT', message: r.message };
  if (!r.ips.includes(held)) {
    // Not expected (allocate() keeps a held IP that still fits); the next reconcile releases the claims the
    // annotation does not list.
    return { ok: false, transient: true, message: `claim step answered ${r.ips.join(',')} without the held ${held}` };
  }
  const added = r.ips.find((ip) => ip !== held && familyOf(ip) === want);
  if (added === undefined) return { ok: false, transient: false, message: noFree(deps.allocator, r.pool, want) };
  return { ok: true, ips: familyOf(held) === 'IPv4' ? [held, added] : [added, held], added };
}

function noFree(allocator: AllocatorApi, pool: string, family: Family): string {
  const s = allocator.stats().find((p) => p.pool === pool);
  const total = s ? (family === 'IPv4' ? s.ipv4Total : s.ipv6Total) : 0n;
  if (!s || total === 0n) return `pool "${pool}" has no ${family} addresses`;
  const used = family === 'IPv4' ? s.ipv4InUse : s.ipv6InUse;
  return `no available ${family} IPs in pool "${pool}" (${used}/${total} in use)`;
}
