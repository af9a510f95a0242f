// metav1.Status failures, with kube-apiserver's reasons, codes and message texts
// (k8s.io/apimachinery/pkg/api/errors/errors.go). A Failure is a value the REST layer returns, never a throw.

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

export class Failure {
  readonly status: StatusBody;
  /** Extra response headers (e.g. Warning from an admission webhook that then denied). */
  readonly headers: Record<string, string[]>;
  constructor(status: StatusBody, headers: Record<string, string[]> = {}) {
    this.status = status;
    this.headers = headers;
  }
  get code(): number {
    return this.status.code;
  }
}

export function isFailure(x: unknown): x is Failure {
  return x instanceof Failure;
}

/** A resource as errors name it: `services`, `ipaddresspools.metallb.io`. */
export interface QualifiedResource {
  group: string;
  resource: string;
}

export function qualified(r: QualifiedResource): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

function fail(code: number, reason: string, message: string, details?: StatusBody['details']): Failure {
  const s: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return new Failure(s);
}

function det(r: QualifiedResource, name: string): StatusBody['details'] {
  const d: NonNullable<StatusBody['details']> = { name, kind: r.resource };
  if (r.group) d.group = r.group;
  return d;
}

export const Errors = {
  notFound: (r: QualifiedResource, name: string) => fail(404, 'NotFound', `${qualified(r)} "${name}" not found`, det(r, name)),
  alreadyExists: (r: QualifiedResource, name: string) =>
    fail(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, det(r, name)),
  conflict: (r: QualifiedResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    fail(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, det(r, name)),
  badRequest: (message: string) => fail(400, 'BadRequest', message),
  methodNotAllowed: (method: string) => fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`),
  /** Unknown URL (kube-apiserver answers 404 with reason NotFound and the generic text). */
  pathNotFound: () => fail(404, 'NotFound', 'the server could not find the requested resource'),
  tooLarge: (limit: number) => fail(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`),
  unsupportedMediaType: (type: string, accepted: string[]) =>
    fail(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, { kind: type }),
  /** 422: `Service "web" is invalid: spec.ports: Required value`. */
  invalid: (kind: string, group: string, name: string, causes: Array<{ field: string; reason: CauseReason; detail: string }>) => {
    const msgs = causes.map((c) => `${c.field}: ${c.detail}`);
    const message = `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`}`;
    const d: NonNullable<StatusBody['details']> = {
      name,
      kind,
      causes: causes.map((c) => ({ reason: c.reason, message: c.detail, field: c.field })),
    };
    if (group) d.group = group;
    return fail(422, 'Invalid', message, d);
  },
  /** 422 without a field (JSON patch that does not apply, etc.). */
  unprocessable: (message: string) => fail(422, 'Invalid', message),
  internal: (message: string) =>
    fail(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }),
  forbidden: (r: QualifiedResource, name: string, why: string) =>
    fail(403, 'Forbidden', `${qualified(r)} "${name}" is forbidden: ${why}`, det(r, name)),
  unauthorized: () => fail(401, 'Unauthorized', 'Unauthorized'),
  gone: (message: string) => fail(410, 'Expired', message),
  timeout: (message: string) => fail(504, 'Timeout', message),
  /** Admission denial: code and reason from the webhook's status; message built by the API server. */
  custom: (code: number, reason: string, message: string, details?: StatusBody['details']) => fail(code, reason, message, details),
};

export type CauseReason = 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong';

/** A field problem, rendered like field.Error: `Invalid value: "Web": <detail>`. */
export interface FieldError {
  field: string;
  reason: CauseReason;
  detail: string;
}

export const FieldErrors = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    field,
    reason: 'FieldValueInvalid',
    detail: `Invalid value: ${goValue(value)}: ${detail}`,
  }),
  required: (field: string, detail = ''): FieldError => ({
    field,
    reason: 'FieldValueRequired',
    detail: detail ? `Required value: ${detail}` : 'Required value',
  }),
  notSupported: (field: string, value: unknown, supported: string[]): FieldError => ({
    field,
    reason: 'FieldValueNotSupported',
    detail: `Unsupported value: ${goValue(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  }),
  duplicate: (field: string, value: unknown): FieldError => ({ field, reason: 'FieldValueDuplicate', detail: `Duplicate value: ${goValue(value)}` }),
  forbidden: (field: string, detail: string): FieldError => ({ field, reason: 'FieldValueForbidden', detail: `Forbidden: ${detail}` }),
};

/** Values the way field.Error prints them (%q for strings, %d for numbers). */
function goValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[]string{${v.map((x) => JSON.stringify(x)).join(', ')}}`;
  return JSON.stringify(v);
}

export function invalidFrom(kind: string, group: string, name: string, errs: FieldError[]): Failure {
  return Errors.invalid(kind, group, name, errs);
}
