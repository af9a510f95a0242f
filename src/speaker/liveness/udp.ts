// The liveness I/O edge: authenticated UDP heartbeats between speakers (MetalLB uses memberlist on port 7946 for the
// same job, metallb-compat.md §5.4; berth keeps the port and the `memberlist` Secret but speaks its own small
// protocol, heartbeat.ts). One dgram socket on bindAddress:port receives; a thread of the addon sends
// (native-sender.ts; a worker thread running sender-source.ts when the addon cannot be loaded).
//
// Numbers (issue 8: a dead speaker noticed well under a second, no flapping on a busy node):
// - interval 100 ms, suspicion 300 ms = 3 intervals: two lost datagrams in a row are tolerated; a SIGKILLed peer is
//   dropped 300-325 ms after its last heartbeat (ticks every 25 ms), leaving ~175 ms of a 500 ms failover budget for
//   the new owner's first gratuitous ARP.
// - the sender runs in a thread of its own (the addon's; a worker thread before: ~9 MiB more RSS), so main-loop stalls (GC, big relists) do not delay heartbeats; its queue of
//   pre-signed heartbeats is 20 deep (2 s): a main loop hung longer than that stops the heartbeats, so a wedged
//   speaker is declared dead instead of holding its IPs.
// - the sender reports its own timer's worst lateness over the last two seconds as lagMs (a starved sender thread:
//   CPU contention, cgroup throttling); receivers widen that sender's window by the lag, or by the lateness of its
//   heartbeats they saw themselves when larger (a delay after the sender's timer: a busy uplink, deferred softirq
//   work), up to 1.5 s (detector.ts rule 4). The main loop's event-loop delay (perf_hooks.monitorEventLoopDelay) is in stats() for metrics; it does
//   not widen anything, since main-loop stalls do not delay the worker's sends.
// - receiver stalls never count as silence (detector.ts rule 5), and the suspicion tick runs from setImmediate after
//   the timer, so datagrams queued during a stall are read before anyone is judged.
import { EventEmitter } from 'node:events';
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { NativeSenderPort, NATIVE_MAX_QUEUE_DEPTH } from './native-sender.ts';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { realClock, type Clock } from '../../kube/clock.ts';
import { LivenessDetector, type PeerView } from './detector.ts';
import {
  encode,
  heartbeatKey,
  tryDecode,
  HEARTBEAT_DROP_REASONS,
  type HeartbeatDropReason,
  type HeartbeatKey,
} from './heartbeat.ts';
import { SENDER_SOURCE } from './sender-source.ts';

/** MetalLB's memberlist port (`--ml-bindport` default), reused by berth's heartbeats. */
export const DEFAULT_LIVENESS_PORT = 7946;
export const DEFAULT_INTERVAL_MS = 100;
export const DEFAULT_SUSPECT_AFTER_MS = 300;
/** Pre-signed heartbeats handed to the sender: a main loop hung longer than depth × interval goes silent. */
export const DEFAULT_QUEUE_DEPTH = 20;
/** Key rotation: sign with the new key this long after setKey() (every speaker has seen the new Secret by then). */
export const DEFAULT_KEY_SWITCH_AFTER_MS = 5_000;
/** Key rotation: the old key is still accepted this long after setKey(). */
export const DEFAULT_KEY_ACCEPT_OLD_MS = 60_000;

export interface LivenessPeer {
  /** Node name. */
  node: string;
  /** The Node's InternalIP. */
  address: string;
  /** UDP port (default: the `port` option, as every speaker listens on the same one). */
  port?: number;
}

