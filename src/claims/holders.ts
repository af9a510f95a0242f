// Holder-side views of claims: who holds which claims, and the sharing rules a new holder must meet on a claimed IP.
import type { ServiceRequest } from '../allocator/types.ts';
import type { ClaimHolder, IPAddressClaim } from '../api/claim.ts';
import { familyOf } from '../shared/ip.ts';

/** Everything one Service holds across claims (a dual-stack Service is in two claims). */
export interface HolderClaims {
  /** `namespace/name` */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  /** Its IPs, IPv4 first. */
  readonly ips: string[];
  readonly claims: IPAddressClaim[];
}

/**
 * `namespace/name` of a claim holder. A holder's `service` field (written as exactly that) is returned itself when it
 * matches: the controller's indexes of 10,000 claims then share the claim's string instead of building one per index
 * (40 bytes each; issue 12, controller memory). Otherwise a new string.
 */
export function holderKey(h: { readonly namespace: string; readonly name: string; readonly service?: string | undefined }): string {
  const s = h.service;
  const ns = h.namespace;
  const name = h.name;
  if (
    s !== undefined &&
    s.length === ns.length + 1 + name.length &&
    s.charCodeAt(ns.length) === 47 &&
    s.startsWith(ns) &&
    s.endsWith(name)
  ) {
    return s;
  }
  return `${ns}/${name}`;
}

/**
 * Who is taking or holding an IP, beyond `namespace/name` (a name can be deleted and created again while the old
 * Service's claims are not yet released, so the name alone is not an identity).
 */
export interface ClaimIdentity {
  /** The Service's uid when known (UPDATE admissions, the controller); absent at CREATE (assigned at storage). */
  readonly uid?: string;
  /** A CREATE admission: no Service of this name is stored, so an entry under the name is an earlier Service's. */
  readonly creating?: boolean;
  /** An UPDATE admission: the resourceVersion of the stored version it replaces (recorded on entries it adds). */
  readonly admittedOn?: string;
  /**
   * IPs the stored version already holds (its `berth.io/assigned-ips`, else its status): an UPDATE keeps them when
   * they still satisfy the request, whatever this replica's allocator remembers (MetalLB keeps a still-valid IP).
   */
  readonly stored?: readonly string[];
}

/** Is `h` the entry of the Service `identity` names (same namespace/name, and no uid that says otherwise)? */
export function isSelf(h: ClaimHolder, namespace: string, name: string, identity: ClaimIdentity = {}): boolean {
  if (h.namespace !== namespace || h.name !== name) return false;
  if (identity.creating) return false;
  return identity.uid === undefined || h.uid === undefined || h.uid === identity.uid;
}

/** Is `h` an entry of an earlier Service with the same namespace/name (deleted, its claims not yet released)? */
export function isEarlier(h: ClaimHolder, namespace: string, name: string, identity: ClaimIdentity = {}): boolean {
  return h.namespace === namespace && h.name === name && !isSelf(h, namespace, name, identity);
}

/** Index of claims by holder key (`namespace/name`); each holder's IPs are ordered IPv4 first, then by name. */
export function claimsByHolder(claims: readonly IPAddressClaim[]): Map<string, HolderClaims> {
  const out = new Map<string, HolderClaims>();
  for (const c of claims) {
    for (const h of c.spec.holders) {
      const key = holderKey(h);
      let e = out.get(key);
      if (!e) {
        e = { key, namespace: h.namespace, name: h.name, ips: [], claims: [] };
        out.set(key, e);
      }
      if (!e.ips.includes(c.spec.ip)) {
        e.ips.push(c.spec.ip);
        e.claims.push(c);
      }
    }
  }
  for (const e of out.values()) {
    // Nearly every holder has one claim (single stack): nothing to order, and no arrays rebuilt for 10,000 of them
    // at each controller start.
    if (e.ips.length < 2) continue;
    const order = e.ips.map((ip, i) => ({ ip, claim: e.claims[i]!, v6: familyOf(ip) === 'IPv6' ? 1 : 0 }));
    order.sort((a, b) => a.v6 - b.v6 || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    e.ips.splice(0, e.ips.length, ...order.map((o) => o.ip));
    e.claims.splice(0, e.claims.length, ...order.map((o) => o.claim));
  }
  return out;
}

export function samePorts(a: ClaimHolder['ports'], b: ClaimHolder['ports']): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((p) => `${p.protocol}/${p.port}`));
  return b.every((p) => s.has(`${p.protocol}/${p.port}`));
}

/**
 * Can `req` join the claim's other holders on its IP? MetalLB's sharing rule (internal/allocator/allocator.go,
 * checkSharing / sharingOK): both sides carry the same non-empty sharing key and the same backend key, and no
 * (protocol, port) of the newcomer is used by another holder. Returns undefined when allowed, else the reason.
 */
