// The REST semantics of kube-apiserver's generic registry (staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go)
// for the lab: create / get / list / update / patch / delete with system fields, optimistic concurrency, status
// subresources, dry run, finalizers and the admission chain in kube-apiserver's order.
import { randomUUID } from 'node:crypto';
import { Errors, FieldErrors, Failure, invalidFrom, isFailure, type FieldError } from './status.ts';
import { generateNameSuffix, labelValueProblems, nameProblems, qualifiedNameProblems } from './names.ts';
import { isPlainObject, type KubeObject, type ResourceType } from './types.ts';
import { foldSecretStringData } from './secret.ts';
import type { Registry } from './registry.ts';
import type { Store } from './store.ts';
import { matchFields, matchLabels, type FieldReq, type LabelReq } from './selectors.ts';
import { encodeContinue, expiredContinue, type ContinueToken } from './paging.ts';
import { mergePatch } from './patch/merge-patch.ts';
import { applyJsonPatch } from './patch/json-patch.ts';
import { strategicMergePatch } from './patch/strategic-merge.ts';
import { applyPatch } from './patch/apply-patch.ts';
import { deepEqual } from './patch/deep-equal.ts';
import {
  Txn,
  allocateServiceUpdate,
  defaultService,
  prepareServiceCreate,
  prepareServiceStatusUpdate,
  prepareServiceUpdate,
  releaseServiceAllocations,
  validateService,
  validateServiceStatus,
  validateServiceUpdate,
  type ServiceIpam,
} from './service/service-strategy.ts';
import { crdStatus, validateCrd } from './crd-strategy.ts';
import { applySchemaDefaults } from './defaults.ts';
import { defaultWorkload } from './workloads/defaults.ts';
import { validateWorkload } from './workloads/validation.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** What admission sees of one request (k8s.io/apiserver/pkg/admission.Attributes). */
export interface AdmissionAttributes {
  type: ResourceType;
  version: string;
  subresource: string;
  operation: Operation;
  namespace: string;
  name: string;
  object: KubeObject | null;
  oldObject: KubeObject | null;
  dryRun: boolean;
  options: Record<string, unknown>;
}

export interface Admission {
  /** Runs mutating webhooks; returns the (possibly patched) object and warnings, or a Failure. */
  mutate(attrs: AdmissionAttributes, redefault: (o: KubeObject) => void): Promise<{ object: KubeObject | null; warnings: string[] } | Failure>;
  validate(attrs: AdmissionAttributes): Promise<{ warnings: string[] } | Failure>;
}

export interface Target {
  type: ResourceType;
  version: string;
  namespace: string;
  name: string;
  subresource: string;
}

export interface Reply {
  code: number;
  body: unknown;
  warnings: string[];
}

export interface ListQuery {
  namespace: string;
  labels: LabelReq[];
  fields: FieldReq[];
}

const nowIso = (now: () => Date) => now().toISOString().replace(/\.\d{3}Z$/, 'Z');

const STATUS_WIPED_ON_CREATE = new Set(['core/services', 'apps/deployments', 'apps/replicasets', 'networking.k8s.io/ingresses', 'apps/daemonsets', 'policy/poddisruptionbudgets', 'apiextensions.k8s.io/customresourcedefinitions', 'admissionregistration.k8s.io/validatingadmissionpolicies']);

/** Hooks the server installs (CRD registration, namespace cascade) run after a committed write. */
export interface RestHooks {
  afterWrite?(type: ResourceType, obj: KubeObject, old: KubeObject | undefined): void;
  afterDelete?(type: ResourceType, obj: KubeObject): void;
  /** Runs `fn` later (namespace termination); without it that work happens at once. */
  schedule?(fn: () => void, ms: number): void;
}

/** How long a deleted namespace stays Terminating before its contents go (kubectl deletes after it still work). */
export const NAMESPACE_FINALIZE_DELAY_MS = 300;

