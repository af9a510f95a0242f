// Test and bench helpers: AdmissionReview builders and an all-in-memory set of webhook dependencies
// (allocator + MemoryClaimStore + an object list standing for the API server's metallb.io objects).
import { Allocator } from '../allocator/allocator.ts';
import type { KubeObject } from '../api/object.ts';
import { feedAllocator } from '../claims/allocator-sync.ts';
import { MemoryClaimStore, type MemoryClaimStoreOptions } from '../claims/memory-store.ts';
import { validateObjects } from '../config/index.ts';
import type { LabelledName } from '../config/types.ts';
import type { AppDeps } from './app.ts';
import { DEFAULT_POLICY, type AdmissionPolicy } from './policy.ts';
import { KeyLock } from './service-deps.ts';

let uidSeq = 0;

export interface ReviewOptions {
  uid?: string;
  operation?: 'CREATE' | 'UPDATE' | 'DELETE';
  dryRun?: boolean;
  oldObject?: unknown;
  namespace?: string;
}

/** An AdmissionReview request body for `obj` (a Service or a metallb.io object). */
export function reviewFor(obj: KubeObject | Record<string, unknown>, opts: ReviewOptions = {}): Record<string, unknown> {
  const o = obj as KubeObject;
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const op = opts.operation ?? 'CREATE';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? `uid-${++uidSeq}`,
      kind: { group, version, kind: o.kind },
      resource: { group, version, resource: `${o.kind.toLowerCase()}s` },
      name: o.metadata?.name ?? '',
      namespace: opts.namespace ?? o.metadata?.namespace ?? '',
      operation: op,
      userInfo: { username: 'test' },
      object: op === 'DELETE' ? null : obj,
      oldObject: op === 'DELETE' ? obj : (opts.oldObject ?? null),
      dryRun: opts.dryRun ?? false,
    },
  };
}

export interface ServiceOptions {
  ip?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: Array<{ port: number; protocol?: string }>;
  type?: string;
  loadBalancerClass?: string;
  families?: string[];
  ipFamilyPolicy?: string;
}

export function service(namespace: string, name: string, o: ServiceOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
    },
    spec: {
      type: o.type ?? 'LoadBalancer',
      ports: (o.ports ?? [{ port: 80 }]).map((p) => ({ protocol: p.protocol ?? 'TCP', port: p.port })),
      ...(o.ip ? { loadBalancerIP: o.ip } : {}),
      ...(o.loadBalancerClass ? { loadBalancerClass: o.loadBalancerClass } : {}),
      ...(o.families ? { ipFamilies: o.families } : {}),
      ...(o.ipFamilyPolicy ? { ipFamilyPolicy: o.ipFamilyPolicy } : {}),
    },
  };
}

export function ipAddressPool(namespace: string, name: string, addresses: string[], annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { addresses },
  };
}

export interface MemoryWorld {
  readonly deps: AppDeps;
  readonly store: MemoryClaimStore;
  readonly allocator: Allocator;
  /** The metallb.io objects "in the API server"; edit it then call `reload()`. */
  readonly objects: KubeObject[];
  readonly namespaces: LabelledName[];
  reload(): void;
  stop(): void;
}

/** Webhook dependencies over memory: the pools come from `objects` through src/config, as main.ts does. */
export function memoryWorld(opts: {
  namespace?: string;
  objects?: KubeObject[];
  policy?: AdmissionPolicy;
  store?: MemoryClaimStoreOptions;
  lbClass?: string;
  ready?: boolean;
}): MemoryWorld {
  const namespace = opts.namespace ?? 'metallb-system';
  const store = new MemoryClaimStore(opts.store);
  const allocator = new Allocator();
  const objects = [...(opts.objects ?? [])];
  const namespaces: LabelledName[] = [];
  const reload = () => {
    const built = validateObjects(objects, { namespace, namespaces });
    if (built.config) allocator.setPools(built.config.pools);
  };
  reload();
  const off = feedAllocator(allocator, store.asCache());
  const deps: AppDeps = {
    service: {
      allocator,
      store,
      claims: store.asCache(),
      lbClass: opts.lbClass,
      policy: opts.policy ?? DEFAULT_POLICY,
      keyLock: new KeyLock(),
    },
    config: {
      namespace,
      allocator,
      listObjects: async () => objects.map((o) => structuredClone(o)),
      namespaces: async () => namespaces,
    },
    readiness: () => (opts.ready === false ? { ready: false, reasons: ['test says not ready'] } : { ready: true, reasons: [] }),
  };
  return { deps, store, allocator, objects, namespaces, reload, stop: off };
}
