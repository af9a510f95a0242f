// Test helpers for the allocator (and for other layers' tests that need pools and Service requests): builders with
// defaults, a MetalLB-style story runner, and a brute-force invariant check. Not part of the public API (index.ts).
import assert from 'node:assert/strict';
import type { Code } from '../shared/codes.ts';
import { FAMILY_BITS, formatIp, parseCidr, parseIp, summarizeRange, type Family } from '../shared/ip.ts';
import type { LabelSelector } from '../shared/labels.ts';
import type { Allocator } from './allocator.ts';
import { isBuggy } from './slots.ts';
import type { AllocResult, Holder, Orphan, PoolSpec, Port, ServiceRequest } from './types.ts';

/** An IPAddressPool with MetalLB's defaults (autoAssign true, avoidBuggyIPs false, no serviceAllocation). */
export function pool(name: string, addresses: readonly string[], extra: Partial<PoolSpec> = {}): PoolSpec {
  return { name, addresses: [...addresses], autoAssign: true, avoidBuggyIPs: false, ...extra };
}

/** A serviceAllocation block; `namespaces` given → namespaceConstrained. */
export function allocation(
  opts: { priority?: number; namespaces?: string[]; namespaceConstrained?: boolean; serviceSelectors?: LabelSelector[] } = {},
): NonNullable<PoolSpec['serviceAllocation']> {
  return {
    priority: opts.priority ?? 0,
    namespaces: opts.namespaces ?? [],
    namespaceConstrained: opts.namespaceConstrained ?? (opts.namespaces !== undefined && opts.namespaces.length > 0),
    serviceSelectors: opts.serviceSelectors ?? [],
  };
}

export function tcp(port: number): Port {
  return { protocol: 'TCP', port };
}

export function udp(port: number): Port {
  return { protocol: 'UDP', port };
}

/** A single-stack IPv4 ClusterIP-policy Service `key` (`ns/name`) with TCP/80, overridable. */
export function svc(key: string, extra: Partial<ServiceRequest> = {}): ServiceRequest {
  const slash = key.indexOf('/');
  return {
    namespace: key.slice(0, slash),
    name: key.slice(slash + 1),
    labels: {},
    ports: [tcp(80)],
    sharingKey: '',
    backendKey: '',
    families: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    requestedIPs: [],
    ...extra,
  };
}

/** Deep-freezes plain data so that any mutation by the allocator throws (ESM code runs in strict mode). */
export function frozen<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) frozen(x);
  }
  return v;
}

/** One step of a story: rows run in order on one allocator, each building on the state the previous left. */
export interface Row {
  readonly desc: string;
  readonly op: 'setPools' | 'planPools' | 'allocate' | 'assign' | 'check' | 'restore' | 'release';
  /** setPools / planPools */
  readonly pools?: readonly PoolSpec[];
  /** Expected orphans as `key ips (pool)`. */
  readonly orphans?: readonly string[];
  readonly key?: string;
  /** Default: svc(key). */
  readonly svc?: ServiceRequest;
  readonly ips?: readonly string[];
  /** Expected IPs on success. */
  readonly want?: readonly string[];
  readonly pool?: string;
  readonly err?: Code;
  /** Exact text, or a pattern. */
  readonly msg?: string | RegExp;
}

