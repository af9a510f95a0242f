// The generic shape of a Kubernetes object as berth reads it (from YAML, the API server or an AdmissionReview).
// Plain data: no client library types, so every layer (config, webhook, controller, CLI) can use it.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  /** Server-side apply bookkeeping; berth never reads it. */
  managedFields?: unknown[];
}

/** Any object: `spec`/`status` stay `unknown` until a kind's type narrows them. Input from YAML is not trusted: check it. */
export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  /** Other top-level fields (`data`, `type`, ...) of non-CRD kinds. */
  [field: string]: unknown;
}

export type Scope = 'Namespaced' | 'Cluster';

/** Group, version, kind, resource names and scope of one served version of a CRD. */
export interface KindInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** `<group>/<version>`. */
  readonly apiVersion: string;
  /** Resource name in URLs (`ipaddresspools`). */
  readonly plural: string;
  readonly singular: string;
  readonly listKind: string;
  readonly scope: Scope;
}

export function kindInfo(
  group: string,
  version: string,
  kind: string,
  plural: string,
  scope: Scope,
): KindInfo {
  return {
    group,
    version,
    kind,
    apiVersion: `${group}/${version}`,
    plural,
    singular: kind.toLowerCase(),
    listKind: `${kind}List`,
    scope,
  };
}

/** `apiVersion` split into group (`''` for the core group) and version. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** `<Kind>/<name>`: how problems and logs name an object. */
export function objectRef(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${obj.kind}/${obj.metadata?.name ?? ''}`;
}
