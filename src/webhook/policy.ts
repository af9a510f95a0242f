// Admission policy knobs (policies/admission.json): what the Service webhooks do when no IP can be given because the
// pools are full or absent. MetalLB leaves such Services <pending>; berth denies by default (architecture decision 2),
// and `pending` restores MetalLB's behaviour (admitted with a warning; the controller allocates once an IP frees up).
// The webhook and `berth plan` read the same file (loadPolicyFile), so plan answers as admission does.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type ExhaustedAction = 'deny' | 'pending';

export interface AdmissionPolicy {
  /** No free IP in the eligible pool(s) (LB_POOL_EXHAUSTED). Default `deny`. */
  readonly onPoolExhausted: ExhaustedAction;
  /** No pool configured at all (LB_NO_POOLS), e.g. right after install. Default `pending`: never block unrelated syncs. */
  readonly onNoPools: ExhaustedAction;
}

export const DEFAULT_POLICY: AdmissionPolicy = { onPoolExhausted: 'deny', onNoPools: 'pending' };

/**
 * Checks a parsed admission policy JSON object: keys onPoolExhausted / onNoPools (each "deny" or "pending"; absent:
 * DEFAULT_POLICY's), `$comment` ignored. Errors name the key and value.
 */
export function parsePolicy(json: unknown): { ok: true; policy: AdmissionPolicy } | { ok: false; message: string } {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: false, message: 'admission policy must be a JSON object' };
  }
  const o = json as Record<string, unknown>;
  const out: { -readonly [K in keyof AdmissionPolicy]: AdmissionPolicy[K] } = { ...DEFAULT_POLICY };
  for (const [k, v] of Object.entries(o)) {
    if (k === '$comment') continue;
    if (k !== 'onPoolExhausted' && k !== 'onNoPools') {
      return { ok: false, message: `unknown admission policy key "${k}" (known: onPoolExhausted, onNoPools)` };
    }
    if (v !== 'deny' && v !== 'pending') {
      return { ok: false, message: `admission policy ${k} must be "deny" or "pending", not ${JSON.stringify(v)}` };
    }
    out[k] = v;
  }
  return { ok: true, policy: out };
}

/** policies/admission.json of this checkout: the policy the webhook and `berth plan` use when given no file. */
export const DEFAULT_POLICY_FILE = fileURLToPath(new URL('../../policies/admission.json', import.meta.url));

/**
 * Reads and checks an admission policy file (JSON, see parsePolicy). `file` undefined: DEFAULT_POLICY_FILE, and
 * DEFAULT_POLICY when that file cannot be read (an installed copy without policies/). Errors are values naming the
 * file: unreadable explicit file, invalid JSON, unknown key or value. Never throws.
 */
export function loadPolicyFile(file?: string): { ok: true; policy: AdmissionPolicy } | { ok: false; message: string } {
  const path = file ?? DEFAULT_POLICY_FILE;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (file === undefined) return { ok: true, policy: DEFAULT_POLICY };
    return { ok: false, message: `cannot read ${path}: ${(e as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `${path}: invalid JSON: ${(e as Error).message}` };
  }
  const r = parsePolicy(json);
  return r.ok ? r : { ok: false, message: `${path}: ${r.message}` };
}
