// IPAddressPool objects → PoolSpec (MetalLB internal/config/config.go `poolsFor`, `addressPoolFromCR`,
// `addressPoolServiceAllocationsFromCR`), with MetalLB's messages.
import type { PoolSpec } from '../allocator/types.ts';
import type { IPAddressPoolSpec } from '../api/ip-address-pool.ts';
import { withIPAddressPoolDefaults } from '../api/ip-address-pool.ts';
import type { KubeObject } from '../api/object.ts';
import type { LabelSelector } from '../shared/labels.ts';
import { parseAddressEntry, type Cidr } from './addresses.ts';
import type { Reporter } from './problem.ts';
import { checkSelectors, selectNames } from './selectors.ts';
import type { LabelledName } from './types.ts';

export interface ParsedEntry {
  /** The `addresses` item as written. */
  readonly text: string;
  readonly index: number;
  readonly cidrs: readonly Cidr[];
}

export interface ParsedPool {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly spec: PoolSpec;
  readonly entries: readonly ParsedEntry[];
  readonly hasV4: boolean;
  readonly hasV6: boolean;
  readonly reporter: Reporter;
  /** False when the pool has an error (already reported); its good entries still take part in the overlap check. */
  readonly valid: boolean;
}

/** One pool; undefined when it has no name. */
export function parsePool(
  obj: KubeObject,
  namespaces: readonly LabelledName[],
  r: Reporter,
): ParsedPool | undefined {
  const name = obj.metadata?.name ?? '';
  if (name === '') {
    r.add('LB_POOL_NO_NAME', 'metadata.name', 'missing pool name');
    return undefined;
  }
  const prefix = `parsing address pool ${name}: `;
  const raw = (obj.spec ?? {}) as IPAddressPoolSpec;
  const spec = withIPAddressPoolDefaults(raw);
  let ok = true;
  const entries: ParsedEntry[] = [];
  if (spec.addresses === undefined || spec.addresses.length === 0) {
    r.add('LB_POOL_NO_ADDRESSES', 'spec.addresses', `${prefix}pool has no prefixes defined`);
    ok = false;
  }
  (spec.addresses ?? []).forEach((text, index) => {
    const res = parseAddressEntry(text);
    if (!res.ok) {
      const code = res.code;
      r.add(
        code,
        `spec.addresses[${index}]`,
        `${prefix}invalid CIDR ${JSON.stringify(text)} in pool ${JSON.stringify(name)}: ${res.message}`,
      );
      ok = false;
      return;
    }
    entries.push({ text, index, cidrs: res.cidrs });
  });
  const sa = serviceAllocation(spec, name, namespaces, r, prefix);
  const poolSpec: PoolSpec = {
    name,
    addresses: [...(spec.addresses ?? [])],
    autoAssign: spec.autoAssign,
    avoidBuggyIPs: spec.avoidBuggyIPs,
    ...(sa ? { serviceAllocation: sa } : {}),
  };
  if (sa === false) ok = false;
  const all = entries.flatMap((e) => e.cidrs);
  return {
    name,
    labels: { ...(obj.metadata?.labels ?? {}) },
    spec: poolSpec,
    entries,
    hasV4: all.some((c) => c.family === 'IPv4'),
    hasV6: all.some((c) => c.family === 'IPv6'),
    reporter: r,
    valid: ok,
  };
}

type Allocation = NonNullable<PoolSpec['serviceAllocation']>;

