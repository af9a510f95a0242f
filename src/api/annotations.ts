// Service annotation keys honoured by berth: MetalLB's current `metallb.io/` keys, their deprecated
// `metallb.universe.tf/` twins (still read; the `metallb.io/` key wins when both are set), and berth's own.

export const ANN_PREFIX = 'metallb.io/';
export const DEPRECATED_PREFIX = 'metallb.universe.tf/';

export const Annotations = {
  addressPool: 'metallb.io/address-pool',
  loadBalancerIPs: 'metallb.io/loadBalancerIPs',
  allowSharedIP: 'metallb.io/allow-shared-ip',
  ipAllocatedFromPool: 'metallb.io/ip-allocated-from-pool',
} as const;

export const DeprecatedAnnotations = {
  addressPool: 'metallb.universe.tf/address-pool',
  loadBalancerIPs: 'metallb.universe.tf/loadBalancerIPs',
  allowSharedIP: 'metallb.universe.tf/allow-shared-ip',
  ipAllocatedFromPool: 'metallb.universe.tf/ip-allocated-from-pool',
} as const;

/** berth's own annotations. */
export const BerthAnnotations = {
  /** Written by the mutating webhook: the IPs decided at admission, comma-separated (v4 first). */
  assignedIPs: 'berth.io/assigned-ips',
  /** On an IPAddressPool: "true" lets an edit or delete orphan held IPs (they are then re-allocated). */
  allowOrphaning: 'berth.io/allow-orphaning',
  /** On an L2Advertisement: "true" opts its IPs into balanced owner election (docs/layer2.md). */
  l2Balance: 'berth.io/l2-balance',
  /** On a BGPAdvertisement: `per-endpoint[:<rate>]` adds the link-bandwidth extended community (docs/bgp.md). */
  bgpLinkBandwidth: 'berth.io/bgp-link-bandwidth',
} as const;

export type AnnotationName = keyof typeof Annotations;

/**
 * Reads an annotation by logical name: the `metallb.io/` key wins, else the deprecated key.
 * `deprecated` is set when the value came from the deprecated key (callers warn: event `deprecatedAnnotation`).
 */
export function readAnnotation(
  annotations: Readonly<Record<string, string>> | undefined,
  name: AnnotationName,
): { value: string; key: string; deprecated: boolean } | undefined {
  if (!annotations) return undefined;
  const cur = Annotations[name];
  if (Object.prototype.hasOwnProperty.call(annotations, cur)) {
    return { value: annotations[cur] ?? '', key: cur, deprecated: false };
  }
  const old = DeprecatedAnnotations[name];
  if (Object.prototype.hasOwnProperty.call(annotations, old)) {
    return { value: annotations[old] ?? '', key: old, deprecated: true };
  }
  return undefined;
}

/** Every deprecated `metallb.universe.tf/*` key present (for the `deprecatedAnnotation` warning). */
export function deprecatedKeys(annotations: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(annotations ?? {}).filter((k) => k.startsWith(DEPRECATED_PREFIX)).sort();
}
