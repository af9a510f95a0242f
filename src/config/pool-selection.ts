// Which pools an advertisement applies to (MetalLB internal/config/config.go `selectedPools`): the pools named in
// ipAddressPools plus those whose labels match ipAddressPoolSelectors; both empty means every pool. A name that
// matches no pool is ignored (MetalLB does the same; berth also warns).
import { matchesAny, type LabelSelector } from '../shared/labels.ts';
import type { ParsedPool } from './pools.ts';

export function selectPools(
  names: readonly string[],
  selectors: readonly LabelSelector[],
  pools: readonly ParsedPool[],
): ParsedPool[] {
  if (names.length === 0 && selectors.length === 0) return [...pools];
  const wanted = new Set(names);
  return pools.filter((p) => wanted.has(p.name) || (selectors.length > 0 && matchesAny(selectors, p.labels)));
}

/** Warnings for names that match no pool object at all. */
export function missingPoolWarnings(
  kind: string,
  ad: string,
  names: readonly string[],
  allPoolNames: ReadonlySet<string>,
): string[] {
  return [...new Set(names)]
    .filter((n) => !allPoolNames.has(n))
    .map((n) => `${kind} ${ad}: ipAddressPools names pool "${n}", which does not exist (ignored)`);
}
