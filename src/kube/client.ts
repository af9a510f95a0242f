// A small generic client over the resource table: get / list / create / replace / patch / delete / watch, each
// answering a KubeResult (API errors are values; see errors.ts).
import type { ObjectMeta } from '../api/object.ts';
import { type KubeResult } from './errors.ts';
import { PatchType, type PatchContentType } from './patch.ts';
import { apiVersionOf, resourcePath, type Resource } from './resources.ts';
import type { Query, Transport, WatchEvent, WatchHandle } from './transport.ts';

// Object metadata is the one shape every layer uses (src/api/object.ts).
export type { ObjectMeta } from '../api/object.ts';

/** Any Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** What can be written: anything with (optional) object metadata. */
export interface Writable {
  metadata?: ObjectMeta;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size (default 500, as kubectl); pages are followed to the end. */
  limit?: number;
}

/** ListOptions plus `each`: a callback that takes every item as its page arrives. */
export interface ListEachOptions<T> extends ListOptions {
  /**
   * Called with each item, page by page, in the server's order. Items handed to it are not kept in the answer's
   * `items` (left empty), so a large list never lives whole in memory: an informer transforms (projects) each page and
   * lets the raw objects go before the next page is read (client-go's reflector pages its lists for the same reason).
   */
  each: (item: T) => void;
}

export interface WatchOptions {
  namespace?: string;
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
}

export interface ClientOptions {
  /** Sent as `fieldManager` on writes. */
  fieldManager?: string;
}

export class KubeClient {
  readonly transport: Transport;
  readonly #fieldManager: string | undefined;

  constructor(transport: Transport, opts: ClientOptions = {}) {
    this.transport = transport;
    this.#fieldManager = opts.fieldManager;
  }

  get<T = KubeObject>(r: Resource, name: string, namespace?: string): Promise<KubeResult<T>> {
    return this.transport.request<T>('GET', resourcePath(r, { namespace, name }));
  }

  /**
   * Lists every page; the answer's resourceVersion is the one to watch from. With `each` (ListEachOptions), items go
   * to that callback page by page and the answer's `items` is empty; an error on a later page (e.g. 410 Gone: the
   * continue token expired) is answered as the error, after `each` saw the earlier pages. The next page is asked for
   * as soon as a page's continue token is known, before its items are handed on: the API server encodes page k+1
   * while this process decodes page k (on the controller's restart at 10,000 Services, the two otherwise took turns).
   */
  async list<T = KubeObject>(r: Resource, opts: ListOptions | ListEachOptions<T> = {}): Promise<KubeResult<ObjectList<T>>> {
    const path = resourcePath(r, { namespace: opts.namespace });
    const items: T[] = [];
    const each = 'each' in opts ? opts.each : (it: T) => void items.push(it);
    const fetchPage = (cont: string | undefined): Promise<KubeResult<ObjectList<T>>> =>
      this.transport.request<ObjectList<T>>('GET', path, {
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit ?? 500, continue: cont } satisfies Query,
      });
    let rv: string | undefined;
    let next: Promise<KubeResult<ObjectList<T>>> | undefined = fetchPage(undefined);
    while (next) {
      const res: KubeResult<ObjectList<T>> = await next;
      if (!res.ok) return res;
      const page: ObjectList<T> = res.value ?? { metadata: {}, items: [] };
      rv = page.metadata?.resourceVersion ?? rv;
      const cont: string | undefined = page.metadata?.continue || undefined;
      next = cont ? fetchPage(cont) : undefined;
      for (const it of page.items ?? []) each(it);
    }
    return { ok: true, value: { metadata: { ...(rv !== undefined ? { resourceVersion: rv } : {}) }, items } };
  }

  create<T extends Writable = KubeObject>(
    r: Resource,
    obj: T,
    opts: { namespace?: string; dryRun?: boolean } = {},
  ): Promise<KubeResult<T>> {
    const namespace = opts.namespace ?? obj.metadata?.namespace;
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
    return this.transport.request<T>('POST', resourcePath(r, { namespace }), {
      body,
      query: this.#writeQuery(opts.dryRun),
    });
  }

  /** PUT: optimistic concurrency when `obj.metadata.resourceVersion` is set (409 Conflict when stale). */
  replace<T extends Writable = KubeObject>(
    r: Resource,
    obj: T,
    opts: { subresource?: string; dryRun?: boolean } = {},
  ): Promise<KubeResult<T>> {
    const name = obj.metadata?.name ?? '';
    const body = { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
    return this.transport.request<T>(
      'PUT',
      resourcePath(r, { namespace: obj.metadata?.namespace, name, subresource: opts.subresource }),
      { body, query: this.#writeQuery(opts.dryRun) },
    );
  }

  patch<T = KubeObject>(
    r: Resource,
    name: string,
    patch: unknown,
    opts: { namespace?: string; subresource?: string; type?: PatchContentType; dryRun?: boolean } = {},
  ): Promise<KubeResult<T>> {
    return this.transport.request<T>('PATCH', resourcePath(r, { namespace: opts.namespace, name, subresource: opts.subresource }), {
      body: patch,
      contentType: opts.type ?? PatchType.merge,
      query: this.#writeQuery(opts.dryRun),
    });
  }

  /** DELETE; with `resourceVersion` the delete is conditional (precondition; 409 Conflict when it changed). */
  delete(
    r: Resource,
    name: string,
    opts: { namespace?: string; resourceVersion?: string; uid?: string; dryRun?: boolean } = {},
  ): Promise<KubeResult<unknown>> {
    const preconditions =
      opts.resourceVersion !== undefined || opts.uid !== undefined
        ? {
            preconditions: {
              ...(opts.resourceVersion !== undefined ? { resourceVersion: opts.resourceVersion } : {}),
              ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
            },
          }
        : {};
    return this.transport.request('DELETE', resourcePath(r, { namespace: opts.namespace, name }), {
      body: { apiVersion: 'v1', kind: 'DeleteOptions', ...preconditions, ...(opts.dryRun ? { dryRun: ['All'] } : {}) },
    });
  }

  watch(r: Resource, opts: WatchOptions, onEvent: (e: WatchEvent) => void): WatchHandle {
    return this.transport.watch(
      resourcePath(r, { namespace: opts.namespace }),
      {
        resourceVersion: opts.resourceVersion,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        timeoutSeconds: opts.timeoutSeconds,
        allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
      },
      onEvent,
    );
  }

  #writeQuery(dryRun?: boolean): Query {
    return { fieldManager: this.#fieldManager, dryRun: dryRun ? 'All' : undefined };
  }
}
