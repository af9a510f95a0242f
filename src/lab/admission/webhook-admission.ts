// The MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins of kube-apiserver, for the lab
// (k8s.io/apiserver/pkg/admission/plugin/webhook/{mutating,validating}/dispatcher.go):
// - configurations sorted by name, webhooks in their order; mutating ones serially with the JSON patch of each
//   applied before the next (then scheme defaults re-run); validating ones also serially here (kube-apiserver
//   runs them in parallel; the first denial wins either way);
// - dry-run requests to webhooks whose sideEffects are not None/NoneOnDryRun are refused;
// - call errors and invalid replies go through failurePolicy; a patch that does not apply is an internal error.
// ValidatingAdmissionPolicies run first in validate() (vap-admission.ts).
// Not implemented (documented): reinvocationPolicy IfNeeded (webhooks are called once), matchPolicy Equivalent
// conversion, auditAnnotations.
import type { Admission, AdmissionAttributes } from '../rest.ts';
import type { Registry } from '../registry.ts';
import type { Store } from '../store.ts';
import { Errors, Failure } from '../status.ts';
import { isPlainObject, type KubeObject } from '../types.ts';
import { applyJsonPatch } from '../patch/json-patch.ts';
import { conditionsMatch, namespaceMatches, objectMatches, readWebhooks, rulesMatch, type Webhook } from './webhook-config.ts';
import { WebhookClient, urlEndpoint, type Endpoint } from './webhook-client.ts';
import { admissionRequest } from './admission-request.ts';
import { PolicyAdmission } from './vap-admission.ts';

export interface WebhookAdmissionDeps {
  store: Store;
  registry: Registry;
  log: (line: string) => void;
  /** Picks the endpoint of a service webhook call: uniform in [0, 1) like Math.random (the default). */
  random?: () => number;
}

type CallOutcome = { kind: 'allowed'; patch?: unknown[]; warnings: string[] } | { kind: 'denied'; failure: Failure; warnings: string[] } | { kind: 'error'; error: string };

export class WebhookAdmission implements Admission {
  private readonly client = new WebhookClient();
  /** ValidatingAdmissionPolicies: after mutating webhooks, before validating webhooks (as kube-apiserver). */
  private readonly policies: PolicyAdmission;
  constructor(private readonly d: WebhookAdmissionDeps) {
    this.policies = new PolicyAdmission({ store: d.store, log: d.log });
  }

  close(): void {
    this.client.close();
  }

  /** Webhooks read from each configuration object; stored objects are immutable, so a changed one is a new key. */
  private readonly read = new WeakMap<KubeObject, Webhook[]>();

  private hooks(phase: Webhook['phase']): Webhook[] {
    const key = phase === 'mutating' ? 'admissionregistration.k8s.io/mutatingwebhookconfigurations' : 'admissionregistration.k8s.io/validatingwebhookconfigurations';
    return this.d.store.list(key).flatMap((c) => {
      let hs = this.read.get(c);
      if (!hs) this.read.set(c, (hs = readWebhooks(c, phase)));
      return hs;
    });
  }

  private nsLabels = (ns: string): Record<string, string> | undefined => this.d.store.get('core/namespaces', undefined, ns)?.metadata.labels;

  private request(a: AdmissionAttributes, object: KubeObject | null): Record<string, unknown> {
    return admissionRequest(a, object);
  }

  /** Which webhooks apply, in call order; a matchCondition error is reported for failurePolicy. */
  private select(phase: Webhook['phase'], a: AdmissionAttributes, object: KubeObject | null): Array<{ hook: Webhook; conditionError?: string }> {
    if (a.type.skipAdmission) return [];
    const hooks = this.hooks(phase).sort((x, y) => (x.configName < y.configName ? -1 : x.configName > y.configName ? 1 : 0));
    const out: Array<{ hook: Webhook; conditionError?: string }> = [];
    for (const h of hooks) {
      if (!rulesMatch(h.rules, a)) continue;
      if (!namespaceMatches(h, a, this.nsLabels)) continue;
      if (!objectMatches(h, { ...a, object })) continue;
      if (h.matchConditions.length) {
        const req = this.request(a, object);
        const m = conditionsMatch(h, req, { ...a, object });
        if (!m.ok) {
          out.push({ hook: h, conditionError: m.error });
          continue;
        }
        if (!m.match) continue;
      }
      out.push({ hook: h });
    }
    return out;
  }

