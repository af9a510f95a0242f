// Secrets as kube-apiserver stores them: `stringData` is a write-only convenience field. On create and update its
// entries are base64-encoded into `data` (stringData wins over data for the same key) and the field is dropped, so
// readers (the speaker reads the memberlist Secret's `data.secretkey`) see what a real cluster would give them.
// Source: k8s.io/kubernetes pkg/apis/core/v1/conversion.go (Convert_v1_Secret_To_core_Secret).
import type { KubeObject } from './types.ts';

/** Folds `stringData` into `data` in place; non-string values are left for validation to refuse. */
export function foldSecretStringData(obj: KubeObject): void {
  const sd = obj['stringData'];
  if (sd === undefined || sd === null || typeof sd !== 'object' || Array.isArray(sd)) return;
  const data: Record<string, unknown> = { ...((obj['data'] as Record<string, unknown> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(sd as Record<string, unknown>)) {
    if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
  }
  obj['data'] = data;
  delete obj['stringData'];
}
