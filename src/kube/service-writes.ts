// Writes to a Service: its status (through the `services/status` subresource, where the API server accepts
// status.loadBalancer — a write to the main resource would silently drop it) and its annotations. Both are JSON merge
// patches (RFC 7386): lists are replaced wholesale and `null` removes a key, which is what berth means.
import type { KubeClient, KubeObject } from './client.ts';
import type { KubeResult } from './errors.ts';
import { PatchType } from './patch.ts';
import { Resources } from './resources.ts';

export interface IngressEntry {
  ip: string;
}

/**
 * Sets `status.loadBalancer.ingress` (an empty list clears it: `loadBalancer: {}` as MetalLB writes). With
 * `resourceVersion` the patch carries it as a precondition (409 Conflict when the Service changed since).
 */
export function patchServiceIngress(
  client: KubeClient,
  namespace: string,
  name: string,
  ingress: readonly IngressEntry[],
  resourceVersion?: string,
): Promise<KubeResult<KubeObject>> {
  const body = {
    ...(resourceVersion !== undefined ? { metadata: { resourceVersion } } : {}),
    status: { loadBalancer: { ingress: ingress.length > 0 ? ingress.map((i) => ({ ip: i.ip })) : null } },
  };
  return client.patch(Resources.services, name, body, { namespace, subresource: 'status', type: PatchType.merge });
}

/** Sets (string) or removes (null) annotations; `resourceVersion` as for patchServiceIngress. */
export function patchServiceAnnotations(
  client: KubeClient,
  namespace: string,
  name: string,
  changes: Readonly<Record<string, string | null>>,
  resourceVersion?: string,
): Promise<KubeResult<KubeObject>> {
  const metadata = { annotations: changes, ...(resourceVersion !== undefined ? { resourceVersion } : {}) };
  return client.patch(Resources.services, name, { metadata }, { namespace, type: PatchType.merge });
}
