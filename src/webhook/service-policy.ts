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

/** Markers of the allocator's exhausted messages (src/allocator/messages.ts `otherPools`, `remedies`). */
const OTHERS_MARK = '. Other pools: ';
const REMEDIES_MARK = '. To fix: ';
const DEFAULT_REMEDIES = 'add addresses to the pool, or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)';
const SHORT_REMEDIES = 'enlarge the pool or use allow-shared-ip';

/**
 * Admission warnings longer than this may be truncated by the API server (admission/v1 AdmissionResponse.Warnings;
 * review.ts clips them to it), so the pending warnings are built to fit.
 */
export const WARNING_LIMIT = 256;

/**
 * The admission warning for a Service admitted without an IP because the policy says `pending` (kubectl prints it as
 * `Warning: ...`). It starts with the allocator's message head (MetalLB's text, so matching on it keeps working) and
 * says what happens next, which depends on the cause:
 * - LB_NO_POOLS: no IPAddressPool is configured yet; the Service gets an IP as soon as one with a usable range for it
 *   is created.
 * - LB_POOL_EXHAUSTED: the Service stays <pending> until an IP is free; then, as far as WARNING_LIMIT characters
 *   allow, the other pools the message names (whole entries) and the remedies (shortened when needed).
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
    case 'LB_POOL_EXHAUSTED':
      return exhaustedWarning(message);
    default:
      return `${message}; the Service stays <pending> until this is fixed`;
  }
}

function exhaustedWarning(message: string): string {
  const fixAt = message.indexOf(REMEDIES_MARK);
  const body = fixAt >= 0 ? message.slice(0, fixAt) : message;
  const remedies = fixAt >= 0 ? message.slice(fixAt + REMEDIES_MARK.length) : DEFAULT_REMEDIES;
  const othersAt = body.indexOf(OTHERS_MARK);
  const head = othersAt >= 0 ? body.slice(0, othersAt) : body;
  const others = othersAt >= 0 ? body.slice(othersAt + OTHERS_MARK.length).split('; ') : [];
  let out = `${head}; the Service stays <pending> until an IP is free`;
  const fits = (extra: string) => out.length + extra.length <= WARNING_LIMIT;
  // Room for the shortest remedies is kept while adding pools: a remedy says what to do even if no pool fits.
  const reserve = `. To fix: ${SHORT_REMEDIES}`.length;
  let listed = 0;
  for (const entry of others) {
    const piece = `${listed === 0 ? '. Other pools: ' : '; '}${entry}`;
    if (out.length + piece.length + reserve > WARNING_LIMIT) break;
    out += piece;
    listed++;
  }
  for (const r of [remedies, SHORT_REMEDIES]) {
    if (fits(`. To fix: ${r}`)) return `${out}. To fix: ${r}`;
  }
  return out;
}
