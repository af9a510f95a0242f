// Reading a ServiceRequest: its IP families and policy, its requested IPs, and whether a set of IPs fits the
// Service's families. MetalLB: controller/service.go (getDesiredLbIPs, the family check in allocateIPs),
// internal/ipfamily (ForService, ForAddressesIPs), allocator.go Assign (at most two IPs, of different families).
import { formatIp, parseIp, type Family } from '../shared/ip.ts';
import { byFamily, type IpRef } from './state.ts';
import type { AllocResult, IpFamilyPolicy, ServiceRequest } from './types.ts';

export type Failure = Extract<AllocResult, { ok: false }>;

const NONE: readonly IpRef[] = Object.freeze([]);

export interface ParsedRequest {
  readonly req: ServiceRequest;
  /** Distinct families, preferred (spec.ipFamilies[0]) first. */
  readonly families: readonly Family[];
  readonly dual: boolean;
  readonly policy: IpFamilyPolicy;
  /** Requested IPs, canonical, v4 before v6. */
  readonly requested: readonly IpRef[];
  /** The address-pool annotation, undefined when absent or blank. */
  readonly pool: string | undefined;
}

export function fail(code: Failure['code'], message: string): Failure {
  return { ok: false, code, message };
}

export function parseRequest(req: ServiceRequest): { ok: true; value: ParsedRequest } | Failure {
  let families: readonly Family[] = req.families;
  if (families.length > 2 || (families.length === 2 && families[0] === families[1])) {
    families = [...new Set(families)];
  }
  if (families.length === 0) {
    return fail('LB_FAMILY_MISMATCH', 'the Service has no IP family (spec.ipFamilies and spec.clusterIPs are empty)');
  }
  if (req.ipFamilyPolicy === 'RequireDualStack' && families.length < 2) {
    return fail(
      'LB_FAMILY_MISMATCH',
      `the Service requires dual-stack (ipFamilyPolicy: RequireDualStack) but has only ${families[0]} ` +
        `(Service requires dual stack but not enough clusterips)`,
    );
  }
  const requested = req.requestedIPs.length === 0 ? NONE : parseIps(req.requestedIPs, 'requested IP');
  if ('ok' in requested) return requested;
  const value: ParsedRequest = {
    req,
    families,
    dual: families.length === 2,
    policy: req.ipFamilyPolicy,
    requested,
    pool: req.pool === undefined || req.pool.trim() === '' ? undefined : req.pool.trim(),
  };
  if (requested.length > 0) {
    const bad = familyMismatch(value, requested, true, 'requested IP');
    if (bad) return bad;
  }
  return { ok: true, value };
}

/** Parses IPs (1 or 2, distinct families); v4 first. `what` names them in messages. */
export function parseIps(texts: readonly string[], what: string): IpRef[] | Failure {
  const out: IpRef[] = [];
  for (const t of texts) {
    const p = parseIp(t);
    if (!p) return fail('LB_BAD_REQUESTED_IP', `${what} "${t}" is not a valid IP address`);
    out.push(p);
  }
  if (out.length > 2) {
    return fail(
      'LB_BAD_REQUESTED_IP',
      `${out.length} ${what}s (${texts.map((t) => t.trim()).join(', ')}); at most 2: one IPv4 and one IPv6 ` +
        `(more than two addresses)`,
    );
  }
  if (out.length === 2 && out[0]!.family === out[1]!.family) {
    return fail(
      'LB_BAD_REQUESTED_IP',
      `${what}s ${texts.map((t) => t.trim()).join(', ')} are both ${out[0]!.family}; two IPs must be one IPv4 and one IPv6`,
    );
  }
  return out.sort(byFamily);
}

/** Describes the Service's family for messages: `IPv4-only`, `dual-stack (IPv6, IPv4; RequireDualStack)`. */
export function serviceFamilyText(p: ParsedRequest): string {
  return p.dual ? `dual-stack (${p.families.join(', ')}; ${p.policy})` : `${p.families[0]}-only`;
}

/**
 * Do these IPs fit the Service's families? `strict` (requested IPs) demands exactly the Service's families, as
 * MetalLB does (`requested loadBalancer IP(s) ... does not match the ipFamily of the service`); otherwise a
 * PreferDualStack Service may hold a single IP of either family (spec §3.1 step 8).
 */
export function familyMismatch(p: ParsedRequest, refs: readonly IpRef[], strict: boolean, what: string): Failure | undefined {
  const texts = refs.map((r) => textOf(r)).join(', ');
  const fams = refs.map((r) => r.family);
  const label = refs.length === 1 ? `${what} ${texts} is ${fams[0]}` : `${what}s ${texts} are dual-stack`;
  if (!p.dual) {
    if (refs.length === 1 && fams[0] === p.families[0]) return undefined;
    return fail('LB_FAMILY_MISMATCH', `${label} but the Service is ${serviceFamilyText(p)}`);
  }
  if (refs.length === 2) return undefined;
  if (!strict && p.policy === 'PreferDualStack') return undefined;
  return fail(
    'LB_FAMILY_MISMATCH',
    `${label} but the Service is ${serviceFamilyText(p)}; it needs one IPv4 and one IPv6 address`,
  );
}

/** Canonical text of a parsed IP (for messages; recorded entries cache their text). */
export function textOf(r: IpRef): string {
  return formatIp(r.family, r.value);
}
