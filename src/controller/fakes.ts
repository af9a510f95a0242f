// Recording fakes for the controller's seams (unit tests): an in-memory "API server" for Services that applies the
// writes the controller makes (status, annotations) and tells the caches, and a recorder of events.
import type { ServiceLike } from '../config/service.ts';
import type { Cache } from './controller.ts';
import type { EventKind, Recorder, ServiceWriter, WriteResult } from './deps.ts';

type Handler<T> = { add?(o: T): void; update?(o: T, old: T): void; delete?(o: T): void };

/** A Cache over a Map, with change notifications (what an informer provides). */
export class MapCache<T extends { metadata?: { name?: string; namespace?: string } }> implements Cache<T> {
  readonly items = new Map<string, T>();
  readonly #handlers = new Set<Handler<T>>();

  static keyOf(o: { metadata?: { name?: string; namespace?: string } }): string {
    return o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name ?? ''}` : (o.metadata?.name ?? '');
  }

  getByKey(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  on(h: Handler<T>): () => void {
    this.#handlers.add(h);
    return () => this.#handlers.delete(h);
  }

  put(o: T): void {
    const key = MapCache.keyOf(o);
    const old = this.items.get(key);
    this.items.set(key, o);
    for (const h of this.#handlers) {
      if (old) h.update?.(o, old);
      else h.add?.(o);
    }
  }

  remove(key: string): void {
    const old = this.items.get(key);
    if (!old) return;
    this.items.delete(key);
    for (const h of this.#handlers) h.delete?.(old);
  }
}

let uidCounter = 0;

/** A LoadBalancer Service as the API server stores it (uid, clusterIP, defaulted families). */
export function lbService(
  namespace: string,
  name: string,
  opts: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    ports?: number[];
    loadBalancerIP?: string;
    type?: string;
    ingress?: string[];
    dual?: boolean;
    /** With `dual`: the policy (default RequireDualStack). */
    ipFamilyPolicy?: 'PreferDualStack' | 'RequireDualStack';
    lbClass?: string;
  } = {},
): ServiceLike {
  const n = ++uidCounter;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      uid: `uid-${name}-${n}`,
      resourceVersion: String(n),
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.annotations ? { annotations: { ...opts.annotations } } : {}),
    },
    spec: {
      type: opts.type ?? 'LoadBalancer',
      ports: (opts.ports ?? [80]).map((port) => ({ protocol: 'TCP', port })),
      clusterIP: `10.96.0.${n % 250}`,
      clusterIPs: opts.dual ? [`10.96.0.${n % 250}`, `fd00::${n}`] : [`10.96.0.${n % 250}`],
      ipFamilies: opts.dual ? ['IPv4', 'IPv6'] : ['IPv4'],
      ipFamilyPolicy: opts.dual ? (opts.ipFamilyPolicy ?? 'RequireDualStack') : 'SingleStack',
      ...(opts.loadBalancerIP ? { loadBalancerIP: opts.loadBalancerIP } : {}),
      ...(opts.lbClass ? { loadBalancerClass: opts.lbClass } : {}),
    },
    ...(opts.ingress ? { status: { loadBalancer: { ingress: opts.ingress.map((ip) => ({ ip })) } } } : {}),
  };
}

/**
 * Applies the controller's Service writes to a MapCache, as the API server would (new resourceVersion, watch event),
 * and records them as text: `status shop/web 1.2.3.4`, `annotations shop/web {...}`.
 */
export class FakeServiceApi implements ServiceWriter {
  readonly writes: string[] = [];
  readonly cache: MapCache<ServiceLike>;
  /** Keys whose next write fails with this reason. */
  readonly failNext = new Map<string, 'NotFound' | 'Conflict' | 'Error'>();
  #rv = 1_000_000;

  constructor(cache: MapCache<ServiceLike>) {
    this.cache = cache;
  }

  async writeIngress(namespace: string, name: string, ips: readonly string[], rv?: string): Promise<WriteResult> {
    this.writes.push(`status ${namespace}/${name} ${ips.join(',') || '-'}`);
    return this.#apply(namespace, name, rv, (s) => {
      s.status = ips.length > 0 ? { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } : { loadBalancer: {} };
    });
  }

  async writeAnnotations(
    namespace: string,
    name: string,
    changes: Readonly<Record<string, string | null>>,
    rv?: string,
  ): Promise<WriteResult> {
    this.writes.push(`annotations ${namespace}/${name} ${JSON.stringify(changes)}`);
    return this.#apply(namespace, name, rv, (s) => {
      const ann = { ...(s.metadata?.annotations ?? {}) };
      for (const [k, v] of Object.entries(changes)) {
        if (v === null) delete ann[k];
        else ann[k] = v;
      }
      s.metadata = { ...s.metadata, annotations: ann };
    });
  }

  /** The stored Service's identity (the cache is the store here). */
  async current(namespace: string, name: string): Promise<{ uid?: string; resourceVersion?: string } | undefined> {
    const s = this.cache.getByKey(`${namespace}/${name}`);
    return s ? { ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}), ...(s.metadata?.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}) } : undefined;
  }

  #apply(namespace: string, name: string, rv: string | undefined, fn: (s: ServiceLike) => void): WriteResult {
    const key = `${namespace}/${name}`;
    const fail = this.failNext.get(key);
    if (fail) {
      this.failNext.delete(key);
      return { ok: false, reason: fail, message: `injected ${fail}` };
    }
    const cur = this.cache.getByKey(key);
    if (!cur) return { ok: false, reason: 'NotFound', message: `services "${name}" not found` };
    if (rv !== undefined && cur.metadata?.resourceVersion !== undefined && rv !== cur.metadata.resourceVersion) {
      return { ok: false, reason: 'Conflict', message: `the object has been modified (${rv} is not ${cur.metadata.resourceVersion})` };
    }
    const next = structuredClone(cur);
    fn(next);
    const resourceVersion = String(++this.#rv);
    next.metadata = { ...next.metadata, resourceVersion };
    this.cache.put(next);
    return { ok: true, resourceVersion };
  }
}

export class FakeRecorder implements Recorder {
  readonly events: string[] = [];

  record(svc: ServiceLike, type: EventKind, reason: string, message: string): void {
    this.events.push(`${type} ${reason} ${svc.metadata?.namespace}/${svc.metadata?.name}: ${message}`);
  }

  take(): string[] {
    return this.events.splice(0);
  }
}
