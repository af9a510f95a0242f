// Claims by holder: which IPs each Service holds according to the claims (the truth), kept current from a ClaimCache's
// events. O(1) per event and per lookup, so a reconcile never scans every claim.
import { claimName, type IPAddressClaim } from '../api/claim.ts';
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
  /**
   * claim name → the holder key(s) it was indexed under: the key itself for the usual sole holder (an array per claim
   * cost 40 bytes × 10,000 claims), an array for a shared IP. Only for a cache whose events do not carry the previous
   * version (`reportsPrevious`): with the informer's, the keys come from the claim versions themselves, and this Map
   * (0.46 MB of table at 10,000 claims) is not kept.
   */
  readonly #holdersOf: Map<string, string | readonly string[]> | undefined;
  readonly #unsubscribe: () => void;
  readonly #listeners = new Set<(e: ClaimEvent, holders: readonly string[]) => void>();
  /**
   * Claims this replica wrote (claim name → the version the API server answered), until the informer delivers any
   * event for that name. get() answers them: a reconcile that runs again before the informer caught up (the Service's
   * next event) sees the claim as bound instead of writing it again from the older version (a 409, a re-read, a
   * second write). Any event drops the entry, so a version the informer knows is never shadowed for long.
   */
  readonly #written = new Map<string, IPAddressClaim>();

  constructor(cache: ClaimCache) {
    this.#cache = cache;
    this.#holdersOf = cache.reportsPrevious ? undefined : new Map();
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

  /** The claim for `ip`: the version this replica last wrote (noteWritten) until the informer delivers one. */
  get(ip: string): IPAddressClaim | undefined {
    if (this.#written.size > 0) {
      const w = this.#written.get(claimName(ip));
      if (w) return w;
    }
    return this.#cache.get(ip);
  }

  /**
   * Records a claim as the API server answered this replica's create or update (it carries the new resourceVersion),
   * ahead of its watch event. Used by get() only (heldBy follows the informer).
   */
  noteWritten(claim: IPAddressClaim): void {
    if (!claim?.metadata?.name || !claim.spec?.ip) return;
    // The watch event often arrives before the write's answer is read: the informer then already holds this version
    // (or a later one), and no further event would ever drop the entry — 10,000 full claims kept after a fill of
    // 10,000 Services, and get() answering an old version until the claim changed again (issue 12).
    if (!isNewer(claim.metadata.resourceVersion, this.#cache.get(claim.spec.ip)?.metadata?.resourceVersion)) return;
    this.#written.set(claim.metadata.name, claim);
  }

  /** How many written versions wait for their watch event (tests, leak checks). */
  get writtenPending(): number {
    return this.#written.size;
  }

  list(): IPAddressClaim[] {
    return this.#cache.list();
  }

  /** How many claims are indexed (O(1), no list built). */
  get size(): number {
    return this.#holdersOf ? this.#holdersOf.size : (this.#cache.size ?? this.#cache.list().length);
  }

  holderKeys(): IterableIterator<string> {
    return this.#byHolder.keys();
  }

  #onEvent(e: ClaimEvent): void {
    const name = e.claim.metadata.name;
    this.#written.delete(name);
    // What the claim was indexed under: the previous version's holders when the cache reports it (a deleted claim
    // is its last version), else what was noted.
    const prior = this.#holdersOf ? undefined : e.type === 'deleted' ? e.claim : e.type === 'modified' ? e.previous : undefined;
    const before = this.#holdersOf ? this.#keysOf(name) : prior ? keysOf(prior) : [];
    this.#drop(name, before);
    if (e.type !== 'deleted') this.#put(e.claim);
    const after = e.type === 'deleted' ? [] : this.#holdersOf ? this.#keysOf(name) : keysOf(e.claim);
    const all = before.length === 0 ? after : after.length === 0 ? before : [...new Set([...before, ...after])];
    for (const fn of this.#listeners) fn(e, all);
  }

  #keysOf(name: string): readonly string[] {
    const v = this.#holdersOf?.get(name);
    return v === undefined ? [] : typeof v === 'string' ? [v] : v;
  }

  #put(c: IPAddressClaim): void {
    const name = c.metadata.name;
    const keys = keysOf(c);
    this.#holdersOf?.set(name, keys.length === 1 ? keys[0]! : keys);
    for (const k of keys) {
      const cur = this.#byHolder.get(k);
      if (!cur) this.#byHolder.set(k, c);
      else if (Array.isArray(cur)) this.#byHolder.set(k, [...cur.filter((x) => x.metadata.name !== name), c]);
      else if (cur.metadata.name === name) this.#byHolder.set(k, c);
      else this.#byHolder.set(k, [cur, c]);
    }
  }

  #drop(name: string, keys: readonly string[]): void {
    for (const k of keys) {
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
    this.#holdersOf?.delete(name);
  }
}

/** The holder keys of a claim (`namespace/name`, sharing the claim's own `service` strings: holderKey). */
function keysOf(c: IPAddressClaim): string[] {
  return (c.spec?.holders ?? []).map(holderKey);
}

/**
 * Whether resourceVersion `written` is newer than `known` (the informer's): true when nothing is known; for the
 * decimal versions etcd and the lab give, by value; otherwise whenever they differ. Kubernetes calls resourceVersions
 * opaque, but etcd's are its revision counter: comparing them is what keeps a late write answer from shadowing a
 * newer version another writer made meanwhile.
 */
export function isNewer(written: string | undefined, known: string | undefined): boolean {
  if (written === undefined) return false;
  if (known === undefined) return true;
  if (written === known) return false;
  if (/^\d+$/.test(written) && /^\d+$/.test(known)) return written.length !== known.length ? written.length > known.length : written > known;
  return true;
}

function fam(c: IPAddressClaim): number {
  return familyOf(canonicalIp(c.spec.ip) ?? c.spec.ip) === 'IPv6' ? 1 : 0;
}
