// IPAddressClaims in the API server (berth.io/v1alpha1, cluster-scoped `ipaddressclaims`):
//   KubeClaimStore — the ClaimStore the claim step writes through;
//   KubeClaimCache — a list+watch ClaimCache that feeds allocators.
// Both run over either berth's KubeClient (one keep-alive agent; preferred under load) or a client-node 1.4.0
// KubeConfig (CustomObjectsApi + makeInformer; client-node is imported lazily: it costs ~30 MB of heap, and its
// generated clients open a new TLS connection per call). HTTP statuses map to the store's values:
// create 409 → AlreadyExists, update/delete 409 → Conflict, 404 → NotFound; anything else rejects.
import type * as k8s from '@kubernetes/client-node';
import { CLAIM_GROUP, CLAIM_PLURAL, CLAIM_VERSION, claimName, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent, ClaimStore, CreateResult, DeleteResult, UpdateResult } from '../claims/store.ts';
import type { KubeClient, KubeObject } from './client.ts';
import { Informer } from './informer.ts';
import { Resources } from './resources.ts';

const where = { group: CLAIM_GROUP, version: CLAIM_VERSION, plural: CLAIM_PLURAL } as const;

type Res<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

/** The five calls the store needs, whatever client carries them. */
interface ClaimApi {
  list(): Promise<Res<{ items: IPAddressClaim[]; resourceVersion: string }>>;
  get(name: string): Promise<Res<IPAddressClaim>>;
  create(body: IPAddressClaim, dryRun: boolean): Promise<Res<IPAddressClaim>>;
  replace(body: IPAddressClaim): Promise<Res<IPAddressClaim>>;
  delete(name: string, resourceVersion?: string): Promise<Res<unknown>>;
}

export type ClaimSource = KubeClient | k8s.KubeConfig;

function isKubeClient(s: ClaimSource): s is KubeClient {
  return typeof (s as KubeClient).transport === 'object' && typeof (s as KubeClient).replace === 'function';
}

function kubeClientApi(client: KubeClient): ClaimApi {
  const r = Resources.ipAddressClaims;
  const conv = <T>(x: { ok: true; value: unknown } | { ok: false; error: { status: number; message: string } }): Res<T> =>
    x.ok ? { ok: true, value: x.value as T } : { ok: false, status: x.error.status, message: x.error.message };
  return {
    list: async () => {
      const x = await client.list<IPAddressClaim>(r);
      return x.ok
        ? { ok: true, value: { items: x.value.items, resourceVersion: x.value.metadata.resourceVersion ?? '' } }
        : { ok: false, status: x.error.status, message: x.error.message };
    },
    get: async (name) => conv(await client.get(r, name)),
    create: async (body, dryRun) => conv(await client.create(r, body as unknown as KubeObject, { dryRun })),
    replace: async (body) => conv(await client.replace(r, body as unknown as KubeObject)),
    delete: async (name, resourceVersion) =>
      conv(await client.delete(r, name, resourceVersion !== undefined ? { resourceVersion } : {})),
  };
}

function clientNodeApi(kc: k8s.KubeConfig, fieldManager: string): ClaimApi {
  let api: Promise<k8s.CustomObjectsApi> | undefined;
  const getApi = () => (api ??= import('@kubernetes/client-node').then((m) => kc.makeApiClient(m.CustomObjectsApi)));
  const call = async <T>(fn: (a: k8s.CustomObjectsApi) => Promise<unknown>): Promise<Res<T>> => {
    const a = await getApi();
    try {
      return { ok: true, value: (await fn(a)) as T };
    } catch (e) {
      const code = (e as { code?: unknown } | null)?.code;
      if (typeof code === 'number') return { ok: false, status: code, message: (e as Error).message };
      return { ok: false, status: 0, message: e instanceof Error ? e.message : String(e) };
    }
  };
  return {
    list: async () => {
      const x = await call<{ items?: IPAddressClaim[]; metadata?: { resourceVersion?: string } }>((a) =>
        a.listClusterCustomObject({ ...where }),
      );
      return x.ok
        ? { ok: true, value: { items: x.value.items ?? [], resourceVersion: x.value.metadata?.resourceVersion ?? '' } }
        : x;
    },
    get: (name) => call((a) => a.getClusterCustomObject({ ...where, name })),
    create: (body, dryRun) =>
      call((a) => a.createClusterCustomObject({ ...where, body, fieldManager, ...(dryRun ? { dryRun: 'All' } : {}) })),
    replace: (body) => call((a) => a.replaceClusterCustomObject({ ...where, name: body.metadata.name, body, fieldManager })),
    delete: (name, resourceVersion) =>
      call((a) =>
        a.deleteClusterCustomObject({
          ...where,
          name,
          ...(resourceVersion !== undefined ? { body: { preconditions: { resourceVersion } } } : {}),
        }),
      ),
  };
}

function unexpected(op: string, what: string, r: { status: number; message: string }): Error {
  return new Error(`${op} ipaddressclaim ${what}: ${r.status ? `HTTP ${r.status}: ` : ''}${r.message}`);
}

export class KubeClaimStore implements ClaimStore {
  readonly #api: ClaimApi;

  constructor(source: ClaimSource, opts: { readonly fieldManager?: string } = {}) {
    this.#api = isKubeClient(source) ? kubeClientApi(source) : clientNodeApi(source, opts.fieldManager ?? 'berth');
  }

  async list(): Promise<IPAddressClaim[]> {
    const r = await this.#api.list();
    if (!r.ok) throw unexpected('list', '', r);
    return r.value.items;
  }

