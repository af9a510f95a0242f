// Label selectors and owner references of the workload kinds (metav1.LabelSelector, metav1.OwnerReference).
import type { LabelReq } from '../selectors.ts';
import { isPlainObject, type KubeObject } from '../types.ts';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** The controller ownerReference of `o` (`controller: true`), if any. */
export function controllerRef(o: KubeObject): { kind: string; name: string; uid: string } | undefined {
  for (const r of o.metadata.ownerReferences ?? []) {
    if (r['controller'] === true && typeof r['uid'] === 'string') return { kind: String(r['kind'] ?? ''), name: String(r['name'] ?? ''), uid: r['uid'] };
  }
  return undefined;
}

/** A metav1.LabelSelector as lab label requirements, or undefined when malformed (selects nothing). */
export function labelSelectorReqs(sel: unknown): LabelReq[] | undefined {
  if (!isPlainObject(sel)) return undefined;
  const reqs: LabelReq[] = [];
  for (const [k, v] of Object.entries(obj(sel['matchLabels']))) reqs.push({ key: k, op: '=', value: String(v) });
  for (const e of arr(sel['matchExpressions'])) {
    const x = obj(e);
    const k = String(x['key'] ?? '');
    const values = arr(x['values']).map(String);
    if (x['operator'] === 'In') reqs.push({ key: k, op: 'in', values });
    else if (x['operator'] === 'NotIn') reqs.push({ key: k, op: 'notin', values });
    else if (x['operator'] === 'Exists') reqs.push({ key: k, op: 'exists' });
    else if (x['operator'] === 'DoesNotExist') reqs.push({ key: k, op: '!' });
    else return undefined;
  }
  return reqs;
}