export interface LivenessOptions {
  /** This node's name (Kubernetes Node). */
  node: string;
  /** Address to receive on and send from (the node's InternalIP, or 0.0.0.0 / ::). */
  bindAddress: string;
  /** UDP port (7946). */
  port: number;
  /** The shared secret (MetalLB's `memberlist` Secret, key `secretkey`): at least 16 bytes. */
  key: Buffer;
  /** Every speaker's node and address; read every interval (entries for this node are skipped). */
  peers: () => readonly LivenessPeer[];
  intervalMs?: number;
  suspectAfterMs?: number;
  /** This node's interface MACs, sent to peers (they never treat them as IP conflicts). */
  macs: () => string[];
  clock?: Clock;
  log: Logger;
  /**
   * 'native' (default): heartbeats from a thread of berth's addon (native-sender.ts; 'worker' when the addon cannot
   * be loaded); 'worker': from a worker thread (sender-source.ts); 'inline': the worker's code on this thread.
   */
  sender?: 'native' | 'worker' | 'inline';
  queueDepth?: number;
  /**
   * Start-up rule (detector.ts rule 8): self counts as alive `settleMs` after the sender runs; peers listed by
   * `peers()` and never heard count as alive (undecided) until heard or `boundMs` after the sender runs. Absent
   * (default): self is alive at once and no peer is undecided. The speaker process sets it.
   */
  startup?: { settleMs: number; boundMs: number };
  /** Detector knobs (tests). */
  maxSuspectAfterMs?: number;
  leaseDurationMs?: number;
}

export interface LivenessStats {
  /** Datagrams received. */
  received: number;
  /** Heartbeats accepted. */
  accepted: number;
  /** Datagrams dropped, by reason. */
  drops: Map<HeartbeatDropReason, number>;
  /** Heartbeat datagrams sent (one per peer per interval). */
  sent: number;
  sendErrors: number;
  /** Sender rounds with no pre-signed heartbeat ready (main loop stalled). */
  starved: number;
  /** Worst lateness of the sender's timer in the last second, ms. */
  senderMaxDriftMs: number;
  /** This process's event-loop delay, ms (monitorEventLoopDelay). */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Alive-set changes emitted. */
  changes: number;
  /** Peers alive now (self excluded). */
  peersAlive: number;
}

export interface Liveness extends EventEmitter {
  /** Resolves when the receive socket is bound and the sender runs; rejects on a bind error (e.g. EADDRINUSE). */
  readonly ready: Promise<void>;
  /** Self (once settled, with `startup`) plus every peer alive now, undecided ones included. */
  alive(): ReadonlySet<string>;
  /** Peers in alive() only because they are undecided (start-up, never heard yet): their removal is no failover. */
  undecided(): ReadonlySet<string>;
  /** MACs of berth speakers (this node's and every peer's heard): never an IP conflict. */
  friendlyMacs(): ReadonlySet<string>;
  /**
   * Sends 'leaving' (3 heartbeats, 10 ms apart: the first from this thread at once, the others from the sender) so
   * peers take over at once; heartbeats stop. Resolves when sent.
   */
  leave(): Promise<void>;
  /** Stops everything; idempotent. */
  close(): void;
  /** Feeds the Lease path (lease.ts `onLease`). */
  leaseSeen(node: string, renewTimeMs: number | undefined): void;
  leaseGone(node: string): void;
  stats(): LivenessStats;
  peers(): PeerView[];
  /**
   * Rotates the shared secret (the memberlist Secret changed) without a flap: the new key is accepted at once, but
   * heartbeats are signed with the old one for `switchAfterMs` (default 5 s: every speaker's informer has seen the new
   * Secret by then) and the old one is accepted until `acceptOldForMs` (default 60 s) after the call. Throws when the
   * secret is shorter than 16 bytes. Same key again: no-op.
   */
  setKey(secret: Buffer, o?: { switchAfterMs?: number; acceptOldForMs?: number }): void;
  /** The bound receive address (after `ready`; port 0 in the options picks a free one). */
  address(): { address: string; port: number };
  /** The alive set changed, or a peer in it stopped being undecided (then the set is the same). */
  on(event: 'change', listener: (alive: ReadonlySet<string>) => void): this;
}

interface SenderStats {
  sent: number;
  sendErrors: number;
  starved: number;
  maxDriftMs: number;
  lastError: string;
}

