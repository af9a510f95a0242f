// CustomResourceDefinition rules the lab enforces (apiextensions validation subset) and the status the
// API server maintains (acceptedNames, NamesAccepted/Established conditions, storedVersions).
import { FieldErrors, type FieldError } from './status.ts';
import { isPlainObject, type KubeObject } from './types.ts';

function specOf(crd: KubeObject): Record<string, unknown> {
  return isPlainObject(crd['spec']) ? crd['spec'] : {};
}

export function validateCrd(crd: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const spec = specOf(crd);
  const group = spec['group'];
  const names = isPlainObject(spec['names']) ? spec['names'] : undefined;
  const plural = names?.['plural'];
  if (typeof group !== 'string' || !group) errs.push(FieldErrors.required('spec.group'));
  else if (!group.includes('.')) errs.push(FieldErrors.invalid('spec.group', group, 'should be a domain with at least one dot'));
  if (!names) errs.push(FieldErrors.required('spec.names'));
  else {
    if (typeof plural !== 'string' || !plural) errs.push(FieldErrors.required('spec.names.plural'));
    if (typeof names['kind'] !== 'string' || !names['kind']) errs.push(FieldErrors.required('spec.names.kind'));
    if (typeof names['listKind'] === 'string' && names['listKind'] === names['kind']) {
      errs.push(FieldErrors.invalid('spec.names.listKind', names['listKind'], 'kind and listKind may not be the same'));
    }
  }
  if (typeof group === 'string' && typeof plural === 'string' && crd.metadata.name !== `${plural}.${group}`) {
    errs.push(FieldErrors.invalid('metadata.name', crd.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  }
  const scope = spec['scope'];
  if (scope !== 'Namespaced' && scope !== 'Cluster') errs.push(FieldErrors.notSupported('spec.scope', scope ?? '', ['Cluster', 'Namespaced']));
  const versions = Array.isArray(spec['versions']) ? spec['versions'] : undefined;
  if (!versions || versions.length === 0) errs.push(FieldErrors.required('spec.versions', 'must have exactly one version marked as storage version'));
  else {
    const storage = versions.filter((v) => isPlainObject(v) && v['storage'] === true).length;
    if (storage !== 1) errs.push(FieldErrors.invalid('spec.versions', versions.length, 'must have exactly one version marked as storage version'));
    versions.forEach((v, i) => {
      if (!isPlainObject(v) || typeof v['name'] !== 'string' || !v['name']) errs.push(FieldErrors.required(`spec.versions[${i}].name`));
    });
  }
  if (old) {
    const o = specOf(old);
    if (o['group'] !== spec['group']) errs.push(FieldErrors.invalid('spec.group', spec['group'] ?? '', 'field is immutable'));
    if (isPlainObject(o['names']) && names && o['names']['plural'] !== names['plural']) {
      errs.push(FieldErrors.invalid('spec.names.plural', names['plural'] ?? '', 'field is immutable'));
    }
  }
  return errs;
}

/** The status kube-apiserver's CRD controllers converge to (immediately here). */
export function crdStatus(crd: KubeObject, previous?: unknown): Record<string, unknown> {
  const spec = specOf(crd);
  const names = isPlainObject(spec['names']) ? spec['names'] : {};
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isPlainObject) : [];
  const storage = versions.find((v) => v['storage'] === true)?.['name'];
  const prevStatus = isPlainObject(previous) ? previous : {};
  const prev = Array.isArray(prevStatus['storedVersions']) ? (prevStatus['storedVersions'] as unknown[]) : [];
  const stored = [...new Set([...prev.filter((x): x is string => typeof x === 'string'), ...(typeof storage === 'string' ? [storage] : [])])];
  // Keep the first transition times so an unchanged CRD stays byte-identical (no-op updates stay no-ops).
  const prevConds = Array.isArray(prevStatus['conditions']) ? prevStatus['conditions'].filter(isPlainObject) : [];
  const since = (type: string) => prevConds.find((c) => c['type'] === type)?.['lastTransitionTime'] ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const accepted: Record<string, unknown> = { plural: names['plural'], kind: names['kind'] };
  for (const k of ['singular', 'listKind', 'shortNames', 'categories']) if (names[k] !== undefined) accepted[k] = names[k];
  if (accepted['singular'] === undefined && typeof names['kind'] === 'string') accepted['singular'] = names['kind'].toLowerCase();
  if (accepted['listKind'] === undefined && typeof names['kind'] === 'string') accepted['listKind'] = `${names['kind']}List`;
  return {
    acceptedNames: accepted,
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: since('NamesAccepted'), reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: since('Established'), reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    storedVersions: stored,
  };
}
