// Chunked LIST (Kubernetes API concepts, "Retrieving large results sets in chunks"): `limit` caps the items of one
// response; when more remain, `metadata.continue` carries an opaque token the client sends back to get the next page.
// The token has kube-apiserver's shape (k8s.io/apiserver/pkg/storage/continue.go): base64url of
// {"v":"meta.k8s.io/v1","rv":<revision of the first page>,"start":"<last key returned>\u0000"}; every page of a list
// is read at the first page's revision, and a token whose revision fell out of the store's history is 410 Expired.
import { Errors, type Failure } from './status.ts';

const TOKEN_VERSION = 'meta.k8s.io/v1';

export interface ContinueToken {
  /** The revision every page of the list is read at (the first page's metadata.resourceVersion). */
  rv: number;
  /** The key (`namespace/name` or `name`) the next page starts at, inclusive. */
  start: string;
}

/** The opaque `metadata.continue` for a list read at `rv` whose last returned key was `lastKey`. */
export function encodeContinue(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: TOKEN_VERSION, rv, start: `${lastKey}\u0000` })).toString('base64url');
}

/**
 * Decodes a `continue` query value made by encodeContinue. A Failure (400 BadRequest naming the value and what is
 * wrong with it) for anything else: not base64, not JSON, another token version, a revision that is not a positive
 * integer, a missing start key.
 */
export function decodeContinue(value: string): ContinueToken | Failure {
  const bad = (why: string) => Errors.badRequest(`invalid continue token "${value}": ${why}; start a new list without the continue parameter`);
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return bad('not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return bad('does not decode to JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return bad('does not decode to a JSON object');
  const t = parsed as Record<string, unknown>;
  if (t['v'] !== TOKEN_VERSION) return bad(`token version must be "${TOKEN_VERSION}"`);
  const rv = t['rv'];
  if (typeof rv !== 'number' || !Number.isSafeInteger(rv) || rv < 1) return bad('rv must be a positive integer');
  const start = t['start'];
  if (typeof start !== 'string' || start === '') return bad('start must be a non-empty key');
  return { rv, start };
}

/**
 * The `limit` query value: 0 (everything) when absent or empty, else a non-negative integer; a Failure (400) naming
 * the value otherwise.
 */
export function parseLimit(value: string | null): number | Failure {
  if (value === null || value === '') return 0;
  if (!/^\d{1,15}$/.test(value)) return Errors.badRequest(`invalid limit "${value}": must be a non-negative integer`);
  return Number(value);
}

/** 410 Expired for a continue token older than the store's history (kube-apiserver's text). */
export function expiredContinue(rv: number, oldest: number): Failure {
  return Errors.gone(
    `The provided continue parameter is too old to display a consistent list result (resourceVersion ${rv}, oldest available ${oldest + 1}). You can start a new list without the continue parameter.`,
  );
}
