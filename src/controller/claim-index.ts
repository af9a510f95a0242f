// Claims by holder: which IPs each Service holds according to the claims (the truth), kept current from a ClaimCache's
// events. O(1) per event and per lookup, so a reconcile never scans every claim.
import type { IPAddressClaim } from '../api/claim.ts';
import { holderKey } from '../claims/holders.ts';
import type { ClaimCache, ClaimEvent } from '../claims/store.ts';
import { canonicalIp, familyOf } from '../shared/ip.ts';

export class ClaimIndex {
  readonly #cache: ClaimCache;
  /**
   * holder key → its claim, or its claims (dual stack, or a move not yet released). Almost every holder has exactly
   * one claim, so that case stores the claim itself: a Map per holder would cost ~250 bytes × 10,000 Services.
   */
  readonly #byHolder = new Map<string, IPAddressClaim | IPAddressClaim[]>();
  /** claim name → holder keys it was indexed under */
  readonly #holdersOf = new Map<string, string[]>();
  readonly #unsubscribe: () => void;
  readonly #listeners = new Set<(e: ClaimEvent, holders: readonly string[]) => void>();

  constructor(cache: ClaimCache) {
    this.#cache = cache;
    for (const c of cache.list()) this.#put(c);
    this.#unsubscribe = cache.subscribe((e) => this.#onEvent(e));
  }

  /**
   * Listens to claim changes, with every holder key concerned (before and after the change): the controller requeues
   * those Services.
   */
  onChange(fn: (e: ClaimEvent, holders: readonly string[]) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  close(): void {
    this.#unsubscribe();
  }

  /** The claims listing `key` (`namespace/name`) as a holder, IPv4 first. */
  heldBy(key: string): IPAddressClaim[] {
    const v = this.#byHolder.get(key);
    if (!v) return [];
    if (!Array.isArray(v)) return [v];
    return [...v].sort((a, b) => fam(a) - fam(b) || (a.spec.ip < b.spec.ip ? -1 : a.spec.ip > b.spec.ip ? 1 : 0));
  }

  get(ip: string): IPAddressClaim | undefined {
    return this.#cache.get(ip);
  }

  list(): IPAddressClaim[] {
    return this.#cache.list();
  }

  holderKeys(): IterableIterator<string> {
    return this.#byHolder.keys();
  }

  #onEvent(e: ClaimEvent): void {
    const name = e.claim.metadata.name;
    const before = this.#holdersOf.get(name) ?? [];
    this.#drop(name);
    if (e.type !== 'deleted') this.#put(e.claim);
    const after = this.#holdersOf.get(name) ?? [];
    const all = before.length === 0 ? after : after.length === 0 ? before : [...new Set([...before, ...after])];
    for (const fn of this.#listeners) fn(e, all);
  }

  #put(c: IPAddressClaim): void {
    const name = c.metadata.name;
    const keys = (c.spec?.holders ?? []).map(holderKey);
    this.#holdersOf.set(name, keys);
    for (const k of keys) {
      const cur = this.#byHolder.get(k);
      if (!cur) this.#byHolder.set(k, c);
      else if (Array.isArray(cur)) this.#byHolder.set(k, [...cur.filter((x) => x.metadata.name !== name), c]);
      else if (cur.metadata.name === name) this.#byHolder.set(k, c);
      else this.#byHolder.set(k, [cur, c]);
    }
  }

  #drop(name: string): void {
    for (const k of this.#holdersOf.get(name) ?? []) {
      const cur = this.#byHolder.get(k);
      if (!cur) continue;
      if (!Array.isArray(cur)) {
        if (cur.metadata.name === name) this.#byHolder.delete(k);
        continue;
      }
      const rest = cur.filter((x) => x.metadata.name !== name);
      if (rest.length === 0) this.#byHolder.delete(k);
      else this.#byHolder.set(k, rest.length === 1 ? rest[0]! : rest);
    }
    this.#holdersOf.delete(name);
  }
}

function fam(c: IPAddressClaim): number {
  return familyOf(canonicalIp(c.spec.ip) ?? c.spec.ip) === 'IPv6' ? 1 : 0;
}