  /**
   * Resolves clientConfig.service through the lab's EndpointSlices (label kubernetes.io/service-name) to one
   * endpoint chosen at random among every ready endpoint of every slice, per call: kube-apiserver sends webhook
   * calls to the Service, which spreads them over its ready endpoints (k8s.io/apiserver/pkg/util/proxy
   * ResolveEndpoint picks a random ready address; kube-proxy picks a random backend). So with 3 webhook replicas
   * each one sees calls, and an endpoint that is listed ready but unreachable fails only the calls sent to it
   * (each such failure goes through failurePolicy). Endpoints with `conditions.ready: false` are never used
   * (`ready` absent means ready); of an endpoint's addresses the first is used, as kube-proxy does. Lab difference:
   * when slices labelled `endpointslice.kubernetes.io/managed-by: berth-lab` exist, only they are used.
   */
  private endpoint(h: Webhook): Endpoint | string {
    if (h.url) return urlEndpoint(h);
    const s = h.service;
    if (!s) return 'webhook has neither a url nor a service';
    const host = `${s.name}.${s.namespace}.svc`;
    const path = `${s.path.startsWith('/') ? s.path : `/${s.path}`}${s.path.includes('?') ? '&' : '?'}timeout=${h.timeoutSeconds}s`;
    const displayUrl = `https://${host}:${s.port}${path}`;
    const svc = this.d.store.get('core/services', s.namespace, s.name);
    if (!svc) return `Post "${displayUrl}": service "${s.name}" not found`;
    const spec = isPlainObject(svc['spec']) ? svc['spec'] : {};
    const ports = (Array.isArray(spec['ports']) ? spec['ports'] : []).filter(isPlainObject);
    const sp = ports.find((p) => p['port'] === s.port);
    if (!sp) return `Post "${displayUrl}": service "${s.name}" has no port ${s.port}`;
    const all = this.d.store.list('discovery.k8s.io/endpointslices', s.namespace).filter((e) => e.metadata.labels?.['kubernetes.io/service-name'] === s.name);
    // The lab's own route (src/cli/lab.ts: the webhook process on 127.0.0.1) wins over slices of lab Pods, which run
    // nothing: after `kubectl apply -k gitops/dev` the webhook Service has a selector matching the Deployment's Pods.
    const lab = all.filter((e) => e.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'berth-lab');
    const slices = lab.length > 0 ? lab : all;
    const candidates: Endpoint[] = [];
    for (const slice of slices) {
      const eps = (Array.isArray(slice['endpoints']) ? slice['endpoints'] : []).filter(isPlainObject);
      const ready = eps.filter((e) => !(isPlainObject(e['conditions']) && e['conditions']['ready'] === false) && Array.isArray(e['addresses']) && e['addresses'].length > 0);
      if (ready.length === 0) continue;
      const slicePorts = (Array.isArray(slice['ports']) ? slice['ports'] : []).filter(isPlainObject);
      const target = sp['targetPort'] ?? sp['port'];
      const port =
        (sp['name'] ? slicePorts.find((p) => p['name'] === sp['name']) : undefined) ??
        slicePorts.find((p) => p['port'] === target || p['port'] === sp['port']) ??
        (slicePorts.length === 1 ? slicePorts[0] : undefined);
      if (!port || typeof port['port'] !== 'number') continue;
      for (const e of ready) candidates.push({ displayUrl, host: String((e['addresses'] as unknown[])[0]), port: port['port'], path, servername: host });
    }
    if (candidates.length > 0) {
      const i = Math.min(candidates.length - 1, Math.floor((this.d.random ?? Math.random)() * candidates.length));
      return candidates[i]!;
    }
    return `Post "${displayUrl}": no endpoints available for service "${s.name}"`;
  }

