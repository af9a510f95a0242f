// The allocator's mutable bookkeeping for one set of pools: who holds which IP, which ports are used on it, which
// sharing group it belongs to, and per pool the held slots. It records and forgets; it never decides (that is
// allocator.ts) and never checks policy. MetalLB keeps the same facts in maps keyed by ip.String()
// (allocator.go: allocated, sharingKeyForIP, portsInUse, servicesOnIP, poolIPsInUse); here they sit on one entry
// per IP, keyed by the bigint address (ports are read from the holders: an IP has one holder or a few sharers, so a
// small array beats two Maps per IP in memory and time), plus two ordered indexes that make the free-IP search
// logarithmic:
//   pool.held[family]   RunSet of held slots            → lowest never-used address in a block
//   groups[key][family] RunSet of addresses per sharing → lowest address that a compatible sharer already uses
//                        group (sharingKey + backendKey)
import type { Family } from '../shared/ip.ts';
import { formatAddress } from './format.ts';
import { compilePool, type Block, type CompiledPool } from './pool.ts';
import { RunSet } from './run-set.ts';
import { isBuggy } from './slots.ts';
import type { Holder, Port, PoolSpec, PoolStats } from './types.ts';

export interface IpRef {
  readonly family: Family;
  readonly value: bigint;
}

/** What a holder brings to an IP besides its key. */
export type HolderInfo = Omit<Holder, 'key'>;

export interface PoolState {
  readonly compiled: CompiledPool;
  readonly held: Record<Family, RunSet>;
  /** Keys holding IPs in this pool. */
  services: number;
}

/**
 * One held IP. A class (one hidden class, no per-entry text): the canonical text is formatted when asked (messages,
 * ipsOf), not kept — 10,000 entries kept 10,000 strings (32 bytes each, many as concatenated strings) that the claims
 * and the Services already hold (issue 12, controller memory).
 */
export class IpEntry {
  readonly family: Family;
  readonly value: bigint;
  readonly pool: PoolState;
  /** The IP's sharing identity: every holder has the same one (a sole holder may change it in place). */
  sharingKey: string;
  backendKey: string;
  /** The sole holder itself (nearly every IP: an array each cost ~57 bytes × 10,000), or the sharers in order. */
  #holders: HolderState | HolderState[];

  constructor(family: Family, value: bigint, pool: PoolState, holder: HolderState) {
    this.family = family;
    this.value = value;
    this.pool = pool;
    this.sharingKey = holder.sharingKey;
    this.backendKey = holder.backendKey;
    this.#holders = holder;
  }

  /** The holders in the order they came (a new array for a sole holder); empty once the last one was removed. */
  get holders(): readonly HolderState[] {
    const h = this.#holders;
    return Array.isArray(h) ? h : [h];
  }

  /** Adds a sharer after the others. */
  addHolder(holder: HolderState): void {
    const h = this.#holders;
    if (Array.isArray(h)) h.push(holder);
    else this.#holders = [h, holder];
  }

  /** Removes the holder if present; returns how many remain. */
  removeHolder(holder: HolderState): number {
    const h = this.#holders;
    if (!Array.isArray(h)) {
      if (h !== holder) return 1;
      this.#holders = [];
      return 0;
    }
    const i = h.indexOf(holder);
    if (i >= 0) h.splice(i, 1);
    if (h.length === 1) this.#holders = h[0]!;
    return h.length;
  }

  /** Canonical text (dotted decimal, RFC 5952). */
  get text(): string {
    return formatAddress(this.family, this.value);
  }
}

/** A key's allocation. It is also the Holder recorded on each of its IPs (one object per Service, few per IP). */
export interface HolderState extends Holder {
  readonly pool: PoolState;
  /** v4 before v6. */
  ips: readonly IpEntry[];
}

interface IndexedBlock {
  readonly block: Block;
  readonly pool: PoolState;
}

const NO_IPS: readonly IpEntry[] = Object.freeze([]);

/**
 * Frozen port lists shared by every holder with the same ports (`[TCP/80]` repeats across nearly all Services): a
 * copy per holder cost an array and an object per port (~80 bytes × 10,000 Services). Bounded: past `SHARED_PORTS_MAX`
 * distinct lists, new ones are copied per holder as before. Frozen, so no holder can change another's list.
 */
const SHARED_PORTS_MAX = 1000;
const sharedPorts = new Map<string, readonly Port[]>();
const NO_PORTS: readonly Port[] = Object.freeze([]);

/** A frozen copy of `ports` (shared with every earlier holder of the same list, in the same order). */
export function sharedPortList(ports: readonly Port[]): readonly Port[] {
  if (ports.length === 0) return NO_PORTS;
  const key = portsKey(ports);
  const hit = sharedPorts.get(key);
  if (hit) return hit;
  const copy = Object.freeze(ports.map((p) => Object.freeze({ protocol: p.protocol, port: p.port })));
  if (sharedPorts.size < SHARED_PORTS_MAX) sharedPorts.set(key, copy);
  return copy;
}

