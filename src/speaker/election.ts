// Who answers for a layer-2 IP: MetalLB's election (preference score, then sha256("<node>#<ip>")) and berth's opt-in
// balanced mode (rendezvous hashing with exact quotas). Pure: no I/O, no clock; the same inputs give the same answer
// on every speaker, whatever the order of the inputs.
// Sources: MetalLB speaker/layer2_controller.go (ShouldAnnounce: sort.Slice on sha256(node+"#"+ip) with bytes.Compare),
// design/l2-preferred-node-selection.md (score = summed preferredNodeSelectors weights, higher first), spec
// metallb-compat.md §5.1 step 7.
import * as crypto from 'node:crypto';

/** A node that may announce an IP, with its summed preferredNodeSelectors weight (0 when none matches). */
export interface Candidate {
  readonly name: string;
  readonly score: number;
}

/** crypto.hash (Node ≥ 20.12, a one-shot about 4× faster than createHash for short inputs); absent on older 20.x. */
const oneShot: ((alg: string, data: string, enc: 'buffer') => Buffer) | undefined = (
  crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }
).hash;

/** SHA-256 of `"<node>#<ip>"` (32 bytes): MetalLB's per-IP node ranking key, compared bytewise, smaller first. */
export function electionHash(node: string, ip: string): Buffer {
  const text = `${node}#${ip}`;
  return oneShot ? oneShot('sha256', text, 'buffer') : crypto.createHash('sha256').update(text).digest();
}

function checkCandidates(candidates: readonly Candidate[], what: string): void {
  const seen = new Set<string>();
  for (const c of candidates) {
    if (typeof c.name !== 'string' || c.name === '') {
      throw new TypeError(`${what}: candidate name ${JSON.stringify(c.name)} must be a non-empty string`);
    }
    if (!Number.isFinite(c.score)) {
      throw new RangeError(
        `${what}: candidate ${JSON.stringify(c.name)} has score ${String(c.score)}; scores must be finite numbers`,
      );
    }
    if (seen.has(c.name))
      throw new RangeError(
        `${what}: candidate ${JSON.stringify(c.name)} is listed twice; names must be unique`,
      );
    seen.add(c.name);
  }
}

interface Ranked {
  name: string;
  score: number;
  hash: Buffer;
}

function compareRanked(a: Ranked, b: Ranked): number {
  if (a.score !== b.score) return b.score - a.score;
  return Buffer.compare(a.hash, b.hash);
}

/**
 * MetalLB's layer-2 election order for one IP (spec §5.1 step 7): candidates sorted by score descending, then by
 * sha256(`"<node>#<ip>"`) compared bytewise ascending. The first name announces; the others are the failover order.
 * `ip` is the Service's FIRST ingress IP, canonical text (both IPs of a dual-stack Service therefore go to one node).
 * Throws TypeError/RangeError on an empty or duplicate candidate name or a non-finite score. Empty candidates → [].
 */
export function metallbOrder(ip: string, candidates: readonly Candidate[]): string[] {
  const sig = signature(candidates, 'metallbOrder');
  const memo = orderMemo.get(ip);
  const hit = memo?.find((e) => e.sig === sig);
  if (hit) return [...hit.order];
  const order = candidates
    .map((c) => ({ name: c.name, score: c.score, hash: electionHash(c.name, ip) }))
    .sort(compareRanked)
    .map((r) => r.name);
  if (orderMemo.size >= ORDER_MEMO_MAX) orderMemo.clear();
  orderMemo.set(ip, [{ sig, order }, ...(memo ?? []).slice(0, ORDER_MEMO_PER_IP - 1)]);
  return [...order];
}

/**
 * Memo of recent orders per IP (a speaker replans the same IPs over the same nodes on every Service or endpoint
 * change; each order costs one SHA-256 per candidate). Keyed by IP, then by the exact candidate list; bounded.
 */
const orderMemo = new Map<string, Array<{ sig: string; order: readonly string[] }>>();
/** Signatures of frozen candidate lists (a frozen list of frozen candidates cannot change: validated once). */
const frozenSigs = new WeakMap<readonly Candidate[], string>();

/** Validates the candidates and returns their identity text (names and scores, in the given order). */
function signature(candidates: readonly Candidate[], what: string): string {
  const known = frozenSigs.get(candidates);
  if (known !== undefined) return known;
  checkCandidates(candidates, what);
  const sig = candidates.map((c) => `${c.name}\u0000${c.score}`).join('\u0001');
  if (Object.isFrozen(candidates) && candidates.every((c) => Object.isFrozen(c)))
    frozenSigs.set(candidates, sig);
  return sig;
}
const ORDER_MEMO_MAX = 1 << 14;
const ORDER_MEMO_PER_IP = 3;

/** The candidates with the highest score (balanced mode balances among the most preferred nodes only). */
export function topTier(candidates: readonly Candidate[]): Candidate[] {
  if (candidates.length === 0) return [];
  const best = Math.max(...candidates.map((c) => c.score));
  return candidates.filter((c) => c.score === best);
}

