// Patch content types and a JSON-patch (RFC 6902) builder. The API server picks the patch semantics from the
// Content-Type; strategic merge is only for built-in kinds, so berth uses merge patch (RFC 7386) for its own writes and
// JSON patch where it must test-and-set.

export const PatchType = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export type PatchContentType = (typeof PatchType)[keyof typeof PatchType];

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

/** Escapes one JSON-pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`), e.g. annotation keys. */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A JSON pointer from raw segments: pointer('metadata', 'annotations', 'metallb.io/x') → `/metadata/annotations/metallb.io~1x`. */
export function pointer(...segments: Array<string | number>): string {
  return segments.map((s) => `/${escapePointer(String(s))}`).join('');
}

/**
 * JSON-patch ops that set (value: string) or remove (value: null) annotations on an object whose current annotations
 * are `current` (undefined when the object has none: the map is created first, as a JSON patch cannot add into a
 * missing parent).
 */
export function annotationOps(
  current: Readonly<Record<string, string>> | undefined,
  changes: Readonly<Record<string, string | null>>,
): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const sets = Object.entries(changes).filter(([, v]) => v !== null) as Array<[string, string]>;
  const removes = Object.entries(changes)
    .filter(([k, v]) => v === null && current !== undefined && Object.prototype.hasOwnProperty.call(current, k))
    .map(([k]) => k);
  if (current === undefined) {
    if (sets.length > 0) ops.push({ op: 'add', path: '/metadata/annotations', value: Object.fromEntries(sets) });
    return ops;
  }
  for (const [k, v] of sets) {
    if (current[k] !== v) ops.push({ op: 'add', path: pointer('metadata', 'annotations', k), value: v });
  }
  for (const k of removes) ops.push({ op: 'remove', path: pointer('metadata', 'annotations', k) });
  return ops;
}