function portsKey(ports: readonly Port[]): string {
  let k = '';
  for (const p of ports) k += `${p.protocol}/${p.port},`;
  return k;
}

export function portKey(p: Port): string {
  return `${p.protocol}/${p.port}`;
}

function groupKey(sharingKey: string, backendKey: string): string {
  return `${sharingKey}\u0000${backendKey}`;
}

export function byFamily(a: IpRef, b: IpRef): number {
  return a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1;
}

export class AllocState {
  /** Pools in name order. */
  readonly pools: readonly PoolState[];
  /** autoAssign pools without serviceAllocation: the fallback candidates (spec §3.2 step 4), in name order. */
  readonly fallback: readonly PoolState[];
  /** autoAssign pools with a serviceAllocation: the possible pinned candidates (§3.2 step 3). */
  readonly restricted: readonly PoolState[];
  readonly #byName = new Map<string, PoolState>();
  /** Every block of every pool, sorted by first address, for IP → pool lookups. */
  readonly #blocks: Record<Family, IndexedBlock[]> = { IPv4: [], IPv6: [] };
  readonly #entries: Record<Family, Map<bigint, IpEntry>> = { IPv4: new Map(), IPv6: new Map() };
  /** Insertion order is kept, so a pool change replays holders in the order they came. */
  readonly #holders = new Map<string, HolderState>();
  readonly #groups = new Map<string, Record<Family, RunSet>>();
  /** Calls of record() (Allocator.recorded). */
  recorded = 0;

  constructor(specs: readonly PoolSpec[]) {
    const pools = specs
      .map((spec) => ({ compiled: compilePool(spec), held: { IPv4: new RunSet(), IPv6: new RunSet() }, services: 0 }))
      .sort((a, b) => (a.compiled.name < b.compiled.name ? -1 : a.compiled.name > b.compiled.name ? 1 : 0));
    this.pools = pools;
    this.fallback = pools.filter((p) => p.compiled.spec.autoAssign && p.compiled.spec.serviceAllocation === undefined);
    this.restricted = pools.filter((p) => p.compiled.spec.autoAssign && p.compiled.spec.serviceAllocation !== undefined);
    for (const p of pools) {
      this.#byName.set(p.compiled.name, p);
      for (const block of p.compiled.blocks) this.#blocks[block.family].push({ block, pool: p });
    }
    for (const f of ['IPv4', 'IPv6'] as const) {
      this.#blocks[f].sort((a, b) => (a.block.first < b.block.first ? -1 : a.block.first > b.block.first ? 1 : 0));
    }
  }

  pool(name: string): PoolState | undefined {
    return this.#byName.get(name);
  }

