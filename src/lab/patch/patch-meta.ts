// Strategic-merge metadata of built-in kinds: which lists merge and by which key (the Go struct tags
// `patchStrategy:"merge" patchMergeKey:"..."` of k8s.io/api). Lists not named here are atomic (replaced).
export interface ListMeta {
  /** Merge key for lists of objects; undefined for merged lists of primitives. */
  mergeKey?: string;
}

const POD_SPEC: Record<string, ListMeta> = {
  containers: { mergeKey: 'name' },
  initContainers: { mergeKey: 'name' },
  ephemeralContainers: { mergeKey: 'name' },
  volumes: { mergeKey: 'name' },
  imagePullSecrets: { mergeKey: 'name' },
  hostAliases: { mergeKey: 'ip' },
  topologySpreadConstraints: { mergeKey: 'topologyKey' },
  schedulingGates: { mergeKey: 'name' },
  resourceClaims: { mergeKey: 'name' },
  'containers.env': { mergeKey: 'name' },
  'containers.ports': { mergeKey: 'containerPort' },
  'containers.volumeMounts': { mergeKey: 'mountPath' },
  'containers.volumeDevices': { mergeKey: 'devicePath' },
  'initContainers.env': { mergeKey: 'name' },
  'initContainers.ports': { mergeKey: 'containerPort' },
  'initContainers.volumeMounts': { mergeKey: 'mountPath' },
};

const COMMON: Record<string, ListMeta> = {
  'metadata.finalizers': {},
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'status.conditions': { mergeKey: 'type' },
};

const POD_SPEC_AT: Record<string, string> = {
  Pod: 'spec',
  Deployment: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  ReplicaSet: 'spec.template.spec',
  Job: 'spec.template.spec',
};

const WEBHOOKS: Record<string, ListMeta> = { webhooks: { mergeKey: 'name' }, 'webhooks.matchConditions': { mergeKey: 'name' } };

const BY_KIND: Record<string, Record<string, ListMeta>> = {
  Service: { 'spec.ports': { mergeKey: 'port' } },
  Node: { 'status.addresses': { mergeKey: 'type' }, 'spec.podCIDRs': {} },
  ServiceAccount: { secrets: { mergeKey: 'name' } },
  MutatingWebhookConfiguration: WEBHOOKS,
  ValidatingWebhookConfiguration: WEBHOOKS,
  ValidatingAdmissionPolicy: { 'spec.matchConditions': { mergeKey: 'name' }, 'spec.variables': { mergeKey: 'name' } },
  ValidatingAdmissionPolicyBinding: { 'spec.matchResources.matchConditions': { mergeKey: 'name' } },
};

/** Merge metadata for the list at a dotted field path (list items do not add a segment), or undefined = atomic. */
export function listMeta(kind: string, path: string): ListMeta | undefined {
  const c = COMMON[path];
  if (c) return c;
  const k = BY_KIND[kind]?.[path];
  if (k) return k;
  const at = POD_SPEC_AT[kind];
  if (at && path.startsWith(`${at}.`)) return POD_SPEC[path.slice(at.length + 1)];
  return undefined;
}