function familyOf(address: string, what: string): 'udp4' | 'udp6' {
  if (!ipaddr.isValid(address)) throw new Error(`liveness: ${what} "${address}" is not an IP address`);
  return ipaddr.parse(address).kind() === 'ipv6' ? 'udp6' : 'udp4';
}

/** The last incarnation handed out in this process. */
let lastIncarnation = 0;

/**
 * Starts the UDP liveness edge: binds `bindAddress:port`, starts the sender, and judges peers with a
 * LivenessDetector. Emits 'change' (alive set, a fresh copy) only when the set changes. Throws at once on invalid
 * options (key shorter than 16 bytes, bindAddress not an IP, interval out of 10..10,000 ms).
 */
export function startLiveness(o: LivenessOptions): Liveness {
  return new UdpLiveness(o);
}

class UdpLiveness extends EventEmitter implements Liveness {
  readonly ready: Promise<void>;
  readonly #o: LivenessOptions;
  /** Key heartbeats are signed with. */
  #key: HeartbeatKey;
  /** Keys also accepted on receive (the previous one, during a rotation), until their deadline (clock ms). */
  #alsoAccept: { key: HeartbeatKey; until: number }[] = [];
  #keyTimer: NodeJS.Timeout | undefined;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #depth: number;
  readonly #family: 'udp4' | 'udp6';
  readonly #detector: LivenessDetector;
  readonly #incarnation: number;
  readonly #shared = new SharedArrayBuffer(8);
  readonly #lastSent = new BigInt64Array(this.#shared);
  readonly #socket: dgram.Socket;
  readonly #eld: IntervalHistogram;
  readonly #drops = new Map<HeartbeatDropReason, number>(HEARTBEAT_DROP_REASONS.map((r) => [r, 0]));
  readonly #dropLogged = new Map<HeartbeatDropReason, number>();
  #port: MessagePort | NativeSenderPort | undefined;
  #worker: Worker | undefined;
  #senderStats: SenderStats = { sent: 0, sendErrors: 0, starved: 0, maxDriftMs: 0, lastError: '' };
  #received = 0;
  #accepted = 0;
  #changes = 0;
  #encodedUpTo = 0;
  #encodedWith = '';
  #peersKey = '';
  /** The peers' addresses as last handed to the sender (leave() sends its first copy from this thread too). */
  #targets: readonly { address: string; port: number }[] = [];
  #driftPrev = 0;
  #timers: NodeJS.Timeout[] = [];
  #leaving: Promise<void> | undefined;
  #closed = false;

