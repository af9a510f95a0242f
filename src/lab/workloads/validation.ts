// The validation kube-apiserver applies to the workload kinds the lab runs, limited to what would otherwise leave
// an object the lab's controllers cannot act on (pkg/apis/apps/validation ValidateDeploymentSpec,
// ValidateReplicaSetSpec; pkg/apis/core/validation ValidatePodSpec; pkg/apis/networking/validation
// validateHTTPIngressPath). Messages are kube-apiserver's.
import { FieldErrors, type FieldError } from '../status.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import { deepEqual } from '../patch/deep-equal.ts';
import { labelSelectorReqs } from './selector.ts';
import { matchLabels } from '../selectors.ts';

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (isPlainObject(x) ? x : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** Go's %v of a map[string]string, as field errors print label maps. */
const goMap = (m: Obj): string => `map[string]string{${Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`;

function validateContainers(list: unknown, path: string, errs: FieldError[]): void {
  if (!Array.isArray(list) || list.length === 0) {
    errs.push(FieldErrors.required(path));
    return;
  }
  const names = new Set<string>();
  list.forEach((c, i) => {
    const co = obj(c);
    const p = `${path}[${i}]`;
    const name = co['name'];
    if (typeof name !== 'string' || name === '') errs.push(FieldErrors.required(`${p}.name`));
    else if (names.has(name)) errs.push(FieldErrors.duplicate(`${p}.name`, name));
    else names.add(name);
    if (typeof co['image'] !== 'string' || co['image'] === '') errs.push(FieldErrors.required(`${p}.image`));
    arr(co['ports']).forEach((port, j) => {
      const cp = obj(port)['containerPort'];
      if (typeof cp !== 'number' || !Number.isInteger(cp) || cp < 1 || cp > 65535) errs.push(FieldErrors.invalid(`${p}.ports[${j}].containerPort`, cp ?? 0, 'must be between 1 and 65535, inclusive'));
    });
  });
}

function validateReplicated(kind: 'deployment' | 'replicaset', o: KubeObject, old: KubeObject | undefined, errs: FieldError[]): void {
  const spec = obj(o['spec']);
  const r = spec['replicas'];
  if (r !== undefined && (typeof r !== 'number' || !Number.isInteger(r) || r < 0)) errs.push(FieldErrors.invalid('spec.replicas', r, 'must be greater than or equal to 0'));
  const sel = spec['selector'];
  const reqs = labelSelectorReqs(sel);
  if (sel === undefined || sel === null) errs.push(FieldErrors.required('spec.selector'));
  else if (!reqs) errs.push(FieldErrors.invalid('spec.selector', sel, 'invalid label selector'));
  else if (reqs.length === 0) errs.push(FieldErrors.invalid('spec.selector', sel, `empty selector is invalid for ${kind}`));
  const template = obj(spec['template']);
  const labels = obj(obj(template['metadata'])['labels']) as Record<string, string>;
  if (reqs && reqs.length > 0 && !matchLabels(reqs, labels)) errs.push({ field: 'spec.template.metadata.labels', reason: 'FieldValueInvalid', detail: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\`` });
  validateContainers(obj(template['spec'])['containers'], 'spec.template.spec.containers', errs);
  // apps/v1 selectors are immutable.
  if (old && !deepEqual(obj(old['spec'])['selector'], sel)) errs.push(FieldErrors.invalid('spec.selector', sel ?? null, 'field is immutable'));
}

/**
 * Field errors of a Deployment, ReplicaSet, Pod or Ingress (`old` on update), [] for other store keys.
 * Deployments/ReplicaSets: replicas ≥ 0, a non-empty selector that matches the template labels and does not
 * change, containers with name and image; Pods: containers; Ingresses: every HTTP path has a pathType.
 */
export function validateWorkload(storeKey: string, o: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  switch (storeKey) {
    case 'apps/deployments':
      validateReplicated('deployment', o, old, errs);
      break;
    case 'apps/replicasets':
      validateReplicated('replicaset', o, old, errs);
      break;
    case 'core/pods':
      validateContainers(obj(o['spec'])['containers'], 'spec.containers', errs);
      break;
    case 'networking.k8s.io/ingresses':
      arr(obj(o['spec'])['rules']).forEach((rule, i) => {
        arr(obj(obj(rule)['http'])['paths']).forEach((path, j) => {
          const pt = obj(path)['pathType'];
          const f = `spec.rules[${i}].http.paths[${j}].pathType`;
          if (pt === undefined || pt === null || pt === '') errs.push(FieldErrors.required(f, 'pathType must be specified'));
          else if (!['Exact', 'Prefix', 'ImplementationSpecific'].includes(String(pt))) errs.push(FieldErrors.notSupported(f, pt, ['Exact', 'ImplementationSpecific', 'Prefix']));
        });
      });
      break;
  }
  return errs;
}
