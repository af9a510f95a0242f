// POST /validate/service: the final gate on the object as it will be stored (after every mutation and defaulting):
// the IPs recorded at admission are in an allowed pool, fit the Service's families and sharing rules, and are claimed
// by this Service. Denials name the values (the allocator's messages are the denial text).
//
// Same UPDATE rule as the mutating webhook: an update that leaves the IP request as it was is never denied for the
// IPs (the controller owns them), except when the update itself rewrites `berth.io/assigned-ips` to IPs this Service
// does not hold. A denial never tells the user to remove an annotation berth wrote.
import { assignedIPs } from '../config/service.ts';
import { holderKey, isSelf } from '../claims/holders.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import { canonicalIp } from '../shared/ip.ts';
import { claimFor } from '../claims/claim-step.ts';
import { syncIp } from '../claims/allocator-sync.ts';
import type { Code } from '../shared/codes.ts';
import { BerthAnnotations } from '../api/annotations.ts';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.ts';
import { CAPACITY_CODES } from './mutate-service.ts';
import { requestChange, serviceContext, storedService } from './service-context.ts';
import type { ServiceDeps } from './service-deps.ts';
import { exhaustedAction, pendingWarning } from './service-policy.ts';

/** Failures that a stale in-memory view can cause (someone else seems to hold the IP). */
const STALE_VIEW_CODES: ReadonlySet<Code> = new Set<Code>(['LB_IP_IN_USE', 'LB_PORT_CONFLICT', 'LB_SHARING_KEY_MISMATCH']);

export async function validateService(deps: ServiceDeps, request: AdmissionRequest): Promise<AdmissionResponse> {
  const ctx = serviceContext(request, deps);
  if (ctx.kind === 'skip') return allow(request.uid);
  const stored = storedService(request, deps);
  if (ctx.kind === 'bad') {
    const before = stored ? serviceContext({ ...request, object: request.oldObject }, deps) : undefined;
    if (before?.kind === 'bad' && before.message === ctx.message) return allow(request.uid);
    return deny(request.uid, ctx.message, { code: ctx.code });
  }
  const { key, req, svc, warnings } = ctx;

  for (const ip of assignedIPs(svc)) {
    if (!canonicalIp(ip)) {
      return deny(request.uid, `"${ip}" in ${BerthAnnotations.assignedIPs} is not a valid IP address`, {
        code: 'LB_BAD_REQUESTED_IP',
        warnings,
      });
    }
  }
  const assigned = assignedIPs(svc).map((ip) => canonicalIp(ip)!);

  if (stored?.req && requestChange(stored.req, req) === undefined) {
    // The IP request did not change. Only a rewrite of the recorded IPs to IPs this Service does not hold is refused.
    const before = stored.ips.join(',');
    if (assigned.length === 0 || assigned.join(',') === before || request.dryRun) return allow(request.uid);
    for (const ip of assigned) {
      if (stored.ips.includes(ip)) continue;
      const problem = await ownershipProblem(deps, ip, req.namespace, req.name, stored.uid);
      if (problem) return deny(request.uid, problem, { code: 'LB_CLAIM_NOT_OWNED', warnings });
    }
    return allow(request.uid);
  }

  if (assigned.length === 0 || !coversRequest(assigned, req.requestedIPs)) {
    // The mutating webhook did not decide for this version (it was skipped or failed open, or admitted the Service as
    // pending): answer what an allocation would say now, without taking anything; the controller allocates later.
    const r = await claimFor({ store: deps.store, allocator: deps.allocator }, key, req, {
      dryRun: true,
      identity: stored ? { stored: [] } : { creating: true },
    });
    if (r.ok) return allow(request.uid, { warnings });
    const stillWaiting = stored?.req !== undefined && stored.ips.length === 0 && CAPACITY_CODES.has(r.code);
    if (stillWaiting || exhaustedAction(deps.policy, r.code) === 'pending') {
      return allow(request.uid, { warnings: [...warnings, pendingWarning(r.code, r.message)] });
    }
    return deny(request.uid, r.message, { code: r.code, warnings });
  }

  let c = deps.allocator.check(key, req, assigned);
  if (!c.ok && STALE_VIEW_CODES.has(c.code) && !request.dryRun) {
    // This replica's allocator may lag the claims (another replica admitted the mutation): learn them, ask again.
    for (const ip of assigned) syncIp(deps.allocator, ip, await deps.store.get(ip), { lookup: deps.lookup });
    c = deps.allocator.check(key, req, assigned);
  }
  if (!c.ok) return deny(request.uid, c.message, { code: c.code, warnings });

  // A dry run wrote no claim at mutation (sideEffects: NoneOnDryRun), so there is nothing to own yet.
  if (!request.dryRun) {
    for (const ip of assigned) {
      const problem = await ownershipProblem(deps, ip, req.namespace, req.name, stored?.uid);
      if (problem) return deny(request.uid, problem, { code: 'LB_CLAIM_NOT_OWNED', warnings });
    }
  }
  return allow(request.uid, { warnings });
}

/** Do the recorded IPs include every requested IP? (A stale record from before a request change does not.) */
function coversRequest(assigned: readonly string[], requested: readonly string[]): boolean {
  return requested.every((ip) => assigned.includes(canonicalIp(ip) ?? ip));
}

async function ownershipProblem(
  deps: ServiceDeps,
  ip: string,
  namespace: string,
  name: string,
  uid: string | undefined,
): Promise<string | undefined> {
  const identity = uid !== undefined ? { uid } : {};
  const holds = (c: IPAddressClaim | undefined) => c !== undefined && c.spec.holders.some((h) => isSelf(h, namespace, name, identity));
  // The informer view usually already has the claim the mutating webhook just wrote; ask the store when it does not.
  let claim = deps.claims?.get(ip);
  if (!holds(claim)) claim = await deps.store.get(ip);
  if (holds(claim)) return undefined;
  if (!claim) {
    return (
      `${ip} recorded in ${BerthAnnotations.assignedIPs} of ${namespace}/${name} has no IPAddressClaim ` +
      `(it was released before this version was stored); apply the Service again and berth decides anew`
    );
  }
  return `${ip} recorded in ${BerthAnnotations.assignedIPs} of ${namespace}/${name} is claimed by ${claim.spec.holders.map(holderKey).join(', ') || 'nobody'}`;
}
