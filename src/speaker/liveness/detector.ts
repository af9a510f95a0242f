// Which speakers are alive (pure: no sockets, no timers; time from the injected Clock). Two inputs:
// - UDP heartbeats (fast path): a node is alive while it was heard within its suspicion window;
// - the per-node Lease (slow, authoritative path): for nodes this speaker never heard by UDP (UDP blocked, or just
//   started), a fresh Lease is enough.
//
// Rules (each has a unit test in detector.test.ts):
// 1. self is always alive (with the `startup` option: once settled, rule 8).
// 2. An accepted heartbeat must be newer than the last one accepted from that node: a higher incarnation, or the same
//    incarnation and a higher seq; else it is `replayed`. Its sentAtMs must be within maxClockSkewMs of our clock,
//    else `stale` (a replay of an old capture). Our own node name is `from-self`.
// 3. 'leaving' → dead at once (SIGTERM hand-over). An accepted 'alive' heartbeat of a node we hold dead (restart with
//    a new incarnation, or back after silence) → alive at once. Both are returned by heard() so the caller emits now.
// 4. Silence: a node heard by UDP is dead when it has been silent longer than its window:
//      window = clamp(max(suspectAfterMs, 3 × its intervalMs) + its recent lag peak, ≤ maxSuspectAfterMs)
//    (the sender reports how late its own timer fired; a busy node widens its own window, bounded so a dead node is
//    still noticed within maxSuspectAfterMs). The sender's schedule is absolute (lateness does not add up from one
//    heartbeat to the next), so a gap between two heartbeats is at most interval + lag: the base tolerates two lost
//    heartbeats, the lag term one heartbeat as late as the worst the sender reported. (It was 2 × lag: that margin
//    cost a SIGKILL failover on a loaded node that lag again, ~100 ms, at no gain in the CPU-hog measure.)
//    The lag term is the larger of that report and the lateness this receiver itself saw: the worst gap between two
//    heartbeats of the node (same incarnation) beyond its interval in the last lagMemoryMs, counting only gaps a
//    window within the bound could have covered (a longer one was an outage, not jitter). The sender's report misses
//    every delay after its timer (its send queued behind softirq work deferred to ksoftirqd on a loaded host, a
//    bridge or NIC backlog) and reaches peers only with its next heartbeats, ~1 s late (the sender thread posts its
//    stats once a second); what the receiver sees covers every cause at once. So a node whose heartbeats come late
//    under load (the fresh user's "false owner for 186 ms" at load 22: a peer took its IPs while it still answered,
//    until its next heartbeat arrived) widens its own window as soon as one late heartbeat lands; such a peer is
//    declared dead at most once per lagMemoryMs for a delay of the same size instead of at each.
// 5. Only time during which this receiver was itself running counts as silence: each tick counts at most
//    maxTickStepMs of elapsed time, so a stall of OUR event loop (GC, a CPU hog) never makes peers look dead.
// 6. Lease path: a node whose Lease is fresh (renewTime changed, as seen on our clock, less than leaseDurationMs ago;
//    on first sight the renewTime itself is used, clamped to now) is alive when it was never heard by UDP, or when
//    its Lease changed at least twice since its last heartbeat / its 'leaving' (a dead node cannot renew twice; a
//    node whose UDP became blocked comes back within two renewals).
// 7. friendlyMacs = the MACs every node ever heard reported (a stale gratuitous ARP from a dead peer is no conflict).
// 8. Start-up (only with the `startup` option; the speaker process sets it). A speaker that has just started knows
//    nothing yet about its peers, and they know nothing about it; deciding then gives two owners (it takes an IP from
//    a peer it has not heard yet, or a peer keeps an IP this speaker already took). So:
//    a. self is alive only once its own heartbeats have gone out for `settleMs` (sending() marks the start), plus the
//       worst lag a live peer reported lately (capped as in rule 4): by then every running peer has heard it, so when
//       this speaker takes an IP the previous holder already hands it over, a busy one included; then latched;
//    b. an expected peer (expect(): every Node) never heard by UDP is "undecided" and counts as alive — this speaker
//       stays off every IP such a peer could hold — until it is heard (then rules 2-4), its Lease is seen stale (a
//       dead speaker's), or `boundMs` of observed time has passed since sending() (then rules 4 and 6: a fresh Lease
//       keeps it alive, e.g. UDP blocked; else it is dead). Before sending(), every expected peer is undecided.
//    Undecided peers are listed by undecided(): when one stops counting as alive it is no failover (it never held
//    anything), which the speaker needs to know.
import type { Clock } from '../../kube/clock.ts';
import type { Heartbeat, HeartbeatDropReason } from './heartbeat.ts';

