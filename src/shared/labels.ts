// Kubernetes label selectors (metav1.LabelSelector): types, validation, matching and a canonical string form.
// Pure. Shared by the config validator (selectors in CRs) and the allocator (serviceSelectors).

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

/** Returns an error message when the selector cannot be parsed the way Kubernetes would refuse it, else undefined. */
export function selectorError(sel: LabelSelector): string | undefined {
  for (const req of sel.matchExpressions ?? []) {
    if (!req.key) return 'key is required in a match expression';
    switch (req.operator) {
      case 'In':
      case 'NotIn':
        if (!req.values || req.values.length === 0) {
          return `values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty`;
        }
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (req.values && req.values.length > 0) {
          return `values: Invalid value: ${JSON.stringify(req.values)}: values set must be empty for exists and does not exist`;
        }
        break;
      default:
        return `"${String(req.operator)}" is not a valid label selector operator`;
    }
  }
  return undefined;
}

/** True when the labels satisfy the selector. An empty selector matches everything (metav1 semantics). */
export function matchesSelector(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const val = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(val as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(val as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Any of the selectors matches (MetalLB ORs selector lists). An empty list matches nothing. */
export function matchesAny(sels: readonly LabelSelector[], labels: Labels): boolean {
  return sels.some((s) => matchesSelector(s, labels));
}

/** Canonical string of a selector, like metav1.FormatLabelSelector: `a=b,c in (x,y),!d`. */
export function formatSelector(sel: LabelSelector): string {
  const parts: string[] = [];
  for (const k of Object.keys(sel.matchLabels ?? {}).sort()) parts.push(`${k}=${sel.matchLabels![k]}`);
  for (const r of sel.matchExpressions ?? []) {
    const vals = [...(r.values ?? [])].sort().join(',');
    if (r.operator === 'In') parts.push(`${r.key} in (${vals})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${vals})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator} (${vals})`);
  }
  return parts.length ? parts.sort().join(',') : '<none>';
}

/** Canonical `k=v,k2=v2` of a plain label map (the backend key of an ETP=Local Service's selector). */
export function formatLabels(labels: Labels | undefined): string {
  if (!labels) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