/** Runs a story; after every row checks the result, the inputs' integrity and the invariants. */
export function runStory(alloc: Allocator, rows: readonly Row[], pools: PoolSpec[] = []): PoolSpec[] {
  let current = pools;
  for (const row of rows) {
    const where = `row "${row.desc}"`;
    if (row.op === 'setPools' || row.op === 'planPools') {
      const specs = row.pools ?? [];
      const copy = structuredClone(specs);
      const before = row.op === 'planPools' ? alloc.allocations() : undefined;
      const r = row.op === 'setPools' ? alloc.setPools(specs) : alloc.planPools(specs);
      assert.deepEqual(specs, copy, `${where}: pools mutated`);
      if (row.orphans) assert.deepEqual(r.orphaned.map(orphanText), row.orphans, `${where}: orphans`);
      if (row.op === 'setPools') current = [...specs];
      else assert.deepEqual(alloc.allocations(), before, `${where}: planPools changed the state`);
    } else if (row.op === 'release') {
      alloc.release(row.key ?? '');
      assert.equal(alloc.ipsOf(row.key ?? ''), undefined, `${where}: still holds`);
    } else {
      const key = row.key ?? '';
      const req = row.svc ?? svc(key);
      const copy = structuredClone(req);
      const ips = row.ips ? [...row.ips] : [];
      const before = row.op === 'check' ? alloc.allocations() : undefined;
      let r: AllocResult;
      if (row.op === 'allocate') r = alloc.allocate(key, req);
      else if (row.op === 'assign') r = alloc.assign(key, req, ips);
      else if (row.op === 'check') r = alloc.check(key, req, ips);
      else r = alloc.restore(key, { sharingKey: req.sharingKey, backendKey: req.backendKey, ports: req.ports }, ips);
      assert.deepEqual(req, copy, `${where}: request mutated`);
      if (before) assert.deepEqual(alloc.allocations(), before, `${where}: check changed the state`);
      if (row.err) {
        assert.equal(r.ok, false, `${where}: expected ${row.err}, got ${JSON.stringify(r)}`);
        if (!r.ok) {
          assert.equal(r.code, row.err, `${where}: code (message: ${r.message})`);
          if (typeof row.msg === 'string') assert.equal(r.message, row.msg, `${where}: message`);
          else if (row.msg) assert.match(r.message, row.msg, `${where}: message`);
        }
      } else {
        assert.equal(r.ok, true, `${where}: expected success, got ${JSON.stringify(r)}`);
        if (r.ok) {
          if (row.want) assert.deepEqual(r.ips, row.want, `${where}: ips`);
          if (row.pool) assert.equal(r.pool, row.pool, `${where}: pool`);
          if (row.op !== 'check') assert.deepEqual(alloc.ipsOf(key), { ips: r.ips, pool: r.pool }, `${where}: ipsOf`);
        }
      }
    }
    checkInvariants(alloc, current, where);
  }
  return current;
}

export function orphanText(o: Orphan): string {
  return `${o.key} ${o.ips.join(',')} (${o.pool})`;
}

/**
 * Brute-force checks of everything the allocator promises, recomputed from its public surface:
 * - every allocation has 1-2 IPs of distinct families, all inside its pool's usable addresses;
 * - every IP's holders can share it (same non-empty sharing key, same backend key, disjoint ports);
 * - stats() equals a recount (distinct IPs per family, services) and MetalLB's capacity formula.
 */
export function checkInvariants(alloc: Allocator, pools: readonly PoolSpec[], where = ''): void {
  const byName = new Map(pools.map((p) => [p.name, p]));
  const inUse = new Map<string, { v4: Set<string>; v6: Set<string>; services: number }>();
  for (const p of pools) inUse.set(p.name, { v4: new Set(), v6: new Set(), services: 0 });
  const seen = new Map<string, readonly Holder[]>();
  for (const a of alloc.allocations()) {
    assert.ok(a.ips.length === 1 || a.ips.length === 2, `${where}: ${a.key} holds ${a.ips.length} IPs`);
    const fams = a.ips.map((ip) => parseIp(ip)!.family);
    assert.equal(new Set(fams).size, fams.length, `${where}: ${a.key} holds two IPs of one family`);
    assert.deepEqual(fams, [...fams].sort(), `${where}: ${a.key} IPs not v4 first`);
    const spec = byName.get(a.pool);
    assert.ok(spec, `${where}: ${a.key} in unknown pool ${a.pool}`);
    const u = inUse.get(a.pool)!;
    u.services++;
    for (const ip of a.ips) {
      const ref = parseIp(ip)!;
      assert.ok(inPool(spec, ref), `${where}: ${ip} of ${a.key} is not in pool ${a.pool}`);
      if (spec.avoidBuggyIPs) assert.ok(!isBuggy(ref.family, ref.value), `${where}: ${ip} is a buggy IP`);
      assert.equal(alloc.poolOf(ip), a.pool, `${where}: poolOf(${ip})`);
      (ref.family === 'IPv4' ? u.v4 : u.v6).add(ip);
      const holders = seen.get(ip) ?? alloc.holdersOf(ip);
      seen.set(ip, holders);
      assert.ok(holders.some((h) => h.key === a.key), `${where}: ${a.key} missing from holdersOf(${ip})`);
    }
  }
  for (const [ip, holders] of seen) {
    if (holders.length < 2) continue;
    const first = holders[0]!;
    const used = new Map<string, string>();
    for (const h of holders) {
      assert.notEqual(h.sharingKey, '', `${where}: ${ip} shared by ${h.key} without a sharing key`);
      assert.equal(h.sharingKey, first.sharingKey, `${where}: ${ip} holders with different sharing keys`);
      assert.equal(h.backendKey, first.backendKey, `${where}: ${ip} holders with different backend keys`);
      for (const p of h.ports) {
        const k = `${p.protocol}/${p.port}`;
        assert.equal(used.get(k), undefined, `${where}: ${ip} port ${k} used by ${used.get(k)} and ${h.key}`);
        used.set(k, h.key);
      }
    }
  }
  const stats = alloc.stats();
  assert.deepEqual(
    stats.map((s) => s.pool),
    pools.map((p) => p.name).sort(),
    `${where}: stats pools`,
  );
  for (const s of stats) {
    const u = inUse.get(s.pool)!;
    const spec = byName.get(s.pool)!;
    assert.equal(s.ipv4InUse, u.v4.size, `${where}: ${s.pool} ipv4InUse`);
    assert.equal(s.ipv6InUse, u.v6.size, `${where}: ${s.pool} ipv6InUse`);
    assert.equal(s.services, u.services, `${where}: ${s.pool} services`);
    assert.equal(s.ipv4Total, metallbCount(spec, 'IPv4'), `${where}: ${s.pool} ipv4Total`);
    assert.equal(s.ipv6Total, metallbCount(spec, 'IPv6'), `${where}: ${s.pool} ipv6Total`);
  }
}

