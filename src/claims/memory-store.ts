// In-memory ClaimStore with the API server's semantics for IPAddressClaims (unit tests, benches, the lab-less CLI):
// create-only names (AlreadyExists), optimistic concurrency on update/delete (Conflict on a stale resourceVersion),
// server-set uid / resourceVersion / creationTimestamp, deep copies in and out. `asCache()` gives its ClaimCache view
// (always in sync: events are emitted synchronously after each write).
import { claimName, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent, ClaimStore, CreateResult, DeleteResult, UpdateResult } from './store.ts';

/** A deep copy of a claim (its shape is known: cheaper than structuredClone, which dominated benches). */
export function cloneClaim(c: IPAddressClaim): IPAddressClaim {
  const m = c.metadata;
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: {
      ...m,
      ...(m.labels ? { labels: { ...m.labels } } : {}),
      ...(m.annotations ? { annotations: { ...m.annotations } } : {}),
    },
    spec: {
      ...c.spec,
      holders: c.spec.holders.map((h) => ({ ...h, ports: h.ports.map((p) => ({ ...p })) })),
    },
  };
}

export interface MemoryClaimStoreOptions {
  /** Clock for creationTimestamp (default: real time). */
  readonly now?: () => Date;
  /**
   * Awaited before every operation takes effect. Tests use it to interleave concurrent callers the way network
   * round-trips would (e.g. `() => new Promise((r) => setImmediate(r))`).
   */
  readonly pause?: (op: 'list' | 'get' | 'create' | 'update' | 'delete', ip?: string) => Promise<void>;
}

export class MemoryClaimStore implements ClaimStore {
  readonly #claims = new Map<string, IPAddressClaim>();
  readonly #listeners = new Set<(e: ClaimEvent) => void>();
  /** Events carry `previous` (a copy) once a cache view that reports it was asked for (asCache). */
  #withPrevious = false;
  readonly #now: () => Date;
  readonly #pause: MemoryClaimStoreOptions['pause'];
  #rv = 0;
  #uid = 0;
  /** Writes that took effect (create/update/delete), for tests asserting "nothing was written". */
  writes = 0;

  constructor(opts: MemoryClaimStoreOptions = {}) {
    this.#now = opts.now ?? (() => new Date());
    this.#pause = opts.pause;
  }

  async list(): Promise<IPAddressClaim[]> {
    await this.#pause?.('list');
    return this.listSync();
  }

  async get(ip: string): Promise<IPAddressClaim | undefined> {
    await this.#pause?.('get', ip);
    return this.#read(ip);
  }

  async create(claim: IPAddressClaim, opts: { readonly dryRun?: boolean } = {}): Promise<CreateResult> {
    await this.#pause?.('create', claim.spec.ip);
    const name = claimName(claim.spec.ip);
    if (claim.metadata.name !== name) {
      throw new Error(`memory claim store: claim name "${claim.metadata.name}" does not match its ip ${claim.spec.ip}`);
    }
    if (this.#claims.has(name)) return { ok: false, reason: 'AlreadyExists' };
    const stored = cloneClaim(claim);
    stored.metadata = {
      ...stored.metadata,
      uid: `mem-${++this.#uid}`,
      resourceVersion: String(opts.dryRun ? this.#rv : ++this.#rv),
      creationTimestamp: this.#now().toISOString(),
    };
    if (opts.dryRun) return { ok: true, claim: stored };
    this.#claims.set(name, stored);
    this.writes++;
    this.#emit({ type: 'added', claim: stored });
    return { ok: true, claim: cloneClaim(stored) };
  }

  async update(claim: IPAddressClaim): Promise<UpdateResult> {
    await this.#pause?.('update', claim.spec.ip);
    const rv = claim.metadata.resourceVersion;
    if (rv === undefined || rv === '') {
      throw new Error(`memory claim store: update of ${claim.metadata.name} without metadata.resourceVersion`);
    }
    const name = claimName(claim.spec.ip);
    const cur = this.#claims.get(name);
    if (!cur) return { ok: false, reason: 'NotFound' };
    if (cur.metadata.resourceVersion !== rv) return { ok: false, reason: 'Conflict' };
    const stored = cloneClaim(claim);
    // Server-owned fields are kept from the stored object, as the API server does.
    stored.metadata = {
      ...stored.metadata,
      name,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      resourceVersion: String(++this.#rv),
    };
    this.#claims.set(name, stored);
    this.writes++;
    this.#emit({ type: 'modified', claim: stored, previous: cur });
    return { ok: true, claim: cloneClaim(stored) };
  }

  async delete(ip: string, opts: { readonly resourceVersion?: string } = {}): Promise<DeleteResult> {
    await this.#pause?.('delete', ip);
    const name = claimName(ip);
    const cur = this.#claims.get(name);
    if (!cur) return { ok: false, reason: 'NotFound' };
    if (opts.resourceVersion !== undefined && cur.metadata.resourceVersion !== opts.resourceVersion) {
      return { ok: false, reason: 'Conflict' };
    }
    this.#claims.delete(name);
    this.#rv++;
    this.writes++;
    this.#emit({ type: 'deleted', claim: cur });
    return { ok: true };
  }

  // --- ClaimCache (synchronous view) ---

  listSync(): IPAddressClaim[] {
    return [...this.#claims.values()].map((c) => cloneClaim(c));
  }

  /**
   * The synchronous ClaimCache view of this store (a class cannot have both an async and a sync `list`). With
   * `reportsPrevious`, its `modified` events carry `previous` and it says so (as the controller's informer cache does).
   */
  asCache(opts: { readonly reportsPrevious?: boolean } = {}): ClaimCache {
    const claims = this.#claims;
    if (opts.reportsPrevious) this.#withPrevious = true;
    return {
      list: () => this.listSync(),
      get: (ip) => this.#read(ip),
      subscribe: (fn) => this.subscribe(fn),
      ...(opts.reportsPrevious ? { reportsPrevious: true } : {}),
      get size() {
        return claims.size;
      },
    };
  }

  subscribe(fn: (e: ClaimEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  get size(): number {
    return this.#claims.size;
  }

  #read(ip: string): IPAddressClaim | undefined {
    const c = this.#claims.get(claimName(ip));
    return c ? cloneClaim(c) : undefined;
  }

  #emit(e: ClaimEvent): void {
    if (this.#listeners.size === 0) return;
    // One copy for all listeners: they read events, they do not edit them.
    const ev: ClaimEvent = e.previous && this.#withPrevious ? { type: e.type, claim: cloneClaim(e.claim), previous: cloneClaim(e.previous) } : { type: e.type, claim: cloneClaim(e.claim) };
    for (const fn of this.#listeners) fn(ev);
  }
}
