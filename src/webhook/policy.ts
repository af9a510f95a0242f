// Admission policy knobs (policies/admission.json): what the Service webhooks do when no IP can be given because the
// pools are full or absent. MetalLB leaves such Services <pending>; berth denies by default (architecture decision 2),
// and `pending` restores MetalLB's behaviour (admitted with a warning; the controller allocates once an IP frees up).

export type ExhaustedAction = 'deny' | 'pending';

export interface AdmissionPolicy {
  /** No free IP in the eligible pool(s) (LB_POOL_EXHAUSTED). Default `deny`. */
  readonly onPoolExhausted: ExhaustedAction;
  /** No pool configured at all (LB_NO_POOLS), e.g. right after install. Default `pending`: never block unrelated syncs. */
  readonly onNoPools: ExhaustedAction;
}

export const DEFAULT_POLICY: AdmissionPolicy = { onPoolExhausted: 'deny', onNoPools: 'pending' };

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
