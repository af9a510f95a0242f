// JSON Patch, RFC 6902 (add, remove, replace, move, copy, test) over JSON Pointers, RFC 6901.
// Returns a new document or an error message; the input is never modified.
import { isPlainObject } from '../types.ts';
import { deepEqual } from './deep-equal.ts';

export type PatchResult = { ok: true; value: unknown } | { ok: false; error: string };

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

/** Decodes a pointer into reference tokens (RFC 6901 §4: ~1 → '/', then ~0 → '~'). */
export function parsePointer(p: string): string[] | undefined {
  if (p === '') return [];
  if (!p.startsWith('/')) return undefined;
  return p
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function get(doc: unknown, tokens: string[]): { found: boolean; value?: unknown } {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t)) return { found: false };
      const i = Number(t);
      if (i >= cur.length) return { found: false };
      cur = cur[i];
    } else if (isPlainObject(cur)) {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) return { found: false };
      cur = cur[t];
    } else return { found: false };
  }
  return { found: true, value: cur };
}

/** Copies the containers along `tokens` (all but the last) so the caller may modify the parent in place. */
function parentFor(root: { doc: unknown }, tokens: string[]): { parent: unknown; key: string } | string {
  if (tokens.length === 0) return 'cannot operate on the document root here';
  let holder: Record<string, unknown> | unknown[] = root as unknown as Record<string, unknown>;
  let hk: string | number = 'doc';
  for (let i = 0; i < tokens.length - 1; i++) {
    const cur = (holder as Record<string, unknown>)[hk as string];
    let copy: unknown;
    if (Array.isArray(cur)) copy = [...cur];
    else if (isPlainObject(cur)) copy = { ...cur };
    else return `missing path component "${tokens.slice(0, i + 1).join('/')}"`;
    (holder as Record<string, unknown>)[hk as string] = copy;
    holder = copy as Record<string, unknown>;
    const t = tokens[i]!;
    if (Array.isArray(copy)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t) || Number(t) >= copy.length) return `index "${t}" out of bounds`;
      hk = Number(t);
    } else {
      if (!Object.prototype.hasOwnProperty.call(copy, t)) return `missing path component "${t}"`;
      hk = t;
    }
  }
  const last = (holder as Record<string, unknown>)[hk as string];
  let copy: unknown;
  if (Array.isArray(last)) copy = [...last];
  else if (isPlainObject(last)) copy = { ...last };
  else return `cannot add to a non-container at "/${tokens.slice(0, -1).join('/')}"`;
  (holder as Record<string, unknown>)[hk as string] = copy;
  return { parent: copy, key: tokens[tokens.length - 1]! };
}

function add(root: { doc: unknown }, tokens: string[], value: unknown): string | undefined {
  if (tokens.length === 0) {
    root.doc = value;
    return undefined;
  }
  const p = parentFor(root, tokens);
  if (typeof p === 'string') return p;
  if (Array.isArray(p.parent)) {
    const arr = p.parent;
    const i = p.key === '-' ? arr.length : /^(0|[1-9][0-9]*)$/.test(p.key) ? Number(p.key) : NaN;
    if (Number.isNaN(i) || i > arr.length) return `index "${p.key}" out of bounds`;
    arr.splice(i, 0, value);
  } else (p.parent as Record<string, unknown>)[p.key] = value;
  return undefined;
}

function remove(root: { doc: unknown }, tokens: string[]): string | undefined {
  if (!get(root.doc, tokens).found) return `unable to remove nonexistent key "${tokens[tokens.length - 1] ?? ''}": missing value`;
  const p = parentFor(root, tokens);
  if (typeof p === 'string') return p;
  if (Array.isArray(p.parent)) p.parent.splice(Number(p.key), 1);
  else delete (p.parent as Record<string, unknown>)[p.key];
  return undefined;
}

export function applyJsonPatch(doc: unknown, ops: unknown): PatchResult {
  if (!Array.isArray(ops)) return { ok: false, error: 'json patch must be an array of operations' };
  const root = { doc };
  for (const raw of ops) {
    if (!isPlainObject(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') {
      return { ok: false, error: `invalid json patch operation: ${JSON.stringify(raw)}` };
    }
    const op = raw as unknown as Op;
    const tokens = parsePointer(op.path);
    if (!tokens) return { ok: false, error: `invalid JSON pointer "${op.path}"` };
    let err: string | undefined;
    switch (op.op) {
      case 'add':
        if (!('value' in raw)) return { ok: false, error: `missing value for add operation at "${op.path}"` };
        err = add(root, tokens, clone(op.value));
        break;
      case 'remove':
        err = remove(root, tokens);
        break;
      case 'replace':
        if (!('value' in raw)) return { ok: false, error: `missing value for replace operation at "${op.path}"` };
        if (!get(root.doc, tokens).found) err = `replace operation does not apply: doc is missing key: ${op.path}: missing value`;
        else if (tokens.length === 0) root.doc = clone(op.value);
        else {
          err = remove(root, tokens) ?? add(root, tokens, clone(op.value));
        }
        break;
      case 'move':
      case 'copy': {
        const from = typeof op.from === 'string' ? parsePointer(op.from) : undefined;
        if (!from) return { ok: false, error: `invalid "from" pointer in ${op.op} operation` };
        const v = get(root.doc, from);
        if (!v.found) {
          err = `${op.op} operation does not apply: doc is missing from path: ${op.from}: missing value`;
          break;
        }
        if (op.op === 'move') {
          if (op.path.startsWith(`${op.from}/`)) return { ok: false, error: `cannot move "${op.from}" into its own child "${op.path}"` };
          err = remove(root, from);
        }
        err = err ?? add(root, tokens, clone(v.value));
        break;
      }
      case 'test': {
        const v = get(root.doc, tokens);
        if (!v.found || !deepEqual(v.value, op.value)) err = `testing value ${op.path} failed: test failed`;
        break;
      }
      default:
        return { ok: false, error: `unexpected operation "${op.op}"` };
    }
    if (err) return { ok: false, error: err };
  }
  return { ok: true, value: root.doc };
}