  private async call(h: Webhook, a: AdmissionAttributes, object: KubeObject | null): Promise<CallOutcome> {
    const ep = this.endpoint(h);
    if (typeof ep === 'string') return { kind: 'error', error: `failed to call webhook: ${ep}` };
    const req = this.request(a, object);
    const res = await this.client.post(h, ep, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req });
    if (!res.ok) return { kind: 'error', error: `failed to call webhook: ${res.error}` };
    const body = res.body;
    const invalid = (why: string): CallOutcome => ({ kind: 'error', error: `received invalid webhook response: ${why}` });
    if (!isPlainObject(body)) return invalid('the response is not a JSON object');
    if (body['apiVersion'] !== 'admission.k8s.io/v1' || body['kind'] !== 'AdmissionReview') {
      return invalid(`expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${String(body['apiVersion'])}, Kind=${String(body['kind'])}`);
    }
    const r = body['response'];
    if (!isPlainObject(r)) return invalid('webhook response was absent');
    if (r['uid'] !== req['uid']) return invalid(`expected response.uid="${String(req['uid'])}", got "${String(r['uid'] ?? '')}"`);
    const warnings = Array.isArray(r['warnings']) ? r['warnings'].filter((w): w is string => typeof w === 'string') : [];
    if (r['allowed'] !== true) {
      const st = isPlainObject(r['status']) ? r['status'] : {};
      let code = typeof st['code'] === 'number' ? st['code'] : 0;
      if (code < 400) code = 400;
      const reason = typeof st['reason'] === 'string' ? st['reason'] : '';
      const msg = typeof st['message'] === 'string' && st['message'] ? st['message'] : '';
      const denied = `admission webhook "${h.name}" denied the request`;
      const message = msg ? `${denied}: ${msg}` : reason ? `${denied}: ${reason}` : `${denied} without explanation`;
      const details = isPlainObject(st['details']) ? (st['details'] as NonNullable<Failure['status']['details']>) : undefined;
      return { kind: 'denied', failure: Errors.custom(code, reason, message, details), warnings };
    }
    const patch = r['patch'];
    const patchType = r['patchType'];
    if (patch !== undefined && patch !== null && patch !== '') {
      if (h.phase === 'validating') return invalid('validating webhook may not return response.patch');
      if (patchType !== 'JSONPatch') return invalid(patchType === undefined ? 'webhook returned response.patch but not response.patchType' : `webhook returned invalid response.patchType of "${String(patchType)}"`);
      if (typeof patch !== 'string') return invalid('response.patch must be base64-encoded bytes');
      let ops: unknown;
      try {
        ops = JSON.parse(Buffer.from(patch, 'base64').toString('utf8'));
      } catch (e) {
        return invalid(`unable to decode the patch: ${(e as Error).message}`);
      }
      if (!Array.isArray(ops)) return invalid('the patch is not a JSON array');
      return { kind: 'allowed', patch: ops, warnings };
    }
    if (patchType !== undefined && patchType !== null && patchType !== '') {
      if (h.phase === 'validating') return invalid('validating webhook may not return response.patchType');
      return invalid('webhook returned response.patchType but not response.patch');
    }
    return { kind: 'allowed', warnings };
  }

  private callError(h: Webhook, reason: string): Failure | undefined {
    const text = `failed calling webhook "${h.name}": ${reason}`;
    if (h.failurePolicy === 'Ignore') {
      this.d.log(`lab: ${text} (failurePolicy Ignore: failing open)`);
      return undefined;
    }
    return Errors.internal(text);
  }

  async mutate(a: AdmissionAttributes, redefault: (o: KubeObject) => void): Promise<{ object: KubeObject | null; warnings: string[] } | Failure> {
    let object = a.object;
    const warnings: string[] = [];
    for (const { hook: h, conditionError } of this.select('mutating', a, object)) {
      if (conditionError) {
        const f = this.callError(h, `failed evaluating match conditions: ${conditionError}`);
        if (f) return withWarnings(f, warnings);
        continue;
      }
      if (a.dryRun && h.sideEffects !== 'None' && h.sideEffects !== 'NoneOnDryRun') {
        return withWarnings(Errors.badRequest(`admission webhook "${h.name}" does not support dry run`), warnings);
      }
      const out = await this.call(h, a, object);
      if (out.kind === 'error') {
        const f = this.callError(h, out.error);
        if (f) return withWarnings(f, warnings);
        continue;
      }
      warnings.push(...out.warnings);
      if (out.kind === 'denied') return withWarnings(out.failure, warnings);
      if (out.patch && out.patch.length > 0) {
        if (!object) return withWarnings(Errors.internal('attempted to modify the object, which is not supported for this operation'), warnings);
        const r = applyJsonPatch(object, out.patch);
        if (!r.ok || !isPlainObject(r.value)) return withWarnings(Errors.internal(r.ok ? 'the patched object is not an object' : r.error), warnings);
        const next = r.value as KubeObject;
        if (!isPlainObject(next.metadata)) next.metadata = {};
        redefault(next);
        object = next;
      }
    }
    return { object, warnings };
  }

  async validate(a: AdmissionAttributes): Promise<{ warnings: string[] } | Failure> {
    const vap = this.policies.validate(a);
    if (vap instanceof Failure) return vap;
    const warnings: string[] = [...vap.warnings];
    for (const { hook: h, conditionError } of this.select('validating', a, a.object)) {
      if (conditionError) {
        const f = this.callError(h, `failed evaluating match conditions: ${conditionError}`);
        if (f) return withWarnings(f, warnings);
        continue;
      }
      if (a.dryRun && h.sideEffects !== 'None' && h.sideEffects !== 'NoneOnDryRun') {
        return withWarnings(Errors.badRequest(`admission webhook "${h.name}" does not support dry run`), warnings);
      }
      const out = await this.call(h, a, a.object);
      if (out.kind === 'error') {
        const f = this.callError(h, out.error);
        if (f) return withWarnings(f, warnings);
        continue;
      }
      warnings.push(...out.warnings);
      if (out.kind === 'denied') return withWarnings(out.failure, warnings);
    }
    return { warnings };
  }
}

function withWarnings(f: Failure, warnings: string[]): Failure {
  if (warnings.length === 0) return f;
  const w = warnings.map((m) => `299 - ${JSON.stringify(m.replace(/[\r\n]+/g, ' '))}`);
  return new Failure(f.status, { ...f.headers, Warning: [...(f.headers['Warning'] ?? []), ...w] });
}
