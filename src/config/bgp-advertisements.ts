// BGPAdvertisement objects → BGPAdvertisementConfig (MetalLB internal/config/config.go `bgpAdvertisementFromCR`,
// `validateDuplicateBGPAdvertisements`, LOCAL_PREF consistency), with MetalLB's messages.
import { withBGPAdvertisementDefaults, type BGPAdvertisementSpec } from '../api/bgp-advertisement.ts';
import type { KubeObject } from '../api/object.ts';
import { formatSelector } from '../shared/labels.ts';
import { lowestPrefix } from './addresses.ts';
import { parseCommunity } from './community.ts';
import { BerthAnnotations } from '../api/annotations.ts';
import { parseLinkBandwidth } from './link-bandwidth.ts';
import { missingPoolWarnings, selectPools } from './pool-selection.ts';
import type { ParsedPool } from './pools.ts';
import type { Reporter } from './problem.ts';
import { checkAdvertisementSelectors, checkDuplicates, selectNames } from './selectors.ts';
import type { BGPAdvertisementConfig, LabelledName } from './types.ts';

export interface ParsedBgpAdvertisement {
  readonly config: BGPAdvertisementConfig;
  readonly selected: readonly ParsedPool[];
  /** The defaulted spec as written (for the duplicate check). */
  readonly canonical: string;
  readonly reporter: Reporter;
}

export interface BgpAdContext {
  pools: readonly ParsedPool[];
  allPoolNames: ReadonlySet<string>;
  nodes: readonly LabelledName[] | undefined;
  aliases: ReadonlyMap<string, string>;
  deferTransient: boolean;
  warnings: string[];
}

export function parseBgpAdvertisement(
  obj: KubeObject,
  ctx: BgpAdContext,
  r: Reporter,
): ParsedBgpAdvertisement | undefined {
  const name = obj.metadata?.name ?? '';
  const prefix = `parsing bgp advertisement ${name}: `;
  const spec = withBGPAdvertisementDefaults(obj.spec as BGPAdvertisementSpec | undefined);
  const before = r.count();
  checkDuplicates(spec.ipAddressPools, 'spec.ipAddressPools', r, prefix, 'ipAddressPools');
  checkDuplicates(spec.communities, 'spec.communities', r, prefix, 'community');
  checkDuplicates(spec.peers, 'spec.peers', r, prefix, 'peers');
  const { poolSels, nodeSels, svcSels } = checkAdvertisementSelectors(spec, r, prefix);

  // serviceSelectors only with the default aggregation (MetalLB CEL rule on the spec, and the parser).
  if (spec.serviceSelectors.length > 0) {
    if (spec.aggregationLength !== 32) {
      r.add(
        'LB_AGGREGATION_SELECTORS',
        'spec.aggregationLength',
        `${prefix}serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in ${name}`,
      );
    }
    if (spec.aggregationLengthV6 !== 128) {
      r.add(
        'LB_AGGREGATION_SELECTORS',
        'spec.aggregationLengthV6',
        `${prefix}serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in ${name}`,
      );
    }
  }
  // MetalLB formats the length with %q (a Go character literal, e.g. '!' for 33); berth prints the number.
  const v4ok = spec.aggregationLength <= 32;
  const v6ok = spec.aggregationLengthV6 <= 128;
  if (!v4ok)
    r.add(
      'LB_BAD_AGGREGATION',
      'spec.aggregationLength',
      `${prefix}invalid aggregation length ${spec.aggregationLength} for IPv4`,
    );
  if (!v6ok)
    r.add(
      'LB_BAD_AGGREGATION',
      'spec.aggregationLengthV6',
      `${prefix}invalid aggregation length ${spec.aggregationLengthV6} for IPv6`,
    );

  const selected = selectPools(spec.ipAddressPools, poolSels, ctx.pools);
  // The aggregated prefix must not be shorter than any block of an addresses entry: it would cover addresses that
  // are not in the pool.
  for (const pool of selected) {
    for (const entry of pool.entries) {
      for (const [family, len, field, ok] of [
        ['IPv4', spec.aggregationLength, 'spec.aggregationLength', v4ok],
        ['IPv6', spec.aggregationLengthV6, 'spec.aggregationLengthV6', v6ok],
      ] as const) {
        const low = lowestPrefix(entry.cidrs.filter((c) => c.family === family));
        if (!ok || low === undefined || len >= low) continue;
        r.add(
          'LB_BAD_AGGREGATION',
          field,
          `${prefix}invalid aggregation length ${len}: prefix ${low} in this pool is more specific than the aggregation length for addresses ${entry.text} (pool ${pool.name})`,
        );
      }
    }
  }

  const communities: string[] = [];
  spec.communities.forEach((c, i) => {
    const alias = ctx.aliases.get(c);
    if (alias !== undefined) {
      communities.push(alias);
      return;
    }
    // An alias name (no `:`) may refer to a Community created later: deferred like MetalLB's webhooks do.
    if (ctx.deferTransient && !c.includes(':')) return;
    const parsed = parseCommunity(c);
    if (!parsed.ok) {
      r.add(
        'LB_BAD_COMMUNITY',
        `spec.communities[${i}]`,
        `${prefix}invalid community ${JSON.stringify(c)} in BGP advertisement: ${parsed.message}`,
      );
      return;
    }
    communities.push(parsed.text);
  });

  const lbw = obj.metadata?.annotations?.[BerthAnnotations.bgpLinkBandwidth];
  const linkBandwidth = lbw === undefined ? undefined : parseLinkBandwidth(lbw);
  if (linkBandwidth && !linkBandwidth.ok) {
    r.add(
      'LB_BAD_LINK_BANDWIDTH',
      `metadata.annotations["${BerthAnnotations.bgpLinkBandwidth}"]`,
      `${prefix}${linkBandwidth.message}`,
    );
  }

  if (r.count() !== before) return undefined;
  ctx.warnings.push(...missingPoolWarnings('BGPAdvertisement', name, spec.ipAddressPools, ctx.allPoolNames));
  const config: BGPAdvertisementConfig = {
    name,
    pools: selected.map((p) => p.name).sort(),
    aggregationLength: spec.aggregationLength,
    aggregationLengthV6: spec.aggregationLengthV6,
    localPref: spec.localPref,
    communities,
    peers: [...spec.peers],
    nodeSelectors: nodeSels,
    ...(ctx.nodes ? { nodes: selectNames(nodeSels, ctx.nodes) } : {}),
    serviceSelectors: svcSels,
    ...(linkBandwidth?.ok
      ? { linkBandwidth: { perEndpointBitsPerSecond: linkBandwidth.perEndpointBitsPerSecond } }
      : {}),
  };
  return { config, selected, canonical: JSON.stringify(spec), reporter: r };
}

