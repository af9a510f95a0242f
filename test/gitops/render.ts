// Rendering and checking gitops/ for the tests of test/gitops: `kubectl kustomize` (the real one, as Argo CD and
// `kubectl apply -k` run it), the official schemas of every rendered object (kubernetes-models for Kubernetes kinds,
// @kubernetes-models/argo-cd, @kubernetes-models/prometheus-operator; berth's CRs against the openAPIV3Schema of the
// CRDs rendered with them), and Argo CD's sync order (phase, wave, kind, name: gitops-engine's sync task sort).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { findKubectl } from '../../src/lab/testing.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A rendered object: the shape every Kubernetes object shares, the rest left open. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export type Rendered =
  { ok: true; text: string; objects: K8sObject[] } | { ok: false; skip?: string; message: string };

/**
 * `kubectl kustomize DIR` (DIR relative to the repository or absolute). `{ok: false, skip}` when no kubectl is
 * installed (the caller skips with that reason); `{ok: false, message}` when kustomize fails (its stderr).
 */
export function kustomize(dir: string): Rendered {
  const kubectl = findKubectl();
  if (!kubectl)
    return { ok: false, skip: 'kubectl not found (bash scripts/fetch-kubectl.sh installs one)', message: '' };
  const r = spawnSync(kubectl, ['kustomize', dir], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) return { ok: false, message: `kubectl kustomize ${dir}: ${r.error.message}` };
  if (r.status !== 0)
    return { ok: false, message: `kubectl kustomize ${dir} exited ${r.status}: ${r.stderr}` };
  return { ok: true, text: r.stdout, objects: parseObjects(r.stdout) };
}

/** Every non-empty YAML document of `text`. Throws on a YAML error. */
export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length > 0) throw new Error(`YAML: ${d.errors[0]!.message}`);
    const o = d.toJS() as K8sObject | null;
    if (o) out.push(o);
  }
  return out;
}

export function idOf(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The package module that holds the model of `apiVersion`/`kind`, or undefined for kinds no package models. */
function modelSpecifier(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z0-9]+$/.test(kind)) return undefined;
  const group = groupOf(apiVersion);
  if (group === 'argoproj.io') return `@kubernetes-models/argo-cd/${apiVersion}/${kind}`;
  if (group === 'monitoring.coreos.com')
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  if (group === '' || group.endsWith('.k8s.io') || !group.includes('.'))
    return `kubernetes-models/${apiVersion}/${kind}`;
  return undefined;
}

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  const spec = modelSpecifier(apiVersion, kind);
  if (!spec) return undefined;
  try {
    const mod = (await import(spec)) as Record<string, unknown>;
    const cls = mod[kind];
    return typeof cls === 'function' ? (cls as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks each object against its official schema. Kubernetes, Argo CD and Prometheus Operator kinds: the
 * kubernetes-models packages (their JSON schemas are generated from the upstream OpenAPI/CRDs; unknown fields are
 * not rejected by them). Custom resources whose CRD is among `objects` (metallb.io, berth.io): that CRD's
 * openAPIV3Schema for the served version, with ajv. Any other kind is an error ("no schema"), so a new kind cannot slip
 * through unchecked. Returns one message per problem: `Kind/ns/name: <schema error>`.
 */
export async function schemaProblems(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  const crdSchemas = new Map<string, object>();
  for (const o of objects) {
    if (o.kind !== 'CustomResourceDefinition') continue;
    const spec = o['spec'] as {
      group: string;
      names: { kind: string };
      versions: Array<{ name: string; schema?: { openAPIV3Schema?: object } }>;
    };
    for (const v of spec.versions) {
      if (v.schema?.openAPIV3Schema)
        crdSchemas.set(`${spec.group}/${v.name}|${spec.names.kind}`, v.schema.openAPIV3Schema);
    }
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const o of objects) {
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !o.metadata?.name) {
      problems.push(`${JSON.stringify(o).slice(0, 80)}: no apiVersion, kind or metadata.name`);
      continue;
    }
    const crd = crdSchemas.get(`${o.apiVersion}|${o.kind}`);
    if (crd) {
      const validate = ajv.compile(crd);
      if (!validate(o)) {
        problems.push(
          `${idOf(o)}: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ')}`,
        );
      }
      continue;
    }
    const model = await loadModel(o.apiVersion, o.kind);
    if (!model) {
      problems.push(`${idOf(o)}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new model(o).validate();
    } catch (e) {
      problems.push(`${idOf(o)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return problems;
}

/**
 * gitops-engine's kindOrder (pkg/sync/sync_tasks.go, syncTasks.Less): kinds not listed (webhook configurations,
 * custom resources) all rank after these, and ties are broken by name only, not by kind.
 */
const KIND_ORDER = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'IngressClass',
  'Ingress',
  'APIService',
];

/** The object's `argocd.argoproj.io/sync-wave` (0 when unset, as Argo CD); NaN when set but not an integer. */
export function waveOf(o: K8sObject): number {
  const w = o.metadata.annotations?.['argocd.argoproj.io/sync-wave'];
  if (w === undefined) return 0;
  return /^-?\d+$/.test(w) ? Number(w) : NaN;
}

/** Objects grouped by wave, each wave in Argo CD's apply order (kind order, then name). Sync phase only (no hooks). */
export function argoWaves(objects: readonly K8sObject[]): Array<{ wave: number; objects: K8sObject[] }> {
  const rank = (k: string): number => {
    const i = KIND_ORDER.indexOf(k);
    return i < 0 ? KIND_ORDER.length : i;
  };
  const sorted = [...objects].sort(
    (a, b) =>
      waveOf(a) - waveOf(b) ||
      rank(a.kind) - rank(b.kind) ||
      (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
  );
  const waves: Array<{ wave: number; objects: K8sObject[] }> = [];
  for (const o of sorted) {
    const w = waveOf(o);
    if (waves.at(-1)?.wave !== w) waves.push({ wave: w, objects: [] });
    waves.at(-1)!.objects.push(o);
  }
  return waves;
}