export function sharingProblem(
  claim: IPAddressClaim,
  req: Pick<ServiceRequest, 'namespace' | 'name' | 'sharingKey' | 'backendKey' | 'ports'>,
): string | undefined {
  const others = claim.spec.holders.filter((h) => h.namespace !== req.namespace || h.name !== req.name);
  if (others.length === 0) return undefined;
  const names = others.map(holderKey).join(', ');
  if (req.sharingKey === '' || claim.spec.sharingKey === '' || req.sharingKey !== claim.spec.sharingKey) {
    return `${claim.spec.ip} is held by ${names} (allow-shared-ip "${claim.spec.sharingKey}"); set the same key to share it`;
  }
  if (req.backendKey !== claim.spec.backendKey) {
    return `${claim.spec.ip} is held by ${names} with a different externalTrafficPolicy/selector; it cannot be shared`;
  }
  const used = new Map<string, string>();
  for (const h of others) for (const p of h.ports) used.set(`${p.protocol}/${p.port}`, holderKey(h));
  for (const p of req.ports) {
    const by = used.get(`${p.protocol}/${p.port}`);
    if (by) return `port ${p.protocol}/${p.port} is already in use on "${claim.spec.ip}" by ${by}`;
  }
  return undefined;
}

/** What the caller knows of a holder's live Service (its current keys and ports), or undefined when it does not. */
export type LiveHolder = (key: string) => Pick<ServiceRequest, 'sharingKey' | 'backendKey' | 'ports'> | undefined;

/**
 * sharingProblem, also against what the other holders' live Services say now: a holder whose Service changed its
 * allow-shared-ip (or its backend key, or took a newcomer's port) by an update admission never saw (every webhook down,
 * failurePolicy Ignore) still stands in the claim under the old key until the controller rebinds it. A newcomer that
 * joined on the old key would then share an IP with a Service that no longer allows it, and the controller would move
 * the settled holder away (chaos seed 5: chaos-a/svc-7 dropped key "k2" unseen; gen-cf62v was given its IP on the
 * claim's "k2"; svc-7 was moved). `live` undefined: the claim alone decides. Returns undefined when allowed.
 */
export function liveSharingProblem(
  claim: IPAddressClaim,
  req: Pick<ServiceRequest, 'namespace' | 'name' | 'sharingKey' | 'backendKey' | 'ports'>,
  live?: LiveHolder,
): string | undefined {
  const problem = sharingProblem(claim, req);
  if (problem || !live) return problem;
  for (const h of claim.spec.holders) {
    if (h.namespace === req.namespace && h.name === req.name) continue;
    const now = live(holderKey(h));
    if (!now) continue;
    if (now.sharingKey !== req.sharingKey || now.backendKey !== req.backendKey) {
      return `${claim.spec.ip} is held by ${holderKey(h)}, whose allow-shared-ip is now "${now.sharingKey}" (the claim still says "${claim.spec.sharingKey}"); it cannot be shared until that Service is reconciled`;
    }
    const used = new Set(now.ports.map((p) => `${p.protocol}/${p.port}`));
    const clash = req.ports.find((p) => used.has(`${p.protocol}/${p.port}`));
    if (clash) return `port ${clash.protocol}/${clash.port} is already in use on "${claim.spec.ip}" by ${holderKey(h)}`;
  }
  return undefined;
}

/**
 * The other holders of `ips` (besides `key`) that are not a live Service's settled entry: a placeholder (`name@ip`:
 * the Service of that name holds another IP of that family), an entry bound to no uid (an admission's, bound by the
 * controller once it sees the Service, or an earlier Service's of the name, left for the repair loop), or one whose
 * Service is not known. Such an entry may vanish without any Service moving, so a Service that already holds the IP
 * must not be moved away because of it (chaos seed 5: a settled Service was moved off its IP for a stale entry of a
 * deleted Service). Answers `namespace/name` of each, in holder order.
 */
export function unsettledHolders(
  holdersOf: (ip: string) => ReadonlyArray<{ readonly key: string }>,
  claimOf: (ip: string) => IPAddressClaim | undefined,
  key: string,
  ips: readonly string[],
  live: (key: string) => unknown,
): string[] {
  const out: string[] = [];
  for (const ip of ips) {
    const claim = claimOf(ip);
    for (const h of holdersOf(ip)) {
      const at = h.key.indexOf('@'); // PLACEHOLDER_SEP of allocator-sync.ts (which imports this module)
      const base = at < 0 ? h.key : h.key.slice(0, at);
      if (base === key) continue;
      const entry = claim?.spec.holders.find((x) => holderKey(x) === base);
      if (at >= 0 || entry?.uid === undefined || live(base) === undefined) out.push(base);
    }
  }
  return [...new Set(out)];
}
