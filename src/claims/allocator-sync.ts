// Keeps an in-memory allocator in step with the claims (the truth, kept by the API server): at start from a full
// list, then per claim event, and on demand when a create lost a race (409) and the claim must be learnt now.
// The allocator only *proposes*; a stale view costs an extra round trip, never a duplicate IP.
import type { AllocResult, AllocatorApi, Family, Port, ServiceRequest } from '../allocator/types.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import { canonicalIp, familyOf } from '../shared/ip.ts';
import { claimsByHolder, holderKey } from './holders.ts';
import type { ClaimCache } from './store.ts';

/** Labels (and other Service facts) of a holder when the caller knows the Service; undefined when unknown. */
export type RequestLookup = (key: string) => ServiceRequest | undefined;

export interface SyncOptions {
  readonly lookup?: RequestLookup;
}

/**
 * Separator of placeholder keys. When a Service's claims disagree with what the allocator holds for it (it moved to
 * another IP of the same family and the old claim is not yet released), the extra IP is held under
 * `<namespace>/<name>@<ip>` so the allocator still sees it taken.
 */
export const PLACEHOLDER_SEP = '@';

function baseKey(key: string): string {
  const i = key.indexOf(PLACEHOLDER_SEP);
  return i < 0 ? key : key.slice(0, i);
}

function v4First(ips: readonly string[]): string[] {
  return [...ips].sort((a, b) => (familyOf(a) === 'IPv6' ? 1 : 0) - (familyOf(b) === 'IPv6' ? 1 : 0));
}

/**
 * Records `ips` for a key known from claims: `restore` checks only the allocator's own invariants (one pool, one IP
 * per family, sharing), not Service policy (namespaces, selectors, requested IPs) which the holder passed when it was
 * admitted and which the allocator cannot judge without the Service's labels.
 */
export function recordHeld(
  allocator: AllocatorApi,
  key: string,
  keys: Pick<IPAddressClaim['spec'], 'sharingKey' | 'backendKey'>,
  ports: readonly Port[],
  ips: readonly string[],
  lookup?: RequestLookup,
): AllocResult {
  if (lookup) {
    // With the Service's labels at hand the full check can run; fall back to restore when the Service moved on.
    const r = allocator.assign(key, requestFromClaim(key, keys, ports, ips, lookup), ips);
    if (r.ok) return r;
  }
  return allocator.restore(key, { sharingKey: keys.sharingKey, backendKey: keys.backendKey, ports: [...ports] }, ips);
}

/** The request the allocator is given for a holder known only from claims. */
export function requestFromClaim(
  key: string,
  claim: Pick<IPAddressClaim['spec'], 'sharingKey' | 'backendKey'>,
  ports: readonly Port[],
  ips: readonly string[],
  lookup?: RequestLookup,
): ServiceRequest {
  const base = baseKey(key);
  const slash = base.indexOf('/');
  const known = lookup?.(base);
  const families = ips.map((ip) => familyOf(ip)).filter((f): f is Family => f !== undefined);
  return {
    namespace: base.slice(0, slash),
    name: base.slice(slash + 1),
    labels: known?.labels ?? {},
    ports: [...ports],
    sharingKey: claim.sharingKey,
    backendKey: claim.backendKey,
    families,
    ipFamilyPolicy: families.length === 2 ? 'RequireDualStack' : 'SingleStack',
    // Recorded IPs are assigned as they are: no pool pin (the pool may have been renamed since the claim).
    requestedIPs: [],
  };
}

/**
 * Full rebuild from a claim list (start-up, relist): every holder gets exactly the IPs its claims give it.
 * Recorded with `restore` only, whatever `opts.lookup` says: recordHeld's full check records exactly what restore
 * records when it passes (the allocator keeps sharing key, backend key and ports, never the Service's labels) and
 * falls back to restore when it fails, so running it first changes nothing but the cost: at a restart with 10,000
 * claims, one Service request built and checked per holder took 500 of loadClaims' 670 ms in a CPU profile of the
 * controller (issue 12: restart ≤ 2 s at 10,000 Services).
 */
