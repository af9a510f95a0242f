// Reading Mutating/ValidatingWebhookConfigurations and deciding whether a webhook applies to a request:
// rules (k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules), namespaceSelector and objectSelector
// (predicates/namespace, predicates/object), matchConditions (CEL subset, see cel.ts).
import { matchesSelector, type LabelSelector } from '../../shared/labels.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import type { AdmissionAttributes } from '../rest.ts';
import { evalCondition } from './cel.ts';

export interface Rule {
  operations: string[];
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  scope: string;
}

export interface Webhook {
  /** `mutating` or `validating`. */
  phase: 'mutating' | 'validating';
  configName: string;
  name: string;
  url?: string;
  service?: { namespace: string; name: string; path: string; port: number };
  caBundle?: string;
  rules: Rule[];
  failurePolicy: 'Fail' | 'Ignore';
  namespaceSelector: LabelSelector;
  objectSelector: LabelSelector;
  sideEffects: string;
  timeoutSeconds: number;
  matchConditions: Array<{ name: string; expression: string }>;
}

const strs = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

function selector(x: unknown): LabelSelector {
  return isPlainObject(x) ? (x as LabelSelector) : {};
}

/** The webhooks of one configuration object, with API defaults applied (failurePolicy Fail, timeout 10 s, port 443). */
export function readWebhooks(cfg: KubeObject, phase: Webhook['phase']): Webhook[] {
  const list = Array.isArray(cfg['webhooks']) ? cfg['webhooks'] : [];
  const out: Webhook[] = [];
  for (const w of list) {
    if (!isPlainObject(w) || typeof w['name'] !== 'string') continue;
    const cc = isPlainObject(w['clientConfig']) ? w['clientConfig'] : {};
    const svc = isPlainObject(cc['service']) ? cc['service'] : undefined;
    const hook: Webhook = {
      phase,
      configName: cfg.metadata.name ?? '',
      name: w['name'],
      rules: (Array.isArray(w['rules']) ? w['rules'] : []).filter(isPlainObject).map((r) => ({
        operations: strs(r['operations']),
        apiGroups: strs(r['apiGroups']),
        apiVersions: strs(r['apiVersions']),
        resources: strs(r['resources']),
        scope: typeof r['scope'] === 'string' ? r['scope'] : '*',
      })),
      failurePolicy: w['failurePolicy'] === 'Ignore' ? 'Ignore' : 'Fail',
      namespaceSelector: selector(w['namespaceSelector']),
      objectSelector: selector(w['objectSelector']),
      sideEffects: typeof w['sideEffects'] === 'string' ? w['sideEffects'] : 'Unknown',
      timeoutSeconds: typeof w['timeoutSeconds'] === 'number' && w['timeoutSeconds'] > 0 ? Math.min(30, w['timeoutSeconds']) : 10,
      matchConditions: (Array.isArray(w['matchConditions']) ? w['matchConditions'] : [])
        .filter(isPlainObject)
        .map((m) => ({ name: String(m['name'] ?? ''), expression: String(m['expression'] ?? '') })),
    };
    if (typeof cc['url'] === 'string') hook.url = cc['url'];
    if (svc) {
      hook.service = {
        namespace: String(svc['namespace'] ?? ''),
        name: String(svc['name'] ?? ''),
        path: typeof svc['path'] === 'string' ? svc['path'] : '/',
        port: typeof svc['port'] === 'number' ? svc['port'] : 443,
      };
    }
    if (typeof cc['caBundle'] === 'string' && cc['caBundle']) hook.caBundle = cc['caBundle'];
    out.push(hook);
  }
  return out;
}

function resourceMatches(patterns: string[], resource: string, sub: string): boolean {
  const full = sub ? `${resource}/${sub}` : resource;
  return patterns.some((p) => {
    if (p === '*/*') return true;
    if (p === full) return true;
    if (!sub) return p === '*';
    const [pr, ps] = p.split('/');
    return (pr === '*' && ps === sub) || (pr === resource && ps === '*');
  });
}

/** Rule match on operation, group, version, resource/subresource and scope. */
export function rulesMatch(rules: Rule[], a: AdmissionAttributes): boolean {
  const clusterScoped = !a.type.namespaced;
  return rules.some((r) => {
    if (!r.operations.includes('*') && !r.operations.includes(a.operation)) return false;
    if (!r.apiGroups.includes('*') && !r.apiGroups.includes(a.type.group)) return false;
    if (!r.apiVersions.includes('*') && !r.apiVersions.includes(a.version)) return false;
    if (!resourceMatches(r.resources, a.type.plural, a.subresource)) return false;
    if (r.scope === 'Cluster' && !clusterScoped) return false;
    if (r.scope === 'Namespaced' && clusterScoped) return false;
    return true;
  });
}

const isEmptySelector = (s: LabelSelector) => !s.matchLabels && !s.matchExpressions;

/**
 * namespaceSelector: cluster-scoped objects other than Namespaces always match; a Namespace is matched on its
 * own labels; a namespaced object on its namespace's labels.
 */
export function namespaceMatches(h: Pick<Webhook, 'namespaceSelector'>, a: AdmissionAttributes, nsLabels: (ns: string) => Record<string, string> | undefined): boolean {
  if (isEmptySelector(h.namespaceSelector)) return true;
  if (a.type.storeKey === 'core/namespaces') {
    const o = a.object ?? a.oldObject;
    return matchesSelector(h.namespaceSelector, o?.metadata.labels ?? {});
  }
  if (!a.type.namespaced) return true;
  const labels = nsLabels(a.namespace) ?? { 'kubernetes.io/metadata.name': a.namespace };
  return matchesSelector(h.namespaceSelector, labels);
}

/** objectSelector: matches when the new or the old object's labels match. */
export function objectMatches(h: Pick<Webhook, 'objectSelector'>, a: AdmissionAttributes): boolean {
  if (isEmptySelector(h.objectSelector)) return true;
  const objs = [a.object, a.oldObject].filter((o): o is KubeObject => !!o);
  return objs.some((o) => matchesSelector(h.objectSelector, o.metadata.labels ?? {}));
}

/** All conditions true → call; any false → skip; an evaluation error is returned (failurePolicy decides). */
export function conditionsMatch(h: Webhook, request: Record<string, unknown>, a: AdmissionAttributes): { ok: true; match: boolean } | { ok: false; error: string } {
  const vars = { object: a.object, oldObject: a.oldObject, request };
  let firstErr: string | undefined;
  for (const c of h.matchConditions) {
    const r = evalCondition(c.expression, vars);
    if (!r.ok) {
      firstErr ??= `expression '${c.name}' resulted in error: ${r.error}`;
      continue;
    }
    if (!r.value) return { ok: true, match: false };
  }
  if (firstErr) return { ok: false, error: firstErr };
  return { ok: true, match: true };
}
