// List + watch cache for one resource (an informer), with the restart rules client-node's ListWatch lacks:
// - list, then watch from the list's resourceVersion (bookmarks keep it fresh);
// - a watch that ends normally (server timeoutSeconds) is resumed from the last resourceVersion seen;
// - 410 Gone (our resourceVersion fell out of the server's window) → relist and diff against the cache, emitting the
//   adds/updates/deletes that were missed;
// - any other failure → retry with exponential backoff (0.5 s doubling to 30 s, jittered), never give up.
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient, KubeObject } from './client.ts';
import type { KubeError } from './errors.ts';
import { apiVersionOf, type Resource } from './resources.ts';
import type { WatchEvent, WatchHandle } from './transport.ts';

export interface InformerHandler<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T> {
  readonly client: KubeClient;
  readonly resource: Resource;
  /** Only this namespace (namespaced kinds); all namespaces when absent. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * Applied to every object before it is cached (e.g. drop managedFields to save memory). `old` is the cached version
   * of the same object, if any (a transform may share its unchanged strings: the cache's key string is the first
   * version's, and every later version would otherwise bring its own copy).
   */
  readonly transform?: (obj: T, old: T | undefined) => T;
  /** Server-side watch timeout (default 300 s, like client-go's 5-10 min). */
  readonly watchTimeoutSeconds?: number;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly log?: (line: string) => void;
}

export interface InformerStats {
  lists: number;
  watches: number;
  relistsOnGone: number;
  errors: number;
  lastError?: string;
}

export function objectKey(obj: KubeObject): string {
  const m = obj.metadata ?? {};
  // join: one flat string (a template literal keeps a concatenated string over a new `namespace/` string: 64 bytes per
  // cached object instead of ~40; 40,000 in the speaker at 10,000 Services).
  return m.namespace ? [m.namespace, m.name ?? ''].join('/') : (m.name ?? '');
}

/** Removes what berth never reads and what weighs most: managedFields and kubectl's last-applied copy. */
export function slim<T extends KubeObject>(obj: T): T {
  const m = obj.metadata;
  if (!m) return obj;
  if (m.managedFields) delete m.managedFields;
  const ann = m.annotations;
  if (ann && 'kubectl.kubernetes.io/last-applied-configuration' in ann) {
    delete ann['kubectl.kubernetes.io/last-applied-configuration'];
  }
  return obj;
}

/**
 * Whether `obj` differs from `old` (two versions of one object, as an informer's update handler gets them) only in its
 * status and the metadata the API server maintains on every write (resourceVersion, managedFields). A handler that
 * derives configuration from spec, labels or annotations can skip such updates: e.g. the controller's pool status
 * patches (a few per second while Services are created) made the webhook rebuild its allocator and replay every claim
 * each time — O(claims) per Service created (issue 12: webhook CPU per Service 3 ms at 1,000 Services, 10 ms at 10,000).
 */
