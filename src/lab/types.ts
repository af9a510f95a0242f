// Shapes the lab works with: loosely typed Kubernetes objects (the lab stores whatever clients send)
// and the description of a served resource.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: JsonObject[];
  managedFields?: JsonObject[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** One served resource (a plural in a group), possibly at several versions. */
export interface ResourceType {
  group: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Served versions, the preferred one first. */
  versions: string[];
  storageVersion: string;
  verbs: string[];
  /** Has a `status` subresource: the main resource ignores status, status writes ignore everything else. */
  statusSubresource: boolean;
  /** Key of the bucket in the store (two views may share one: core and events.k8s.io Events). */
  storeKey: string;
  /** Strategic merge patch allowed (built-in kinds only; CRs answer 415 like kube-apiserver). */
  strategic: boolean;
  /** Name of the CRD serving this resource. */
  crd?: string;
  printerColumns?: Record<string, PrinterColumn[]>;
  /** openAPIV3Schema per served version of a CRD (defaults are applied from it). */
  schemas?: Record<string, unknown>;
  /** metadata.generation is maintained (custom resources and spec-bearing kinds; not Services, ConfigMaps...). */
  generation: boolean;
  /** Object name rule. */
  nameRule: 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label' | 'path-segment';
  /** PUT of a missing object creates it (Endpoints, Events do; most kinds don't). */
  allowCreateOnUpdate: boolean;
  /** PUT without metadata.resourceVersion is refused (custom resources). */
  requireResourceVersionOnUpdate: boolean;
  /** Convert between this view and the stored representation (events.k8s.io/v1 ⇄ core/v1 Event). */
  view?: {
    toStorage(obj: KubeObject): KubeObject;
    fromStorage(obj: KubeObject): KubeObject;
  };
  /** Webhooks are never called for these (webhook configurations themselves). */
  skipAdmission?: boolean;
}