  /**
   * The pool containing the address. With `usable`, an avoidBuggyIPs pool does not contain its .0/.255 addresses
   * (MetalLB poolFor skips them, so requesting one fails as "not allowed in config").
   */
  poolFor(ref: IpRef, usable: boolean): PoolState | undefined {
    const list = this.#blocks[ref.family];
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = list[mid]!;
      if (ref.value < b.block.first) hi = mid - 1;
      else if (ref.value > b.block.last) lo = mid + 1;
      else {
        if (usable && b.pool.compiled.spec.avoidBuggyIPs && isBuggy(ref.family, ref.value)) return undefined;
        return b.pool;
      }
    }
    return undefined;
  }

  entry(ref: IpRef): IpEntry | undefined {
    return this.#entries[ref.family].get(ref.value);
  }

  holder(key: string): HolderState | undefined {
    return this.#holders.get(key);
  }

  holders(): IterableIterator<HolderState> {
    return this.#holders.values();
  }

  /**
   * The lowest address of `family` in the pool that the holder may take: never used, or used only by holders it can
   * share with (same non-empty sharing key, same backend key, no port in common). Blocks are tried in configuration
   * order and the first block with a candidate wins (MetalLB getFreeIPsFromPool / getIPFromCIDR).
   * Cost per block: O(log n) for the unused candidate; for the shared one, O(log n) per IP of the holder's own
   * sharing group that lies below the unused candidate and conflicts on ports (see sharedCandidate).
   */
  lowestFree(pool: PoolState, family: Family, self: string, info: HolderInfo): IpRef | undefined {
    const group = info.sharingKey === '' ? undefined : this.#groups.get(groupKey(info.sharingKey, info.backendKey));
    const shared = group?.[family];
    const map = pool.compiled.slotMaps[family];
    const held = pool.held[family];
    for (const block of pool.compiled.blocks) {
      if (block.family !== family) continue;
      let unused: bigint | undefined;
      if (block.slots) {
        const s = held.lowestAbsent(block.slots.lo);
        if (s <= block.slots.hi) unused = map.fromSlot(s);
      }
      const sharedAt = shared && shared.size > 0 ? this.#sharedCandidate(shared, block, unused, family, self, info) : undefined;
      const v = sharedAt ?? unused;
      if (v !== undefined) return { family, value: v };
    }
    return undefined;
  }

  /**
   * The lowest address in the block, below `limit`, already used by the holder's sharing group and free of port
   * conflicts. Walks only the group's own addresses in order: a group is one allow-shared-ip value (typically a
   * handful of Services on one or two IPs), and the walk stops at the first address without a port clash and at the
   * lowest never-used address, so it never scans the pool. A linear pass over one group's IPs is the accepted cost.
   */
  #sharedCandidate(
    shared: RunSet,
    block: Block,
    limit: bigint | undefined,
    family: Family,
    self: string,
    info: HolderInfo,
  ): bigint | undefined {
    const entries = this.#entries[family];
    for (let c = shared.ceil(block.first); c !== undefined && c <= block.last; c = shared.ceil(c + 1n)) {
      if (limit !== undefined && c > limit) return undefined;
      const e = entries.get(c);
      if (e !== undefined && portsFree(e, info.ports, self)) return c;
    }
    return undefined;
  }

  /**
   * Records the holder on exactly these IPs (replacing what it held). No checks: callers decided it is allowed.
   * The IPs must all lie in `pool` and be usable there.
   */
  record(key: string, pool: PoolState, refs: readonly IpRef[], info: HolderInfo): HolderState {
    this.recorded++;
    this.remove(key);
    const state: HolderState = {
      key,
      sharingKey: info.sharingKey,
      backendKey: info.backendKey,
      // A frozen copy (callers may reuse or change their arrays after the call), shared among equal lists.
      ports: sharedPortList(info.ports),
      pool,
      ips: NO_IPS,
    };
    const sorted = refs.length > 1 ? [...refs].sort(byFamily) : refs;
    // Built with map (exact length): an empty array grown by push reserves 17 slots, 100+ bytes per holder.
    state.ips = sorted.map((ref) => this.#attach(state, pool, ref));
    this.#holders.set(key, state);
    pool.services++;
    return state;
  }

  /** Forgets whatever the key holds; returns what it held. */
  remove(key: string): HolderState | undefined {
    const state = this.#holders.get(key);
    if (state === undefined) return undefined;
    this.#holders.delete(key);
    state.pool.services--;
    for (const e of state.ips) {
      if (e.removeHolder(state) === 0) {
        this.#entries[e.family].delete(e.value);
        e.pool.held[e.family].delete(e.pool.compiled.slotMaps[e.family].toSlot(e.value));
        this.#ungroup(e);
      }
    }
    return state;
  }

  stats(): PoolStats[] {
    return this.pools.map((p) => ({
      pool: p.compiled.name,
      ipv4Total: p.compiled.total.IPv4,
      ipv6Total: p.compiled.total.IPv6,
      ipv4InUse: p.held.IPv4.size,
      ipv6InUse: p.held.IPv6.size,
      services: p.services,
    }));
  }

  #attach(holder: HolderState, pool: PoolState, ref: IpRef): IpEntry {
    let e = this.#entries[ref.family].get(ref.value);
    if (e === undefined) {
      e = new IpEntry(ref.family, ref.value, pool, holder);
      this.#entries[ref.family].set(ref.value, e);
      pool.held[ref.family].add(pool.compiled.slotMaps[ref.family].toSlot(ref.value));
      this.#group(e);
      return e;
    }
    if (e.sharingKey !== holder.sharingKey || e.backendKey !== holder.backendKey) {
      // Only reachable when the holder is the IP's sole user: it changes its keys in place (MetalLB checkSharing).
      this.#ungroup(e);
      e.sharingKey = holder.sharingKey;
      e.backendKey = holder.backendKey;
      this.#group(e);
    }
    e.addHolder(holder);
    return e;
  }

  #group(e: IpEntry): void {
    if (e.sharingKey === '') return;
    const k = groupKey(e.sharingKey, e.backendKey);
    let g = this.#groups.get(k);
    if (g === undefined) {
      g = { IPv4: new RunSet(), IPv6: new RunSet() };
      this.#groups.set(k, g);
    }
    g[e.family].add(e.value);
  }

  #ungroup(e: IpEntry): void {
    if (e.sharingKey === '') return;
    const k = groupKey(e.sharingKey, e.backendKey);
    const g = this.#groups.get(k);
    if (g === undefined) return;
    g[e.family].delete(e.value);
    if (g.IPv4.size === 0 && g.IPv6.size === 0) this.#groups.delete(k);
  }
}

/** The key of another holder of the IP using the port, if any (TCP/53 and UDP/53 are different ports). */
export function portOwner(e: IpEntry, p: Port, self: string): string | undefined {
  for (const h of e.holders) {
    if (h.key === self) continue;
    for (const q of h.ports) if (q.port === p.port && q.protocol === p.protocol) return h.key;
  }
  return undefined;
}

/** No port of the newcomer is used on the IP by someone else. */
export function portsFree(e: IpEntry, ports: readonly Port[], self: string): boolean {
  for (const p of ports) if (portOwner(e, p, self) !== undefined) return false;
  return true;
}
