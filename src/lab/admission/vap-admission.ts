// The ValidatingAdmissionPolicy plugin of kube-apiserver, for the lab
// (k8s.io/apiserver/pkg/admission/plugin/policy/validating: dispatcher.go, validator.go). It runs after the
// mutating webhooks and before the validating webhooks. Per binding whose policy exists: the policy's
// matchConstraints and the binding's matchResources must select the request, then the policy's
// matchConditions, then `variables` (evaluated in order; a failed one is an error only where it is read), then
// every validation. A false validation is a failure with its message (messageExpression first, then message,
// then "failed expression: <expr>") and reason; an evaluation error is a failure under failurePolicy Fail and
// ignored under Ignore. Failures go to the binding's validationActions: Deny (the first denial is returned),
// Warn (a Warning header), Audit (ignored: the lab keeps no audit log).
// Not implemented: paramKind/paramRef (such a policy is an evaluation error, so failurePolicy decides),
// auditAnnotations, `authorizer`, type checking, CEL cost limits.
import type { AdmissionAttributes } from '../rest.ts';
import type { Store } from '../store.ts';
import { Errors, Failure, qualified } from '../status.ts';
import type { KubeObject } from '../types.ts';
import { admissionRequest } from './admission-request.ts';
import { CelErrorValue, evalCel, typeName } from './cel.ts';
import { matchResources, readBinding, readPolicy, type Binding, type Policy, type PolicyValidation } from './vap-policy.ts';

export interface PolicyAdmissionDeps {
  store: Store;
  log: (line: string) => void;
}

/** One failed check of one binding (a validation that was false, or an error under failurePolicy Fail). */
interface Decision {
  message: string;
  reason: string;
}

