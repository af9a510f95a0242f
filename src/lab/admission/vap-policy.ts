// Reading ValidatingAdmissionPolicies and their bindings (admissionregistration.k8s.io/v1) and deciding
// whether one applies to a request: matchConstraints of the policy and matchResources of the binding
// (k8s.io/apiserver/pkg/admission/plugin/policy/matching): namespaceSelector, objectSelector, resourceRules
// (with resourceNames) and excludeResourceRules. matchPolicy Equivalent is not modelled (one version served).
import type { LabelSelector } from '../../shared/labels.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import type { AdmissionAttributes } from '../rest.ts';
import { namespaceMatches, objectMatches, rulesMatch, type Rule } from './webhook-config.ts';

export interface NamedRule extends Rule {
  resourceNames: string[];
}

export interface MatchResources {
  namespaceSelector: LabelSelector;
  objectSelector: LabelSelector;
  resourceRules: NamedRule[];
  excludeResourceRules: NamedRule[];
}

export interface PolicyValidation {
  expression: string;
  message?: string;
  messageExpression?: string;
  /** Unauthorized, Forbidden, Invalid (default) or RequestEntityTooLarge. */
  reason: string;
}

export interface Policy {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  /** Undefined when the policy has no matchConstraints (it then matches nothing). */
  matchConstraints?: MatchResources;
  matchConditions: Array<{ name: string; expression: string }>;
  variables: Array<{ name: string; expression: string }>;
  validations: PolicyValidation[];
  paramKind: boolean;
}

export interface Binding {
  name: string;
  policyName: string;
  matchResources?: MatchResources;
  validationActions: string[];
  paramRef: boolean;
}

const strs = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
const objs = (x: unknown): Array<Record<string, unknown>> => (Array.isArray(x) ? x.filter(isPlainObject) : []);
const spec = (o: KubeObject): Record<string, unknown> => (isPlainObject(o['spec']) ? o['spec'] : {});

function readRules(x: unknown): NamedRule[] {
  return objs(x).map((r) => ({
    operations: strs(r['operations']),
    apiGroups: strs(r['apiGroups']),
    apiVersions: strs(r['apiVersions']),
    resources: strs(r['resources']),
    resourceNames: strs(r['resourceNames']),
    scope: typeof r['scope'] === 'string' ? r['scope'] : '*',
  }));
}

function readMatch(x: unknown): MatchResources | undefined {
  if (!isPlainObject(x)) return undefined;
  return {
    namespaceSelector: isPlainObject(x['namespaceSelector']) ? (x['namespaceSelector'] as LabelSelector) : {},
    objectSelector: isPlainObject(x['objectSelector']) ? (x['objectSelector'] as LabelSelector) : {},
    resourceRules: readRules(x['resourceRules']),
    excludeResourceRules: readRules(x['excludeResourceRules']),
  };
}

const named = (x: unknown) => objs(x).map((m) => ({ name: String(m['name'] ?? ''), expression: String(m['expression'] ?? '') }));

/** A stored ValidatingAdmissionPolicy with API defaults (failurePolicy Fail, reason Invalid). */
export function readPolicy(o: KubeObject): Policy {
  const s = spec(o);
  const p: Policy = {
    name: o.metadata.name ?? '',
    failurePolicy: s['failurePolicy'] === 'Ignore' ? 'Ignore' : 'Fail',
    matchConditions: named(s['matchConditions']),
    variables: named(s['variables']),
    validations: objs(s['validations']).map((v) => {
      const out: PolicyValidation = { expression: String(v['expression'] ?? ''), reason: typeof v['reason'] === 'string' && v['reason'] ? v['reason'] : 'Invalid' };
      if (typeof v['message'] === 'string') out.message = v['message'];
      if (typeof v['messageExpression'] === 'string') out.messageExpression = v['messageExpression'];
      return out;
    }),
    paramKind: isPlainObject(s['paramKind']),
  };
  const m = readMatch(s['matchConstraints']);
  if (m) p.matchConstraints = m;
  return p;
}

export function readBinding(o: KubeObject): Binding {
  const s = spec(o);
  const b: Binding = {
    name: o.metadata.name ?? '',
    policyName: typeof s['policyName'] === 'string' ? s['policyName'] : '',
    validationActions: strs(s['validationActions']),
    paramRef: isPlainObject(s['paramRef']),
  };
  const m = readMatch(s['matchResources']);
  if (m) b.matchResources = m;
  return b;
}

function ruleMatches(r: NamedRule, a: AdmissionAttributes): boolean {
  if (!rulesMatch([r], a)) return false;
  return r.resourceNames.length === 0 || r.resourceNames.includes(a.name);
}

/**
 * Whether `m` selects the request. A policy's resourceRules must match (none → nothing matches); a binding's
 * empty resourceRules do not constrain (`constrainResources` false).
 */
export function matchResources(
  m: MatchResources,
  a: AdmissionAttributes,
  nsLabels: (ns: string) => Record<string, string> | undefined,
  constrainResources: boolean,
): boolean {
  if (!namespaceMatches(m, a, nsLabels)) return false;
  if (!objectMatches(m, a)) return false;
  if ((constrainResources || m.resourceRules.length > 0) && !m.resourceRules.some((r) => ruleMatches(r, a))) return false;
  return !m.excludeResourceRules.some((r) => ruleMatches(r, a));
}
