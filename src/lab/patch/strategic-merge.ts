// Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch/patch.go), the subset kubectl's
// client-side apply produces: list merge keys, `$patch: replace|delete|merge`, `$setElementOrder/<list>`,
// `$retainKeys`, `$deleteFromPrimitiveList/<list>`, null deletes. Directives never reach the result.
import { isPlainObject } from '../types.ts';
import { deepEqual } from './deep-equal.ts';
import { listMeta } from './patch-meta.ts';

export type SmpResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

const PATCH = '$patch';
const RETAIN = '$retainKeys';
const ORDER = '$setElementOrder/';
const DEL_PRIM = '$deleteFromPrimitiveList/';

class SmpError extends Error {}

/** Removes every directive from a patch fragment that lands where nothing existed. */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !(isPlainObject(x) && x[PATCH] !== undefined && Object.keys(x).length === 1)).map(strip);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === PATCH || k === RETAIN || k.startsWith(ORDER) || k.startsWith(DEL_PRIM)) continue;
    if (x === null) continue;
    out[k] = strip(x);
  }
  return out;
}

function join(path: string, k: string): string {
  return path ? `${path}.${k}` : k;
}

function mergeMap(kind: string, path: string, original: Record<string, unknown> | undefined, patch: Record<string, unknown>): Record<string, unknown> | undefined {
  const directive = patch[PATCH];
  if (directive === 'replace') return strip(patch) as Record<string, unknown>;
  if (directive === 'delete') return undefined;
  if (directive !== undefined && directive !== 'merge') throw new SmpError(`unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  const out: Record<string, unknown> = { ...(original ?? {}) };
  const retain = patch[RETAIN];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new SmpError('$retainKeys must be a list of strings');
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(DEL_PRIM)) continue;
    const field = k.slice(DEL_PRIM.length);
    const cur = out[field];
    if (!Array.isArray(v)) throw new SmpError(`${k} must be a list`);
    if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === PATCH || k === RETAIN || k.startsWith(DEL_PRIM) || k.startsWith(ORDER)) continue;
    const p = join(path, k);
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (isPlainObject(v)) {
      const merged = mergeMap(kind, p, isPlainObject(cur) ? cur : undefined, v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) {
      out[k] = mergeList(kind, p, Array.isArray(cur) ? cur : undefined, v);
    } else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(ORDER)) continue;
    const field = k.slice(ORDER.length);
    if (!Array.isArray(v)) throw new SmpError(`${k} must be a list`);
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = reorder(cur, v, listMeta(kind, join(path, field))?.mergeKey);
  }
  return out;
}

function mergeList(kind: string, path: string, original: unknown[] | undefined, patch: unknown[]): unknown[] {
  const meta = listMeta(kind, path);
  if (!meta) return strip(patch) as unknown[];
  if (patch.some((x) => isPlainObject(x) && x[PATCH] === 'replace')) {
    return strip(patch.filter((x) => !(isPlainObject(x) && x[PATCH] === 'replace'))) as unknown[];
  }
  const out = [...(original ?? [])];
  const key = meta.mergeKey;
  if (!key) {
    for (const x of patch) if (!out.some((o) => deepEqual(o, x))) out.push(x);
    return out;
  }
  for (const item of patch) {
    if (!isPlainObject(item)) throw new SmpError(`merging a list by "${key}" but an element is not an object: ${JSON.stringify(item)}`);
    const kv = item[key];
    const idx = out.findIndex((o) => isPlainObject(o) && deepEqual(o[key], kv));
    if (item[PATCH] === 'delete') {
      if (kv === undefined) throw new SmpError(`delete directive without merge key "${key}": ${JSON.stringify(item)}`);
      for (let i = out.length - 1; i >= 0; i--) {
        const o = out[i];
        if (isPlainObject(o) && deepEqual(o[key], kv)) out.splice(i, 1);
      }
      continue;
    }
    if (kv === undefined) throw new SmpError(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    if (idx >= 0) {
      const merged = mergeMap(kind, path, out[idx] as Record<string, unknown>, item);
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else out.push(strip(item));
  }
  return out;
}

/** `$setElementOrder`: listed elements in the given order, the others (server-only) after them in their order. */
function reorder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const id = (x: unknown) => (key && isPlainObject(x) ? x[key] : x);
  const ordered: unknown[] = [];
  const used = new Set<number>();
  for (const o of order) {
    const want = id(o);
    list.forEach((x, i) => {
      if (!used.has(i) && deepEqual(id(x), want)) {
        used.add(i);
        ordered.push(x);
      }
    });
  }
  list.forEach((x, i) => {
    if (!used.has(i)) ordered.push(x);
  });
  return ordered;
}

/** Applies a strategic merge patch to `original` (a built-in kind's object). */
export function strategicMergePatch(kind: string, original: Record<string, unknown>, patch: unknown): SmpResult {
  if (!isPlainObject(patch)) return { ok: false, error: 'strategic merge patch must be a JSON object' };
  try {
    const v = mergeMap(kind, '', original, patch);
    return { ok: true, value: v ?? {} };
  } catch (e) {
    if (e instanceof SmpError) return { ok: false, error: e.message };
    throw e;
  }
}
