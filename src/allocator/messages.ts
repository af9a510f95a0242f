// Denial texts that need the pools: "not in any pool" and "exhausted". They are what the webhook returns and what
// `berth plan` prints, so they name the IP, every pool with its addresses as written, and the usage counts.
import type { Family } from '../shared/ip.ts';
import { describePool, poolRefusal } from './pool.ts';
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

/**
 * The one pool named by the address-pool annotation had nothing for the Service (MetalLB: `no available IPs in pool
 * <p>`). The pool and its usage come first; then the other pools that could serve the Service, how to request them,
 * and the remedies (`others`: every pool of the configuration).
 */
export function poolExhausted(pool: PoolState, p: ParsedRequest, others: readonly PoolState[] = []): Failure {
  if (lacksFamily(pool, p)) {
    return fail('LB_FAMILY_MISMATCH', `${missing(pool, p)} (the Service is ${serviceFamilyText(p)})`);
  }
  const alternatives = others.filter((o) => o !== pool && poolRefusal(o.compiled, p.req) === undefined);
  return fail(
    'LB_POOL_EXHAUSTED',
    `pool "${pool.compiled.name}" is exhausted: ${usage(pool, p, ' addresses')}` +
      otherPools(alternatives, p, () => undefined) +
      remedies([pool]),
  );
}

/**
 * Automatic allocation found nothing in any candidate pool: name each with its usage (MetalLB's `no available IPs`
 * first), then the pools that were not candidates but have free IPs, each with why it was not used and how to use it
 * (`all`: every pool of the configuration), then the remedies.
 */
export function candidatesExhausted(
  candidates: readonly PoolState[],
  p: ParsedRequest,
  all: readonly PoolState[] = [],
): Failure {
  if (candidates.every((c) => lacksFamily(c, p))) {
    return fail(
      'LB_FAMILY_MISMATCH',
      `no available IPs: the Service is ${serviceFamilyText(p)} but ${candidates.map((c) => missing(c, p)).join(', ')}`,
    );
  }
  const parts = candidates.map((c) => (lacksFamily(c, p) ? missing(c, p) : `pool "${c.compiled.name}" ${usage(c, p, '')}`));
  const others = all.filter((o) => !candidates.includes(o));
  const why = (o: PoolState): string | undefined => {
    if (poolRefusal(o.compiled, p.req)) return undefined; // otherPools says it
    if (!o.compiled.spec.autoAssign) return 'autoAssign is false';
    // autoAssign with a serviceAllocation that accepts the Service but does not pin it: namespaceSelectors that
    // resolved to no namespace (only explicit requests reach such a pool, spec §10B).
    return 'its namespaceSelectors match no namespace';
  };
  const exhausted = candidates.filter((c) => !lacksFamily(c, p));
  return fail('LB_POOL_EXHAUSTED', `no available IPs: ${parts.join(', ')}` + otherPools(others, p, why) + remedies(exhausted));
}

// Annotation keys named in hints (src/api/annotations.ts; the allocator does not import the API layer).
const ADDRESS_POOL = 'metallb.io/address-pool';
const ALLOW_SHARED_IP = 'metallb.io/allow-shared-ip';

/** At most this many other pools are named in one message. */
const MAX_OTHERS = 5;

/**
 * `. Other pools: pool "production" has 6 free but autoAssign is false (request it with metallb.io/address-pool:
 * production); pool "x" has 2 free but does not allow namespace "y" (namespaces: a)`. Only pools with a free
 * address of a family the Service needs are listed. A pool whose serviceAllocation refuses the Service gets the
 * refusal and no hint (a request would be refused too); the others get `why` they were not used (if anything) and
 * the annotation that requests them.
 */
function otherPools(pools: readonly PoolState[], p: ParsedRequest, why: (pool: PoolState) => string | undefined): string {
  const lines: string[] = [];
  for (const o of pools) {
    const free = freeText(o, p);
    if (free === undefined) continue;
    const name = o.compiled.name;
    const refusal = poolRefusal(o.compiled, p.req);
    if (refusal) {
      lines.push(`pool "${name}" has ${free} free but ${refusal.replace(`pool "${name}" `, '')}`);
      continue;
    }
    const reason = why(o);
    lines.push(`pool "${name}" has ${free} free${reason ? ` but ${reason}` : ''} (request it with ${ADDRESS_POOL}: ${name})`);
  }
  if (lines.length === 0) return '';
  const more = lines.length > MAX_OTHERS ? `; and ${lines.length - MAX_OTHERS} more` : '';
  return `. Other pools: ${lines.slice(0, MAX_OTHERS).join('; ')}${more}`;
}

/** Free addresses of the families the Service needs: `6`, or `IPv4 3, IPv6 5`; undefined when none. */
function freeText(pool: PoolState, p: ParsedRequest): string | undefined {
  const fams = needs(p).families.filter((f) => has(pool, f));
  const free = fams.map((f) => ({ f, n: pool.compiled.total[f] - BigInt(pool.held[f].size) }));
  const n = needs(p);
  const usable = n.any || !p.dual ? free.some((x) => x.n > 0n) : free.length === 2 && free.every((x) => x.n > 0n);
  if (!usable) return undefined;
  return free.length === 1 ? `${free[0]!.n}` : free.map((x) => `${x.f} ${x.n}`).join(', ');
}

/** `. To fix: add addresses to pool "default", or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)`. */
function remedies(full: readonly PoolState[]): string {
  const names = full.map((f) => `"${f.compiled.name}"`);
  const where = names.length === 1 ? `pool ${names[0]}` : `one of the pools ${names.join(', ')}`;
  return `. To fix: add addresses to ${where}, or share an IP between Services (same ${ALLOW_SHARED_IP} key, different ports)`;
}