export class Rest {
  constructor(
    private readonly registry: Registry,
    private readonly store: Store,
    private readonly ipam: ServiceIpam,
    private readonly admission: Admission,
    private readonly hooks: RestHooks = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  // ---------- representation ----------

  /** The stored object as seen at `version` of `type` (apiVersion rewrite; events.k8s.io view). */
  present(type: ResourceType, version: string, obj: KubeObject): KubeObject {
    if (type.view) return type.view.fromStorage(obj);
    const av = type.group ? `${type.group}/${version}` : version;
    if (obj.apiVersion === av && obj.kind === type.kind) return obj;
    return { ...obj, apiVersion: av, kind: type.kind };
  }

  private toStorage(type: ResourceType, obj: KubeObject): KubeObject {
    if (type.view) return type.view.toStorage(obj);
    const av = type.group ? `${type.group}/${type.storageVersion}` : type.storageVersion;
    return { ...obj, apiVersion: av, kind: type.kind };
  }

  private gv(t: Target): string {
    return t.type.group ? `${t.type.group}/${t.version}` : t.version;
  }

  private qr(type: ResourceType) {
    return { group: type.group, resource: type.plural };
  }

  // ---------- reads ----------

  get(t: Target): Reply | Failure {
    const o = this.store.get(t.type.storeKey, t.type.namespaced ? t.namespace : undefined, t.name);
    if (!o) return Errors.notFound(this.qr(t.type), t.name);
    return { code: 200, body: this.present(t.type, t.version, o), warnings: [] };
  }

  list(type: ResourceType, version: string, q: ListQuery): { items: KubeObject[]; resourceVersion: string } {
    const rv = String(this.store.resourceVersion);
    const items: KubeObject[] = [];
    for (const o of this.store.list(type.storeKey, type.namespaced ? q.namespace || undefined : undefined)) {
      const p = this.present(type, version, o);
      if (q.labels.length && !matchLabels(q.labels, p.metadata.labels)) continue;
      if (q.fields.length && !matchFields(q.fields, p)) continue;
      items.push(p);
    }
    return { items, resourceVersion: rv };
  }

  /**
   * One page of a chunked LIST (`limit` > 0 or a `continue` token, see paging.ts): up to `limit` (0 = all) of the
   * objects matching `q`, ordered by namespace/name, all read at the first page's revision. `continue` is set when more
   * remain, `remainingItemCount` too when the list has no selector (as kube-apiserver). Failures: 410 Expired when the
   * token's revision is older than the store's history; the token must have been decoded by decodeContinue.
   */
  listChunk(
    type: ResourceType,
    version: string,
    q: ListQuery,
    page: { limit: number; token?: ContinueToken },
  ): { items: KubeObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number } | Failure {
    const rv = page.token?.rv ?? this.store.resourceVersion;
    const start = page.token?.start;
    const filtered = q.labels.length > 0 || q.fields.length > 0;
    // Without a selector one page is read (limit + 1: whether more remain), not everything from the start key on.
    const max = !filtered && page.limit > 0 ? page.limit + 1 : undefined;
    const all = this.store.listAt(type.storeKey, type.namespaced ? q.namespace || undefined : undefined, rv, start, max);
    if (all === 'gone') return expiredContinue(rv, this.store.compactedResourceVersion);
    // First index at or after the start key (the list is sorted by key).
    let i = 0;
    if (start !== undefined) {
      let hi = all.length;
      while (i < hi) {
        const mid = (i + hi) >>> 1;
        if (all[mid]![0] < start) i = mid + 1;
        else hi = mid;
      }
    }
    const items: KubeObject[] = [];
    let lastKey = '';
    for (; i < all.length; i++) {
      const [k, o] = all[i]!;
      const p = this.present(type, version, o);
      if (q.labels.length && !matchLabels(q.labels, p.metadata.labels)) continue;
      if (q.fields.length && !matchFields(q.fields, p)) continue;
      if (page.limit > 0 && items.length === page.limit) break;
      items.push(p);
      lastKey = k;
    }
    const out: { items: KubeObject[]; resourceVersion: string; continue?: string; remainingItemCount?: number } = { items, resourceVersion: String(rv) };
    if (i < all.length) {
      // Something after the last item still matches: i stopped on it (limit reached).
      out.continue = encodeContinue(rv, lastKey);
      if (!filtered) out.remainingItemCount = (all.remaining ?? all.length) - i;
    }
    return out;
  }

  // ---------- create ----------

  private checkBody(t: Target, body: unknown): KubeObject | Failure {
    if (!isPlainObject(body)) return Errors.badRequest('the body of the request must be a JSON or YAML object');
    const gv = this.gv(t);
    const kind = body['kind'];
    const av = body['apiVersion'];
    if (kind !== undefined && kind !== '' && kind !== t.type.kind) {
      return Errors.badRequest(`${String(kind)} in version "${t.version}" cannot be handled as a ${t.type.kind}: the kind in the body (${String(kind)}) does not match the kind of the URL (${t.type.kind})`);
    }
    if (av !== undefined && av !== '' && av !== gv) {
      // Another served version of the same group is accepted (converted), like kube-apiserver's decoder.
      const other = typeof av === 'string' && av.includes('/') ? av.split('/') : ['', String(av)];
      if (other[0] !== t.type.group || !t.type.versions.includes(other[1] ?? '')) {
        return Errors.badRequest(`the API version in the data (${String(av)}) does not match the expected API version (${gv})`);
      }
    }
    if (body['metadata'] !== undefined && !isPlainObject(body['metadata'])) return Errors.badRequest('metadata must be an object');
    const meta = isPlainObject(body['metadata']) ? { ...body['metadata'] } : {};
    return { ...body, apiVersion: gv, kind: t.type.kind, metadata: meta } as KubeObject;
  }

  private checkNamespace(t: Target, obj: KubeObject): Failure | undefined {
    if (!t.type.namespaced) {
      delete obj.metadata.namespace;
      return undefined;
    }
    if (obj.metadata.namespace && obj.metadata.namespace !== t.namespace) {
      return Errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = t.namespace;
    return undefined;
  }

  private scheme(type: ResourceType, obj: KubeObject): void {
    if (type.storeKey === 'core/services') defaultService(obj);
    defaultWorkload(type.storeKey, obj);
    if (type.storeKey === 'core/namespaces') {
      const name = obj.metadata.name ?? '';
      if (name) obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name };
    }
  }

  async create(t: Target, body: unknown, opts: { dryRun: boolean; fieldManager?: string }): Promise<Reply | Failure> {
    const checked = this.checkBody(t, body);
    if (isFailure(checked)) return checked;
    let obj = checked;
    const nsErr = this.checkNamespace(t, obj);
    if (nsErr) return nsErr;
    if (t.type.namespaced) {
      const ns = this.store.get('core/namespaces', undefined, t.namespace);
      if (!ns) return Errors.notFound({ group: '', resource: 'namespaces' }, t.namespace);
      if (ns.metadata.deletionTimestamp) {
        return Errors.forbidden(this.qr(t.type), obj.metadata.name ?? '', `unable to create new content in namespace ${t.namespace} because it is being terminated`);
      }
    }
    if (obj.metadata.resourceVersion) return Errors.internal('resourceVersion should not be set on objects to be created');
    const m = obj.metadata;
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'generation', 'managedFields'] as const) delete m[k];
    if (!m.name && !m.generateName) {
      return invalidFrom(t.type.kind, t.type.group, '', [FieldErrors.required('metadata.name', 'name or generateName is required')]);
    }
    const kindName = t.type.kind;
    const warnings: string[] = [];
    this.scheme(t.type, obj);
    // Mutating admission sees no uid/creationTimestamp and name "" with generateName (spec §1.3 step 2).
    const attrs: AdmissionAttributes = {
      type: t.type,
      version: t.version,
      subresource: '',
      operation: 'CREATE',
      namespace: t.type.namespaced ? t.namespace : '',
      name: m.name ?? '',
      object: obj,
      oldObject: null,
      dryRun: opts.dryRun,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions', ...(opts.fieldManager ? { fieldManager: opts.fieldManager } : {}), ...(opts.dryRun ? { dryRun: ['All'] } : {}) },
    };
    const mut = await this.admission.mutate(attrs, (o) => this.scheme(t.type, o));
    if (isFailure(mut)) return mut;
    warnings.push(...mut.warnings);
    obj = mut.object ?? obj;
    const nsErr2 = this.checkNamespace(t, obj);
    if (nsErr2) return nsErr2;
    obj = this.toStorage(t.type, obj);
    const generate = !obj.metadata.name && !!obj.metadata.generateName;
    for (let attempt = 0; attempt < 8; attempt++) {
      const candidate: KubeObject = JSON.parse(JSON.stringify(obj)) as KubeObject;
      const cm = candidate.metadata;
      if (generate) cm.name = `${cm.generateName}${generateNameSuffix()}`;
      cm.uid = randomUUID();
      cm.creationTimestamp = nowIso(this.now);
      if (t.type.generation) cm.generation = 1;
      const txn = new Txn();
      const errs = this.prepareCreate(t.type, candidate, txn);
      const verrs = [...errs, ...this.validateMeta(t.type, candidate), ...this.validateKind(t.type, candidate, undefined)];
      if (verrs.length) {
        txn.revert();
        return invalidFrom(kindName, t.type.group, cm.name ?? '', verrs);
      }
      const val = await this.admission.validate({ ...attrs, name: cm.name ?? '', object: this.present(t.type, t.version, candidate) });
      if (isFailure(val)) {
        txn.revert();
        return withWarnings(val, warnings);
      }
      warnings.push(...val.warnings);
      if (this.store.get(t.type.storeKey, cm.namespace, cm.name ?? '')) {
        txn.revert();
        if (generate) continue;
        return Errors.alreadyExists(this.qr(t.type), cm.name ?? '');
      }
      if (opts.dryRun) {
        txn.revert();
        return { code: 201, body: this.present(t.type, t.version, candidate), warnings };
      }
      const stored = this.store.put(t.type.storeKey, candidate);
      txn.commit();
      this.hooks.afterWrite?.(t.type, stored, undefined);
      return { code: 201, body: this.present(t.type, t.version, this.store.get(t.type.storeKey, cm.namespace, cm.name ?? '') ?? stored), warnings };
    }
    return Errors.alreadyExists(this.qr(t.type), obj.metadata.generateName ?? '');
  }

  private prepareCreate(type: ResourceType, obj: KubeObject, txn: Txn): FieldError[] {
    if (type.crd) this.defaults(type, obj);
    if (type.storeKey === 'core/services') return prepareServiceCreate(this.ipam, obj, txn);
    if (type.storeKey === 'core/secrets') foldSecretStringData(obj);
    if (STATUS_WIPED_ON_CREATE.has(type.storeKey) || (type.crd && type.statusSubresource)) delete obj['status'];
    if (type.storeKey === 'core/namespaces') {
      obj['spec'] = { finalizers: ['kubernetes'], ...(isPlainObject(obj['spec']) ? obj['spec'] : {}) };
      obj['status'] = { phase: 'Active' };
    }
    if (type.storeKey === 'apiextensions.k8s.io/customresourcedefinitions') obj['status'] = crdStatus(obj);
    return [];
  }

  /** Structural-schema defaults of the object's version (else the storage version), like kube-apiserver. */
  private defaults(type: ResourceType, obj: KubeObject): void {
    const v = typeof obj.apiVersion === 'string' ? obj.apiVersion.split('/').pop() ?? '' : '';
    applySchemaDefaults(obj, type.schemas?.[v] ?? type.schemas?.[type.storageVersion]);
  }

  private validateMeta(type: ResourceType, obj: KubeObject): FieldError[] {
    const errs: FieldError[] = [];
    const m = obj.metadata;
    const name = m.name ?? '';
    if (type.storeKey !== 'core/services') {
      for (const p of nameProblems(name, type.nameRule)) errs.push(FieldErrors.invalid('metadata.name', name, p));
    }
    if (m.labels !== undefined) {
      if (!isPlainObject(m.labels)) errs.push(FieldErrors.invalid('metadata.labels', m.labels, 'must be a map of strings'));
      else
        for (const [k, v] of Object.entries(m.labels)) {
          for (const p of qualifiedNameProblems(k)) errs.push(FieldErrors.invalid('metadata.labels', k, p));
          if (typeof v !== 'string') errs.push(FieldErrors.invalid(`metadata.labels`, v, 'must be a string'));
          else for (const p of labelValueProblems(v)) errs.push(FieldErrors.invalid('metadata.labels', v, p));
        }
    }
    if (m.annotations !== undefined) {
      if (!isPlainObject(m.annotations)) errs.push(FieldErrors.invalid('metadata.annotations', m.annotations, 'must be a map of strings'));
      else
        for (const [k, v] of Object.entries(m.annotations)) {
          for (const p of qualifiedNameProblems(k)) errs.push(FieldErrors.invalid('metadata.annotations', k, p));
          if (typeof v !== 'string') errs.push(FieldErrors.invalid(`metadata.annotations`, v, 'must be a string'));
        }
    }
    if (m.finalizers !== undefined && !Array.isArray(m.finalizers)) errs.push(FieldErrors.invalid('metadata.finalizers', m.finalizers, 'must be a list'));
    return errs;
  }

  private validateKind(type: ResourceType, obj: KubeObject, old: KubeObject | undefined): FieldError[] {
    if (type.storeKey === 'core/services') return [...validateService(obj), ...(old ? validateServiceUpdate(obj, old) : [])];
    if (type.storeKey === 'apiextensions.k8s.io/customresourcedefinitions') return validateCrd(obj, old);
    return validateWorkload(type.storeKey, obj, old);
  }

  // ---------- update ----------

  async update(t: Target, body: unknown, opts: { dryRun: boolean; fieldManager?: string }): Promise<Reply | Failure> {
    const checked = this.checkBody(t, body);
    if (isFailure(checked)) return checked;
    const obj = checked;
    if (obj.metadata.name && obj.metadata.name !== t.name) {
      return Errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${t.name})`);
    }
    obj.metadata.name = t.name;
    const nsErr = this.checkNamespace(t, obj);
    if (nsErr) return nsErr;
    const old = this.store.get(t.type.storeKey, t.type.namespaced ? t.namespace : undefined, t.name);
    if (!old) {
      if (t.type.allowCreateOnUpdate && !t.subresource) {
        delete obj.metadata.resourceVersion;
        return this.create(t, obj, opts);
      }
      return Errors.notFound(this.qr(t.type), t.name);
    }
    const rv = obj.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) return Errors.conflict(this.qr(t.type), t.name);
    if (!rv && t.type.requireResourceVersionOnUpdate) {
      return invalidFrom(t.type.kind, t.type.group, t.name, [{ field: 'metadata.resourceVersion', reason: 'FieldValueInvalid', detail: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    return this.commitUpdate(t, old, obj, opts);
  }

  /** The shared tail of PUT and PATCH: `next` is the full desired object at version t.version. */
  private async commitUpdate(t: Target, old: KubeObject, nextIn: KubeObject, opts: { dryRun: boolean; fieldManager?: string }): Promise<Reply | Failure> {
    const type = t.type;
    let next: KubeObject = JSON.parse(JSON.stringify(nextIn)) as KubeObject;
    next.apiVersion = this.gv(t);
    next.kind = type.kind;
    if (!isPlainObject(next.metadata)) next.metadata = {};
    const warnings: string[] = [];
    if (type.storeKey !== 'core/services' || t.subresource !== 'status') this.scheme(type, next);
    const oldView = this.present(type, t.version, old);
    const attrs: AdmissionAttributes = {
      type,
      version: t.version,
      subresource: t.subresource,
      operation: 'UPDATE',
      namespace: type.namespaced ? t.namespace : '',
      name: t.name,
      object: next,
      oldObject: oldView,
      dryRun: opts.dryRun,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'UpdateOptions', ...(opts.fieldManager ? { fieldManager: opts.fieldManager } : {}), ...(opts.dryRun ? { dryRun: ['All'] } : {}) },
    };
    const mut = await this.admission.mutate(attrs, (o) => this.scheme(type, o));
    if (isFailure(mut)) return mut;
    warnings.push(...mut.warnings);
    next = this.toStorage(type, mut.object ?? next);
    // System fields always come from the stored object.
    const om = old.metadata;
    const nm = next.metadata;
    nm.name = om.name!;
    if (om.namespace) nm.namespace = om.namespace;
    else delete nm.namespace;
    nm.uid = om.uid!;
    nm.creationTimestamp = om.creationTimestamp ?? null;
    if (om.deletionTimestamp) nm.deletionTimestamp = om.deletionTimestamp;
    else delete nm.deletionTimestamp;
    if (om.deletionGracePeriodSeconds !== undefined) nm.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    else delete nm.deletionGracePeriodSeconds;
    if (om.generateName) nm.generateName = om.generateName;
    nm.resourceVersion = om.resourceVersion!;
    if (om.managedFields) nm.managedFields = om.managedFields;
    else delete nm.managedFields;
    const txn = new Txn();
    let errs: FieldError[] = [];
    if (t.subresource === 'status') {
      next = statusOnly(type, next, old);
      if (type.storeKey === 'core/services') {
        next = prepareServiceStatusUpdate(next, old);
        errs = validateServiceStatus(next);
      }
    } else {
      if (type.storeKey === 'core/services') {
        prepareServiceUpdate(next, old);
        errs = allocateServiceUpdate(this.ipam, next, old, txn);
      } else if (type.statusSubresource) {
        if (old['status'] !== undefined) next['status'] = old['status'];
        else delete next['status'];
      }
      if (type.storeKey === 'core/secrets') foldSecretStringData(next);
      if (type.storeKey === 'core/namespaces') {
        next['status'] = old['status'] ?? { phase: 'Active' };
        this.scheme(type, next);
      }
      if (type.storeKey === 'apiextensions.k8s.io/customresourcedefinitions') next['status'] = crdStatus(next, old['status']);
    }
    if (type.crd) this.defaults(type, next);
    if (type.generation) {
      nm.generation = om.generation ?? 1;
      if (specChanged(old, next)) nm.generation = (om.generation ?? 0) + 1;
    } else delete nm.generation;
    errs = [...errs, ...this.validateMeta(type, next), ...(t.subresource === 'status' ? [] : this.validateKind(type, next, old))];
    if (errs.length) {
      txn.revert();
      return invalidFrom(type.kind, type.group, t.name, errs);
    }
    const val = await this.admission.validate({ ...attrs, object: this.present(type, t.version, next) });
    if (isFailure(val)) {
      txn.revert();
      return withWarnings(val, warnings);
    }
    warnings.push(...val.warnings);
    // The stored object may have moved on while webhooks ran: optimistic concurrency against it.
    const current = this.store.get(type.storeKey, om.namespace, om.name ?? '');
    if (!current) {
      txn.revert();
      return Errors.notFound(this.qr(type), t.name);
    }
    if (current.metadata.resourceVersion !== om.resourceVersion) {
      txn.revert();
      const f = Errors.conflict(this.qr(type), t.name);
      this.movedOn.add(f);
      return f;
    }
    const finalizersGone = !!nm.deletionTimestamp && (!Array.isArray(nm.finalizers) || nm.finalizers.length === 0);
    if (deepEqual(next, old) && !finalizersGone) {
      txn.revert();
      return { code: 200, body: this.present(type, t.version, old), warnings };
    }
    if (opts.dryRun) {
      txn.revert();
      return { code: 200, body: this.present(type, t.version, next), warnings };
    }
    txn.commit();
    if (finalizersGone) {
      // The update that removes the last finalizer of a deleted object deletes it (store.go ShouldDeleteDuringUpdate).
      const gone = this.finishDelete(type, old, next) ?? next;
      return { code: 200, body: this.present(type, t.version, gone), warnings };
    }
    const stored = this.store.put(type.storeKey, next);
    this.hooks.afterWrite?.(type, stored, old);
    return { code: 200, body: this.present(type, t.version, stored), warnings };
  }

  // ---------- patch ----------

  /** Conflicts raised because the stored object changed while admission ran (not a client precondition). */
  private readonly movedOn = new WeakSet<object>();

  /**
   * PATCH, retried against the latest object (up to 5 times, kube-apiserver's maxRetryWhenPatchConflicts,
   * endpoints/handlers/patch.go) when the stored object changed while admission ran and the patch itself sets no
   * resourceVersion precondition; a patch that names a resourceVersion gets the 409 as before.
   */
  async patch(t: Target, contentType: string, patch: unknown, opts: { dryRun: boolean; fieldManager?: string; force?: boolean }): Promise<Reply | Failure> {
    let r = await this.patchOnce(t, contentType, patch, opts);
    for (let i = 0; i < 5 && this.movedOn.has(r) && !patchSetsResourceVersion(patch); i++) {
      r = await this.patchOnce(t, contentType, patch, opts);
    }
    return r;
  }

  private async patchOnce(t: Target, contentType: string, patch: unknown, opts: { dryRun: boolean; fieldManager?: string; force?: boolean }): Promise<Reply | Failure> {
    const old = this.store.get(t.type.storeKey, t.type.namespaced ? t.namespace : undefined, t.name);
    const ct = contentType.split(';')[0]!.trim().toLowerCase();
    if (ct === 'application/apply-patch+yaml' || ct === 'application/apply-patch+cbor') {
      if (!opts.fieldManager) return Errors.badRequest('PATCH request must include a fieldManager query parameter for server-side apply');
      if (!isPlainObject(patch)) return Errors.badRequest('the body of an apply patch must be an object');
      const checked = this.checkBody(t, patch);
      if (isFailure(checked)) return checked;
      if (!patch['apiVersion'] || !patch['kind']) return Errors.badRequest('apiVersion and kind must be set in an apply patch');
      if (checked.metadata.name && checked.metadata.name !== t.name) {
        return Errors.badRequest(`the name of the object (${checked.metadata.name}) does not match the name on the URL (${t.name})`);
      }
      if (!old) {
        if (t.subresource) return Errors.notFound(this.qr(t.type), t.name);
        checked.metadata.name = t.name;
        return this.create(t, checked, opts);
      }
      const cur = this.present(t.type, t.version, old);
      const merged = applyPatch(t.type.kind, cur, checked, t.type.strategic);
      return this.commitUpdate(t, old, merged, opts);
    }
    if (!old) return Errors.notFound(this.qr(t.type), t.name);
    const cur = this.present(t.type, t.version, old) as unknown as Record<string, unknown>;
    let next: unknown;
    switch (ct) {
      case 'application/merge-patch+json':
        if (!isPlainObject(patch)) return Errors.badRequest('a merge patch must be a JSON object');
        next = mergePatch(cur, patch);
        break;
      case 'application/json-patch+json': {
        const r = applyJsonPatch(cur, patch);
        if (!r.ok) return Errors.unprocessable(r.error);
        next = r.value;
        break;
      }
      case 'application/strategic-merge-patch+json': {
        if (!t.type.strategic) {
          return Errors.unsupportedMediaType(ct, ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
        }
        const r = strategicMergePatch(t.type.kind, cur, patch);
        if (!r.ok) return Errors.unprocessable(r.error);
        next = r.value;
        break;
      }
      default:
        return Errors.unsupportedMediaType(ct, [
          'application/json-patch+json',
          'application/merge-patch+json',
          ...(t.type.strategic ? ['application/strategic-merge-patch+json'] : []),
          'application/apply-patch+yaml',
        ]);
    }
    if (!isPlainObject(next)) return Errors.unprocessable('the patched object is not a JSON object');
    const n = next as unknown as KubeObject;
    if (!isPlainObject(n.metadata)) n.metadata = {};
    if (n.metadata.name !== undefined && n.metadata.name !== t.name) {
      return invalidFrom(t.type.kind, t.type.group, t.name, [FieldErrors.invalid('metadata.name', n.metadata.name, 'field is immutable')]);
    }
    const rv = n.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) return Errors.conflict(this.qr(t.type), t.name);
    if (typeof n.kind === 'string' && n.kind !== t.type.kind) return Errors.badRequest(`the kind in the patched object (${n.kind}) does not match ${t.type.kind}`);
    return this.commitUpdate(t, old, n, opts);
  }

  // ---------- delete ----------

  async delete(t: Target, opts: { dryRun: boolean; preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string }): Promise<Reply | Failure> {
    const type = t.type;
    const old = this.store.get(type.storeKey, type.namespaced ? t.namespace : undefined, t.name);
    if (!old) return Errors.notFound(this.qr(type), t.name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      return Errors.conflict(this.qr(type), t.name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      return Errors.conflict(
        this.qr(type),
        t.name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    const attrs: AdmissionAttributes = {
      type,
      version: t.version,
      subresource: '',
      operation: 'DELETE',
      namespace: type.namespaced ? t.namespace : '',
      name: t.name,
      object: null,
      oldObject: this.present(type, t.version, old),
      dryRun: opts.dryRun,
      options: {
        apiVersion: 'meta.k8s.io/v1',
        kind: 'DeleteOptions',
        ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
        ...(opts.dryRun ? { dryRun: ['All'] } : {}),
      },
    };
    const mut = await this.admission.mutate(attrs, () => undefined);
    if (isFailure(mut)) return mut;
    const val = await this.admission.validate(attrs);
    if (isFailure(val)) return withWarnings(val, mut.warnings);
    const warnings = [...mut.warnings, ...val.warnings];
    const finalizers = Array.isArray(old.metadata.finalizers) ? old.metadata.finalizers : [];
    const nsFinalizers = type.storeKey === 'core/namespaces' ? [] : finalizers;
    if (opts.dryRun) return { code: 200, body: this.present(type, t.version, old), warnings };
    if (type.storeKey === 'core/namespaces') {
      // Namespaces terminate asynchronously (the namespace controller's job): Terminating now, contents and the
      // namespace itself removed shortly after, once no object with finalizers remains.
      if (old.metadata.deletionTimestamp) return { code: 200, body: this.present(type, t.version, old), warnings };
      const status = isPlainObject(old['status']) ? old['status'] : {};
      const marked: KubeObject = { ...old, metadata: { ...old.metadata, deletionTimestamp: nowIso(this.now) }, status: { ...status, phase: 'Terminating' } };
      const stored = this.store.put(type.storeKey, marked);
      const name = old.metadata.name ?? '';
      if (this.hooks.schedule) this.hooks.schedule(() => this.finalizeNamespace(name), NAMESPACE_FINALIZE_DELAY_MS);
      else this.finalizeNamespace(name);
      return { code: 200, body: this.present(type, t.version, stored), warnings };
    }
    if (nsFinalizers.length > 0) {
      if (old.metadata.deletionTimestamp) return { code: 200, body: this.present(type, t.version, old), warnings };
      const marked: KubeObject = { ...old, metadata: { ...old.metadata, deletionTimestamp: nowIso(this.now), deletionGracePeriodSeconds: 0 } };
      const stored = this.store.put(type.storeKey, marked);
      return { code: 200, body: this.present(type, t.version, stored), warnings };
    }
    const gone = this.finishDelete(type, old);
    return { code: 200, body: this.present(type, t.version, gone ?? old), warnings };
  }

  /** Deletes a terminating namespace's contents; removes the namespace once nothing (with finalizers) remains. */
  finalizeNamespace(name: string): void {
    const ns = this.store.get('core/namespaces', undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    for (const r of this.registry.all()) {
      if (!r.namespaced || r.view) continue;
      for (const o of this.store.list(r.storeKey, name)) {
        const fins = Array.isArray(o.metadata.finalizers) ? o.metadata.finalizers : [];
        if (fins.length === 0) {
          this.removeOne(r, o);
          continue;
        }
        remaining++;
        if (!o.metadata.deletionTimestamp) {
          this.store.put(r.storeKey, { ...o, metadata: { ...o.metadata, deletionTimestamp: nowIso(this.now), deletionGracePeriodSeconds: 0 } });
        }
      }
    }
    if (remaining > 0 && this.hooks.schedule) {
      this.hooks.schedule(() => this.finalizeNamespace(name), 1000);
      return;
    }
    const nsType = this.registry.resolve('', 'v1', 'namespaces')!;
    this.removeOne(nsType, ns);
  }

  /** Removes an object for good and runs the cascade (CRD objects, service allocations). */
  finishDelete(type: ResourceType, obj: KubeObject, last?: KubeObject): KubeObject | undefined {
    return this.removeOne(type, obj, last);
  }

  private removeOne(type: ResourceType, obj: KubeObject, last?: KubeObject): KubeObject | undefined {
    const gone = this.store.remove(type.storeKey, obj.metadata.namespace, obj.metadata.name ?? '', last);
    if (!gone) return undefined;
    if (type.storeKey === 'core/services') releaseServiceAllocations(this.ipam, last ?? obj);
    this.hooks.afterDelete?.(type, gone);
    return gone;
  }

  async deleteCollection(type: ResourceType, version: string, q: ListQuery, opts: { dryRun: boolean }): Promise<Reply | Failure> {
    const { items } = this.list(type, version, q);
    const deleted: KubeObject[] = [];
    for (const o of items) {
      const r = await this.delete({ type, version, namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '', subresource: '' }, opts);
      if (isFailure(r)) {
        if (r.code === 404) continue;
        return r;
      }
      deleted.push(r.body as KubeObject);
    }
    return {
      code: 200,
      body: { kind: type.listKind, apiVersion: type.group ? `${type.group}/${version}` : version, metadata: { resourceVersion: String(this.store.resourceVersion) }, items: deleted },
      warnings: [],
    };
  }
}

function withWarnings(f: Failure, warnings: string[]): Failure {
  if (warnings.length === 0) return f;
  return new Failure(f.status, { ...f.headers, Warning: [...(f.headers['Warning'] ?? []), ...warnings.map(warningHeader)] });
}

export function warningHeader(msg: string): string {
  return `299 - ${JSON.stringify(msg.replace(/[\r\n]+/g, ' '))}`;
}

/** A status write keeps everything but status (apiextensions statusStrategy.PrepareForUpdate). */
function statusOnly(type: ResourceType, next: KubeObject, old: KubeObject): KubeObject {
  const out: KubeObject = JSON.parse(JSON.stringify(old)) as KubeObject;
  if (type.storeKey !== 'core/services') {
    // Labels and annotations may change through status in core kinds; custom resources keep the old metadata.
    if (!type.crd) {
      if (next.metadata.labels !== undefined) out.metadata.labels = next.metadata.labels;
      if (next.metadata.annotations !== undefined) out.metadata.annotations = next.metadata.annotations;
    }
  }
  if (next['status'] !== undefined) out['status'] = next['status'];
  else delete out['status'];
  return out;
}

/** Generation moves when anything but metadata and status changes. */
function specChanged(a: KubeObject, b: KubeObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
    if (!deepEqual(a[k], b[k])) return true;
  }
  return false;
}

/** Whether a PATCH body carries a resourceVersion precondition (merge/strategic/apply: metadata.resourceVersion; JSON patch: an op on it). */
function patchSetsResourceVersion(patch: unknown): boolean {
  if (Array.isArray(patch)) {
    return patch.some((op) => isPlainObject(op) && typeof op['path'] === 'string' && op['path'].startsWith('/metadata/resourceVersion'));
  }
  if (!isPlainObject(patch)) return false;
  const md = patch['metadata'];
  return isPlainObject(md) && md['resourceVersion'] !== undefined && md['resourceVersion'] !== null && md['resourceVersion'] !== '';
}
