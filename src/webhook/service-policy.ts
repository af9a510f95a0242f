// Maps an allocation failure to the admission policy: deny, or admit as <pending> (policies/admission.json).
import type { Code } from '../shared/codes.ts';
import type { AdmissionPolicy, ExhaustedAction } from './policy.ts';

export function exhaustedAction(policy: AdmissionPolicy, code: Code): ExhaustedAction {
  if (code === 'LB_POOL_EXHAUSTED') return policy.onPoolExhausted;
  if (code === 'LB_NO_POOLS') return policy.onNoPools;
  return 'deny';
}
