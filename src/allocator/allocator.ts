// berth's IP allocator: MetalLB's decisions (internal/allocator/allocator.go, controller/service.go allocateIPs;
// spec §2.3 and §3), with the free-IP search on ordered indexes instead of a linear scan, pools of equal priority
// (and fallback pools) tried in name order, and error values whose messages are the webhook's denial text.
// Pure and synchronous: no I/O, no timers, no globals. Inputs are never mutated (records copy what they keep).
import { parseIp, type Family } from '../shared/ip.ts';
import { candidatesExhausted, noPools, notInPool, poolExhausted } from './messages.ts';
import { autoExclusion, comparePinned, isPinnedFor, poolRefusal } from './pool.ts';
import { fail, familyMismatch, parseIps, parseRequest, textOf, type Failure, type ParsedRequest } from './request.ts';
import { sharingProblem } from './sharing.ts';
import { AllocState, type HolderInfo, type HolderState, type IpEntry, type IpRef, type PoolState } from './state.ts';
import type { AllocatorApi, AllocResult, Holder, Orphan, PoolSpec, PoolStats, ServiceRequest } from './types.ts';

interface Decision {
  readonly ok: true;
  readonly pool: PoolState;
  readonly refs: readonly IpRef[];
}

/** One allocation, as listed by `allocations()`. */
export interface Allocation {
  readonly key: string;
  readonly ips: readonly string[];
  readonly pool: string;
}

export class Allocator implements AllocatorApi {
  #state = new AllocState([]);

  setPools(pools: readonly PoolSpec[]): { orphaned: Orphan[] } {
    // MetalLB SetPools: every allocation whose IPs still sit together in one pool moves to that pool (possibly
    // renamed or split); the others are dropped. Holders are replayed in the order they were recorded.
    const next = new AllocState(pools);
    next.recorded = this.#state.recorded;
    const orphaned: Orphan[] = [];
    for (const h of this.#state.holders()) {
      const pool = poolOfAll(next, h.ips);
      if (pool) next.record(h.key, pool, h.ips, h);
      else orphaned.push(orphanOf(h));
    }
    this.#state = next;
    return { orphaned: orphaned.sort(byKey) };
  }