interface BalancedPlan {
  owners: Map<string, string>;
  /** IPs not placed on their rendezvous home (their MetalLB owner among the top tier): MetalLB's excess load. */
  excess: number;
  quotas: Map<string, number>;
}

function planBalanced(
  ipsIn: readonly string[],
  candidates: readonly Candidate[],
  what: string,
): BalancedPlan {
  checkCandidates(candidates, what);
  const tier = topTier(candidates)
    .map((c) => c.name)
    .sort();
  const ips = [...new Set(ipsIn)].sort();
  const owners = new Map<string, string>();
  const quotas = new Map<string, number>();
  if (tier.length === 0 || ips.length === 0) return { owners, excess: 0, quotas };
  // Rendezvous order of the tier per IP; home = its first (what MetalLB elects when scores tie).
  const flatTier = Object.freeze(tier.map((name) => Object.freeze({ name, score: 0 })));
  const ranks = new Map<string, string[]>(ips.map((ip) => [ip, metallbOrder(ip, flatTier)]));
  const homes = new Map<string, Array<{ ip: string; hash: Buffer }>>(tier.map((n) => [n, []]));
  for (const ip of ips) {
    const home = ranks.get(ip)![0]!;
    homes.get(home)!.push({ ip, hash: electionHash(home, ip) });
  }
  // Exact quotas: floor(n/m) each, +1 for the (n mod m) nodes with the most home IPs (ties: name ascending).
  const n = ips.length;
  const m = tier.length;
  const base = Math.floor(n / m);
  const extra = n % m;
  const byHomeLoad = [...tier].sort(
    (a, b) => homes.get(b)!.length - homes.get(a)!.length || (a < b ? -1 : a > b ? 1 : 0),
  );
  byHomeLoad.forEach((name, i) => quotas.set(name, base + (i < extra ? 1 : 0)));
  // Phase 1: each node keeps its home IPs up to its quota, closest affinity (smallest hash) first.
  const load = new Map<string, number>(tier.map((t) => [t, 0]));
  const overflow: Array<{ ip: string; hash: Buffer }> = [];
  for (const name of tier) {
    const list = homes.get(name)!.sort((a, b) => Buffer.compare(a.hash, b.hash));
    const q = quotas.get(name)!;
    list.forEach((h, i) => {
      if (i < q) owners.set(h.ip, name);
      else overflow.push(h);
    });
    load.set(name, Math.min(q, list.length));
  }
  // Phase 2: overflow IPs, in home-hash order, each to its highest-ranked node with room under its quota.
  overflow.sort((a, b) => Buffer.compare(a.hash, b.hash) || (a.ip < b.ip ? -1 : 1));
  for (const o of overflow) {
    for (const name of ranks.get(o.ip)!) {
      const l = load.get(name)!;
      if (l < quotas.get(name)!) {
        owners.set(o.ip, name);
        load.set(name, l + 1);
        break;
      }
    }
  }
  return { owners, excess: overflow.length, quotas };
}

/**
 * Balanced mode (berth, opt-in with `berth.io/l2-balance: "true"` on the L2Advertisement): every IP gets one owner
 * among the highest-scored candidates, every such node ends with floor(n/m) or ceil(n/m) IPs (spread ≤ 1), and node
 * changes move few IPs. `ips` are the election keys (a Service's FIRST ingress IP; duplicates count once).
 *
 * Algorithm (rendezvous hashing with exact quotas): home(ip) = the top of MetalLB's order among the top tier;
 * quotas floor(n/m), +1 for the (n mod m) nodes with the most home IPs (name breaks ties); each node keeps its home IPs
 * up to its quota (smallest sha256(node#ip) first); the rest (the "excess" E, see `rendezvousExcess`) go, in hash
 * order, to their highest-ranked node that has room.
 *
 * Movement bound (proved in docs/layer2.md): when node r leaves, the IPs that change owner are among those r held
 * plus the excess before and after, so moved ≤ load(r) + E(before) + E(after); symmetrically, when node k joins,
 * moved ≤ load(k) + E(before) + E(after). IPs that sit on their home in both plans never move.
 * Returns Map<ip, node>; empty when there are no candidates. Throws like `metallbOrder` on bad candidates.
 */
export function balancedOwners(
  ips: readonly string[],
  candidates: readonly Candidate[],
): Map<string, string> {
  return planBalanced(ips, candidates, 'balancedOwners').owners;
}

/**
 * E: how many of `ips` balanced mode places away from their rendezvous home (the sum over nodes of the home IPs above
 * the node's quota), i.e. how far MetalLB's hash is from an exact balance. The movement bound of `balancedOwners`
 * is stated with it; bench/l2-balance.ts prints it.
 */
export function rendezvousExcess(ips: readonly string[], candidates: readonly Candidate[]): number {
  return planBalanced(ips, candidates, 'rendezvousExcess').excess;
}