export interface DetectorOptions {
  /** This node's name. */
  readonly self: string;
  /** Base suspicion window in ms (default used by udp.ts: 300 = 3 × 100 ms interval). */
  readonly suspectAfterMs: number;
  readonly clock: Clock;
  /** Upper bound of a widened window (default 1,500 ms). */
  readonly maxSuspectAfterMs?: number;
  /** A Lease is fresh this long after it was seen to change (default 40,000 ms: kubelet's node-lease duration). */
  readonly leaseDurationMs?: number;
  /** Heartbeats whose sentAtMs is further from our clock are `stale` (default 60,000 ms). */
  readonly maxClockSkewMs?: number;
  /** Most elapsed time one tick counts toward silence (default suspectAfterMs / 3). */
  readonly maxTickStepMs?: number;
  /** How long a reported lag peak is remembered (default 10,000 ms). */
  readonly lagMemoryMs?: number;
  /**
   * Rule 8 (start-up), in ms of observed time after sending(): `settleMs` before self counts as alive, `boundMs` at
   * most during which never-heard expected peers count as alive. Absent: self is alive at once, no peer is undecided.
   */
  readonly startup?: { readonly settleMs: number; readonly boundMs: number };
}

export type HeardResult =
  | {
      accepted: true;
      added: string[];
      removed: string[];
      /** Rule 8: the node was undecided and is now heard (alive as before, but decided): only when non-empty. */
      decided?: string[];
    }
  | { accepted: false; reason: Extract<HeartbeatDropReason, 'replayed' | 'stale' | 'from-self'> };

export interface LivenessDelta {
  added: string[];
  removed: string[];
  /** Rule 8: nodes still alive that are no longer undecided (a fresh Lease at the bound): only when non-empty. */
  decided?: string[];
}

interface Peer {
  node: string;
  incarnation: number;
  seq: number;
  /** Observed-time (rule 5) of the last accepted heartbeat; undefined = never heard by UDP. */
  heardAt: number | undefined;
  /** Wall time (our clock) of the last accepted heartbeat. */
  heardAtMs: number | undefined;
  fromAddress: string | undefined;
  left: boolean;
  intervalMs: number;
  lagPeak: number;
  lagPeakAt: number;
  /** Rule 4: late heartbeats this receiver saw (gap beyond the interval, observed ms; when, clock ms), at most 8. */
  gaps: Array<{ late: number; at: number }>;
  macs: string[];
  lease: { renewTime: number; seenAt: number } | undefined;
  /** Lease changes seen since the last accepted heartbeat or 'leaving'. */
  leaseChangesSinceUdp: number;
}

/** A node's liveness record, for metrics and debugging. */
export interface PeerView {
  node: string;
  alive: boolean;
  incarnation: number;
  seq: number;
  lastHeardMs: number | undefined;
  fromAddress: string | undefined;
  left: boolean;
  windowMs: number;
  leaseFresh: boolean;
}

