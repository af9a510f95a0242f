// AdmissionReview admission.k8s.io/v1: decoding requests (hostile input: never throws) and building replies.
// Every reply is a well-formed review echoing request.uid (kubernetes/api admission/v1/types.go; the API server
// rejects a reply whose uid differs: apiserver pkg/admission/plugin/webhook/request/admissionreview.go).
// Denials follow controller-runtime's admission.Denied (403 Forbidden, as MetalLB's webhooks answer); undecodable
// input follows admission.Errored (400, inside the review).
import type { Code } from '../shared/codes.ts';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** The parts of request berth reads; `object`/`oldObject` stay `unknown` until a handler narrows them. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource?: { group: string; version: string; resource: string };
  readonly subResource?: string;
  readonly name: string;
  readonly namespace: string;
  readonly operation: Operation;
  readonly object: unknown;
  readonly oldObject: unknown;
  readonly dryRun: boolean;
  readonly userInfo?: { username?: string };
}

export interface AdmissionStatus {
  code: number;
  reason?: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  patchType?: 'JSONPatch';
  /** base64 of the JSON patch. */
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: typeof REVIEW_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export type DecodeResult =
  | { readonly ok: true; readonly request: AdmissionRequest }
  | { readonly ok: false; readonly uid: string; readonly message: string };

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Decodes a review body. On failure the uid is still recovered when it can be (so the reply can echo it). */
export function decodeReview(body: unknown): DecodeResult {
  const req = isObj(body) ? body.request : undefined;
  const uid = isObj(req) && typeof req.uid === 'string' ? req.uid : '';
  const bad = (message: string): DecodeResult => ({ ok: false, uid, message });
  if (!isObj(body)) return bad('the body is not a JSON object');
  if (body.kind !== 'AdmissionReview') return bad(`kind is ${JSON.stringify(body.kind)}, expected "AdmissionReview"`);
  if (body.apiVersion !== REVIEW_API_VERSION) {
    return bad(`apiVersion is ${JSON.stringify(body.apiVersion)}, expected "${REVIEW_API_VERSION}"`);
  }
  if (!isObj(req)) return bad('request is missing');
  if (uid === '') return bad('request.uid is missing');
  const kind = req.kind;
  if (!isObj(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string') {
    return bad('request.kind is missing or not a group/version/kind');
  }
  if (typeof req.operation !== 'string' || !OPERATIONS.includes(req.operation)) {
    return bad(`request.operation ${JSON.stringify(req.operation)} is not one of ${OPERATIONS.join(', ')}`);
  }
  const op = req.operation as Operation;
  if ((op === 'CREATE' || op === 'UPDATE') && !isObj(req.object)) return bad(`request.object is missing for ${op}`);
  if ((op === 'UPDATE' || op === 'DELETE') && req.oldObject != null && !isObj(req.oldObject)) {
    return bad('request.oldObject is not an object');
  }
  if (req.dryRun != null && typeof req.dryRun !== 'boolean') return bad('request.dryRun is not a boolean');
  for (const f of ['name', 'namespace', 'subResource'] as const) {
    if (req[f] != null && typeof req[f] !== 'string') return bad(`request.${f} is not a string`);
  }
  const resource = isObj(req.resource) ? (req.resource as unknown as AdmissionRequest['resource']) : undefined;
  return {
    ok: true,
    request: {
      uid,
      kind: { group: typeof kind.group === 'string' ? kind.group : '', version: kind.version, kind: kind.kind },
      ...(resource ? { resource } : {}),
      ...(typeof req.subResource === 'string' && req.subResource !== '' ? { subResource: req.subResource } : {}),
      name: typeof req.name === 'string' ? req.name : '',
      namespace: typeof req.namespace === 'string' ? req.namespace : '',
      operation: op,
      object: req.object ?? null,
      oldObject: req.oldObject ?? null,
      dryRun: req.dryRun === true,
      ...(isObj(req.userInfo) ? { userInfo: req.userInfo as AdmissionRequest['userInfo'] } : {}),
    },
  };
}

export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response };
}

/** A JSON patch operation (RFC 6902). */
export type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** Allowed; with a JSON patch only when there is something to change (an empty patch is omitted). */
export function allow(
  uid: string,
  extra: { patch?: readonly PatchOp[]; warnings?: readonly string[]; auditAnnotations?: Record<string, string> } = {},
): AdmissionResponse {
  const r: AdmissionResponse = { uid, allowed: true };
  if (extra.patch && extra.patch.length > 0) {
    r.patchType = 'JSONPatch';
    r.patch = Buffer.from(JSON.stringify(extra.patch)).toString('base64');
  }
  if (extra.warnings && extra.warnings.length > 0) r.warnings = extra.warnings.map(clipWarning);
  if (extra.auditAnnotations && Object.keys(extra.auditAnnotations).length > 0) {
    r.auditAnnotations = extra.auditAnnotations;
  }
  return r;
}

/** Policy says no (MetalLB's admission.Denied): 403 Forbidden with the message users will read. */
export function deny(uid: string, message: string, extra: { code?: Code; warnings?: readonly string[] } = {}): AdmissionResponse {
  const r: AdmissionResponse = { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } };
  if (extra.warnings && extra.warnings.length > 0) r.warnings = extra.warnings.map(clipWarning);
  if (extra.code) r.auditAnnotations = { code: extra.code };
  return r;
}

/** The request could not be understood (MetalLB's admission.Errored(400)); still a review, never a bare error. */
export function errored(uid: string, code: number, message: string): AdmissionResponse {
  const reason = code >= 500 ? 'InternalError' : code === 413 ? 'RequestEntityTooLarge' : 'BadRequest';
  return {
    uid,
    allowed: false,
    status: { code, reason, message },
    ...(code < 500 ? { auditAnnotations: { code: 'LB_BAD_REVIEW' } } : {}),
  };
}

/** Warnings over 256 characters may be truncated by the API server; keep them readable (admission/v1 types.go). */
function clipWarning(w: string): string {
  return w.length <= 256 ? w : `${w.slice(0, 253)}...`;
}

/** RFC 6901 escaping of one JSON-pointer segment: `~` → `~0`, `/` → `~1`. */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * JSON-patch ops setting annotations on an object whose current annotations are `current`. When the object has no
 * annotations map the map is added whole: a patch adding into a missing parent fails to apply, and that failure is an
 * InternalError even under failurePolicy Ignore (apiserver mutating/dispatcher.go).
 */
export function annotationPatch(
  current: Readonly<Record<string, unknown>> | undefined | null,
  set: Readonly<Record<string, string>>,
): PatchOp[] {
  if (!isObj(current)) return Object.keys(set).length ? [{ op: 'add', path: '/metadata/annotations', value: { ...set } }] : [];
  const ops: PatchOp[] = [];
  for (const [k, v] of Object.entries(set)) {
    if (current[k] !== v) ops.push({ op: 'add', path: `/metadata/annotations/${escapePointer(k)}`, value: v });
  }
  return ops;
}
