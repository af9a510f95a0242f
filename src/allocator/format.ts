// Fast canonical text of an address, identical to src/shared/ip.ts formatIp (dotted decimal; RFC 5952 for IPv6:
// lowercase, no leading zeros, the longest run of two or more zero groups — the leftmost on a tie — written `::`).
// The allocator formats every IP it hands out; the shared formatter goes through ipaddr.js objects and regexes,
// which made formatting the largest cost of an allocation. format.test.ts checks both agree.
import type { Family } from '../shared/ip.ts';

export function formatAddress(family: Family, v: bigint): string {
  if (family === 'IPv4') {
    const n = Number(v);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const hex = v.toString(16).padStart(32, '0');
  const groups: string[] = new Array(8);
  let bestAt = -1;
  let bestLen = 1; // a run must have at least two zero groups
  let runAt = -1;
  for (let i = 0; i < 8; i++) {
    let s = hex.slice(i * 4, i * 4 + 4);
    let z = 0;
    while (z < 3 && s.charCodeAt(z) === 48) z++;
    if (z > 0) s = s.slice(z);
    groups[i] = s;
    if (s === '0') {
      if (runAt < 0) runAt = i;
      if (i - runAt + 1 > bestLen) {
        bestLen = i - runAt + 1;
        bestAt = runAt;
      }
    } else {
      runAt = -1;
    }
  }
  if (bestAt < 0) return groups.join(':');
  return `${groups.slice(0, bestAt).join(':')}::${groups.slice(bestAt + bestLen).join(':')}`;
}
