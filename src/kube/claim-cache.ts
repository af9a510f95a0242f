// The controller's ClaimCache: berth's Informer over `ipaddressclaims` (list+watch, relist on 410, backoff), with the
// claims' repetitive strings interned. Same contract as claims/store.ts ClaimCache, which the webhook fills with
// KubeClaimCache; the controller holds every claim for as long as it runs, so it keeps them compact.
import { claimName, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent } from '../claims/store.ts';
import type { Kube } from './connect.ts';
import type { KubeObject } from './client.ts';
import type { Informer } from './informer.ts';
import { interner, type Intern } from './intern.ts';
import { Resources } from './resources.ts';

/** Interns the fields every claim repeats (kind, labels, timestamps at second precision, pool, keys, ports). */
export function compactClaim(c: IPAddressClaim, intern: Intern): IPAddressClaim {
  const m = c.metadata;
  const labels = m.labels;
  if (labels) for (const k in labels) labels[k] = intern(labels[k]!);
  if (m.creationTimestamp) m.creationTimestamp = intern(m.creationTimestamp);
  const s = c.spec;
  if (s) {
    s.pool = intern(s.pool);
    s.sharingKey = intern(s.sharingKey);
    s.backendKey = intern(s.backendKey);
    for (const h of s.holders ?? []) {
      h.namespace = intern(h.namespace);
      for (const p of h.ports ?? []) p.protocol = intern(p.protocol) as typeof p.protocol;
    }
  }
  (c as { apiVersion: string }).apiVersion = intern(c.apiVersion);
  (c as { kind: string }).kind = intern(c.kind);
  return c;
}

export interface InformerClaimCache extends ClaimCache {
  readonly informer: Informer<KubeObject>;
}

export function informerClaimCache(kube: Kube, opts: { log?: (line: string) => void; intern?: Intern } = {}): InformerClaimCache {
  const intern = opts.intern ?? interner();
  const informer = kube.informer<KubeObject>(Resources.ipAddressClaims, {
    transform: (o) => compactClaim(o as unknown as IPAddressClaim, intern) as unknown as KubeObject,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const asClaim = (o: KubeObject): IPAddressClaim => o as unknown as IPAddressClaim;
  return {
    informer,
    list: () => informer.list().map(asClaim),
    get: (ip) => {
      const o = informer.get(claimName(ip));
      return o ? asClaim(o) : undefined;
    },
    subscribe: (fn: (e: ClaimEvent) => void) =>
      informer.on({
        add: (o) => fn({ type: 'added', claim: asClaim(o) }),
        update: (o) => fn({ type: 'modified', claim: asClaim(o) }),
        delete: (o) => fn({ type: 'deleted', claim: asClaim(o) }),
      }),
  };
}
