// Denial texts that need the pools: "not in any pool" and "exhausted". They are what the webhook returns and what
// `berth plan` prints, so they name the IP, every pool with its addresses as written, and the usage counts.
import type { Family } from '../shared/ip.ts';
import { describePool } from './pool.ts';
import { fail, serviceFamilyText, textOf, type Failure, type ParsedRequest } from './request.ts';
import type { AllocState, IpRef, PoolState } from './state.ts';

/** `192.168.1.99 is not in any IPAddressPool (default: 192.168.1.220-192.168.1.250; prod: 10.0.0.0/24)`. */
export function notInPool(state: AllocState, ref: IpRef): Failure {
  const list = state.pools.map((p) => describePool(p.compiled)).join('; ');
  let msg = `${textOf(ref)} is not in any IPAddressPool (${list})`;
  const buggyOwner = state.poolFor(ref, false);
  if (buggyOwner !== undefined) {
    msg +=
      `: pool "${buggyOwner.compiled.name}" contains it but has avoidBuggyIPs: true, which excludes addresses ending ` +
      `in .0 and .255`;
  }
  return fail('LB_IP_NOT_IN_POOL', msg);
}

export function noPools(): Failure {
  return fail('LB_NO_POOLS', 'no IPAddressPool is configured');
}

/** Families a pool must have for the Service; `any` = one of them is enough (PreferDualStack). */
function needs(p: ParsedRequest): { families: readonly Family[]; any: boolean } {
  if (!p.dual) return { families: [p.families[0]!], any: false };
  return { families: ['IPv4', 'IPv6'], any: p.policy === 'PreferDualStack' };
}

function has(pool: PoolState, f: Family): boolean {
  return pool.compiled.hasFamily[f];
}

/** True when the pool could never serve the Service's family, whatever is free. */
export function lacksFamily(pool: PoolState, p: ParsedRequest): boolean {
  const n = needs(p);
  return n.any ? !n.families.some((f) => has(pool, f)) : !n.families.every((f) => has(pool, f));
}

/** `31/31 addresses in use`, or per family for mixed pools / dual-stack: `IPv4 3/10, IPv6 4/4 addresses in use`. */
function usage(pool: PoolState, p: ParsedRequest, noun: string): string {
  const fams = needs(p).families.filter((f) => has(pool, f));
  const single = fams.length === 1 && !(['IPv4', 'IPv6'] as const).some((f) => f !== fams[0] && has(pool, f));
  if (single) return `${pool.held[fams[0]!].size}/${pool.compiled.total[fams[0]!]}${noun} in use`;
  return `${fams.map((f) => `${f} ${pool.held[f].size}/${pool.compiled.total[f]}`).join(', ')}${noun} in use`;
}

function missing(pool: PoolState, p: ParsedRequest): string {
  const absent = needs(p).families.filter((f) => !has(pool, f));
  return `pool "${pool.compiled.name}" has no ${absent.join(' or ')} addresses`;
}

/** The one pool named by the address-pool annotation had nothing for the Service. */
export function poolExhausted(pool: PoolState, p: ParsedRequest): Failure {
  if (lacksFamily(pool, p)) {
    return fail('LB_FAMILY_MISMATCH', `${missing(pool, p)} (the Service is ${serviceFamilyText(p)})`);
  }
  return fail(
    'LB_POOL_EXHAUSTED',
    `pool "${pool.compiled.name}" is exhausted: ${usage(pool, p, ' addresses')}`,
  );
}

/** Automatic allocation found nothing in any candidate pool: name each with its usage. */
export function candidatesExhausted(candidates: readonly PoolState[], p: ParsedRequest): Failure {
  if (candidates.every((c) => lacksFamily(c, p))) {
    return fail(
      'LB_FAMILY_MISMATCH',
      `no available IPs: the Service is ${serviceFamilyText(p)} but ${candidates.map((c) => missing(c, p)).join(', ')}`,
    );
  }
  const parts = candidates.map((c) => (lacksFamily(c, p) ? missing(c, p) : `pool "${c.compiled.name}" ${usage(c, p, '')}`));
  return fail('LB_POOL_EXHAUSTED', `no available IPs: ${parts.join(', ')}`);
}
