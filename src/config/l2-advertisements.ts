// L2Advertisement objects → L2AdvertisementConfig (MetalLB internal/config/config.go `l2AdvertisementFromCR`).
import { BerthAnnotations } from '../api/annotations.ts';
import { withL2AdvertisementDefaults, type L2AdvertisementSpec } from '../api/l2-advertisement.ts';
import type { KubeObject } from '../api/object.ts';
import { interfaceNameError } from './interface-name.ts';
import { missingPoolWarnings, selectPools } from './pool-selection.ts';
import type { ParsedPool } from './pools.ts';
import { showValue, type Reporter } from './problem.ts';
import { checkAdvertisementSelectors, checkDuplicates, checkSelectors, selectNames } from './selectors.ts';
import type { L2AdvertisementConfig, LabelledName } from './types.ts';

export function parseL2Advertisement(
  obj: KubeObject,
  pools: readonly ParsedPool[],
  allPoolNames: ReadonlySet<string>,
  nodes: readonly LabelledName[] | undefined,
  r: Reporter,
  warnings: string[],
): L2AdvertisementConfig | undefined {
  const name = obj.metadata?.name ?? '';
  const prefix = `parsing l2 advertisement ${name}: `;
  const spec = withL2AdvertisementDefaults(obj.spec as L2AdvertisementSpec | undefined);
  const before = r.count();
  checkDuplicates(spec.ipAddressPools, 'spec.ipAddressPools', r, prefix, 'ipAddressPools');
  checkDuplicates(spec.interfaces, 'spec.interfaces', r, prefix, 'interfaces');
  (Array.isArray(spec.interfaces) ? spec.interfaces : []).forEach((ifname, i) => {
    const e = interfaceNameError(ifname);
    if (e) r.add('LB_BAD_INTERFACE', `spec.interfaces[${i}]`, `${prefix}invalid interface ${showValue(ifname)} in interfaces: ${e}`);
  });
  const { poolSels, nodeSels, svcSels } = checkAdvertisementSelectors(spec, r, prefix);
  checkSelectors(
    spec.preferredNodeSelectors.map((p) => p.preference ?? {}),
    'preferredNodeSelectors',
    'spec.preferredNodeSelectors',
    'preferred node',
    r,
    prefix,
  );
  if (r.count() !== before) return undefined;
  warnings.push(...missingPoolWarnings('L2Advertisement', name, spec.ipAddressPools, allPoolNames));
  return {
    name,
    pools: selectPools(spec.ipAddressPools, poolSels, pools)
      .map((p) => p.name)
      .sort(),
    nodeSelectors: nodeSels,
    ...(nodes ? { nodes: selectNames(nodeSels, nodes) } : {}),
    interfaces: [...spec.interfaces],
    serviceSelectors: svcSels,
    preferredNodeSelectors: spec.preferredNodeSelectors.map((p) => ({
      weight: p.weight,
      preference: p.preference,
    })),
    ...(obj.metadata?.annotations?.[BerthAnnotations.l2Balance] === 'true' ? { balanced: true } : {}),
  };
}