export class LivenessDetector {
  readonly #o: Required<Omit<DetectorOptions, 'startup'>>;
  readonly #startup: { readonly settleMs: number; readonly boundMs: number } | undefined;
  /** Rule 8: nodes that should run a speaker (every Node), self excluded. */
  #expected = new Set<string>();
  /** Rule 8: observed time when our heartbeats started going out; undefined = not yet. */
  #sendingAt: number | undefined;
  /** Rule 8a: self was counted alive once (latched). */
  #selfSettled = false;
  /** Rule 8: the alive nodes that are undecided, as of the last tick() or heard(). */
  #undecidedNow = new Set<string>();
  readonly #peers = new Map<string, Peer>();
  #alive = new Set<string>();
  /** Observed time: elapsed clock time, each tick's step capped (rule 5). */
  #observed = 0;
  #lastTick: number;

  constructor(o: DetectorOptions) {
    if (!(o.suspectAfterMs > 0))
      throw new RangeError(`liveness: suspectAfterMs ${o.suspectAfterMs} must be > 0`);
    this.#o = {
      maxSuspectAfterMs: Math.max(1_500, o.suspectAfterMs),
      leaseDurationMs: 40_000,
      maxClockSkewMs: 60_000,
      maxTickStepMs: o.suspectAfterMs / 3,
      lagMemoryMs: 10_000,
      ...o,
    };
    const st = o.startup;
    if (st && !(st.settleMs >= 0 && st.boundMs >= st.settleMs && Number.isFinite(st.boundMs))) {
      throw new RangeError(
        `liveness: startup settleMs ${st.settleMs} / boundMs ${st.boundMs} must be finite with 0 ≤ settleMs ≤ boundMs`,
      );
    }
    this.#startup = st;
    this.#lastTick = o.clock.now();
    if (!st) this.#alive.add(o.self);
  }

  /**
   * Rule 8: the nodes that should run a speaker (the Node objects; self is ignored). Only these can be undecided.
   * Takes effect at the next tick().
   */
  expect(nodes: Iterable<string>): void {
    const next = new Set<string>();
    for (const n of nodes) if (n !== this.#o.self) next.add(n);
    this.#expected = next;
  }

  /** Rule 8: our heartbeats go out from now on (the sender is running). Idempotent; takes effect at the next tick(). */
  sending(): void {
    this.#sendingAt ??= this.#observedNow(this.#o.clock.now());
  }

  /**
   * Rule 8a: self counts as alive (always, without the `startup` option). The settle time is widened by the worst lag
   * a live peer reported in the last lagMemoryMs (rule 4's widening, the same cap): a busy peer that holds an IP we
   * take hands it over only when its event loop gets to our heartbeat, so taking it after settleMs alone gave two
   * owners for that peer's lateness (a fresh user saw ~0.6 s under load > 20). Latched: once counted, self stays
   * alive (a later lag never withdraws everything).
   */
  #selfLive(observed: number, now: number): boolean {
    if (!this.#startup || this.#selfSettled) return true;
    if (this.#sendingAt === undefined) return false;
    let lag = 0;
    for (const p of this.#peers.values()) {
      if (p.heardAt === undefined || p.left || !this.#alive.has(p.node) || now - p.lagPeakAt > this.#o.lagMemoryMs) continue;
      lag = Math.max(lag, p.lagPeak);
    }
    const settle = this.#startup.settleMs + Math.min(lag, Math.max(0, this.#o.maxSuspectAfterMs - this.#startup.settleMs));
    this.#selfSettled = observed - this.#sendingAt >= settle;
    return this.#selfSettled;
  }

  /** Rule 8b: `node` is expected, was never heard by UDP, its Lease is not seen stale, and the bound has not passed. */
  #undecided(node: string, now: number, observed: number): boolean {
    if (!this.#startup || !this.#expected.has(node)) return false;
    if (this.#sendingAt !== undefined && observed - this.#sendingAt >= this.#startup.boundMs) return false;
    const p = this.#peers.get(node);
    if (!p) return true;
    if (p.heardAt !== undefined) return false;
    return p.lease === undefined || this.#leaseFresh(p, now);
  }

  /** Rule 8b: the peers counted as alive now only because they are undecided (as of the last tick() or heard()). */
  undecided(): ReadonlySet<string> {
    return this.#undecidedNow;
  }

  #observedNow(now: number): number {
    return this.#observed + Math.min(Math.max(0, now - this.#lastTick), this.#o.maxTickStepMs);
  }

  #peer(node: string): Peer {
    let p = this.#peers.get(node);
    if (!p) {
      p = {
        node,
        incarnation: -1,
        seq: -1,
        heardAt: undefined,
        heardAtMs: undefined,
        fromAddress: undefined,
        left: false,
        intervalMs: 0,
        lagPeak: 0,
        lagPeakAt: 0,
        gaps: [],
        macs: [],
        lease: undefined,
        leaseChangesSinceUdp: 0,
      };
      this.#peers.set(node, p);
    }
    return p;
  }

  /**
   * One authenticated heartbeat (already decoded). Returns whether it was accepted (rule 2) and the nodes that became
   * alive or dead at once because of it (rule 3): the caller emits those without waiting for a tick.
   */
  heard(hb: Heartbeat, fromAddress: string): HeardResult {
    const now = this.#o.clock.now();
    if (hb.node === this.#o.self) return { accepted: false, reason: 'from-self' };
    if (Math.abs(hb.sentAtMs - now) > this.#o.maxClockSkewMs) return { accepted: false, reason: 'stale' };
    const p = this.#peer(hb.node);
    const newer = hb.incarnation > p.incarnation || (hb.incarnation === p.incarnation && hb.seq > p.seq);
    if (!newer) return { accepted: false, reason: 'replayed' };
    const observed = this.#observedNow(now);
    if (p.heardAt !== undefined && !p.left && hb.incarnation === p.incarnation) this.#noteGap(p, observed - p.heardAt - hb.intervalMs, hb.intervalMs, now);
    p.incarnation = hb.incarnation;
    p.seq = hb.seq;
    p.heardAt = observed;
    p.heardAtMs = now;
    p.fromAddress = fromAddress;
    p.intervalMs = hb.intervalMs;
    if (hb.lagMs >= p.lagPeak || now - p.lagPeakAt > this.#o.lagMemoryMs) {
      p.lagPeak = hb.lagMs;
      p.lagPeakAt = now;
    }
    p.macs = hb.macs;
    p.leaseChangesSinceUdp = 0;
    p.left = hb.state === 'leaving';
    const wasUndecided = this.#undecidedNow.delete(p.node);
    if (p.left && this.#alive.delete(p.node)) return { accepted: true, added: [], removed: [p.node] };
    if (!p.left && wasUndecided) return { accepted: true, added: [], removed: [], decided: [p.node] };
    if (!p.left && !this.#alive.has(p.node)) {
      this.#alive.add(p.node);
      return { accepted: true, added: [p.node], removed: [] };
    }
    return { accepted: true, added: [], removed: [] };
  }

  /**
   * The node's Lease as last read: `renewTimeMs` is spec.renewTime in ms (undefined when unset). Only a change of
   * renewTime counts as a renewal; it is timed by our clock (clocks are not compared across machines, except once at
   * first sight, clamped to now).
   */
  leaseSeen(node: string, renewTimeMs: number | undefined): void {
    if (node === this.#o.self || renewTimeMs === undefined) return;
    const now = this.#o.clock.now();
    const p = this.#peer(node);
    if (!p.lease) {
      p.lease = { renewTime: renewTimeMs, seenAt: Math.min(renewTimeMs, now) };
    } else if (p.lease.renewTime !== renewTimeMs) {
      p.lease = { renewTime: renewTimeMs, seenAt: now };
      p.leaseChangesSinceUdp++;
    }
  }

  /** The node's Lease was deleted (a speaker that stopped cleanly releases it). */
  leaseGone(node: string): void {
    const p = this.#peers.get(node);
    if (p) {
      p.lease = undefined;
      p.leaseChangesSinceUdp = 0;
    }
  }

  /** A node removed from the cluster: forget it entirely (its MACs too). */
  forget(node: string): void {
    this.#peers.delete(node);
  }

  /**
   * Rule 4: a heartbeat `late` ms (observed) after its predecessor plus the interval. Kept for lagMemoryMs, so delays
   * that recur (each a little shorter than the worst) keep the window wide; of more than 8 the smallest goes.
   */
  #noteGap(p: Peer, late: number, intervalMs: number, now: number): void {
    if (!(late >= intervalMs / 2)) return; // ordinary jitter: the base window tolerates two lost heartbeats anyway
    const base = Math.max(this.#o.suspectAfterMs, 3 * intervalMs);
    if (late > this.#o.maxSuspectAfterMs - base) return; // an outage no window within the bound covers
    p.gaps = p.gaps.filter((g) => now - g.at <= this.#o.lagMemoryMs);
    p.gaps.push({ late, at: now });
    if (p.gaps.length > 8) {
      let min = 0;
      for (let i = 1; i < p.gaps.length; i++) if (p.gaps[i]!.late < p.gaps[min]!.late) min = i;
      p.gaps.splice(min, 1);
    }
  }

  #window(p: Peer): number {
    const now = this.#o.clock.now();
    const reported = now - p.lagPeakAt > this.#o.lagMemoryMs ? 0 : p.lagPeak;
    let seen = 0;
    for (const g of p.gaps) if (now - g.at <= this.#o.lagMemoryMs && g.late > seen) seen = g.late;
    const lag = Math.max(reported, seen);
    const base = Math.max(this.#o.suspectAfterMs, 3 * p.intervalMs);
    return Math.max(base, Math.min(base + lag, this.#o.maxSuspectAfterMs));
  }

  #leaseFresh(p: Peer, now: number): boolean {
    return p.lease !== undefined && now - p.lease.seenAt < this.#o.leaseDurationMs;
  }

  #isAlive(p: Peer, now: number, observed: number): boolean {
    if (p.heardAt !== undefined && !p.left && observed - p.heardAt <= this.#window(p)) return true;
    if (!this.#leaseFresh(p, now)) return false;
    return p.heardAt === undefined || p.leaseChangesSinceUdp >= 2;
  }

  /** Advances silence accounting (rule 5) and recomputes the alive set; returns what changed (empty arrays if nothing). */
  tick(): LivenessDelta {
    const now = this.#o.clock.now();
    this.#observed = this.#observedNow(now);
    this.#lastTick = Math.max(this.#lastTick, now);
    const next = new Set<string>();
    if (this.#selfLive(this.#observed, now)) next.add(this.#o.self);
    for (const p of this.#peers.values()) if (this.#isAlive(p, now, this.#observed)) next.add(p.node);
    const undecided = new Set<string>();
    for (const n of this.#expected) {
      if (this.#undecided(n, now, this.#observed) && !next.has(n)) undecided.add(n);
    }
    for (const n of undecided) next.add(n);
    const added = [...next].filter((n) => !this.#alive.has(n));
    const removed = [...this.#alive].filter((n) => !next.has(n));
    const decided = [...this.#undecidedNow].filter((n) => next.has(n) && !undecided.has(n));
    this.#alive = next;
    this.#undecidedNow = undecided;
    return decided.length > 0 ? { added, removed, decided } : { added, removed };
  }

  /** Self (rule 1/8a) plus every node alive as of the last tick() or heard(), undecided ones included (rule 8b). */
  alive(): ReadonlySet<string> {
    return this.#alive;
  }

  /** MACs reported by every node heard (rule 7). */
  friendlyMacs(): ReadonlySet<string> {
    const s = new Set<string>();
    for (const p of this.#peers.values()) for (const m of p.macs) s.add(m);
    return s;
  }

  /** Every known node's record. */
  peers(): PeerView[] {
    const now = this.#o.clock.now();
    return [...this.#peers.values()].map((p) => ({
      node: p.node,
      alive: this.#alive.has(p.node),
      incarnation: p.incarnation,
      seq: p.seq,
      lastHeardMs: p.heardAtMs,
      fromAddress: p.fromAddress,
      left: p.left,
      windowMs: this.#window(p),
      leaseFresh: this.#leaseFresh(p, now),
    }));
  }
}