  constructor(o: LivenessOptions) {
    super();
    this.#o = o;
    this.#key = heartbeatKey(o.key);
    this.#clock = o.clock ?? realClock;
    this.#interval = o.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (!Number.isInteger(this.#interval) || this.#interval < 10 || this.#interval > 10_000) {
      throw new RangeError(`liveness: intervalMs ${this.#interval} must be an integer in 10..10000`);
    }
    this.#depth = o.queueDepth ?? DEFAULT_QUEUE_DEPTH;
    if (!Number.isInteger(this.#depth) || this.#depth < 1 || this.#depth > NATIVE_MAX_QUEUE_DEPTH) {
      throw new RangeError(`liveness: queueDepth ${this.#depth} must be an integer in 1..${NATIVE_MAX_QUEUE_DEPTH}`);
    }
    this.#family = familyOf(o.bindAddress, 'bindAddress');
    const suspectAfterMs = o.suspectAfterMs ?? DEFAULT_SUSPECT_AFTER_MS;
    this.#detector = new LivenessDetector({
      self: o.node,
      suspectAfterMs,
      clock: this.#clock,
      ...(o.maxSuspectAfterMs !== undefined ? { maxSuspectAfterMs: o.maxSuspectAfterMs } : {}),
      ...(o.leaseDurationMs !== undefined ? { leaseDurationMs: o.leaseDurationMs } : {}),
      ...(o.startup ? { startup: o.startup } : {}),
    });
    // strictly increasing within the process too: a Liveness restarted in the same millisecond (key change) must not
    // reuse the incarnation, or its seq 1, 2, … would be refused as replays until they passed the old seq
    this.#incarnation = lastIncarnation = Math.max(this.#clock.now(), lastIncarnation + 1);
    this.#eld = monitorEventLoopDelay({ resolution: 10 });
    this.#eld.enable();

    this.#socket = dgram.createSocket({ type: this.#family });
    this.#socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo.address));
    const bound = new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(new Error(`liveness: cannot bind UDP ${o.bindAddress}:${o.port}: ${err.message}`));
      };
      this.#socket.once('error', onError);
      this.#socket.bind({ address: o.bindAddress, port: o.port }, () => {
        this.#socket.off('error', onError);
        this.#socket.on('error', (err) => o.log.warn({ err: err.message }, 'liveness: UDP socket error'));
        resolve();
      });
    });
    const senderReady = this.#startSender(o.sender ?? 'native');
    // rule 8: our heartbeats go out from here (bound and sender running): the settle and bound clocks start
    this.ready = Promise.all([bound, senderReady]).then(() => this.#detector.sending());
    this.ready.catch((err: unknown) => {
      o.log.error({ err: err instanceof Error ? err.message : String(err) }, 'liveness: not started');
      this.close();
    });

    this.#refill();
    const tickMs = Math.max(5, Math.min(25, Math.floor(suspectAfterMs / 12)));
    this.#timers.push(setInterval(() => setImmediate(() => this.#evaluate()), tickMs));
    this.#timers.push(setInterval(() => this.#refill(), this.#interval));
    for (const t of this.#timers) t.unref();
  }

  /** The last seq the sender sent (the native thread's, else the worker's shared memory). */
  #sentSeq(): number {
    return this.#port instanceof NativeSenderPort ? this.#port.lastSent() : Number(Atomics.load(this.#lastSent, 0));
  }

  #startSender(mode: 'native' | 'worker' | 'inline'): Promise<void> {
    let failed: (err: Error) => void = () => undefined;
    const early = new Promise<never>((_, reject) => (failed = reject));
    early.catch(() => undefined);
    let fallbackReady: () => void = () => undefined;
    const viaFallback = new Promise<void>((resolve) => (fallbackReady = resolve));
    const workerData = {
      bindAddress: this.#o.bindAddress,
      family: this.#family,
      intervalMs: this.#interval,
      shared: this.#shared,
    };
    let port: MessagePort | Worker | NativeSenderPort;
    let native: NativeSenderPort | undefined;
    if (mode === 'native') {
      try {
        native = new NativeSenderPort({ bindAddress: this.#o.bindAddress, intervalMs: this.#interval, lastSent: this.#sentSeq() });
      } catch (err) {
        // No addon (a build without it): the worker does the same job, with its memory cost.
        this.#o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'liveness: native sender unavailable; sending heartbeats from a worker thread');
        return this.#startSender('worker');
      }
    }
    if (native) {
      this.#port = native;
      port = native;
    } else if (mode === 'worker') {
      const boot = `const { workerData, parentPort } = require('node:worker_threads');\n${SENDER_SOURCE}`;
      const w = new Worker(boot, { eval: true, workerData, name: 'berth-liveness-sender' });
      // A worker that fails (before or after it started) is replaced by the same sender on the main thread: it goes
      // on from the last seq sent (shared memory), so peers see no gap beyond the switch itself.
      const down = (why: string): void => {
        if (this.#closed || this.#worker !== w) return;
        this.#worker = undefined;
        this.#o.log.error(
          { err: why },
          'liveness: sender worker down; sending heartbeats from the main thread',
        );
        this.#peersKey = '';
        this.#encodedWith = '';
        this.#startSender('inline').then(() => {
          this.#refill();
          fallbackReady();
        }, failed);
        this.#refill();
      };
      w.on('error', (err) => down(err.message));
      w.on('exit', (code) => down(`exited with code ${code}`));
      w.unref();
      this.#worker = w;
      port = w;
    } else {
      const ch = new MessageChannel();
      const run = new Function('require', 'workerData', 'parentPort', SENDER_SOURCE) as (
        r: NodeJS.Require,
        d: typeof workerData,
        p: MessagePort,
      ) => void;
      run(createRequire(import.meta.url), workerData, ch.port2);
      ch.port1.unref();
      ch.port2.unref();
      this.#port = ch.port1;
      port = ch.port1;
    }
    const started = new Promise<void>((resolve, reject) => {
      (port as EventEmitter).on('message', (m: { type: string; stats?: SenderStats; message?: string; port?: number }) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'stats' && m.stats) {
          this.#driftPrev = this.#senderStats.maxDriftMs;
          this.#senderStats = m.stats;
        } else if (m.type === 'error') {
          this.#o.log.warn({ err: m.message }, 'liveness: sender socket error');
          reject(new Error(`liveness: sender: ${m.message}`));
        } else if (m.type === 'left') this.emit('left');
      });
    });
    return Promise.race([started, early, viaFallback]);
  }

  #post(m: unknown): void {
    if (this.#worker) this.#worker.postMessage(m);
    else this.#port?.postMessage(m);
  }

  #myMacs(): string[] {
    try {
      return this.#o.macs();
    } catch (err) {
      this.#o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'liveness: macs() failed');
      return [];
    }
  }

  /** What heartbeats report as lagMs: the sender timer's worst lateness over the last two seconds. */
  #lagMs(): number {
    return Math.round(Math.max(this.#driftPrev, this.#senderStats.maxDriftMs));
  }

  /** Each interval: hand the sender the peers (when changed) and refill its queue of pre-signed heartbeats. */
  #refill(): void {
    if (this.#closed || this.#leaving) return;
    let peers: readonly LivenessPeer[] | undefined;
    try {
      peers = this.#o.peers();
    } catch (err) {
      // keep sending to the last known peers
      this.#o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'liveness: peers() failed');
    }
    if (peers) {
      this.#detector.expect(peers.map((p) => p.node));
      this.#postPeers(peers);
    }
    this.#refillQueue();
  }

  #postPeers(peers: readonly LivenessPeer[]): void {
    const targets = peers
      .filter((p) => p.node !== this.#o.node && ipaddr.isValid(p.address))
      .map((p) => ({ address: this.#target(p.address), port: p.port ?? this.#o.port }))
      .filter((p): p is { address: string; port: number } => p.address !== undefined)
      .sort((a, b) => (a.address + a.port < b.address + b.port ? -1 : 1));
    const key = JSON.stringify(targets);
    if (key !== this.#peersKey) {
      this.#peersKey = key;
      this.#targets = targets;
      this.#post({ type: 'peers', peers: targets });
    }
  }

  #refillQueue(): void {
    const macs = this.#myMacs();
    const lag = this.#lagMs();
    // re-sign the whole window when what it says changed (MACs, or the lag moved by more than 10 ms)
    const withKey = `${macs.join(',')}|${Math.round(lag / 10)}`;
    const sent = this.#sentSeq();
    let from = Math.max(this.#encodedUpTo, sent) + 1;
    if (withKey !== this.#encodedWith) {
      this.#encodedWith = withKey;
      from = sent + 1;
    }
    const to = sent + this.#depth;
    if (from > to) return;
    const items: { seq: number; buf: Buffer }[] = [];
    const now = this.#clock.now();
    for (let seq = from; seq <= to; seq++) {
      const buf = this.#encode(seq, now + (seq - sent - 1) * this.#interval, 'alive', macs, lag);
      if (buf) items.push({ seq, buf });
    }
    this.#encodedUpTo = to;
    this.#post({ type: 'queue', items });
  }

  #encode(
    seq: number,
    sentAtMs: number,
    state: 'alive' | 'leaving',
    macs: string[],
    lagMs: number,
  ): Buffer | undefined {
    try {
      return encode(
        {
          node: this.#o.node,
          incarnation: this.#incarnation,
          seq,
          sentAtMs: Math.round(sentAtMs),
          state,
          macs,
          intervalMs: this.#interval,
          lagMs,
        },
        this.#key,
      );
    } catch (err) {
      this.#o.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'liveness: cannot encode a heartbeat',
      );
      return undefined;
    }
  }

  /** A peer address for this socket's family (IPv4 peers through an IPv6 socket as ::ffff:a.b.c.d). */
  #target(address: string): string | undefined {
    const ip = ipaddr.parse(address);
    if (this.#family === 'udp6') return ip.kind() === 'ipv4' ? `::ffff:${ip.toString()}` : ip.toString();
    if (ip.kind() === 'ipv4') return ip.toString();
    const v6 = ip as ipaddr.IPv6;
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : undefined;
  }

  /**
   * Counts a dropped datagram; logs the first of each reason per minute (a wrong key shows as bad-mac, skewed clocks
   * as stale: both are configuration problems an operator must see, without a line per datagram).
   */
  #drop(reason: HeartbeatDropReason, from: string, message: string): void {
    this.#drops.set(reason, (this.#drops.get(reason) ?? 0) + 1);
    const now = this.#clock.now();
    if (now - (this.#dropLogged.get(reason) ?? -Infinity) >= 60_000) {
      this.#dropLogged.set(reason, now);
      this.#o.log.warn(
        { reason, from, count: this.#drops.get(reason) },
        `liveness: heartbeat dropped: ${message}`,
      );
    }
  }

  #onMessage(msg: Buffer, from: string): void {
    this.#received++;
    let d = tryDecode(msg, this.#key);
    for (const k of this.#alsoAccept) {
      if (d.ok || d.reason !== 'bad-mac') break;
      if (this.#clock.now() < k.until) d = tryDecode(msg, k.key);
    }
    if (!d.ok) {
      this.#drop(d.reason, from, d.message);
      return;
    }
    const r = this.#detector.heard(d.heartbeat, from);
    if (!r.accepted) {
      this.#drop(
        r.reason,
        from,
        `${r.reason} heartbeat of ${d.heartbeat.node} (incarnation ${d.heartbeat.incarnation}, seq ${d.heartbeat.seq}, sent at ${d.heartbeat.sentAtMs})`,
      );
      return;
    }
    this.#accepted++;
    // a node decided (rule 8) changes no alive set, but whether losing it later is a failover: listeners must know
    if (r.added.length > 0 || r.removed.length > 0 || r.decided) this.#emitChange();
    // After the listeners (the takeover comes first): which rule removed the peer (detector rule 3).
    if (r.removed.length > 0) this.#o.log.info({ peers: r.removed, reason: 'leaving' }, `liveness: ${r.removed.join(', ')} left ('leaving' heartbeat)`);
  }

  #evaluate(): void {
    if (this.#closed) return;
    const delta = this.#detector.tick();
    if (delta.added.length > 0 || delta.removed.length > 0 || delta.decided) this.#emitChange();
    // Rules 4, 6 and 8b: silent past its window with no fresh Lease (or an undecided peer's bound ended).
    if (delta.removed.length > 0) this.#o.log.info({ peers: delta.removed, reason: 'silence' }, `liveness: ${delta.removed.join(', ')} dead (silent past its window, no fresh Lease)`);
  }

  #emitChange(): void {
    this.#changes++;
    this.emit('change', new Set(this.#detector.alive()) as ReadonlySet<string>);
  }

  alive(): ReadonlySet<string> {
    return new Set(this.#detector.alive());
  }

  undecided(): ReadonlySet<string> {
    return new Set(this.#detector.undecided());
  }

  friendlyMacs(): ReadonlySet<string> {
    const s = new Set(this.#detector.friendlyMacs());
    for (const m of this.#myMacs()) s.add(m);
    return s;
  }

  setKey(secret: Buffer, o: { switchAfterMs?: number; acceptOldForMs?: number } = {}): void {
    const next = heartbeatKey(secret);
    const pending = this.#alsoAccept.find((k) => k.key.bytes.equals(next.bytes));
    if (next.bytes.equals(this.#key.bytes) || pending) return;
    const switchAfterMs = o.switchAfterMs ?? DEFAULT_KEY_SWITCH_AFTER_MS;
    const acceptOldForMs = Math.max(o.acceptOldForMs ?? DEFAULT_KEY_ACCEPT_OLD_MS, switchAfterMs);
    // phase 1: accept the new key at once, keep signing with the old one (peers may not have the new Secret yet)
    this.#alsoAccept = [{ key: next, until: Number.POSITIVE_INFINITY }];
    clearTimeout(this.#keyTimer);
    this.#keyTimer = setTimeout(() => {
      if (this.#closed) return;
      // phase 2: sign with the new key; accept the old one a while longer (peers that switch later)
      const old = this.#key;
      this.#key = next;
      this.#alsoAccept = [{ key: old, until: this.#clock.now() + acceptOldForMs - switchAfterMs }];
      this.#encodedWith = '';
      this.#refill();
      this.#o.log.info('liveness: heartbeats now signed with the new key');
    }, switchAfterMs);
    this.#keyTimer.unref();
  }

  /** The sender's worker thread (undefined when sending from the main thread): diagnostics and tests. */
  senderThread(): Worker | undefined {
    return this.#worker;
  }

  leaseSeen(node: string, renewTimeMs: number | undefined): void {
    this.#detector.leaseSeen(node, renewTimeMs);
  }

  leaseGone(node: string): void {
    this.#detector.leaseGone(node);
  }

  leave(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#leaving ??= new Promise<void>((resolve) => {
      const sent = this.#sentSeq();
      const first = Math.max(this.#encodedUpTo, sent) + 1;
      const macs = this.#myMacs();
      const items = [0, 1, 2]
        .map((i) => this.#encode(first + i, this.#clock.now(), 'leaving', macs, 0))
        .filter((b): b is Buffer => b !== undefined);
      const timeout = setTimeout(done, 1_000);
      function done(): void {
        clearTimeout(timeout);
        resolve();
      }
      this.once('left', done);
      // The first copy goes out from this thread's socket at once: no hop through the sender thread, which a busy
      // node may not schedule for tens of ms (SIGTERM hand-over target: 100 ms). The sender sends the other two.
      const [now, ...rest] = items;
      if (now) {
        for (const t of this.#targets) {
          try {
            this.#socket.send(now, t.port, t.address, (err) => {
              if (err) this.#o.log.debug({ err: err.message, to: t.address }, 'liveness: leaving heartbeat not sent');
            });
          } catch (err) {
            // socket not bound (ready failed) or closed: the sender's copies remain
            this.#o.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'liveness: leaving heartbeat not sent');
          }
        }
      }
      this.#post({ type: 'leave', items: rest });
    });
    return this.#leaving;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#keyTimer);
    this.#eld.disable();
    try {
      this.#socket.close();
    } catch {
      // already closed (bind failed)
    }
    this.#post({ type: 'close' });
    if (this.#worker) void this.#worker.terminate().catch(() => undefined);
    this.#port?.close();
    this.emit('left');
  }

  stats(): LivenessStats {
    return {
      received: this.#received,
      accepted: this.#accepted,
      drops: new Map(this.#drops),
      sent: this.#senderStats.sent,
      sendErrors: this.#senderStats.sendErrors,
      starved: this.#senderStats.starved,
      senderMaxDriftMs: this.#senderStats.maxDriftMs,
      eventLoopDelayMs: {
        p50: this.#eld.percentile(50) / 1e6,
        p99: this.#eld.percentile(99) / 1e6,
        max: this.#eld.max / 1e6,
      },
      changes: this.#changes,
      peersAlive: this.#peersAlive(),
    };
  }

  peers(): PeerView[] {
    return this.#detector.peers();
  }

  /** Peers alive now, self and undecided peers (rule 8) excluded. */
  #peersAlive(): number {
    const undecided = this.#detector.undecided();
    let n = 0;
    for (const p of this.#detector.alive()) if (p !== this.#o.node && !undecided.has(p)) n++;
    return n;
  }

  address(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }
}