/** The pool's CIDRs (ranges summarised), configuration order. */
export function cidrsOf(spec: PoolSpec): Array<{ family: Family; first: bigint; last: bigint; prefix: number }> {
  const out: Array<{ family: Family; first: bigint; last: bigint; prefix: number }> = [];
  for (const a of spec.addresses) {
    const c = parseCidr(a);
    if (c) {
      out.push(c);
      continue;
    }
    const [x, y] = a.split('-').map((s) => parseIp(s)!);
    out.push(...summarizeRange({ family: x!.family, first: x!.value, last: y!.value }));
  }
  return out;
}

function inPool(spec: PoolSpec, ref: { family: Family; value: bigint }): boolean {
  return cidrsOf(spec).some((c) => c.family === ref.family && c.first <= ref.value && ref.value <= c.last);
}

/** MetalLB poolCount, per CIDR (allocator.go), without saturation: an independent check of the slot arithmetic. */
export function metallbCount(spec: PoolSpec, family: Family): bigint {
  let total = 0n;
  for (const c of cidrsOf(spec)) {
    if (c.family !== family) continue;
    const bits = FAMILY_BITS[c.family];
    let sz = 1n << BigInt(bits - c.prefix);
    if (spec.avoidBuggyIPs && c.family === 'IPv4') {
      if (c.prefix <= 24) sz -= (1n << BigInt(24 - c.prefix)) * 2n;
      else {
        if (isBuggy('IPv4', c.first)) sz--;
        if (isBuggy('IPv4', c.last)) sz--;
      }
    }
    total += sz;
  }
  return total;
}

/**
 * The reference answer for "lowest IP of `family` that `holder` may take in `spec`": MetalLB's linear walk over the
 * CIDRs in order, from the network address up, skipping buggy IPs, asking the allocator who holds each address.
 * Only for small pools.
 */
export function linearLowest(
  alloc: Allocator,
  spec: PoolSpec,
  family: Family,
  holder: { key: string; sharingKey: string; backendKey: string; ports: readonly Port[] },
): bigint | undefined {
  for (const c of cidrsOf(spec)) {
    if (c.family !== family) continue;
    for (let v = c.first; v <= c.last; v++) {
      if (spec.avoidBuggyIPs && isBuggy(family, v)) continue;
      const hs = alloc.holdersOf(textOfValue(family, v)).filter((h) => h.key !== holder.key);
      if (hs.length === 0) return v;
      const ok =
        holder.sharingKey !== '' &&
        hs.every((h) => h.sharingKey === holder.sharingKey && h.backendKey === holder.backendKey) &&
        !hs.some((h) => h.ports.some((p) => holder.ports.some((q) => q.protocol === p.protocol && q.port === p.port)));
      if (ok) return v;
    }
  }
  return undefined;
}

export function textOfValue(family: Family, v: bigint): string {
  return formatIp(family, v);
}
