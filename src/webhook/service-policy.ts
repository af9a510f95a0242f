// Maps an allocation failure to the admission policy (policies/admission.json): deny, or admit as <pending>; and the
// warning a Service admitted as <pending> gets. `berth plan` uses the same two functions, so plan and the webhook
// say the same thing.
import type { Code } from '../shared/codes.ts';
import type { AdmissionPolicy, ExhaustedAction } from './policy.ts';

/** What the policy says for a failure code: `pending` only for LB_POOL_EXHAUSTED / LB_NO_POOLS when configured so. */
export function exhaustedAction(policy: AdmissionPolicy, code: Code): ExhaustedAction {
  if (code === 'LB_POOL_EXHAUSTED') return policy.onPoolExhausted;
  if (code === 'LB_NO_POOLS') return policy.onNoPools;
  return 'deny';
}

/** The remedies the allocator's exhausted messages end with (src/allocator/messages.ts `remedies`). */
const REMEDIES_MARK = '. To fix: ';

/**
 * The admission warning for a Service admitted without an IP because the policy says `pending` (kubectl prints it as
 * `Warning: ...`). It starts with the allocator's message (MetalLB's text, so matching on it keeps working) and says
 * what happens next, which depends on the cause:
 * - LB_NO_POOLS: no IPAddressPool is configured yet; the Service gets an IP as soon as one with a usable range for it
 *   is created.
 * - LB_POOL_EXHAUSTED: the Service stays <pending> until an IP is free, plus the remedies (added when the message does
 *   not already end with them).
 * - any other code: the Service stays <pending> until the cause in the message is fixed.
 * `code`: the failure's catalogue code (src/shared/codes.ts); `message`: the failure's message. Pure; never throws.
 */
export function pendingWarning(code: Code, message: string): string {
  switch (code) {
    case 'LB_NO_POOLS':
      return (
        `${message} yet: the Service is admitted without an IP (<pending>) and gets one as soon as an IPAddressPool ` +
        `with a usable range for it (its IP family, allowing its namespace) is created`
      );
    case 'LB_POOL_EXHAUSTED': {
      const remedies = message.includes(REMEDIES_MARK)
        ? ''
        : '. To fix: add addresses to the pool, or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)';
      return `${message}${remedies}. Until then the Service stays <pending>: it gets an IP as soon as one is free`;
    }
    default:
      return `${message}; the Service stays <pending> until this is fixed`;
  }
}