  async get(ip: string): Promise<IPAddressClaim | undefined> {
    const name = claimName(ip);
    const r = await this.#api.get(name);
    if (r.ok) return r.value;
    if (r.status === 404) return undefined;
    throw unexpected('get', name, r);
  }

  async create(claim: IPAddressClaim, opts: { readonly dryRun?: boolean } = {}): Promise<CreateResult> {
    const r = await this.#api.create(claim, opts.dryRun ?? false);
    if (r.ok) return { ok: true, claim: r.value };
    if (r.status === 409) return { ok: false, reason: 'AlreadyExists' };
    throw unexpected('create', claim.metadata.name, r);
  }

  async update(claim: IPAddressClaim): Promise<UpdateResult> {
    if (!claim.metadata.resourceVersion) {
      throw new Error(`KubeClaimStore.update: claim ${claim.metadata.name} has no metadata.resourceVersion`);
    }
    const r = await this.#api.replace(claim);
    if (r.ok) return { ok: true, claim: r.value };
    if (r.status === 409) return { ok: false, reason: 'Conflict' };
    if (r.status === 404) return { ok: false, reason: 'NotFound' };
    throw unexpected('update', claim.metadata.name, r);
  }

  async delete(ip: string, opts: { readonly resourceVersion?: string } = {}): Promise<DeleteResult> {
    const name = claimName(ip);
    const r = await this.#api.delete(name, opts.resourceVersion);
    if (r.ok) return { ok: true };
    if (r.status === 409) return { ok: false, reason: 'Conflict' };
    if (r.status === 404) return { ok: false, reason: 'NotFound' };
    throw unexpected('delete', name, r);
  }
}

export interface KubeClaimCacheOptions {
  /** Delay before re-listing after a failed list or watch (default 1 s). */
  readonly retryMs?: number;
  readonly onError?: (message: string) => void;
}

/**
 * List + watch cache of claims. Over a KubeClient: berth's Informer (src/kube/informer.ts). Over a KubeConfig:
 * client-node's informer (it relists on 410 by itself; restarted here on other errors, which it does not do).
 */
export class KubeClaimCache implements ClaimCache {
  readonly #source: ClaimSource;
  readonly #opts: KubeClaimCacheOptions;
  readonly #claims = new Map<string, IPAddressClaim>();
  readonly #listeners = new Set<(e: ClaimEvent) => void>();
  #stopped = false;
  #synced = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort: (() => void) | undefined;

  constructor(source: ClaimSource, opts: KubeClaimCacheOptions = {}) {
    this.#source = source;
    this.#opts = opts;
  }

  /** Lists, starts watching, and resolves once the cache holds the full list (synced). */
  async start(): Promise<void> {
    this.#stopped = false;
    if (isKubeClient(this.#source)) await this.#startKubeClient(this.#source);
    else await this.#startClientNode(this.#source);
    this.#synced = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort?.();
  }

  get synced(): boolean {
    return this.#synced;
  }

  list(): IPAddressClaim[] {
    return [...this.#claims.values()];
  }

  get(ip: string): IPAddressClaim | undefined {
    return this.#claims.get(claimName(ip));
  }

  subscribe(fn: (e: ClaimEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #apply(type: ClaimEvent['type'], claim: IPAddressClaim): void {
    const name = claim.metadata?.name;
    if (!name) return;
    if (type === 'deleted') {
      if (!this.#claims.delete(name)) return;
    } else {
      const cur = this.#claims.get(name);
      if (cur && cur.metadata.resourceVersion === claim.metadata.resourceVersion) return;
      this.#claims.set(name, claim);
      type = cur ? 'modified' : 'added';
    }
    for (const fn of this.#listeners) fn({ type, claim });
  }

  #retry(fn: () => void): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(fn, this.#opts.retryMs ?? 1000);
    this.#timer.unref?.();
  }

  async #startKubeClient(client: KubeClient): Promise<void> {
    // berth's informer: resumes watches, relists on 410 Gone (emitting what was missed), retries with backoff.
    const inf = new Informer<KubeObject>({
      client,
      resource: Resources.ipAddressClaims,
      backoff: { initialMs: this.#opts.retryMs ?? 500 },
      ...(this.#opts.onError ? { log: this.#opts.onError } : {}),
    });
    inf.on({
      add: (o) => this.#apply('added', o as unknown as IPAddressClaim),
      update: (o) => this.#apply('modified', o as unknown as IPAddressClaim),
      delete: (o) => this.#apply('deleted', o as unknown as IPAddressClaim),
    });
    this.#abort = () => void inf.stop();
    inf.start();
    await inf.synced;
  }

  async #startClientNode(kc: k8s.KubeConfig): Promise<void> {
    const m = await import('@kubernetes/client-node');
    const api = kc.makeApiClient(m.CustomObjectsApi);
    // Custom objects arrive as plain JSON (timestamps stay strings), hence the casts from KubernetesObject.
    const inf = m.makeInformer<k8s.KubernetesObject>(
      kc,
      `/apis/${CLAIM_GROUP}/${CLAIM_VERSION}/${CLAIM_PLURAL}`,
      () => api.listClusterCustomObject({ ...where }) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
    );
    inf.on('add', (c) => this.#apply('added', c as unknown as IPAddressClaim));
    inf.on('update', (c) => this.#apply('modified', c as unknown as IPAddressClaim));
    inf.on('delete', (c) => this.#apply('deleted', c as unknown as IPAddressClaim));
    inf.on('error', (e) => {
      this.#opts.onError?.(e instanceof Error ? e.message : String(e));
      this.#retry(() => void inf.start().catch(() => undefined));
    });
    this.#abort = () => void inf.stop();
    await inf.start();
  }
}
