// Helpers to build Problems and JSON-path-like locations (`spec.addresses[1]`, `metadata.labels["app.kubernetes.io/name"]`).
import type { Code, Problem } from '../shared/codes.ts';

export type PathSegment = string | number;

/** Dotted path: numbers become `[i]`; keys that are not plain identifiers become `["key"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Reports problems about one object (`Kind/name`). */
export interface Reporter {
  readonly object: string;
  add(code: Code, path: string, message: string): void;
  /** How many problems this reporter has added (to tell whether a step found any). */
  count(): number;
}

export function reporter(object: string, into: Problem[]): Reporter {
  let n = 0;
  return {
    object,
    add(code, path, message) {
      n++;
      into.push({ code, path, message, object });
    },
    count: () => n,
  };
}

/** JSON of a value for messages, shortened so one huge value cannot flood the output. */
export function showValue(v: unknown, max = 120): string {
  let s: string;
  try {
    s = v === undefined ? 'undefined' : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/**
 * A copy without the object fields whose value is null: the API server prunes such fields before validation and
 * defaulting for schemas without `nullable: true` (none of berth's), so YAML like `spec:` (null) means "absent".
 */
export function dropNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => dropNulls(v)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
  return out as T;
}
