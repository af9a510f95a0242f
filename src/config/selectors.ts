// Label selector checks shared by every CR (MetalLB internal/config/config.go `parseSelectors`,
// `validateDuplicate*`; Kubernetes metav1.LabelSelectorAsSelector for the key/value rules).
import {
  formatSelector,
  matchesAny,
  selectorError,
  type LabelSelector,
  type Labels,
} from '../shared/labels.ts';
import { showValue, type Reporter } from './problem.ts';

const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes' qualified-name rule for label keys (`prefix/name`), as an error message or undefined. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix === '') return `key: Invalid value: ${JSON.stringify(key)}: prefix part must be non-empty`;
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN_RE.test(prefix)) {
      return `key: Invalid value: ${JSON.stringify(key)}: prefix part must be a lowercase RFC 1123 subdomain of at most 253 characters`;
    }
  }
  if (name === '') return `key: Invalid value: ${JSON.stringify(key)}: name part must be non-empty`;
  if (name.length > 63)
    return `key: Invalid value: ${JSON.stringify(key)}: name part must be no more than 63 characters`;
  if (!NAME_RE.test(name)) {
    return `key: Invalid value: ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  }
  return undefined;
}

/** Kubernetes' label value rule: empty, or at most 63 characters of `[-A-Za-z0-9_.]` starting and ending alphanumeric. */
export function labelValueError(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63)
    return `values: Invalid value: ${JSON.stringify(value)}: must be no more than 63 characters`;
  if (!NAME_RE.test(value)) {
    return `values: Invalid value: ${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  }
  return undefined;
}

/** Why a selector cannot be parsed the way the API machinery would refuse it, or undefined. */
export function fullSelectorError(sel: LabelSelector): string | undefined {
  const base = selectorError(sel);
  if (base) return base;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    const e =
      labelKeyError(k) ??
      (typeof v === 'string'
        ? labelValueError(v)
        : `values: Invalid value: ${showValue(v)}: must be a string`);
    if (e) return e;
  }
  for (const r of sel.matchExpressions ?? []) {
    const e = labelKeyError(r.key) ?? (r.values ?? []).map(labelValueError).find((x) => x !== undefined);
    if (e) return e;
  }
  return undefined;
}

/** Canonical text of one match expression, for duplicate messages. */
function formatExpression(r: { key: string; operator: string; values?: string[] }): string {
  return formatSelector({ matchExpressions: [r] });
}

/**
 * Checks a list of selectors (field e.g. `nodeSelectors`): each parses, no duplicate selector, no duplicate
 * expression inside one selector, no duplicate value inside one expression. Returns the valid selectors.
 * `noun` names the selector in the invalid-selector message (`invalid node label selector ...`), `prefix` is the
 * message context (`parsing address pool default: `), `suffix` optional trailing context (` in ip pool default`).
 */
export function checkSelectors(
  sels: readonly LabelSelector[] | undefined,
  field: string,
  path: string,
  noun: string,
  r: Reporter,
  prefix: string,
  suffix = '',
): LabelSelector[] {
  const valid: LabelSelector[] = [];
  const seen = new Set<string>();
  (sels ?? []).forEach((sel, i) => {
    const at = `${path}[${i}]`;
    const err = fullSelectorError(sel);
    if (err) {
      r.add(
        'LB_BAD_SELECTOR',
        at,
        `${prefix}invalid ${noun} label selector ${showValue(sel)}${suffix}: ${err}`,
      );
      return;
    }
    const text = formatSelector(sel);
    if (seen.has(text)) {
      r.add('LB_DUPLICATE_ENTRY', at, `${prefix}duplicate definition of ${field} ${JSON.stringify(text)}`);
      return;
    }
    seen.add(text);
    const exprs = new Set<string>();
    let ok = true;
    (sel.matchExpressions ?? []).forEach((req, j) => {
      const e = formatExpression(req);
      if (exprs.has(e)) {
        r.add(
          'LB_DUPLICATE_ENTRY',
          `${at}.matchExpressions[${j}]`,
          `${prefix}duplicate definition of match expressions ${JSON.stringify(e)} in label selector ${JSON.stringify(text)}`,
        );
        ok = false;
      }
      exprs.add(e);
      const vals = new Set<string>();
      (req.values ?? []).forEach((v, k) => {
        if (vals.has(v)) {
          r.add(
            'LB_DUPLICATE_ENTRY',
            `${at}.matchExpressions[${j}].values[${k}]`,
            `${prefix}duplicate definition of match expression value in label selector ${JSON.stringify(v)}`,
          );
          ok = false;
        }
        vals.add(v);
      });
    });
    if (ok) valid.push(sel);
  });
  return valid;
}

/** Duplicate strings in a list (`duplicate definition of <field> "<x>"`, `what` defaults to the field name). */
export function checkDuplicates(
  list: readonly string[] | undefined,
  path: string,
  r: Reporter,
  prefix: string,
  what: string,
): void {
  const seen = new Set<string>();
  (list ?? []).forEach((x, i) => {
    if (seen.has(x))
      r.add(
        'LB_DUPLICATE_ENTRY',
        `${path}[${i}]`,
        `${prefix}duplicate definition of ${what} ${JSON.stringify(x)}`,
      );
    seen.add(x);
  });
}

/** Names of the labelled things matching any selector; an empty selector list selects all of them. */
export function selectNames(
  sels: readonly LabelSelector[],
  things: ReadonlyArray<{ name: string; labels: Labels }>,
): string[] {
  const names =
    sels.length === 0
      ? things.map((t) => t.name)
      : things.filter((t) => matchesAny(sels, t.labels)).map((t) => t.name);
  return [...new Set(names)].sort();
}

/** The selectors every advertisement kind has (L2 and BGP): pools, nodes and services, each checked as above. */
export function checkAdvertisementSelectors(
  spec: {
    readonly ipAddressPoolSelectors?: readonly LabelSelector[];
    readonly nodeSelectors?: readonly LabelSelector[];
    readonly serviceSelectors?: readonly LabelSelector[];
  },
  r: Reporter,
  prefix: string,
): { poolSels: LabelSelector[]; nodeSels: LabelSelector[]; svcSels: LabelSelector[] } {
  return {
    poolSels: checkSelectors(
      spec.ipAddressPoolSelectors,
      'ipAddressPoolSelectors',
      'spec.ipAddressPoolSelectors',
      'ip address pool',
      r,
      prefix,
    ),
    nodeSels: checkSelectors(spec.nodeSelectors, 'nodeSelectors', 'spec.nodeSelectors', 'node', r, prefix),
    svcSels: checkSelectors(
      spec.serviceSelectors,
      'serviceSelectors',
      'spec.serviceSelectors',
      'service',
      r,
      prefix,
    ),
  };
}
