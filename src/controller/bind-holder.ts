// Keeps a claim's holder entry for a live Service exact: the Service's uid (unknown at admission, bound here), its
// ports and the IP's sharing/backend keys. Every write carries the read resourceVersion; 409 → re-read, bounded.
import type { ServiceRequest } from '../allocator/types.ts';
import type { ClaimHolder, IPAddressClaim } from '../api/claim.ts';
import { isSelf, samePorts } from '../claims/holders.ts';
import type { ClaimStore } from '../claims/store.ts';
import type { ClaimView } from './deps.ts';

export type BindResult = { readonly ok: true; readonly wrote: boolean } | { readonly ok: false; readonly message: string };

const ROUNDS = 5;

export async function bindHolder(
  store: ClaimStore,
  claims: ClaimView,
  ip: string,
  req: ServiceRequest,
  uid: string | undefined,
): Promise<BindResult> {
  let claim: IPAddressClaim | undefined = claims.get(ip);
  for (let round = 0; round < ROUNDS; round++) {
    if (!claim || round > 0) claim = await store.get(ip);
    if (!claim) return { ok: true, wrote: false };
    // Only this Service's entry (unbound, or bound to its uid): an earlier Service's entry is never rebound.
    const i = claim.spec.holders.findIndex((h) => isSelf(h, req.namespace, req.name, uid !== undefined ? { uid } : {}));
    if (i < 0) return { ok: true, wrote: false };
    const h = claim.spec.holders[i]!;
    const ports = req.ports.map((p) => ({ protocol: p.protocol, port: p.port }));
    const fresh =
      (uid === undefined || h.uid === uid) &&
      h.service !== undefined &&
      samePorts(h.ports, ports) &&
      claim.spec.sharingKey === req.sharingKey &&
      claim.spec.backendKey === req.backendKey;
    if (fresh) return { ok: true, wrote: false };
    const next: ClaimHolder = { ...h, service: `${req.namespace}/${req.name}`, ports, ...(uid !== undefined ? { uid } : {}) };
    const u = await store.update({
      ...claim,
      spec: {
        ...claim.spec,
        sharingKey: req.sharingKey,
        backendKey: req.backendKey,
        holders: claim.spec.holders.map((x, j) => (j === i ? next : x)),
      },
    });
    if (u.ok) return { ok: true, wrote: true };
    if (u.reason === 'NotFound') return { ok: true, wrote: false };
  }
  return { ok: false, message: `claim for ${ip} kept changing while binding ${req.namespace}/${req.name}` };
}
