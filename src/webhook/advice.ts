// Warning texts for Services admitted without an IP: why, and what would fix it. Pure.
import type { AllocResult } from '../allocator/types.ts';

/**
 * The warning for an admitted Service that holds no IP (an UPDATE that leaves its IP request as it was), from what a
 * dry-run allocation answers now: the reason and the remedies, or that the controller assigns the free IP shortly.
 */
export function noIpWarning(key: string, now: AllocResult): string {
  if (now.ok) {
    return `${key} has no IP yet; ${now.ips.join(', ')} from pool "${now.pool}" is free and the controller assigns it shortly`;
  }
  // The cause first, with its remedies (the allocator's message carries them): a warning is clipped at 256 characters.
  return `${key} has no IP (<pending>): ${now.message}`;
}
