// Server-side apply, approximated: the applied configuration is merged into the live object (maps merge,
// lists with a strategic merge key merge by that key, other lists are replaced). There is no field ownership:
// fields a manager stops applying are not removed, and conflicts between managers are never reported.
import { isPlainObject, type KubeObject } from '../types.ts';
import { deepEqual } from './deep-equal.ts';
import { listMeta } from './patch-meta.ts';

function merge(kind: string, path: string, live: unknown, applied: unknown, strategic: boolean): unknown {
  if (isPlainObject(applied)) {
    const out: Record<string, unknown> = isPlainObject(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(applied)) {
      if (v === null) {
        delete out[k];
        continue;
      }
      out[k] = merge(kind, path ? `${path}.${k}` : k, out[k], v, strategic);
    }
    return out;
  }
  if (Array.isArray(applied) && Array.isArray(live) && strategic) {
    const meta = listMeta(kind, path);
    if (meta?.mergeKey) {
      const key = meta.mergeKey;
      const out = [...live];
      for (const item of applied) {
        const idx = isPlainObject(item) ? out.findIndex((o) => isPlainObject(o) && deepEqual(o[key], item[key])) : -1;
        if (idx >= 0) out[idx] = merge(kind, path, out[idx], item, strategic);
        else out.push(item);
      }
      return out;
    }
    if (meta) return [...live, ...applied.filter((x) => !live.some((l) => deepEqual(l, x)))];
  }
  return applied;
}

export function applyPatch(kind: string, live: KubeObject, applied: KubeObject, strategic: boolean): KubeObject {
  const a: Record<string, unknown> = { ...applied, metadata: { ...applied.metadata } };
  const m = a['metadata'] as Record<string, unknown>;
  delete m['resourceVersion'];
  delete m['managedFields'];
  return merge(kind, '', live, a, strategic) as KubeObject;
}
