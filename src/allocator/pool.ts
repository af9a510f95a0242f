// A PoolSpec compiled for allocation: its address blocks (CIDRs, and `a-b` ranges summarised into CIDRs ascending,
// as MetalLB's config.ParseCIDR does with ipaddr.Summarize), each block's slot range, and the pool's capacity.
// Immutable once built; the held addresses live in state.ts.
import { parseCidr, parseIp, summarizeRange, type Family } from '../shared/ip.ts';
import { formatSelector, matchesAny } from '../shared/labels.ts';
import { slotMap, type SlotMap } from './slots.ts';
import type { PoolSpec, ServiceRequest } from './types.ts';

export interface Block {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
  readonly prefix: number;
  /** Usable slot range; undefined when every address is excluded by avoidBuggyIPs (e.g. a lone x.x.x.0/32). */
  readonly slots: { readonly lo: bigint; readonly hi: bigint } | undefined;
}

export interface CompiledPool {
  readonly name: string;
  readonly spec: PoolSpec;
  /** Configuration order; a range contributes its summarised CIDRs in ascending order. */
  readonly blocks: readonly Block[];
  readonly slotMaps: Readonly<Record<Family, SlotMap>>;
  /** Usable addresses per family after avoidBuggyIPs (MetalLB poolCount, exact: bigint never overflows). */
  readonly total: Readonly<Record<Family, bigint>>;
  /** The pool has addresses of the family (even if avoidBuggyIPs leaves none usable). */
  readonly hasFamily: Readonly<Record<Family, boolean>>;
}

/** Compiles one pool. Throws on an address entry that is not a CIDR or range: pools come validated (src/config). */
export function compilePool(spec: PoolSpec): CompiledPool {
  const slotMaps: Record<Family, SlotMap> = {
    IPv4: slotMap('IPv4', spec.avoidBuggyIPs),
    IPv6: slotMap('IPv6', spec.avoidBuggyIPs),
  };
  const blocks: Block[] = [];
  const total: Record<Family, bigint> = { IPv4: 0n, IPv6: 0n };
  for (const entry of spec.addresses) {
    for (const c of parseEntry(entry, spec.name)) {
      const slots = slotMaps[c.family].range(c.first, c.last);
      blocks.push({ family: c.family, first: c.first, last: c.last, prefix: c.prefix, slots });
      if (slots) total[c.family] += slots.hi - slots.lo + 1n;
    }
  }
  const hasFamily = { IPv4: blocks.some((b) => b.family === 'IPv4'), IPv6: blocks.some((b) => b.family === 'IPv6') };
  return { name: spec.name, spec, blocks, slotMaps, total, hasFamily };
}

function parseEntry(entry: string, pool: string): Array<{ family: Family; first: bigint; last: bigint; prefix: number }> {
  const text = entry.trim();
  if (text.includes('/')) {
    const c = parseCidr(text);
    if (c) return [c];
  } else {
    const dash = text.indexOf('-');
    const a = dash > 0 ? parseIp(text.slice(0, dash)) : undefined;
    const b = dash > 0 ? parseIp(text.slice(dash + 1)) : undefined;
    if (a && b && a.family === b.family && a.value <= b.value) {
      return summarizeRange({ family: a.family, first: a.value, last: b.value });
    }
  }
  throw new Error(`allocator: pool "${pool}" has address "${entry}" that is neither a CIDR nor a range (validate first)`);
}

/** The namespaces a pool's serviceAllocation declared (namespaces + resolved namespaceSelectors). */
function declaresNamespaces(spec: PoolSpec): boolean {
  const sa = spec.serviceAllocation;
  return sa !== undefined && (sa.namespaceConstrained || sa.namespaces.length > 0);
}

/**
 * A serviceAllocation with only a priority matches every Service: MetalLB gives it an "everything" service selector
 * (addressPoolServiceAllocationsFromCR; issue #2656, PR #2714).
 */
function priorityOnly(spec: PoolSpec): boolean {
  const sa = spec.serviceAllocation;
  return sa !== undefined && !declaresNamespaces(spec) && sa.serviceSelectors.length === 0;
}

/**
 * Why the pool's serviceAllocation refuses the Service, or undefined when it accepts it (MetalLB
 * isPoolCompatibleWithService). A pool whose namespace list is empty and that has no selectors accepts everyone,
 * even when namespaceSelectors resolved to no name (spec §10B quirk: such a pool is only reachable explicitly).
 */
export function poolRefusal(pool: CompiledPool, req: ServiceRequest): string | undefined {
  const sa = pool.spec.serviceAllocation;
  if (sa === undefined) return undefined;
  if (sa.namespaces.length > 0 && !sa.namespaces.includes(req.namespace)) {
    return `pool "${pool.name}" does not allow namespace "${req.namespace}" (namespaces: ${[...sa.namespaces].sort().join(', ')})`;
  }
  if (sa.serviceSelectors.length > 0 && !matchesAny(sa.serviceSelectors, req.labels)) {
    const sels = sa.serviceSelectors.map((s) => formatSelector(s)).join(' or ');
    return `pool "${pool.name}" does not match the Service's labels (serviceSelectors: ${sels})`;
  }
  return undefined;
}

/**
 * Is the pool a "pinned" candidate for the Service (MetalLB pinnedPoolsForService: pools listing the Service's
 * namespace, plus pools with service selectors), before the autoAssign and compatibility filters?
 */
export function isPinnedFor(pool: CompiledPool, req: ServiceRequest): boolean {
  const sa = pool.spec.serviceAllocation;
  if (sa === undefined) return false;
  return sa.namespaces.includes(req.namespace) || sa.serviceSelectors.length > 0 || priorityOnly(pool.spec);
}

/** MetalLB sortPools: positive priorities ascending, then priority 0 (unset); berth breaks ties by name. */
export function comparePinned(a: CompiledPool, b: CompiledPool): number {
  const pa = rank(a);
  const pb = rank(b);
  if (pa !== pb) return pa - pb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function rank(p: CompiledPool): number {
  const prio = p.spec.serviceAllocation?.priority ?? 0;
  return prio > 0 ? prio : Number.MAX_SAFE_INTEGER;
}

/** Why a pool is not an automatic-allocation candidate for the Service at all (for "no pool" messages). */
export function autoExclusion(pool: CompiledPool, req: ServiceRequest): string {
  const refusal = poolRefusal(pool, req);
  if (!pool.spec.autoAssign) {
    // Say how to use it when a request would be accepted (its serviceAllocation admits the Service).
    return refusal === undefined
      ? `pool "${pool.name}" has autoAssign: false (request it with metallb.io/address-pool: ${pool.name})`
      : `pool "${pool.name}" has autoAssign: false`;
  }
  if (refusal) return refusal;
  return `pool "${pool.name}" has a serviceAllocation whose namespaceSelectors match no namespace (only explicit requests can use it)`;
}

/** `name: addr, addr` as written in the pool, for messages. */
export function describePool(pool: CompiledPool): string {
  return `${pool.name}: ${pool.spec.addresses.map((a) => a.trim()).join(', ')}`;
}
