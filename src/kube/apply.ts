// "Create or update" for berth's own bootstrap objects (the lab applies CRDs, namespaces, pools, webhook
// configurations): create; if it exists, replace it carrying the stored resourceVersion. Not kubectl apply (no
// three-way merge): fields set by others are overwritten, which is what a bootstrap wants.
import type { KubeClient, KubeObject } from './client.ts';
import type { KubeResult } from './errors.ts';
import { apiVersionOf, Resources, type Resource } from './resources.ts';

/** The table entry for an object's apiVersion and kind, if berth knows the kind. */
export function resourceOf(obj: { apiVersion?: string; kind?: string }): Resource | undefined {
  return Object.values(Resources).find((r) => r.kind === obj.kind && apiVersionOf(r) === obj.apiVersion);
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function withoutLastApplied(obj: KubeObject): KubeObject {
  const annotations = { ...(obj.metadata?.annotations ?? {}) };
  delete annotations[LAST_APPLIED];
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}

export async function applyObject(client: KubeClient, obj: KubeObject): Promise<KubeResult<KubeObject> & { action?: 'created' | 'updated' }> {
  const r = resourceOf(obj);
  if (!r) {
    return {
      ok: false,
      error: { kind: 'BadRequest', status: 0, reason: '', message: `no resource known for ${obj.apiVersion ?? '?'} ${obj.kind ?? '?'}` },
    };
  }
  const ns = r.namespaced ? (obj.metadata?.namespace ?? 'default') : undefined;
  // Record what was applied the way `kubectl apply` does, so a user's later `kubectl apply` of the same object
  // (e.g. editing examples/dev) three-way merges cleanly instead of warning about a missing annotation.
  obj = {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...(obj.metadata?.annotations ?? {}), [LAST_APPLIED]: `${JSON.stringify(withoutLastApplied(obj))}\n` },
    },
  };
  const created = await client.create(r, obj, ns !== undefined ? { namespace: ns } : {});
  if (created.ok) return { ...created, action: 'created' };
  if (created.error.kind !== 'AlreadyExists') return created;
  for (let i = 0; i < 5; i++) {
    const cur = await client.get(r, obj.metadata?.name ?? '', ns);
    if (!cur.ok) return cur;
    const next: KubeObject = {
      ...obj,
      metadata: { ...obj.metadata, ...(ns !== undefined ? { namespace: ns } : {}), resourceVersion: cur.value.metadata?.resourceVersion ?? '' },
      ...(cur.value.status !== undefined ? { status: cur.value.status } : {}),
    };
    const put = await client.replace(r, next);
    if (put.ok) return { ...put, action: 'updated' };
    if (put.error.kind !== 'Conflict') return put;
  }
  return { ok: false, error: { kind: 'Conflict', status: 409, reason: 'Conflict', message: `${obj.kind} ${obj.metadata?.name ?? ''} kept changing` } };
}
