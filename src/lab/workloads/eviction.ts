// The `pods/eviction` subresource (policy/v1 Eviction), what `kubectl drain` POSTs for each Pod of a Node
// (k8s.io/kubernetes pkg/registry/core/pod/storage/eviction.go): the Pod is deleted unless a
// PodDisruptionBudget selecting it would be violated, then the answer is 429 and kubectl retries.
// The lab has no disruption controller: a budget's allowed disruptions are computed here, at eviction time,
// from the Pods it selects (expected = its Pods not yet terminated; healthy = Running, Ready, not deleting).
import type { Reply, Rest, Target } from '../rest.ts';
import { Errors, isFailure, type Failure } from '../status.ts';
import { matchLabels } from '../selectors.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import type { Registry } from '../registry.ts';
import { podReady } from './endpoints.ts';
import { labelSelectorReqs } from './selector.ts';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});

/** Is `subresource` the eviction subresource of this store bucket (only Pods have one)? */
export function hasEviction(storeKey: string, subresource: string): boolean {
  return storeKey === 'core/pods' && subresource === 'eviction';
}

/** The discovery entry of `pods/eviction` (kubectl drain looks it up to choose eviction over DELETE). */
export const EVICTION_DISCOVERY = { name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] };

const phaseOf = (p: KubeObject): string => String(obj(p['status'])['phase'] ?? '');
const terminated = (p: KubeObject): boolean => phaseOf(p) === 'Succeeded' || phaseOf(p) === 'Failed';
const healthy = (p: KubeObject): boolean => !p.metadata.deletionTimestamp && phaseOf(p) === 'Running' && podReady(p);

/**
 * An int-or-percent budget field scaled to `total` Pods, rounding up (intstr.GetScaledValueFromIntOrPercent,
 * roundUp=true), or an error naming the value and the rule.
 */
function scaled(v: unknown, total: number, field: string): number | string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) return Math.ceil((total * Number(v.slice(0, -1))) / 100);
  return `${field}: ${JSON.stringify(v)} is not a non-negative integer or a percentage like "50%"`;
}

/** How a budget stands for the Pods it selects: the healthy Pods it needs and has. */
export function budgetState(pdb: KubeObject, selected: KubeObject[]): { desiredHealthy: number; currentHealthy: number } | string {
  const spec = obj(pdb['spec']);
  const expected = selected.filter((p) => !terminated(p)).length;
  const currentHealthy = selected.filter(healthy).length;
  let desiredHealthy: number;
  if (spec['minAvailable'] !== undefined) {
    const n = scaled(spec['minAvailable'], expected, 'spec.minAvailable');
    if (typeof n === 'string') return n;
    desiredHealthy = n;
  } else if (spec['maxUnavailable'] !== undefined) {
    const n = scaled(spec['maxUnavailable'], expected, 'spec.maxUnavailable');
    if (typeof n === 'string') return n;
    desiredHealthy = Math.max(0, expected - n);
  } else desiredHealthy = 0;
  return { desiredHealthy, currentHealthy };
}

/**
 * Serves POST `pods/<name>/eviction`. `body` is the decoded Eviction (JSON or protobuf); its
 * `deleteOptions` (preconditions, dryRun) apply to the Pod's deletion. Answers 201 with a Success Status,
 * 400 for a body that is not an Eviction of this Pod, 404 for a missing Pod, 429 when a
 * PodDisruptionBudget would be violated, 500 when more than one budget selects the Pod (as kube-apiserver).
 */
export async function serveEviction(rest: Rest, registry: Registry, t: Target, body: unknown, opts: { dryRun: boolean }): Promise<Reply | Failure> {
  if (!isPlainObject(body)) return Errors.badRequest('the eviction request body must be a policy/v1 Eviction object');
  const kind = body['kind'];
  if (kind !== undefined && kind !== 'Eviction') return Errors.badRequest(`the eviction request body is a ${String(kind)}, not a policy/v1 Eviction`);
  const meta = obj(body['metadata']);
  if (meta['name'] !== undefined && meta['name'] !== t.name) return Errors.badRequest(`name in URL does not match name in Eviction object: "${t.name}" vs "${String(meta['name'])}"`);
  const del = obj(body['deleteOptions']);
  const pre = obj(del['preconditions']);
  const preconditions: { uid?: string; resourceVersion?: string } = {};
  if (typeof pre['uid'] === 'string' && pre['uid']) preconditions.uid = pre['uid'];
  if (typeof pre['resourceVersion'] === 'string' && pre['resourceVersion']) preconditions.resourceVersion = pre['resourceVersion'];
  const dryRun = opts.dryRun || (Array.isArray(del['dryRun']) && del['dryRun'].includes('All'));

  const got = rest.get(t);
  if (isFailure(got)) return got;
  const pod = got.body as KubeObject;
  const deleteIt = async (): Promise<Reply | Failure> => {
    if (pod.metadata.deletionTimestamp) return success();
    const r = await rest.delete({ ...t, subresource: '' }, { dryRun, ...(Object.keys(preconditions).length ? { preconditions } : {}) });
    return isFailure(r) ? r : { ...success(), warnings: r.warnings };
  };
  // Terminated or not yet running Pods disrupt nothing: evicted without looking at budgets (eviction.go canIgnorePDB).
  if (pod.metadata.deletionTimestamp || terminated(pod) || phaseOf(pod) === 'Pending' || phaseOf(pod) === '') return deleteIt();

  const pdbType = registry.resolve('policy', 'v1', 'poddisruptionbudgets');
  const podType = t.type;
  const labels = pod.metadata.labels ?? {};
  const budgets = pdbType
    ? rest.list(pdbType, 'v1', { namespace: t.namespace, labels: [], fields: [] }).items.filter((b) => {
        const sel = obj(b['spec'])['selector'];
        if (!isPlainObject(sel)) return false; // policy/v1: a nil selector selects nothing, an empty one every Pod
        const reqs = labelSelectorReqs(sel);
        return reqs !== undefined && matchLabels(reqs, labels);
      })
    : [];
  if (budgets.length > 1) return Errors.internal('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  const pdb = budgets[0];
  if (!pdb) return deleteIt();
  const reqs = labelSelectorReqs(obj(pdb['spec'])['selector']) ?? [];
  const selected = rest.list(podType, t.version, { namespace: t.namespace, labels: [], fields: [] }).items.filter((p) => matchLabels(reqs, p.metadata.labels ?? {}));
  const state = budgetState(pdb, selected);
  if (typeof state === 'string') return Errors.internal(`PodDisruptionBudget ${t.namespace}/${pdb.metadata.name}: ${state}`);
  // An unready Pod may go while the budget is met (unhealthyPodEvictionPolicy IfHealthyBudget); a healthy one
  // only when one disruption is left. AlwaysAllow lets unready Pods go regardless.
  const alwaysAllow = obj(pdb['spec'])['unhealthyPodEvictionPolicy'] === 'AlwaysAllow';
  const allowed = healthy(pod) ? state.currentHealthy - state.desiredHealthy > 0 : alwaysAllow || state.currentHealthy >= state.desiredHealthy;
  if (!allowed) {
    return Errors.custom(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
      causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb.metadata.name} needs ${state.desiredHealthy} healthy pods and has ${state.currentHealthy} currently` }],
    });
  }
  return deleteIt();
}

const success = (): Reply => ({ code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, warnings: [] });
