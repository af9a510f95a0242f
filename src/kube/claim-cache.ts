// The controller's ClaimCache: berth's Informer over `ipaddressclaims` (list+watch, relist on 410, backoff), with the
// claims' repetitive strings interned. Same contract as claims/store.ts ClaimCache, which the webhook fills with
// KubeClaimCache; the controller holds every claim for as long as it runs, so it keeps them compact.
import { BerthAnnotations } from '../api/annotations.ts';
import { claimName, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent } from '../claims/store.ts';
import type { Kube } from './connect.ts';
import type { KubeObject } from './client.ts';
import { slim, type Informer } from './informer.ts';
import { interner, type Intern } from './intern.ts';
import { Resources } from './resources.ts';

/**
 * Frozen objects shared by every claim with the same content: the label set (`managed-by`, `ip-family`) and a holder's
 * port list repeat across nearly all claims (10,000 copies: ~1 MB of heap). Bounded like the interner; frozen so that
 * no claim can change another's through them (claims are replaced by new objects, never edited in place).
 */
const SHARED_MAX = 1000;
function sharer(): <T extends object>(key: string, value: T) => T {
  const seen = new Map<string, object>();
  return <T extends object>(key: string, value: T): T => {
    const hit = seen.get(key);
    if (hit) return hit as T;
    if (seen.size >= SHARED_MAX) return value;
    seen.set(key, Object.freeze(value));
    return value;
  };
}
const sharedByCache = new WeakMap<Intern, ReturnType<typeof sharer>>();

/** The cached Service a claim holder names, if any (the controller's Service cache): its strings are shared. */
export type HolderService = (
  namespace: string,
  name: string,
) => { readonly metadata?: { readonly name?: string; readonly uid?: string; readonly annotations?: Record<string, string> } } | undefined;

/**
 * Interns the fields every claim repeats (kind, labels, timestamps at second precision, pool, keys, ports), and drops
 * what berth never reads of a claim (slim): managedFields — kube-apiserver keeps one entry per writer (berth-webhook,
 * berth-controller), ~0.5 kB per claim, 5 MB at 10,000 claims held by the controller (the lab stores none, so the
 * bench did not show it) — and kubectl's last-applied copy. An update of a cached claim without managedFields keeps
 * the stored ones (kube-apiserver resets them only when the request sets an empty list).
 *
 * Also drops `metadata.uid` (nothing reads it; a claim is replaced with its resourceVersion as the precondition, and
 * kube-apiserver keeps the stored uid of an update that carries none: apiserver registry/rest/update.go BeforeUpdate),
 * and shares the strings that are unique per claim but repeated elsewhere (issue 12, controller memory: ~120 bytes
 * per claim): with `old`, the cached version of the same claim, its name (the cache's key), IP and holders' strings;
 * with `service`, the holder's cached Service, its name and uid (when equal) and the IP its `berth.io/assigned-ips`
 * names. Values are never changed, only replaced by an equal string.
 */
export function compactClaim(c: IPAddressClaim, intern: Intern, old?: IPAddressClaim, service?: HolderService): IPAddressClaim {
  let share = sharedByCache.get(intern);
  if (!share) sharedByCache.set(intern, (share = sharer()));
  slim(c as unknown as KubeObject);
  const m = c.metadata;
  // Set to undefined, not deleted: deleting a property that is not an object's last one turns it into a dictionary
  // (larger than the string it drops), and a rebuilt object kept its fields out of line. JSON leaves it out.
  if (m.uid !== undefined) (m as { uid?: string | undefined }).uid = undefined;
  if (old && old.metadata.name === m.name) m.name = old.metadata.name;
  const labels = m.labels;
  if (labels) {
    for (const k in labels) labels[k] = intern(labels[k]!);
    m.labels = share(`l|${JSON.stringify(labels)}`, labels);
  }
  if (m.creationTimestamp) m.creationTimestamp = intern(m.creationTimestamp);
  const s = c.spec;
  if (s) {
    const os = old?.spec;
    if (os && os.ip === s.ip) s.ip = os.ip;
    s.pool = intern(s.pool);
    s.sharingKey = intern(s.sharingKey);
    s.backendKey = intern(s.backendKey);
    const holders = Array.isArray(s.holders) ? s.holders : [];
    for (let i = 0; i < holders.length; i++) {
      const h = holders[i]!;
      if (!h) continue;
      h.namespace = intern(h.namespace);
      const oh = os?.holders?.[i];
      if (oh && oh.name === h.name && oh.namespace === h.namespace) {
        h.name = oh.name;
        if (oh.uid !== undefined && oh.uid === h.uid) h.uid = oh.uid;
        if (oh.service !== undefined && oh.service === h.service) h.service = oh.service;
      }
      const sm = service && typeof h.namespace === 'string' && typeof h.name === 'string' ? service(h.namespace, h.name)?.metadata : undefined;
      if (sm) {
        if (sm.name === h.name) h.name = sm.name;
        if (h.uid !== undefined && sm.uid === h.uid) h.uid = sm.uid;
        const assigned = sm.annotations?.[BerthAnnotations.assignedIPs];
        if (assigned !== undefined && assigned === s.ip) s.ip = assigned;
      }
      if (!Array.isArray(h.ports)) continue;
      for (const p of h.ports) if (p) p.protocol = intern(p.protocol) as typeof p.protocol;
      const key = `p|${JSON.stringify(h.ports.map((p) => [p?.protocol, p?.port]))}`;
      // Only plain {protocol, port} entries are shared (frozen with their list).
      if (h.ports.every((p) => p && Object.keys(p).length === 2)) {
        h.ports = share(key, h.ports);
        for (const p of h.ports) if (!Object.isFrozen(p)) Object.freeze(p);
      }
    }
  }
  (c as { apiVersion: string }).apiVersion = intern(c.apiVersion);
  (c as { kind: string }).kind = intern(c.kind);
  return c;
}

export interface InformerClaimCache extends ClaimCache {
  readonly informer: Informer<KubeObject>;
}

/**
 * `service`: the holders' cached Services (the controller's Service cache), whose strings the cached claims share
 * (compactClaim).
 */
export function informerClaimCache(
  kube: Kube,
  opts: { log?: (line: string) => void; intern?: Intern; service?: HolderService } = {},
): InformerClaimCache {
  const intern = opts.intern ?? interner();
  const service = opts.service;
  const informer = kube.informer<KubeObject>(Resources.ipAddressClaims, {
    transform: (o, old) =>
      compactClaim(o as unknown as IPAddressClaim, intern, old as unknown as IPAddressClaim | undefined, service) as unknown as KubeObject,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const asClaim = (o: KubeObject): IPAddressClaim => o as unknown as IPAddressClaim;
  return {
    informer,
    reportsPrevious: true,
    get size() {
      return informer.size;
    },
    list: () => informer.list().map(asClaim),
    get: (ip) => {
      const o = informer.get(claimName(ip));
      return o ? asClaim(o) : undefined;
    },
    subscribe: (fn: (e: ClaimEvent) => void) =>
      informer.on({
        add: (o) => fn({ type: 'added', claim: asClaim(o) }),
        update: (o, old) => fn({ type: 'modified', claim: asClaim(o), previous: asClaim(old) }),
        delete: (o) => fn({ type: 'deleted', claim: asClaim(o) }),
      }),
  };
}
