// POST /validate/service: the final gate on the object as it will be stored (after every mutation and defaulting):
// the IPs recorded at admission are in an allowed pool, fit the Service's families and sharing rules, and are claimed
// by this Service. Denials name the values (the allocator's messages are the denial text).
import { assignedIPs } from '../config/service.ts';
import { holderKey } from '../claims/holders.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import { canonicalIp } from '../shared/ip.ts';
import { claimFor } from '../claims/claim-step.ts';
import { syncIp } from '../claims/allocator-sync.ts';
import type { Code } from '../shared/codes.ts';
import { BerthAnnotations } from '../api/annotations.ts';
import { allow, deny, type AdmissionRequest, type AdmissionResponse } from './review.ts';
import { serviceContext } from './service-context.ts';
import type { ServiceDeps } from './service-deps.ts';
import { exhaustedAction } from './service-policy.ts';

/** Failures that a stale in-memory view can cause (someone else seems to hold the IP). */
const STALE_VIEW_CODES: ReadonlySet<Code> = new Set<Code>(['LB_IP_IN_USE', 'LB_PORT_CONFLICT', 'LB_SHARING_KEY_MISMATCH']);

export async function validateService(deps: ServiceDeps, request: AdmissionRequest): Promise<AdmissionResponse> {
  const ctx = serviceContext(request, deps);
  if (ctx.kind === 'skip') return allow(request.uid);
  if (ctx.kind === 'bad') return deny(request.uid, ctx.message, { code: ctx.code });
  const { key, req, svc, warnings } = ctx;

  const ips = assignedIPs(svc);
  if (ips.length === 0) {
    // The mutating webhook did not assign (it was skipped, failed open, or admitted the Service as pending):
    // answer what an allocation would say now, without taking anything; the controller allocates later.
    const r = await claimFor({ store: deps.store, allocator: deps.allocator }, key, req, { dryRun: true });
    if (r.ok) return allow(request.uid, { warnings });
    if (exhaustedAction(deps.policy, r.code) === 'pending') {
      return allow(request.uid, { warnings: [...warnings, `${r.message}; the Service stays <pending> until an IP is free`] });
    }
    return deny(request.uid, r.message, { code: r.code, warnings });
  }

  for (const ip of ips) {
    if (!canonicalIp(ip)) {
      return deny(request.uid, `"${ip}" in ${BerthAnnotations.assignedIPs} is not a valid IP address`, {
        code: 'LB_BAD_REQUESTED_IP',
        warnings,
      });
    }
  }
  const assigned = ips.map((ip) => canonicalIp(ip)!);
  const missing = req.requestedIPs.filter((ip) => !assigned.includes(ip));
  if (missing.length > 0) {
    return deny(
      request.uid,
      `requested ${missing.join(', ')} but ${BerthAnnotations.assignedIPs} records ${assigned.join(', ')}; ` +
        `remove ${BerthAnnotations.assignedIPs} and apply again`,
      { code: 'LB_CLAIM_NOT_OWNED', warnings },
    );
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
      const problem = await ownershipProblem(deps, ip, req.namespace, req.name);
      if (problem) return deny(request.uid, problem, { code: 'LB_CLAIM_NOT_OWNED', warnings });
    }
  }
  return allow(request.uid, { warnings });
}

async function ownershipProblem(
  deps: ServiceDeps,
  ip: string,
  namespace: string,
  name: string,
): Promise<string | undefined> {
  const holds = (c: IPAddressClaim | undefined) =>
    c !== undefined && c.spec.holders.some((h) => h.namespace === namespace && h.name === name);
  // The informer view usually already has the claim the mutating webhook just wrote; ask the store when it does not.
  let claim = deps.claims?.get(ip);
  if (!holds(claim)) claim = await deps.store.get(ip);
  if (holds(claim)) return undefined;
  if (!claim) {
    return `${ip} in ${BerthAnnotations.assignedIPs} of ${namespace}/${name} has no IPAddressClaim; remove the annotation and apply again`;
  }
  return `${ip} in ${BerthAnnotations.assignedIPs} of ${namespace}/${name} is claimed by ${claim.spec.holders.map(holderKey).join(', ') || 'nobody'}`;
}