/** The pool's serviceAllocation with namespaceSelectors resolved; undefined when absent; false on error. */
function serviceAllocation(
  spec: IPAddressPoolSpec,
  pool: string,
  namespaces: readonly LabelledName[],
  r: Reporter,
  prefix: string,
): Allocation | undefined | false {
  const sa = spec.serviceAllocation;
  if (sa === undefined) return undefined;
  let ok = true;
  const names = new Set<string>();
  (sa.namespaces ?? []).forEach((ns, i) => {
    if (names.has(ns)) {
      r.add(
        'LB_DUPLICATE_ENTRY',
        `spec.serviceAllocation.namespaces[${i}]`,
        `${prefix}duplicate definition in namespaces field ${JSON.stringify(ns)}`,
      );
      ok = false;
    }
    names.add(ns);
  });
  const suffix = ` in ip pool ${pool}`;
  const before = r.count();
  const nsSels = checkSelectors(
    sa.namespaceSelectors,
    'namespaceSelectors',
    'spec.serviceAllocation.namespaceSelectors',
    'namespace',
    r,
    prefix,
    suffix,
  );
  const svcSels = checkSelectors(
    sa.serviceSelectors,
    'serviceSelectors',
    'spec.serviceAllocation.serviceSelectors',
    'service',
    r,
    prefix,
    suffix,
  );
  if (r.count() !== before) ok = false;
  if (!ok) return false;
  // Kubernetes sets kubernetes.io/metadata.name on every namespace; selectors may rely on it.
  const withName = namespaces.map((n) => ({
    name: n.name,
    labels: { ...n.labels, 'kubernetes.io/metadata.name': n.name },
  }));
  const selected = nsSels.length > 0 ? selectNames(nsSels, withName) : [];
  const declared = (sa.namespaces?.length ?? 0) > 0 || (sa.namespaceSelectors?.length ?? 0) > 0;
  // A serviceAllocation with only a priority matches every Service (MetalLB gives it an "everything" selector,
  // issue #2656 / PR #2714); `{}` is the empty selector, which matches everything.
  const everything: LabelSelector[] = !declared && svcSels.length === 0 ? [{}] : [];
  return {
    priority: sa.priority ?? 0,
    namespaces: [...new Set([...names, ...selected])].sort(),
    namespaceConstrained: declared,
    serviceSelectors: svcSels.length > 0 ? svcSels : everything,
  };
}

/**
 * No CIDR may overlap another, within or across pools, IPv4 and IPv6; an exact duplicate counts (MetalLB
 * `poolsFor`). Pools are taken in the given order; each later CIDR is reported against the earliest-defined one it
 * overlaps, once per addresses entry. CIDRs are nested or disjoint, so one sort plus a stack finds every overlap.
 * Message: MetalLB's text, then the pool and entry holding the earlier CIDR in parentheses.
 */
export function checkOverlaps(pools: readonly ParsedPool[]): Set<string> {
  interface Item {
    cidr: Cidr;
    order: number;
    pool: ParsedPool;
    entry: ParsedEntry;
  }
  const items: Item[] = [];
  for (const pool of pools)
    for (const entry of pool.entries)
      for (const cidr of entry.cidrs) items.push({ cidr, order: items.length, pool, entry });
  const famRank = (f: string): number => (f === 'IPv4' ? 0 : 1);
  const sorted = [...items].sort(
    (a, b) =>
      famRank(a.cidr.family) - famRank(b.cidr.family) ||
      (a.cidr.first < b.cidr.first ? -1 : a.cidr.first > b.cidr.first ? 1 : 0) ||
      (a.cidr.last > b.cidr.last ? -1 : a.cidr.last < b.cidr.last ? 1 : 0) ||
      a.order - b.order,
  );
  // earliest-defined overlapping partner, per item
  const partner = new Map<Item, Item>();
  const note = (later: Item, earlier: Item): void => {
    const cur = partner.get(later);
    if (!cur || earlier.order < cur.order) partner.set(later, earlier);
  };
  const stack: Item[] = [];
  for (const it of sorted) {
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.cidr.family !== it.cidr.family || top.cidr.last < it.cidr.first) stack.pop();
      else break;
    }
    for (const enclosing of stack) {
      if (enclosing.order < it.order) note(it, enclosing);
      else note(enclosing, it);
    }
    stack.push(it);
  }
  /**
   * Which object holds the earlier CIDR (MetalLB's message names only the CIDR; users ask which object, MetalLB issue
   * #1577): `IPAddressPool "a", spec.addresses[0]`, with the entry as written when it is a range.
   */
  const overlapOwner = (later: Item, earlier: Item): string => {
    const written = earlier.entry.text.trim() === earlier.cidr.text ? '' : ` ${JSON.stringify(earlier.entry.text.trim())}`;
    const where = `spec.addresses[${earlier.entry.index}]${written}`;
    return earlier.pool === later.pool ? `the same pool's ${where}` : `IPAddressPool ${JSON.stringify(earlier.pool.name)}, ${where}`;
  };
  const bad = new Set<string>();
  const reportedEntries = new Set<ParsedEntry>();
  for (const it of items) {
    const earlier = partner.get(it);
    if (!earlier || reportedEntries.has(it.entry)) continue;
    reportedEntries.add(it.entry);
    bad.add(it.pool.name);
    it.pool.reporter.add(
      'LB_POOL_OVERLAP',
      `spec.addresses[${it.entry.index}]`,
      `CIDR ${JSON.stringify(it.cidr.text)} in pool ${JSON.stringify(it.pool.name)} overlaps with already defined CIDR ${JSON.stringify(earlier.cidr.text)}` +
        ` (${overlapOwner(it, earlier)})`,
    );
  }
  return bad;
}