/** HTTP status for a validation's reason (dispatcher.go reasonToCode). */
const REASON_CODES: Record<string, number> = { Unauthorized: 401, Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

/** kube-apiserver drops evaluated messages above this size (celconfig.MaxEvaluatedMessageExpressionSizeBytes). */
const MAX_MESSAGE_BYTES = 5 * 1024;

export class PolicyAdmission {
  constructor(private readonly d: PolicyAdmissionDeps) {}

  private nsLabels = (ns: string): Record<string, string> | undefined => this.d.store.get('core/namespaces', undefined, ns)?.metadata.labels;

  /** Policies and bindings read from each stored object (stored objects are immutable: a changed one is a new key). */
  private readonly readPolicies = new WeakMap<KubeObject, Policy>();
  private readonly readBindings = new WeakMap<KubeObject, Binding>();

  /** Policy/binding pairs in a stable order (kube-apiserver's order is its informer's; denials are the same). */
  private pairs(): Array<{ policy: Policy; binding: Binding }> {
    const bindings = this.d.store.list('admissionregistration.k8s.io/validatingadmissionpolicybindings');
    if (bindings.length === 0) return [];
    const policies = new Map(this.d.store.list('admissionregistration.k8s.io/validatingadmissionpolicies').map((o) => [o.metadata.name ?? '', o]));
    const out: Array<{ policy: Policy; binding: Binding }> = [];
    for (const bo of bindings) {
      let b = this.readBindings.get(bo);
      if (!b) this.readBindings.set(bo, (b = readBinding(bo)));
      const po = policies.get(b.policyName);
      // "If the referenced resource does not exist, this binding is considered invalid and will be ignored."
      if (!po) continue;
      let p = this.readPolicies.get(po);
      if (!p) this.readPolicies.set(po, (p = readPolicy(po)));
      out.push({ policy: p, binding: b });
    }
    return out.sort((x, y) => cmp(x.policy.name, y.policy.name) || cmp(x.binding.name, y.binding.name));
  }

  validate(a: AdmissionAttributes): { warnings: string[] } | Failure {
    const warnings: string[] = [];
    if (a.type.skipAdmission) return { warnings };
    let denial: { policy: Policy; binding: Binding; decision: Decision } | undefined;
    for (const { policy, binding } of this.pairs()) {
      if (!policy.matchConstraints || !matchResources(policy.matchConstraints, a, this.nsLabels, true)) continue;
      if (binding.matchResources && !matchResources(binding.matchResources, a, this.nsLabels, false)) continue;
      for (const decision of this.evaluate(policy, binding, a)) {
        const actions = new Set(binding.validationActions);
        if (actions.has('Deny')) denial ??= { policy, binding, decision };
        if (actions.has('Warn')) warnings.push(`Validation failed for ValidatingAdmissionPolicy '${policy.name}' with binding '${binding.name}': ${decision.message}`);
      }
    }
    if (!denial) return { warnings };
    const text = `ValidatingAdmissionPolicy '${denial.policy.name}' with binding '${denial.binding.name}' denied request: ${denial.decision.message}`;
    // admission.NewForbidden, then reason and code replaced by the validation's reason (dispatcher.go).
    const r = { group: a.type.group, resource: a.type.plural };
    const reason = denial.decision.reason;
    const details: NonNullable<Failure['status']['details']> = { name: a.name, kind: a.type.plural, causes: [{ message: text }] };
    if (a.type.group) details.group = a.type.group;
    const f = Errors.custom(REASON_CODES[reason] ?? 422, reason, `${qualified(r)} "${a.name}" is forbidden: ${text}`, details);
    return warnings.length ? withWarnings(f, warnings) : f;
  }

  /** The failed checks of one policy through one binding. */
  private evaluate(policy: Policy, binding: Binding, a: AdmissionAttributes): Decision[] {
    const onError = (message: string): Decision[] => {
      if (policy.failurePolicy === 'Ignore') {
        this.d.log(`lab: ValidatingAdmissionPolicy '${policy.name}' with binding '${binding.name}': ${message} (failurePolicy Ignore)`);
        return [];
      }
      return [{ message, reason: 'Invalid' }];
    };
    if (policy.paramKind || binding.paramRef) return onError('paramKind/paramRef are not supported by the lab');
    const namespaceObject: KubeObject | null = a.type.namespaced && a.namespace ? (this.d.store.get('core/namespaces', undefined, a.namespace) ?? null) : null;
    const env: Record<string, unknown> = { object: a.object, oldObject: a.oldObject, request: admissionRequest(a, a.object), params: null, namespaceObject };
    // matchConditions: any false skips the policy; otherwise an error goes through failurePolicy.
    let conditionError: string | undefined;
    for (const c of policy.matchConditions) {
      const r = evalCel(c.expression, env);
      if (r.ok && r.value === false) return [];
      if (!r.ok) conditionError ??= `expression '${c.name}' resulted in error: ${r.error}`;
      else if (r.value !== true) conditionError ??= `expression '${c.name}' resulted in a ${typeName(r.value)}, expected a bool`;
    }
    if (conditionError) return onError(`failed to evaluate match conditions: ${conditionError}`);
    const variables: Record<string, unknown> = {};
    env['variables'] = variables;
    for (const v of policy.variables) {
      const r = evalCel(v.expression, env);
      variables[v.name] = r.ok ? r.value : new CelErrorValue(r.error);
    }
    const out: Decision[] = [];
    for (const v of policy.validations) {
      const r = evalCel(v.expression, env);
      if (!r.ok) out.push(...onError(`expression '${v.expression}' resulted in error: ${r.error}`));
      else if (typeof r.value !== 'boolean') out.push(...onError(`expression '${v.expression}' resulted in a ${typeName(r.value)}, expected a bool`));
      else if (!r.value) out.push({ message: message(v, env), reason: v.reason });
    }
    return out;
  }
}

/** validator.go: a one-line, non-empty messageExpression result, else message, else the expression. */
function message(v: PolicyValidation, env: Record<string, unknown>): string {
  if (v.messageExpression) {
    const r = evalCel(v.messageExpression, env);
    if (r.ok && typeof r.value === 'string') {
      const m = r.value.trim();
      if (m && !m.includes('\n') && Buffer.byteLength(m) <= MAX_MESSAGE_BYTES) return m;
    }
  }
  const m = v.message?.trim();
  return m ? m : `failed expression: ${v.expression.trim()}`;
}

const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

function withWarnings(f: Failure, warnings: string[]): Failure {
  const w = warnings.map((m) => `299 - ${JSON.stringify(m.replace(/[\r\n]+/g, ' '))}`);
  return new Failure(f.status, { ...f.headers, Warning: [...(f.headers['Warning'] ?? []), ...w] });
}
