// POST /mutate/service: decide the Service's IP(s) at admission and take them by claims, then record the decision in
// annotations with a JSON patch (status cannot be set at admission: PrepareForCreate wipes it after mutation, so the
// controller copies the annotation into status.loadBalancer.ingress).
import { Annotations, BerthAnnotations } from '../api/annotations.ts';
import { claimFor } from '../claims/claim-step.ts';
import { allow, annotationPatch, deny, type AdmissionRequest, type AdmissionResponse } from './review.ts';
import { serviceContext } from './service-context.ts';
import type { ServiceDeps } from './service-deps.ts';
import { exhaustedAction } from './service-policy.ts';

export async function mutateService(deps: ServiceDeps, request: AdmissionRequest): Promise<AdmissionResponse> {
  const ctx = serviceContext(request, deps);
  if (ctx.kind === 'skip') return allow(request.uid, { warnings: ctx.warnings });
  if (ctx.kind === 'bad') return deny(request.uid, ctx.message, { code: ctx.code });

  const { key, req, svc, warnings } = ctx;
  const r = await deps.keyLock.run(key, () =>
    claimFor(
      {
        store: deps.store,
        allocator: deps.allocator,
        ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
        ...(deps.lookup ? { lookup: deps.lookup } : {}),
      },
      key,
      req,
      { dryRun: request.dryRun },
    ),
  );
  if (!r.ok) {
    if (exhaustedAction(deps.policy, r.code) === 'pending') {
      return allow(request.uid, {
        warnings: [...warnings, `${r.message}; the Service stays <pending> until an IP is free`],
        auditAnnotations: { pending: r.code },
      });
    }
    return deny(request.uid, r.message, { code: r.code, warnings });
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