export function onlyStatusChanged(obj: KubeObject, old: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { status: _status, metadata, ...rest } = o as KubeObject & { status?: unknown };
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata ?? {};
    return { ...rest, metadata: meta };
  };
  return isDeepStrictEqual(strip(obj), strip(old));
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly #o: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  readonly #handlers = new Set<InformerHandler<T>>();
  #rv: string | undefined;
  #running = false;
  #stopped = false;
  #watch: WatchHandle | undefined;
  #wake: (() => void) | undefined;
  #synced = false;
  #resolveSynced!: () => void;
  #loop: Promise<void> | undefined;
  readonly synced: Promise<void>;
  readonly stats: InformerStats = { lists: 0, watches: 0, relistsOnGone: 0, errors: 0 };

  constructor(opts: InformerOptions<T>) {
    this.#o = opts;
    this.synced = new Promise((r) => (this.#resolveSynced = r));
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  get resourceVersion(): string | undefined {
    return this.#rv;
  }

  get size(): number {
    return this.#cache.size;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  getByKey(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  keys(): IterableIterator<string> {
    return this.#cache.keys();
  }

  /** Registers handlers; returns the unsubscribe function. Handlers run synchronously, in registration order. */
  on(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const initial = this.#o.backoff?.initialMs ?? 500;
    const max = this.#o.backoff?.maxMs ?? 30_000;
    let delay = initial;
    let needList = true;
    while (!this.#stopped) {
      if (needList) {
        const listed = await this.#list();
        if (this.#stopped) break;
        if (!listed) {
          await this.#sleep(jitter(delay));
          delay = Math.min(max, delay * 2);
          continue;
        }
        needList = false;
        if (!this.#synced) {
          this.#synced = true;
          this.#resolveSynced();
        } else {
          // After a 410 or an outage: the proof that the cache is the server's again (the diff was emitted above).
          this.#o.log?.(`informer ${this.#o.resource.plural}: relisted at resourceVersion ${this.#rv ?? ''}, ${this.#cache.size} objects`);
        }
      }
      let gone = false;
      let streamError: string | undefined;
      let events = 0;
      const started = Date.now();
      this.stats.watches++;
      const handle = this.#o.client.watch(
        this.#o.resource,
        {
          namespace: this.#o.namespace,
          resourceVersion: this.#rv,
          labelSelector: this.#o.labelSelector,
          fieldSelector: this.#o.fieldSelector,
          timeoutSeconds: this.#o.watchTimeoutSeconds ?? 300,
          allowWatchBookmarks: true,
        },
        (ev) => {
          events++;
          const r = this.#apply(ev);
          if (r === 'gone') gone = true;
          else if (r !== undefined) streamError = r;
          if (r !== undefined) handle.abort();
        },
      );
      this.#watch = handle;
      const end = await handle.done;
      this.#watch = undefined;
      if (this.#stopped) break;
      if (gone || (end.kind === 'error' && end.error.kind === 'Gone')) {
        this.stats.relistsOnGone++;
        this.#o.log?.(`informer ${this.#o.resource.plural}: resourceVersion ${this.#rv ?? ''} expired (410), relisting`);
        needList = true;
        continue;
      }
      if (end.kind === 'error' || streamError !== undefined) {
        this.#failed(end.kind === 'error' ? end.error : undefined, streamError ?? 'watch');
        await this.#sleep(jitter(delay));
        delay = Math.min(max, delay * 2);
        continue;
      }
      // Normal end. A stream that closes at once with nothing in it is a server (or proxy) in trouble: pace the
      // reconnects, but gently (at most 2 s apart) — nothing is wrong with our resourceVersion.
      if (events === 0 && Date.now() - started < 1000) {
        await this.#sleep(jitter(Math.min(delay, 2000)));
        delay = Math.min(2000, delay * 2);
      } else {
        delay = initial;
      }
    }
  }

  /**
   * Lists and replaces the cache; false when the list failed. Each page is prepared (`transform`) as it arrives, so the
   * raw objects of a 10,000-item list never live all at once (only one page of 500 does): the controller's peak RSS
   * at start was the whole raw Service list next to its projection.
   */
  async #list(): Promise<boolean> {
    const prepared: T[] = [];
    const res = await this.#o.client.list<T>(this.#o.resource, {
      namespace: this.#o.namespace,
      labelSelector: this.#o.labelSelector,
      fieldSelector: this.#o.fieldSelector,
      each: (o) => void prepared.push(this.#prepare(o, this.#cache.size > 0 ? this.#cache.get(objectKey(o)) : undefined)),
    });
    if (this.#stopped) return false;
    this.stats.lists++;
    if (!res.ok) {
      this.#failed(res.error, 'list');
      return false;
    }
    this.#replace(prepared);
    this.#rv = res.value.metadata.resourceVersion;
    return true;
  }

  /** Applies one watch event; returns 'gone' on 410, an error text on another ERROR event. */
  #apply(ev: WatchEvent): 'gone' | string | undefined {
    const obj = ev.object as T | undefined;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        if (!obj?.metadata) return undefined;
        const key = objectKey(obj);
        const old = this.#cache.get(key);
        const o = this.#prepare(obj, old);
        this.#cache.set(key, o);
        this.#rv = o.metadata?.resourceVersion ?? this.#rv;
        if (old) {
          if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.#emitUpdate(o, old);
        } else {
          this.#emitAdd(o);
        }
        return undefined;
      }
      case 'DELETED': {
        if (!obj?.metadata) return undefined;
        const key = objectKey(obj);
        const old = this.#cache.get(key);
        this.#cache.delete(key);
        this.#rv = obj.metadata.resourceVersion ?? this.#rv;
        this.#emitDelete(old ?? obj);
        return undefined;
      }
      case 'BOOKMARK':
        this.#rv = obj?.metadata?.resourceVersion ?? this.#rv;
        return undefined;
      case 'ERROR': {
        const st = ev.object as { code?: number; reason?: string; message?: string } | undefined;
        if (st?.code === 410 || st?.reason === 'Expired' || st?.reason === 'Gone') return 'gone';
        return `watch error ${st?.code ?? ''}: ${st?.message ?? 'unknown'}`;
      }
      default:
        return undefined;
    }
  }

  /** A fresh list (prepared objects): diff against the cache so handlers see exactly what changed while we were not watching. */
  #replace(items: readonly T[]): void {
    // The first list (empty cache) can delete nothing: no set of every key is built for it.
    const seen = this.#cache.size > 0 ? new Set<string>() : undefined;
    const adds: T[] = [];
    const updates: Array<[T, T]> = [];
    for (const o of items) {
      const key = objectKey(o);
      seen?.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, o);
      if (!old) adds.push(o);
      else if (old.metadata?.resourceVersion !== o.metadata?.resourceVersion) updates.push([o, old]);
    }
    const deletes: T[] = [];
    if (seen) {
      for (const [key, old] of this.#cache) {
        if (!seen.has(key)) {
          this.#cache.delete(key);
          deletes.push(old);
        }
      }
    }
    for (const o of adds) this.#emitAdd(o);
    for (const [o, old] of updates) this.#emitUpdate(o, old);
    for (const o of deletes) this.#emitDelete(o);
  }

  /** List items carry no apiVersion/kind (the list does): set them, so every cached object is self-describing. */
  #prepare(obj: T, old: T | undefined): T {
    obj.apiVersion ??= apiVersionOf(this.#o.resource);
    obj.kind ??= this.#o.resource.kind;
    return this.#o.transform ? this.#o.transform(obj, old) : obj;
  }

  #failed(err: KubeError | undefined, what: string): void {
    this.stats.errors++;
    this.stats.lastError = err ? `${what}: ${err.message}` : what;
    this.#o.log?.(`informer ${this.#o.resource.plural}: ${this.stats.lastError}; retrying`);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  #emitAdd(o: T): void {
    for (const h of this.#handlers) h.add?.(o);
  }

  #emitUpdate(o: T, old: T): void {
    for (const h of this.#handlers) h.update?.(o, old);
  }

  #emitDelete(o: T): void {
    for (const h of this.#handlers) h.delete?.(o);
  }
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}
