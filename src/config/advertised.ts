// Pools that no advertisement announces. MetalLB assigns IPs from such a pool but its speakers never answer ARP/NDP
// for them nor advertise them over BGP (internal/config: an advertisement selects pools by ipAddressPools names plus
// ipAddressPoolSelectors; both empty selects every pool), so the Service shows an EXTERNAL-IP nobody can reach.
// A warning, not an error: the advertisement may be applied later or live in another overlay.
import type { Problem } from '../shared/codes.ts';
import type { Config } from './types.ts';

/**
 * One LB_POOL_NOT_ADVERTISED problem per pool of the configuration that no L2Advertisement and no BGPAdvertisement
 * selects (their `pools` are already resolved: names, selectors, or every pool when both are empty). Object
 * `IPAddressPool/<name>`, path `metadata.name`. Empty when the configuration has no pool. Pure.
 */
export function unadvertisedPools(config: Config): Problem[] {
  const announced = new Set<string>();
  for (const ad of [...config.l2Advertisements, ...config.bgpAdvertisements]) for (const p of ad.pools) announced.add(p);
  const kinds =
    config.l2Advertisements.length + config.bgpAdvertisements.length === 0
      ? 'there is no L2Advertisement or BGPAdvertisement'
      : 'no L2Advertisement or BGPAdvertisement selects it';
  return config.pools
    .filter((p) => !announced.has(p.name))
    .map((p) => ({
      code: 'LB_POOL_NOT_ADVERTISED' as const,
      path: 'metadata.name',
      object: `IPAddressPool/${p.name}`,
      message:
        `pool "${p.name}" is not announced: ${kinds}, so its IPs would be assigned to Services but never reachable; ` +
        `list it in an L2Advertisement's (or BGPAdvertisement's) spec.ipAddressPools, match its labels with ` +
        `spec.ipAddressPoolSelectors, or leave both empty to announce every pool`,
    }));
}