/**
 * Checks across advertisements (in name order):
 * - two advertisements with identical specs → `duplicate definition of bgpadvertisements. advertisement i and j are equal`;
 * - LOCAL_PREF: two advertisements without serviceSelectors that apply to a common pool, with equal aggregation
 *   length for a family the pool has, overlapping peers and overlapping nodes, must agree on localPref (otherwise the
 *   same prefix would be sent to the same peer from the same node with two LOCAL_PREFs). MetalLB's message has a
 *   typo ("preferernce"); berth spells it correctly.
 */
export function checkBgpAdvertisementSet(ads: readonly ParsedBgpAdvertisement[], nodesKnown: boolean): void {
  for (let j = 0; j < ads.length; j++) {
    const b = ads[j]!;
    for (let i = 0; i < j; i++) {
      const a = ads[i]!;
      if (a.canonical === b.canonical) {
        b.reporter.add(
          'LB_DUPLICATE_ADVERTISEMENT',
          'spec',
          `duplicate definition of bgpadvertisements. advertisement ${i} and ${j} are equal (${a.config.name}, ${b.config.name})`,
        );
        break;
      }
      const conflict = localPrefConflict(a, b, nodesKnown);
      if (conflict) {
        b.reporter.add(
          'LB_LOCALPREF_CONFLICT',
          'spec.localPref',
          `invalid local preference ${b.config.localPref}: local preference ${a.config.localPref} was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths (pool ${conflict}, advertisement ${a.config.name})`,
        );
        break;
      }
    }
  }
}

/** The common pool that makes a and b conflict on LOCAL_PREF, or undefined. */
function localPrefConflict(
  a: ParsedBgpAdvertisement,
  b: ParsedBgpAdvertisement,
  nodesKnown: boolean,
): string | undefined {
  const x = a.config;
  const y = b.config;
  if (x.localPref === y.localPref || x.serviceSelectors.length > 0 || y.serviceSelectors.length > 0)
    return undefined;
  if (x.peers.length > 0 && y.peers.length > 0 && !x.peers.some((p) => y.peers.includes(p))) return undefined;
  if (!nodesOverlap(x, y, nodesKnown)) return undefined;
  const bPools = new Set(b.selected.map((p) => p.name));
  for (const pool of a.selected) {
    if (!bPools.has(pool.name)) continue;
    if (
      (pool.hasV4 && x.aggregationLength === y.aggregationLength) ||
      (pool.hasV6 && x.aggregationLengthV6 === y.aggregationLengthV6)
    ) {
      return pool.name;
    }
  }
  return undefined;
}

/** With the node list: the selected node sets intersect. Without it: either selects every node, or both select alike. */
function nodesOverlap(x: BGPAdvertisementConfig, y: BGPAdvertisementConfig, nodesKnown: boolean): boolean {
  if (nodesKnown && x.nodes && y.nodes) return x.nodes.some((n) => y.nodes!.includes(n));
  if (x.nodeSelectors.length === 0 || y.nodeSelectors.length === 0) return true;
  const fx = x.nodeSelectors.map(formatSelector).sort().join('|');
  const fy = y.nodeSelectors.map(formatSelector).sort().join('|');
  return fx === fy;
}
