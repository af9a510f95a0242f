// berth.io/v1alpha1 IPAddressClaim: one cluster-scoped object per allocated IP (KEP-1880 style).
// Create-only naming makes the API server the arbiter: the first create wins.
import { parseIp, formatIp } from '../shared/ip.ts';

export const CLAIM_GROUP = 'berth.io';
export const CLAIM_VERSION = 'v1alpha1';
export const CLAIM_KIND = 'IPAddressClaim';
export const CLAIM_PLURAL = 'ipaddressclaims';
export const CLAIM_API_VERSION = `${CLAIM_GROUP}/${CLAIM_VERSION}`;

/** Label naming the component that manages a claim (KEP-1880 recommends a managed-by label). */
export const CLAIM_MANAGED_BY_LABEL = 'berth.io/managed-by';
export const CLAIM_MANAGED_BY = 'berth';
export const CLAIM_FAMILY_LABEL = 'berth.io/ip-family';

export interface ClaimHolder {
  namespace: string;
  name: string;
  /**
   * The Service's uid: written by UPDATE admissions (the stored Service's uid is known) and bound by the controller
   * once a created Service exists (a CREATE admission runs before the uid is assigned). An entry whose uid differs from
   * the live Service's belongs to an earlier Service of the same name (deleted, not yet released).
   */
  uid?: string;
  /**
   * `namespace/name`, for display (`kubectl get ipaddressclaims` prints it): the Service is identified by
   * namespace + name + uid, never by this field.
   */
  service?: string;
  /**
   * Set by an UPDATE admission that added this IP: the resourceVersion of the stored Service version it replaced.
   * While the Service is still at that resourceVersion the admission may be in flight (the new version not stored
   * yet), so the controller must not release the entry as "not named by the Service".
   */
  admittedOn?: string;
  ports: Array<{ protocol: 'TCP' | 'UDP' | 'SCTP'; port: number }>;
}

export interface IPAddressClaimSpec {
  ip: string;
  pool: string;
  sharingKey: string;
  backendKey: string;
  holders: ClaimHolder[];
}

export interface IPAddressClaim {
  apiVersion: typeof CLAIM_API_VERSION;
  kind: typeof CLAIM_KIND;
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: IPAddressClaimSpec;
}

/**
 * Object name of the claim for an IP: `v4-192-168-1-221`, `v6-2001-db8--1`, `v6-2001-db8-22--0`.
 *
 * The name is `v4-` or `v6-` followed by the canonical text (dotted decimal, RFC 5952 section 4 for IPv6) with every
 * `.`/`:` spelled `-`. An IPv6 address whose canonical text ends in `::` (`2001:db8:22::`, `::`, the first address of
 * every IPv6 CIDR) would give a name ending in `-`, which is not a DNS-1123 subdomain (kube-apiserver answers 422;
 * apimachinery validation.go IsDNS1123Subdomain), so that one zero group is spelled out: `v6-2001-db8-22--0`, `v6---0`.
 * Every name valid before this rule is unchanged (claims are found by name across upgrades), and no two addresses
 * share a name: RFC 5952 text never ends in `::0` (that group would have been compressed), so the spelled-out
 * names are exactly the ones no canonical text produces.
 * Every result is a DNS-1123 subdomain of at most 42 characters. Throws on a non-IP (a caller bug).
 */
export function claimName(ip: string): string {
  const p = parseIp(ip);
  if (!p) throw new Error(`claimName: "${ip}" is not an IP`);
  const canon = formatIp(p.family, p.value);
  if (p.family === 'IPv4') return `v4-${canon.replaceAll('.', '-')}`;
  const name = `v6-${canon.replaceAll(':', '-')}`;
  return canon.endsWith('::') ? `${name}0` : name;
}

export function newClaim(spec: IPAddressClaimSpec): IPAddressClaim {
  const fam = parseIp(spec.ip)?.family ?? 'IPv4';
  return {
    apiVersion: CLAIM_API_VERSION,
    kind: CLAIM_KIND,
    metadata: {
      name: claimName(spec.ip),
      labels: { [CLAIM_MANAGED_BY_LABEL]: CLAIM_MANAGED_BY, [CLAIM_FAMILY_LABEL]: fam },
    },
    spec,
  };
}