export function loadClaims(
  allocator: AllocatorApi,
  claims: readonly IPAddressClaim[],
  _opts: SyncOptions = {},
): { failed: Array<{ key: string; message: string }> } {
  const failed: Array<{ key: string; message: string }> = [];
  for (const hc of claimsByHolder(claims).values()) {
    const ports = portsOf(hc.claims[0]!, hc.key);
    const r = recordHeld(allocator, hc.key, hc.claims[0]!.spec, ports, hc.ips);
    if (!r.ok) {
      // Two claims of one family for one Service, or a pool that no longer allows it: hold each IP on its own.
      for (const c of hc.claims) {
        const k = `${hc.key}${PLACEHOLDER_SEP}${c.spec.ip}`;
        const p = recordHeld(allocator, k, c.spec, portsOf(c, hc.key), [c.spec.ip]);
        if (!p.ok) failed.push({ key: hc.key, message: p.message });
      }
    }
  }
  return { failed };
}

function portsOf(claim: IPAddressClaim, key: string): Port[] {
  return claim.spec.holders.find((h) => holderKey(h) === baseKey(key))?.ports.map((p) => ({ ...p })) ?? [];
}

/** Removes one IP from what `key` holds in the allocator, keeping its other IP (dual stack). */
function dropIp(allocator: AllocatorApi, key: string, ip: string, lookup?: RequestLookup): void {
  const held = allocator.ipsOf(key);
  if (!held || !held.ips.includes(ip)) return;
  const info = allocator.holdersOf(ip).find((h) => h.key === key);
  const rest = held.ips.filter((x) => x !== ip);
  allocator.release(key);
  if (rest.length > 0 && info) recordHeld(allocator, key, info, info.ports, rest, lookup);
}

/**
 * Makes the allocator's holders of `ip` exactly the claim's holders (`claim` undefined: the IP is free).
 * Returns the holder keys the allocator refused (it then keeps whatever it had; the claim stays the truth).
 */
export function syncIp(
  allocator: AllocatorApi,
  ip: string,
  claim: IPAddressClaim | undefined,
  opts: SyncOptions = {},
): { failed: string[] } {
  const canon = canonicalIp(ip) ?? ip;
  const fam = familyOf(canon);
  const want = new Map((claim?.spec.holders ?? []).map((h) => [holderKey(h), h]));
  const failed: string[] = [];

  for (const h of allocator.holdersOf(canon)) {
    const wanted = want.get(baseKey(h.key));
    const stalePorts = wanted && h.key === baseKey(h.key) && !samePortSet(h.ports, wanted.ports);
    if (!wanted || stalePorts || claim!.spec.sharingKey !== h.sharingKey || claim!.spec.backendKey !== h.backendKey) {
      dropIp(allocator, h.key, canon, opts.lookup);
    }
  }
  if (!claim) return { failed };

  const present = new Set(allocator.holdersOf(canon).map((h) => baseKey(h.key)));
  for (const [key, h] of want) {
    if (present.has(key)) continue;
    const held = allocator.ipsOf(key);
    const sameFamily = held?.ips.some((x) => familyOf(x) === fam) ?? false;
    if (!sameFamily) {
      const ips = v4First([...(held?.ips ?? []), canon]);
      const r = recordHeld(allocator, key, claim.spec, h.ports, ips, opts.lookup);
      if (r.ok) continue;
    }
    const k = `${key}${PLACEHOLDER_SEP}${canon}`;
    const r = recordHeld(allocator, k, claim.spec, h.ports, [canon], opts.lookup);
    if (!r.ok) failed.push(key);
  }
  return { failed };
}

function samePortSet(a: readonly Port[], b: readonly Port[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((p) => `${p.protocol}/${p.port}`));
  return b.every((p) => s.has(`${p.protocol}/${p.port}`));
}

/** Loads the cache's claims into the allocator and follows its events. Returns the unsubscribe function. */
export function feedAllocator(allocator: AllocatorApi, cache: ClaimCache, opts: SyncOptions = {}): () => void {
  loadClaims(allocator, cache.list(), opts);
  return cache.subscribe((e) => {
    syncIp(allocator, e.claim.spec.ip, e.type === 'deleted' ? undefined : e.claim, opts);
  });
}