  planPools(pools: readonly PoolSpec[]): { orphaned: Orphan[] } {
    const next = new AllocState(pools);
    const orphaned: Orphan[] = [];
    for (const h of this.#state.holders()) if (!poolOfAll(next, h.ips)) orphaned.push(orphanOf(h));
    return { orphaned: orphaned.sort(byKey) };
  }

  allocate(key: string, req: ServiceRequest): AllocResult {
    const parsed = parseRequest(req);
    if (!parsed.ok) return parsed;
    const p = parsed.value;
    if (this.#state.pools.length === 0) return noPools();
    const info = infoOf(req);
    const held = this.#state.holder(key);
    if (held) {
      // Idempotent while the held IPs still fit the request (MetalLB re-Assigns them; a changed requested IP,
      // pool annotation, family, pool policy or sharing conflict makes it let go and decide again).
      const kept = this.#validate(key, p, held.ips, false);
      if (kept.ok) return this.#keep(key, p, held, kept.pool, info);
    }
    const saved = held ? this.#state.remove(key) : undefined;
    const d = this.#decide(key, p, info);
    if (d.ok) return done(this.#state.record(key, d.pool, d.refs, info));
    // A failed re-decision leaves the key with what it had: the caller (webhook, controller) decides whether to
    // release it.
    if (saved) this.#state.record(key, saved.pool, saved.ips, saved);
    return d;
  }

  assign(key: string, req: ServiceRequest, ips: readonly string[]): AllocResult {
    const v = this.#checkAssign(key, req, ips);
    if (!v.ok) return v;
    // Already held exactly so (every reconcile of a settled Service asks this): the record stays as it is. Recording
    // it again would turn a long-lived holder and its IP entries into old-generation garbage on every pass — at a
    // restart with 50,000 Services, 50,000 of each, collected by full mark-compacts of the whole heap (issue 12).
    const held = this.#state.holder(key);
    if (held && held.pool === v.pool && sameEntries(held.ips, v.refs) && sameInfo(held, infoOf(req))) return done(held);
    return done(this.#state.record(key, v.pool, v.refs, infoOf(req)));
  }

  /**
   * How many times a holder was recorded (a new or changed allocation). Tests use it to check that passes over
   * settled Services record nothing.
   */
  get recorded(): number {
    return this.#state.recorded;
  }

  check(key: string, req: ServiceRequest, ips: readonly string[]): AllocResult {
    const v = this.#checkAssign(key, req, ips);
    if (!v.ok) return v;
    return { ok: true, ips: v.refs.map((r) => textOf(r)), pool: v.pool.compiled.name };
  }

  restore(key: string, holder: HolderInfo, ips: readonly string[]): AllocResult {
    // Only the invariants the allocator must never break: IPs in one pool (avoidBuggyIPs respected), at most one
    // per family, no clash with other holders. No Service policy: the API (a claim) already says the key holds them.
    const refs = parseIps(ips, 'IP');
    if (!Array.isArray(refs)) return refs;
    if (refs.length === 0) return fail('LB_BAD_REQUESTED_IP', `no IP to record for ${key}`);
    if (this.#state.pools.length === 0) return noPools();
    const pool = this.#poolOf(refs, 'IP');
    if (!('compiled' in pool)) return pool;
    for (const r of refs) {
      const e = this.#state.entry(r);
      const bad = e && sharingProblem(e, key, holder);
      if (bad) return bad;
    }
    return done(this.#state.record(key, pool, refs, holder));
  }

  release(key: string): void {
    this.#state.remove(key);
  }

  ipsOf(key: string): { ips: readonly string[]; pool: string } | undefined {
    const h = this.#state.holder(key);
    return h && { ips: h.ips.map((e) => e.text), pool: h.pool.compiled.name };
  }

  holdersOf(ip: string): readonly Holder[] {
    const ref = parseIp(ip);
    const e = ref && this.#state.entry(ref);
    if (!e) return [];
    return e.holders.map((h) => ({ key: h.key, sharingKey: h.sharingKey, backendKey: h.backendKey, ports: h.ports })).sort(byKey);
  }

  poolOf(ip: string): string | undefined {
    const ref = parseIp(ip);
    return ref && this.#state.poolFor(ref, false)?.compiled.name;
  }

  stats(): PoolStats[] {
    return this.#state.stats();
  }

  /** Every allocation, sorted by key (for `berth plan`, debugging and tests). */
  allocations(): Allocation[] {
    const out: Allocation[] = [];
    for (const h of this.#state.holders()) out.push({ key: h.key, ips: h.ips.map((e) => e.text), pool: h.pool.compiled.name });
    return out.sort(byKey);
  }

  #checkAssign(key: string, req: ServiceRequest, ips: readonly string[]): Decision | Failure {
    const parsed = parseRequest(req);
    if (!parsed.ok) return parsed;
    const refs = parseIps(ips, 'IP');
    if (!Array.isArray(refs)) return refs;
    if (refs.length === 0) return fail('LB_BAD_REQUESTED_IP', `no IP to assign to ${key}`);
    return this.#validate(key, parsed.value, refs, false);
  }

  /**
   * May the key hold exactly these IPs? MetalLB Assign plus the controller's checks around it (controller/service.go
   * convergeBalancer steps 8-11 and allocateIPs): family, requested IPs, one pool, address-pool annotation, the pool's
   * serviceAllocation, sharing and ports. `strict`: the IPs are the Service's requested IPs.
   */
  #validate(key: string, p: ParsedRequest, refs: readonly IpRef[], strict: boolean): Decision | Failure {
    const what = strict ? 'requested IP' : 'IP';
    if (!strict && p.requested.length > 0 && !sameIps(p.requested, refs)) {
      return fail(
        'LB_BAD_REQUESTED_IP',
        `IPs ${refs.map((r) => textOf(r)).join(', ')} differ from the requested IPs ${p.requested.map((r) => textOf(r)).join(', ')}`,
      );
    }
    const fam = familyMismatch(p, refs, strict, what);
    if (fam) return fam;
    if (this.#state.pools.length === 0) return noPools();
    const pool = this.#poolOf(refs, what);
    if (!('compiled' in pool)) return pool;
    if (p.pool !== undefined && p.pool !== pool.compiled.name) {
      if (!this.#state.pool(p.pool)) return this.#unknownPool(p.pool);
      const list = refs.map((r) => textOf(r));
      return fail(
        'LB_POOL_MISMATCH',
        `${what}${list.length > 1 ? 's' : ''} ${list.join(', ')} ${list.length > 1 ? 'are' : 'is'} in pool ` +
          `"${pool.compiled.name}", not in the requested address-pool "${p.pool}"`,
      );
    }
    const refusal = poolRefusal(pool.compiled, p.req);
    if (refusal) return fail('LB_POOL_NOT_ALLOWED', refusal);
    const info = infoOf(p.req);
    for (const r of refs) {
      const e = this.#state.entry(r);
      const bad = e && sharingProblem(e, key, info);
      if (bad) return bad;
    }
    return { ok: true, pool, refs };
  }

  /** The one pool holding every IP (usable addresses only), or the failure naming why not. */
  #poolOf(refs: readonly IpRef[], what: string): PoolState | Failure {
    const pools: PoolState[] = [];
    for (const r of refs) {
      const pool = this.#state.poolFor(r, true);
      if (!pool) return notInPool(this.#state, r);
      pools.push(pool);
    }
    if (pools.length === 2 && pools[0] !== pools[1]) {
      return fail(
        'LB_BAD_REQUESTED_IP',
        `${what}s ${textOf(refs[0]!)} (pool "${pools[0]!.compiled.name}") and ${textOf(refs[1]!)} (pool ` +
          `"${pools[1]!.compiled.name}") are in different IPAddressPools; both IPs of a Service must come from one pool`,
      );
    }
    return pools[0]!;
  }

  /** The held IPs stay; a PreferDualStack Service holding one family tries to add the other from the same pool. */
  #keep(key: string, p: ParsedRequest, held: HolderState, pool: PoolState, info: HolderInfo): AllocResult {
    let refs: readonly IpRef[] = held.ips;
    if (refs.length === 1 && p.dual && p.policy === 'PreferDualStack' && p.requested.length === 0) {
      // MetalLB AllocateFromPoolForAdditionalFamily (spec §3.1 step 12): done on every pass while one IP is held.
      const extra = this.#state.lowestFree(pool, other(refs[0]!.family), key, info);
      if (extra) refs = [refs[0]!, extra];
    }
    if (refs === held.ips && pool === held.pool && sameInfo(held, info)) return done(held);
    return done(this.#state.record(key, pool, refs, info));
  }

  /** A fresh decision, MetalLB's order (spec §3.2): requested IPs → address-pool → pinned pools → fallback pools. */
  #decide(key: string, p: ParsedRequest, info: HolderInfo): Decision | Failure {
    if (p.requested.length > 0) return this.#validate(key, p, p.requested, true);
    if (p.pool !== undefined) {
      // autoAssign is ignored for a named pool; its serviceAllocation is not.
      const pool = this.#state.pool(p.pool);
      if (!pool) return this.#unknownPool(p.pool);
      const refusal = poolRefusal(pool.compiled, p.req);
      if (refusal) return fail('LB_POOL_NOT_ALLOWED', refusal);
      const refs = this.#pick(pool, p, key, info);
      return refs ? { ok: true, pool, refs } : poolExhausted(pool, p, this.#state.pools);
    }
    const fallback = this.#state.fallback;
    const pinned = this.#state.restricted.filter(
      (pool) => isPinnedFor(pool.compiled, p.req) && poolRefusal(pool.compiled, p.req) === undefined,
    );
    if (pinned.length > 1) pinned.sort((a, b) => comparePinned(a.compiled, b.compiled));
    const d = this.#best(pinned, p, key, info) ?? this.#best(fallback, p, key, info);
    if (d) return d;
    const candidates = [...pinned, ...fallback];
    if (candidates.length > 0) return candidatesExhausted(candidates, p, this.#state.pools);
    const reasons = this.#state.pools.map((pool) => autoExclusion(pool.compiled, p.req));
    return fail(
      'LB_POOL_NOT_ALLOWED',
      `no available IPs: no IPAddressPool can be used for automatic allocation to ${p.req.namespace}/${p.req.name}: ` +
        reasons.join('; '),
    );
  }

  /**
   * The first pool of a tier that can serve the Service (MetalLB findBestPoolForService): single stack → first pool
   * with a free IP of the family; dual → first pool with both; PreferDualStack then falls back to the first pool
   * with the preferred family (spec.ipFamilies[0]), then the first with the other one.
   */
  #best(tier: readonly PoolState[], p: ParsedRequest, key: string, info: HolderInfo): Decision | undefined {
    if (!p.dual) {
      const f = p.families[0]!;
      for (const pool of tier) {
        const r = this.#state.lowestFree(pool, f, key, info);
        if (r) return { ok: true, pool, refs: [r] };
      }
      return undefined;
    }
    const preferred = p.families[0]!;
    let primary: Decision | undefined;
    let secondary: Decision | undefined;
    for (const pool of tier) {
      const v4 = this.#state.lowestFree(pool, 'IPv4', key, info);
      const v6 = this.#state.lowestFree(pool, 'IPv6', key, info);
      if (v4 && v6) return { ok: true, pool, refs: [v4, v6] };
      if (p.policy !== 'PreferDualStack') continue;
      const pr = preferred === 'IPv4' ? v4 : v6;
      const sc = preferred === 'IPv4' ? v6 : v4;
      if (pr && !primary) primary = { ok: true, pool, refs: [pr] };
      if (sc && !secondary) secondary = { ok: true, pool, refs: [sc] };
    }
    return primary ?? secondary;
  }

  /** Free IPs from one named pool (MetalLB AllocateFromPool + selectIPsForFamilyAndPolicy). */
  #pick(pool: PoolState, p: ParsedRequest, key: string, info: HolderInfo): IpRef[] | undefined {
    if (!p.dual) {
      const r = this.#state.lowestFree(pool, p.families[0]!, key, info);
      return r ? [r] : undefined;
    }
    const v4 = this.#state.lowestFree(pool, 'IPv4', key, info);
    const v6 = this.#state.lowestFree(pool, 'IPv6', key, info);
    if (v4 && v6) return [v4, v6];
    if (p.policy !== 'PreferDualStack') return undefined;
    return v4 ? [v4] : v6 ? [v6] : undefined;
  }

  #unknownPool(name: string): Failure {
    const names = this.#state.pools.map((p) => p.compiled.name).join(', ');
    return fail('LB_UNKNOWN_POOL', `unknown pool "${name}" (pools: ${names})`);
  }
}

/** A request is a HolderInfo (sharingKey, backendKey, ports); record() copies what it keeps. */
function infoOf(req: ServiceRequest): HolderInfo {
  return req;
}

function done(h: HolderState): AllocResult {
  return { ok: true, ips: h.ips.map((e) => e.text), pool: h.pool.compiled.name };
}

function other(f: Family): Family {
  return f === 'IPv4' ? 'IPv6' : 'IPv4';
}

function poolOfAll(state: AllocState, refs: readonly IpRef[]): PoolState | undefined {
  let pool: PoolState | undefined;
  for (const r of refs) {
    const p = state.poolFor(r, true);
    if (!p || (pool && p !== pool)) return undefined;
    pool = p;
  }
  return pool;
}

function orphanOf(h: HolderState): Orphan {
  return { key: h.key, ips: h.ips.map((e) => e.text), pool: h.pool.compiled.name };
}

function byKey(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function sameIps(a: readonly IpRef[], b: readonly IpRef[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.family === x.family && y.value === x.value));
}

/** The held entries are exactly these addresses (same count, each one among them). */
function sameEntries(held: readonly IpEntry[], refs: readonly IpRef[]): boolean {
  return held.length === refs.length && refs.every((r) => held.some((e) => e.family === r.family && e.value === r.value));
}

function sameInfo(h: Holder, info: HolderInfo): boolean {
  return (
    h.sharingKey === info.sharingKey &&
    h.backendKey === info.backendKey &&
    h.ports.length === info.ports.length &&
    h.ports.every((p, i) => p.protocol === info.ports[i]!.protocol && p.port === info.ports[i]!.port)
  );
}
