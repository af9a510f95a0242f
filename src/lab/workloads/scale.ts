// The `scale` subresource of Deployments and ReplicaSets (autoscaling/v1 Scale), what `kubectl scale` reads
// and patches (k8s.io/kubernetes pkg/registry/apps/deployment/storage ScaleREST). A Scale write changes only
// the parent's spec.replicas, through the parent's own update path (admission, generation, resourceVersion).
import type { Reply, Rest, Target } from '../rest.ts';
import { Errors, FieldErrors, invalidFrom, isFailure, type Failure } from '../status.ts';
import { mergePatch } from '../patch/merge-patch.ts';
import { applyJsonPatch } from '../patch/json-patch.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import { formatLabelSelector } from './printers.ts';

const SCALABLE = new Set(['apps/deployments', 'apps/replicasets']);

/** Does this store bucket's kind have a `scale` subresource? */
export function hasScale(storeKey: string): boolean {
  return SCALABLE.has(storeKey);
}

/** The autoscaling/v1 Scale view of a Deployment or ReplicaSet. */
export function scaleOf(o: KubeObject): KubeObject {
  const spec = isPlainObject(o['spec']) ? o['spec'] : {};
  const status = isPlainObject(o['status']) ? o['status'] : {};
  const sel = formatLabelSelector(spec['selector']);
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name ?? '',
      namespace: o.metadata.namespace ?? '',
      uid: o.metadata.uid ?? '',
      resourceVersion: o.metadata.resourceVersion ?? '',
      creationTimestamp: o.metadata.creationTimestamp ?? null,
    },
    spec: { replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 1 },
    status: { replicas: typeof status['replicas'] === 'number' ? status['replicas'] : 0, ...(sel !== '<none>' ? { selector: sel } : {}) },
  };
}

/**
 * Serves GET, PUT and PATCH (merge, strategic merge, JSON patch) of `<deployments|replicasets>/<name>/scale`.
 * `body` is the decoded request body (unused for GET). Errors: 404 for a missing parent, 405 for other
 * methods, 415 for other patch types, 422 when spec.replicas is not an integer ≥ 0, 409 on a stale
 * metadata.resourceVersion.
 */
export async function serveScale(rest: Rest, t: Target, method: string, contentType: string, body: unknown, opts: { dryRun: boolean; fieldManager?: string }): Promise<Reply | Failure> {
  const main: Target = { ...t, subresource: '' };
  const got = rest.get(main);
  if (isFailure(got)) return got;
  const parent = got.body as KubeObject;
  const current = scaleOf(parent);
  if (method === 'GET') return { code: 200, body: current, warnings: [] };
  let desired: unknown;
  if (method === 'PUT') desired = body;
  else if (method === 'PATCH') {
    const ct = contentType.split(';')[0]!.trim().toLowerCase();
    if (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json') desired = mergePatch(current, body);
    else if (ct === 'application/json-patch+json') {
      const r = applyJsonPatch(current, body);
      if (!r.ok) return Errors.unprocessable(r.error);
      desired = r.value;
    } else return Errors.unsupportedMediaType(ct, ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);
  } else return Errors.methodNotAllowed(method);
  if (!isPlainObject(desired)) return Errors.badRequest('the body of the request must be a Scale object');
  const spec = isPlainObject(desired['spec']) ? desired['spec'] : {};
  const replicas = spec['replicas'];
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    return invalidFrom('Scale', 'autoscaling', t.name, [FieldErrors.invalid('spec.replicas', replicas ?? null, 'must be greater than or equal to 0')]);
  }
  const meta = isPlainObject(desired['metadata']) ? desired['metadata'] : {};
  const rv = typeof meta['resourceVersion'] === 'string' && meta['resourceVersion'] ? meta['resourceVersion'] : parent.metadata.resourceVersion;
  const parentSpec = isPlainObject(parent['spec']) ? parent['spec'] : {};
  const next: KubeObject = { ...parent, metadata: { ...parent.metadata, ...(rv ? { resourceVersion: rv } : {}) }, spec: { ...parentSpec, replicas } };
  const r = await rest.update(main, next, opts);
  if (isFailure(r)) return r;
  return { code: 200, body: scaleOf(r.body as KubeObject), warnings: r.warnings };
}
