// POST /mutate/service: decide the Service's IP(s) at admission and take them by claims, then record the decision in
// annotations with a JSON patch (status cannot be set at admission: PrepareForCreate wipes it after mutation, so the
// controller copies the annotation into status.loadBalancer.ingress).
//
// The rule for UPDATEs (the one the metallb.io webhooks follow for pools): an update is denied only for a problem it
// introduces. An UPDATE that leaves the IP request as it was (requested IPs, pool, sharing key, backend key, ports,
// families — see requestChange) runs no claim step at all: it is admitted as it is, with a warning when the Service
// holds no IP saying why and what would fix it. So a Service without an IP is never locked, berth's own writes
// (the controller's annotation updates) are never refused, and no replica can move an IP on an unrelated update.
import { Annotations, BerthAnnotations } from '../api/annotations.ts';
import { claimFor } from '../claims/claim-step.ts';
import type { ClaimIdentity } from '../claims/holders.ts';
import { assignedIPs, ingressIPs } from '../config/service.ts';
import type { Code } from '../shared/codes.ts';
import { allow, annotationPatch, deny, type AdmissionRequest, type AdmissionResponse } from './review.ts';
import { requestChange, serviceContext, storedService } from './service-context.ts';
import type { ServiceDeps } from './service-deps.ts';
import { noIpWarning } from './advice.ts';
import { exhaustedAction, pendingWarning } from './service-policy.ts';
import { annotateDeleted, releaseGhostHolders } from './ghost-holders.ts';

/** Failures that may name another Service holding a requested IP. */
const HELD_CODES: ReadonlySet<Code> = new Set<Code>(['LB_IP_IN_USE', 'LB_SHARING_KEY_MISMATCH', 'LB_PORT_CONFLICT', 'LB_CLAIM_CONFLICT']);

/** Failures that say no IP is free (not that the request is wrong). */
export const CAPACITY_CODES: ReadonlySet<Code> = new Set<Code>(['LB_POOL_EXHAUSTED', 'LB_NO_POOLS']);

export async function mutateService(deps: ServiceDeps, request: AdmissionRequest): Promise<AdmissionResponse> {
  const ctx = serviceContext(request, deps);
  if (ctx.kind === 'skip') return allow(request.uid, { warnings: ctx.warnings });
  const stored = storedService(request, deps);
  if (ctx.kind === 'bad') {
    // A Service stored with the same problem (before berth, or while the webhook was down) may still be updated.
    const before = stored ? serviceContext({ ...request, object: request.oldObject }, deps) : undefined;
    if (before?.kind === 'bad' && before.message === ctx.message) {
      return allow(request.uid, { warnings: [`${ctx.message}; the Service gets no IP until this is fixed`] });
    }
    return deny(request.uid, ctx.message, { code: ctx.code });
  }

  const { key, req, svc, warnings } = ctx;
  if (stored?.req && requestChange(stored.req, req) === undefined) {
    // Nothing the IPs depend on changed: admit as it is (the controller owns every follow-up).
    if (assignedIPs(svc).length === 0 && ingressIPs(svc).length === 0 && stored.ips.length === 0) {
      const r = await claimFor({ store: deps.store, allocator: deps.allocator }, key, req, { dryRun: true });
      warnings.push(noIpWarning(key, r));
    }
    return allow(request.uid, { warnings });
  }

  const identity: ClaimIdentity = stored
    ? {
        ...(stored.uid !== undefined ? { uid: stored.uid } : {}),
        ...(stored.resourceVersion !== undefined ? { admittedOn: stored.resourceVersion } : {}),
        stored: stored.req ? stored.ips : [],
      }
    : { creating: true };
  const stepDeps = {
    store: deps.store,
    allocator: deps.allocator,
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  };
  const { r: result, ghosts } = await deps.keyLock.run(key, async () => {
    const first = await claimFor(stepDeps, key, req, { dryRun: request.dryRun, identity });
    // A requested IP held by a Service that no longer exists: release what is safe to release, then try again.
    if (first.ok || !HELD_CODES.has(first.code) || req.requestedIPs.length === 0 || !deps.serviceIdentity || request.dryRun) return { r: first, ghosts: undefined };
    const g = await releaseGhostHolders({ ...stepDeps, serviceIdentity: deps.serviceIdentity }, key, req.requestedIPs);
    if (!g.retry) return { r: first, ghosts: g };
    return { r: await claimFor(stepDeps, key, req, { dryRun: false, identity }), ghosts: g };
  });
  for (const x of ghosts?.released ?? []) {
    warnings.push(`${x.ip} was held by ${x.holder} (uid ${x.uid}), which no longer exists; its claim entry was released at admission`);
  }
  const r = !result.ok && ghosts && ghosts.deleted.size > 0 ? { ...result, message: annotateDeleted(result.message, ghosts.deleted) } : result;
  if (!r.ok) {
    // A Service that held no IP before and still finds no free one: the update did not introduce that problem
    // (changing ports or externalTrafficPolicy of a <pending> Service is allowed, as MetalLB would).
    const stillWaiting = stored?.req !== undefined && stored.ips.length === 0 && CAPACITY_CODES.has(r.code);
    if (stillWaiting || exhaustedAction(deps.policy, r.code) === 'pending') {
      return allow(request.uid, {
        warnings: [...warnings, pendingWarning(r.code, r.message)],
        auditAnnotations: { pending: r.code },
      });
    }
    return deny(request.uid, r.message, { code: r.code, warnings });
  }
  const moved = stored?.req ? stored.ips.filter((ip) => !r.ips.includes(ip)) : [];
  if (moved.length > 0 && req.requestedIPs.length === 0 && stored?.req) {
    warnings.push(
      `${key} moves from ${moved.join(', ')} to ${r.ips.join(', ')}: its ${requestChange(stored.req, req) ?? 'request'} ` +
        `changed and ${moved.join(', ')} cannot serve the new request`,
    );
  }
  const patch = annotationPatch(svc.metadata?.annotations, {
    [BerthAnnotations.assignedIPs]: r.ips.join(','),
    [Annotations.ipAllocatedFromPool]: r.pool,
  });
  return allow(request.uid, {
    patch,
    warnings,
    auditAnnotations: { 'assigned-ips': r.ips.join(','), pool: r.pool },
  });
}
