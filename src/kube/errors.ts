// API errors as values. The API server answers failures with a `Status` object; berth branches on a few of them
// (404 NotFound, 409 AlreadyExists / Conflict, 410 Gone, 422 Invalid), so those become named kinds. Transport failures
// (connection refused, timeouts) are `Unavailable`: expected while an API server restarts, never a throw.

export type KubeErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'Forbidden'
  | 'Unauthorized'
  | 'BadRequest'
  | 'TooManyRequests'
  | 'ServerError'
  | 'Unavailable';

export interface KubeError {
  readonly kind: KubeErrorKind;
  /** HTTP status; 0 for transport failures. */
  readonly status: number;
  /** Status.reason when the server sent one (e.g. `AlreadyExists`, `Conflict`, `Expired`). */
  readonly reason: string;
  readonly message: string;
}

export type KubeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: KubeError };

/** The `Status` object of an error answer (fields optional: bodies may be anything). */
export interface StatusLike {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** Maps an HTTP status and its body to a KubeError. */
export function kubeError(status: number, body: unknown, what: string): KubeError {
  const st: StatusLike = body !== null && typeof body === 'object' ? (body as StatusLike) : {};
  const reason = typeof st.reason === 'string' ? st.reason : '';
  const text = typeof body === 'string' ? body.slice(0, 300) : '';
  const message =
    typeof st.message === 'string' && st.message !== '' ? st.message : `${what}: HTTP ${status}${text ? `: ${text}` : ''}`;
  return { kind: kindOf(status, reason), status, reason, message };
}

export function transportError(err: unknown, what: string): KubeError {
  const msg = err instanceof Error ? err.message : String(err);
  return { kind: 'Unavailable', status: 0, reason: '', message: `${what}: ${msg}` };
}

function kindOf(status: number, reason: string): KubeErrorKind {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 404:
      return 'NotFound';
    case 409:
      // Same status, two meanings: create of an existing name vs a stale resourceVersion.
      return reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict';
    case 410:
      return 'Gone';
    case 422:
      return 'Invalid';
    case 429:
      return 'TooManyRequests';
    default:
      return status >= 500 ? 'ServerError' : 'BadRequest';
  }
}

/** Errors worth retrying later with backoff (as opposed to a request the server will refuse again). */
export function isRetryable(e: KubeError): boolean {
  return e.kind === 'Unavailable' || e.kind === 'ServerError' || e.kind === 'TooManyRequests' || e.kind === 'Conflict';
}

export function ok<T>(value: T): KubeResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(error: KubeError): KubeResult<T> {
  return { ok: false, error };
}
