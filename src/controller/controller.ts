// The controller process's brain, without I/O of its own: caches in, reconciles through a work queue, writes through
// the injected writers. Every replica keeps its caches and allocator warm (fed by the claims); only the leader
// reconciles and writes (Lease in main.ts), so a failover starts from a full picture.
//
//   Service add/update/delete ─┐
//   claim change (its holders) ─┼─→ work queue ─→ reconcileService ─→ status / annotations / claims / events
//   periodic resync ───────────┘        ↑ pending Services requeued when capacity appears (IPs freed, pools changed)
//   pools / communities / namespaces ─→ ConfigLoader ─→ allocator.setPools → reprocess all; ConfigurationState
//   claim repair timer ─→ repairClaims (orphaned holders after the grace period)
//   allocator counters ─→ pool status (debounced) + metrics
import type { AllocatorApi, PoolStats } from '../allocator/types.ts';
import type { KubeObject } from '../api/object.ts';
import { loadClaims, syncIp } from '../claims/allocator-sync.ts';
import type { IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimStore } from '../claims/store.ts';
import { assignedIPs, ingressIPs, serviceKey, serviceRequestFrom, type ServiceLike, type ServiceRequestOptions } from '../config/service.ts';
import type { LabelledName } from '../config/types.ts';
import { ClaimIndex, isNewer } from './claim-index.ts';
import { ConfigLoader, type BuildConfig, type ConfigOutcome } from './config-loader.ts';
import type { Recorder, ReconcileDeps, ServiceWriter, SyncResult, WriteResult } from './deps.ts';
import { poolCounters, sameCounters, countersFromStatus, type PoolCounters } from './pool-status.ts';
import { reconcileService } from './reconcile.ts';
import { DEFAULT_CLAIM_GRACE_MS, newRepairState, repairClaims, type RepairReport } from './repair.ts';
import { WorkQueue, type WorkOutcome } from './work-queue.ts';

/** A read-only cache with change notifications (an informer; a map in tests). */
export interface Cache<T> {
  getByKey(key: string): T | undefined;
  list(): T[];
  on(h: { add?(o: T): void; update?(o: T, old: T): void; delete?(o: T): void }): () => void;
}

export interface StatusWriter {
  writePoolStatus(pool: string, counters: PoolCounters): Promise<WriteResult>;
  writeConfigState(result: 'Valid' | 'Invalid', errorSummary: string): Promise<WriteResult>;
}

export interface ControllerMetrics {
  /** Per-pool allocator gauges. */
  poolStats?(stats: readonly PoolStats[]): void;
  /** One reconcile processed (MetalLB's metallb_k8s_client_updates_total / _update_errors_total). */
  update?(ok: boolean): void;
  configLoaded?(loaded: boolean): void;
  configStale?(stale: boolean): void;
  /** One repair-loop pass (berth_claim_repairs_total). */
  repaired?(report: RepairReport): void;
  /** Seconds from when the controller first saw a Service without an IP to its first reconcile that gave it one. */
  timeToIP?(seconds: number): void;
}

export type Schedule = (ms: number, fn: () => void) => () => void;

export interface ControllerOptions {
  readonly services: Cache<ServiceLike>;
  readonly pools: Cache<KubeObject>;
  readonly communities: Cache<KubeObject>;
  readonly namespaces: Cache<KubeObject>;
  readonly claimCache: ClaimCache;
  readonly store: ClaimStore;
  readonly writer: ServiceWriter;
  readonly recorder: Recorder;
  readonly status: StatusWriter;
  readonly allocator: AllocatorApi;
  readonly buildConfig: BuildConfig;
  /** berth's namespace (metallb.io objects are read there only). */
  readonly namespace: string;
  readonly lbClass?: string;
  readonly requestOptions?: ServiceRequestOptions;
  readonly metrics?: ControllerMetrics;
  readonly now?: () => number;
  readonly schedule?: Schedule;
  readonly concurrency?: number;
  readonly claimGraceMs?: number;
  /** How often the claim repair loop runs (default: grace / 4, at most 15 s). */
  readonly repairIntervalMs?: number;
  /** Reprocess-all period while leading (default 5 min; 0 = never). */
  readonly resyncIntervalMs?: number;
  readonly poolStatusDelayMs?: number;
  readonly configDelayMs?: number;
  readonly retryBaseMs?: number;
  readonly log?: (line: string) => void;
  /**
   * Called once per reconcile with its outcome (the decision log; replaces the `will retry` line). `durationMs`: ms.
   * `did`: the API writes (claims, Service status/annotations) and events the reconcile made — a success with neither
   * is a no-op (main.ts logs those at debug level only: a restart at 10,000 Services is 10,000 of them).
   */
  readonly decision?: (key: string, r: SyncResult, durationMs: number, did: { readonly writes: number; readonly events: number }) => void;
  /**
   * Called when leadership starts the pass over every Service (`'start'`) and when that pass has drained the work
   * queue (`'done'`; not called if leadership is lost first). main.ts runs TurboFan only between the two (a restart's
   * CPU-bound pass over 10,000 Services) and the settled controller interpreted (docs/controller.md "V8 flags").
   */
  readonly initialPass?: (phase: 'start' | 'done', services: number) => void;
}

/** Whether `ingressIPs(svc)` is not empty, without building the list. */
function hasIngressIP(svc: ServiceLike): boolean {
  const ingress = svc.status?.loadBalancer?.ingress;
  return Array.isArray(ingress) && ingress.some((i) => i && typeof i.ip === 'string' && i.ip !== '');
}

const realSchedule: Schedule = (ms, fn) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export class Controller {
  readonly #o: ControllerOptions;
  readonly #schedule: Schedule;
  readonly #now: () => number;
  readonly #queue: WorkQueue;
  readonly #config: ConfigLoader;
  readonly #pending = new Set<string>();
  /** PreferDualStack Services still short of their second family (reconcile keeps it; requeued like #pending). */
  readonly #additional = new Map<string, string>();
  /**
   * Services seen deleted and not yet released. Only a delete seen by the informer releases claims at once: a claim
   * whose holder merely is not in the cache (yet) may belong to an admission in flight — the repair loop decides those
   * after the grace period.
   */
  readonly #deleted = new Map<string, ServiceLike>();
  /** Keys whose last reconcile failed, with the message an event was recorded for (one event per failure run). */
  readonly #failing = new Map<string, string>();
  /** Services seen without an IP: key → when first seen (ms), for the time-to-IP histogram. */
  readonly #waitingSince = new Map<string, number>();
  readonly #repair = newRepairState();
  readonly #writtenPoolStatus = new Map<string, PoolCounters>();
  readonly #unsubscribe: Array<() => void> = [];
  /**
   * resourceVersions of this replica's own writes not yet seen back from the watches (Service key → versions it wrote,
   * claim name → version): their watch events are echoes of a reconcile that already converged on them, so they queue
   * nothing. Any other event of the object queues it as usual (and forgets what was noted).
   */
  readonly #ownServiceWrites = new Map<string, string[]>();
  readonly #ownClaimWrites = new Map<string, string>();
  /**
   * Keys being reconciled → the resourceVersions their update events delivered meanwhile (an entry only while the
   * reconcile runs). A write whose version is among them had its echo delivered before its answer was read: it is not
   * noted in #ownServiceWrites, where nothing would ever remove it (issue 12: 4,229 such entries after a fill of
   * 10,000 Services, ~0.5 MB).
   */
  readonly #deliveredWhileRunning = new Map<string, string[]>();
  /**
   * Cached Service objects (identity: the informer replaces the object on every change) whose last reconcile succeeded
   * under the current configuration with no event queued since, and whose claims did not change since: the periodic
   * resync skips them (their inputs are the same; issue 12: the resync re-reconciled 10,000 settled Services every
   * 5 minutes). A WeakSet: nothing is kept for a Service the cache dropped. Emptied on configuration changes and
   * leadership changes; a claim change of a holder removes that holder's object.
   */
  #settled = new WeakSet<ServiceLike>();
  /** How many Services have own writes waiting for their watch echo (tests, leak checks). */
  get ownServiceWritesPending(): number {
    return this.#ownServiceWrites.size;
  }

  /** Services the last resync skipped as settled (tests, logs). */
  lastResync: { reconciled: number; skipped: number } | undefined;
  #claims: ClaimIndex | undefined;
  #leader = false;
  #started = false;
  #cancelRepair: (() => void) | undefined;
  #cancelResync: (() => void) | undefined;
  #cancelPoolStatus: (() => void) | undefined;
  #cancelConfig: (() => void) | undefined;
  #configStateWritten: string | undefined;
  #claimsLoaded = false;
  /** Counters for tests and logs. */
  readonly stats = { reconciles: 0, errors: 0, repairs: 0, configLoads: 0 };
  lastRepair: RepairReport | undefined;

  constructor(opts: ControllerOptions) {
    this.#o = opts;
    this.#schedule = opts.schedule ?? realSchedule;
    this.#now = opts.now ?? Date.now;
    this.#config = new ConfigLoader(opts.allocator, opts.buildConfig, opts.namespace);
    this.#queue = new WorkQueue((key) => this.#process(key), {
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      schedule: this.#schedule,
      ...(opts.retryBaseMs !== undefined ? { baseDelayMs: opts.retryBaseMs } : {}),
    });
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  get configLoaded(): boolean {
    return this.#config.loaded;
  }

  get configStale(): boolean {
    return this.#config.stale;
  }

  get pending(): ReadonlySet<string> {
    return this.#pending;
  }

  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /**
   * Starts following the caches (which must be synced: a half-listed cache would make live Services look deleted).
   * Loads the configuration, then the claims into the allocator, before anything is reconciled (MetalLB §3.7: the
   * holders' IPs are known before a pending Service may take one).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const o = this.#o;
    this.#loadConfig();
    this.#claims = new ClaimIndex(o.claimCache);
    this.#maybeLoadClaims();
    this.#unsubscribe.push(
      o.claimCache.subscribe((e) => {
        if (this.#claimsLoaded) syncIp(o.allocator, e.claim.spec.ip, e.type === 'deleted' ? undefined : e.claim, { lookup: this.#lookup });
        this.#poolStatusSoon();
      }),
      this.#claims.onChange((e, holders) => {
        if (this.#isOwnClaimWrite(e.claim, e.type === 'deleted')) return;
        for (const k of holders) {
          const s = o.services.getByKey(k);
          if (s) this.#settled.delete(s);
        }
        // A claim change never overtakes a key's retry backoff: a reconcile whose own claim writes fail must not
        // spin on the events of those writes (issue: ~4,600 error lines in 10 s).
        if (this.#leader) for (const k of holders) this.#queue.add(k, { respectBackoff: true });
      }),
      o.services.on({
        add: (s) => {
          this.#deleted.delete(serviceKey(s));
          if (ingressIPs(s).length === 0 && !this.#waitingSince.has(serviceKey(s))) this.#waitingSince.set(serviceKey(s), this.#now());
          this.#enqueue(serviceKey(s));
        },
        update: (s, old) => {
          const key = serviceKey(s);
          const rv = s.metadata?.resourceVersion;
          if (rv !== undefined) this.#deliveredWhileRunning.get(key)?.push(rv);
          if (!this.#isOwnServiceWrite(key, rv)) this.#enqueue(key);
          // The echo of a settled reconcile's own write is as settled as the version it wrote over.
          else if (this.#settled.has(old)) this.#settled.add(s);
        },
        delete: (s) => {
          this.#waitingSince.delete(serviceKey(s));
          this.#ownServiceWrites.delete(serviceKey(s));
          this.#deleted.set(serviceKey(s), s);
          this.#enqueue(serviceKey(s));
        },
      }),
    );
    for (const c of [o.pools, o.communities, o.namespaces]) {
      this.#unsubscribe.push(c.on({ add: () => this.#configSoon(), update: () => this.#configSoon(), delete: () => this.#configSoon() }));
    }
    this.#publishStats();
  }

  stop(): void {
    this.setLeader(false);
    this.#queue.stop();
    this.#cancelConfig?.();
    for (const u of this.#unsubscribe.splice(0)) u();
    this.#claims?.close();
  }

  /** Leadership changes (from the Lease elector). Becoming leader reprocesses everything; losing it stops writing. */
  setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#settled = new WeakSet();
    if (leader) {
      this.#o.log?.('controller: leading; reprocessing all services');
      const started = this.#now();
      const n = this.#o.services.list().length;
      this.#o.initialPass?.('start', n);
      this.#reprocessAll();
      void this.#queue.idle().then(() => {
        if (!this.#leader) return;
        this.#o.initialPass?.('done', n);
        const mem = process.memoryUsage();
        this.#o.log?.(
          `controller: initial reconcile of ${n} services done in ${this.#now() - started} ms ` +
            `(rss ${(mem.rss / 1048576).toFixed(1)} MB, heap ${(mem.heapUsed / 1048576).toFixed(1)}/` +
            `${(mem.heapTotal / 1048576).toFixed(1)} MB, external ${(mem.external / 1048576).toFixed(1)} MB)`,
        );
      });
      this.#scheduleRepair(0);
      this.#scheduleResync();
      this.#poolStatusSoon();
      void this.#writeConfigState();
    } else {
      this.#queue.clear();
      this.#cancelRepair?.();
      this.#cancelResync?.();
      this.#cancelPoolStatus?.();
      this.#cancelRepair = this.#cancelResync = this.#cancelPoolStatus = undefined;
      this.#configStateWritten = undefined;
      this.#writtenPoolStatus.clear();
    }
  }

  /** Runs the claim repair loop once now (tests; the timer calls it too). */
  async repairNow(): Promise<RepairReport | undefined> {
    if (!this.#leader || !this.#claims) return undefined;
    const report = await repairClaims(
      {
        claims: this.#claims,
        service: (k) => this.#o.services.getByKey(k),
        store: this.#fencedStore(this.#o.store),
        ...(this.#o.lbClass !== undefined ? { lbClass: this.#o.lbClass } : {}),
        graceMs: this.#grace(),
        ...(this.#o.writer.current ? { current: this.#o.writer.current.bind(this.#o.writer) } : {}),
      },
      this.#repair,
      this.#now(),
    );
    this.stats.repairs++;
    this.lastRepair = report;
    this.#o.metrics?.repaired?.(report);
    for (const r of report.released) {
      this.#o.log?.(`repair: released ${r.ip} held by ${r.holder} (no such LoadBalancer Service)${r.deleted ? '; claim deleted' : ''}`);
    }
    for (const e of report.errors) this.#o.log?.(`repair: ${e}`);
    if (report.released.length > 0) this.#requeuePending();
    return report;
  }

  /** Writes pool status now (tests; otherwise debounced after allocator changes). */
  async writePoolStatusNow(): Promise<void> {
    if (!this.#leader) return;
    const byName = new Map(this.#o.pools.list().map((p) => [p.metadata?.name ?? '', p]));
    for (const s of this.#o.allocator.stats()) {
      const counters = poolCounters(s);
      const obj = byName.get(s.pool);
      if (!obj) continue;
      const known = this.#writtenPoolStatus.get(s.pool) ?? countersFromStatus(obj.status);
      if (sameCounters(known, counters)) {
        this.#writtenPoolStatus.set(s.pool, counters);
        continue;
      }
      const w = await this.#o.status.writePoolStatus(s.pool, counters);
      if (w.ok) this.#writtenPoolStatus.set(s.pool, counters);
      else if (w.reason !== 'NotFound') this.#o.log?.(`pool status ${s.pool}: ${w.message}`);
    }
  }

  // --- internals ---

  #lookup = (key: string) => {
    const svc = this.#o.services.getByKey(key);
    if (!svc) return undefined;
    const r = serviceRequestFrom(svc, this.#o.requestOptions);
    return r.ok ? r.req : undefined;
  };

  #grace(): number {
    return this.#o.claimGraceMs ?? DEFAULT_CLAIM_GRACE_MS;
  }

  #enqueue(key: string): void {
    if (this.#leader) this.#queue.add(key);
  }

  /**
   * Every Service; those already holding IPs first so they re-take them before pending ones ask (MetalLB reload order).
   * `skipSettled` (the periodic resync): not the Services settled since their last change (#settled).
   */
  #reprocessAll(skipSettled = false): void {
    if (!this.#leader) return;
    const withIps: string[] = [];
    const without: string[] = [];
    let skipped = 0;
    for (const s of this.#o.services.list()) {
      if (skipSettled && this.#settled.has(s)) {
        skipped++;
        continue;
      }
      const key = serviceKey(s);
      // The cheapest test first (no array built for the 10,000 settled Services of a restart): status, annotation, claims.
      if (hasIngressIP(s) || assignedIPs(s).length > 0 || (this.#claims?.heldBy(key).length ?? 0) > 0) withIps.push(key);
      else without.push(key);
    }
    for (const k of this.#deleted.keys()) withIps.push(k);
    for (const k of withIps) this.#queue.add(k);
    for (const k of this.#askingFirst(without)) this.#queue.add(k);
    if (skipSettled) this.lastResync = { reconciled: withIps.length + without.length, skipped };
  }

  /**
   * Services that request specific IPs before those that take any: when capacity comes back (a pool grown again), an
   * automatic allocation must not take the one IP another pending Service asks for.
   */
  #askingFirst(keys: Iterable<string>): string[] {
    const asking: string[] = [];
    const rest: string[] = [];
    for (const k of keys) (this.#lookup(k)?.requestedIPs.length ? asking : rest).push(k);
    return [...asking, ...rest];
  }

  #requeuePending(): void {
    if (!this.#leader) return;
    for (const k of this.#askingFirst(this.#pending)) this.#queue.add(k);
    for (const k of this.#additional.keys()) this.#queue.add(k);
  }

  async #process(key: string): Promise<WorkOutcome> {
    if (!this.#leader || !this.#claims) return { retry: false };
    const svc = this.#o.services.getByKey(key);
    if (!svc && !this.#deleted.has(key)) return { retry: false };
    const did = { writes: 0, events: 0 };
    const deps: ReconcileDeps = {
      allocator: this.#o.allocator,
      store: this.#countingStore(did),
      claims: this.#claims,
      writer: this.#countingWriter(key, did),
      recorder: { record: (...a) => (did.events++, this.#o.recorder.record(...a)) },
      ...(this.#o.lbClass !== undefined ? { lbClass: this.#o.lbClass } : {}),
      ...(this.#o.requestOptions ? { requestOptions: this.#o.requestOptions } : {}),
      lookup: this.#lookup,
      additionalFailures: this.#additional,
    };
    const t0 = performance.now();
    let r: SyncResult;
    const delivered: string[] = [];
    this.#deliveredWhileRunning.set(key, delivered);
    try {
      const deleted = svc ? undefined : this.#deleted.get(key);
      r = await reconcileService(deps, { key, svc, configLoaded: this.#config.loaded, ...(deleted ? { deleted } : {}) });
    } catch (e) {
      // The claim store rejects on transport failures (API server unreachable): retry with backoff.
      r = { state: 'error', message: e instanceof Error ? e.message : String(e) };
    } finally {
      if (this.#deliveredWhileRunning.get(key) === delivered) this.#deliveredWhileRunning.delete(key);
    }
    if (!this.#leader) {
      // Lost the lease while this ran: its writes from then on were refused (#fence); the new leader takes over.
      this.#o.decision?.(key, r, performance.now() - t0, did);
      return { retry: false };
    }
    this.stats.reconciles++;
    this.#o.decision?.(key, r, performance.now() - t0, did);
    this.#o.metrics?.update?.(r.state !== 'error');
    this.#reportFailure(key, svc ?? this.#deleted.get(key), r);
    const since = this.#waitingSince.get(key);
    if (since !== undefined && r.state === 'success' && svc && this.#o.allocator.ipsOf(key) !== undefined) {
      this.#waitingSince.delete(key);
      this.#o.metrics?.timeToIP?.((this.#now() - since) / 1000);
    }
    if (!svc && r.state === 'success') this.#deleted.delete(key);
    // Settled: the object now cached (the reconciled one, or the echo of this reconcile's own write) unless an event
    // queued the key again meanwhile.
    const now = r.state === 'success' && !this.#queue.pending(key) ? this.#o.services.getByKey(key) : undefined;
    if (now) this.#settled.add(now);
    if (r.state === 'pending') this.#pending.add(key);
    else this.#pending.delete(key);
    if (r.freed) {
      this.#requeuePending();
      this.#poolStatusSoon();
    }
    if (r.state === 'success') this.#poolStatusSoon();
    this.#publishStats();
    if (r.state === 'retry') return { retry: true, afterMs: r.afterMs };
    if (r.state === 'error') {
      this.stats.errors++;
      if (!this.#o.decision) this.#o.log?.(`reconcile ${key}: ${r.message}; will retry`);
      return { retry: true };
    }
    return { retry: false };
  }

  /** The claim store as one reconcile uses it: counts its writes and notes what they answered (echoes, ClaimIndex). */
  #countingStore(did: { writes: number }): ClaimStore {
    const store = this.#o.store;
    const note = (claim: IPAddressClaim | undefined): void => {
      const name = claim?.metadata?.name;
      const rv = claim?.metadata?.resourceVersion;
      if (!name || !rv) return;
      // Its echo already came (the watch event is often read before the write's answer): nothing to wait for, and
      // an entry noted now would stay forever (one per Service of a fill).
      if (!isNewer(rv, this.#o.claimCache.get(claim.spec.ip)?.metadata?.resourceVersion)) return;
      this.#ownClaimWrites.set(name, rv);
      this.#claims?.noteWritten(claim);
    };
    return {
      list: () => store.list(),
      get: (ip) => store.get(ip),
      create: async (claim, opts) => {
        if (!opts?.dryRun) this.#fence();
        if (!opts?.dryRun) did.writes++;
        const r = await store.create(claim, opts);
        if (r.ok && !opts?.dryRun) note(r.claim);
        return r;
      },
      update: async (claim) => {
        this.#fence();
        did.writes++;
        const r = await store.update(claim);
        if (r.ok) note(r.claim);
        return r;
      },
      delete: async (ip, opts) => {
        this.#fence();
        did.writes++;
        return store.delete(ip, opts);
      },
    };
  }

  /**
   * Refuses a write of a replica that no longer leads: a reconcile or repair pass that was in flight when the lease
   * was lost (a busy event loop can run one for seconds) must not write over the new leader's decisions (chaos
   * seed 2: a stale reconcile moved a Service's IP 4 s after its replica stepped down). Throws; #process drops it.
   */
  #fence(): void {
    if (!this.#leader) throw new Error('not leading any more: write refused (the new leader reconciles this)');
  }

  /** The claim store with every write fenced by leadership (the repair pass). */
  #fencedStore(store: ClaimStore): ClaimStore {
    return {
      list: () => store.list(),
      get: (ip) => store.get(ip),
      create: async (claim, opts) => (opts?.dryRun ? undefined : this.#fence(), store.create(claim, opts)),
      update: async (claim) => (this.#fence(), store.update(claim)),
      delete: async (ip, opts) => (this.#fence(), store.delete(ip, opts)),
    };
  }

  /** The Service writer as one reconcile of `key` uses it: counts its writes and notes the versions they produced. */
  #countingWriter(key: string, did: { writes: number }): ServiceWriter {
    const w = this.#o.writer;
    const note = (r: WriteResult): WriteResult => {
      // Its echo already came (delivered before the answer was read): nothing to wait for.
      if (r.ok && r.resourceVersion !== undefined && !this.#deliveredWhileRunning.get(key)?.includes(r.resourceVersion)) {
        const own = this.#ownServiceWrites.get(key);
        if (own) own.push(r.resourceVersion);
        else this.#ownServiceWrites.set(key, [r.resourceVersion]);
      }
      return r;
    };
    return {
      writeIngress: async (ns, name, ips, rv) => (this.#fence(), did.writes++, note(await w.writeIngress(ns, name, ips, rv))),
      writeAnnotations: async (ns, name, changes, rv) => (this.#fence(), did.writes++, note(await w.writeAnnotations(ns, name, changes, rv))),
      ...(w.current ? { current: w.current.bind(w) } : {}),
    };
  }

  /**
   * Whether a Service update event is the echo of this replica's own status/annotation write (the version it wrote).
   * Watch events of one object come in order, so the first event after a write is that write's echo unless someone else
   * wrote in between: any other version forgets the noted ones and is queued.
   */
  #isOwnServiceWrite(key: string, rv: string | undefined): boolean {
    const own = this.#ownServiceWrites.get(key);
    if (!own) return false;
    const i = rv === undefined ? -1 : own.indexOf(rv);
    if (i < 0) {
      this.#ownServiceWrites.delete(key);
      return false;
    }
    own.splice(0, i + 1);
    if (own.length === 0) this.#ownServiceWrites.delete(key);
    return true;
  }

  /** Whether a claim event is the echo of this replica's own create/update of that claim (same resourceVersion). */
  #isOwnClaimWrite(claim: IPAddressClaim, deleted: boolean): boolean {
    const name = claim.metadata?.name;
    const own = this.#ownClaimWrites.get(name);
    if (own === undefined) return false;
    this.#ownClaimWrites.delete(name);
    return !deleted && own === claim.metadata?.resourceVersion;
  }

  /**
   * One Warning event per run of failures of a Service (`SyncFailed`, with the first message and that berth retries
   * with backoff), not one per retry; the run ends at the next outcome that is not an error.
   */
  #reportFailure(key: string, svc: ServiceLike | undefined, r: SyncResult): void {
    if (r.state !== 'error') {
      this.#failing.delete(key);
      return;
    }
    if (this.#failing.has(key)) return;
    this.#failing.set(key, r.message);
    if (svc) this.#o.recorder.record(svc, 'Warning', 'SyncFailed', `${r.message}; retrying with backoff`);
  }

  #configSoon(): void {
    if (this.#cancelConfig) return;
    this.#cancelConfig = this.#schedule(this.#o.configDelayMs ?? 50, () => {
      this.#cancelConfig = undefined;
      const out = this.#loadConfig();
      if (out.kind === 'applied') {
        this.#settled = new WeakSet();
        this.#maybeLoadClaims();
        this.#reprocessAll();
      }
    });
  }

  #loadConfig(): ConfigOutcome {
    const ns = this.#o.namespace;
    const inNs = (c: Cache<KubeObject>) => c.list().filter((o) => (o.metadata?.namespace ?? ns) === ns);
    const namespaces: LabelledName[] = this.#o.namespaces
      .list()
      .map((n) => ({ name: n.metadata?.name ?? '', labels: { ...(n.metadata?.labels ?? {}) } }));
    const out = this.#config.load({ pools: inNs(this.#o.pools), communities: inNs(this.#o.communities), namespaces });
    this.stats.configLoads++;
    this.#o.metrics?.configLoaded?.(this.#config.loaded);
    this.#o.metrics?.configStale?.(this.#config.stale);
    if (out.kind === 'invalid') this.#o.log?.(`config: invalid, keeping the last valid one: ${out.summary}`);
    if (out.kind === 'applied') {
      this.#o.log?.(`config: loaded ${this.#config.pools.length} pool(s)`);
      for (const o of out.orphaned) {
        this.#o.log?.(`config: ${o.key} holds ${o.ips.join(',')} from pool ${o.pool}, which no pool contains now`);
      }
      this.#publishStats();
    }
    void this.#writeConfigState();
    return out;
  }

  /** Claims go into the allocator once it has pools (an IP in no pool cannot be recorded). */
  #maybeLoadClaims(): void {
    if (this.#claimsLoaded || !this.#config.loaded || !this.#claims) return;
    const r = loadClaims(this.#o.allocator, this.#o.claimCache.list(), { lookup: this.#lookup });
    this.#claimsLoaded = true;
    for (const f of r.failed) this.#o.log?.(`claims: ${f.key}: ${f.message}`);
    this.#publishStats();
  }

  async #writeConfigState(): Promise<void> {
    if (!this.#leader) return;
    const result = this.#config.stale || !this.#config.loaded ? 'Invalid' : 'Valid';
    if (!this.#config.loaded && !this.#config.stale) return; // nothing seen yet
    const text = `${result}|${this.#config.summary}`;
    if (text === this.#configStateWritten) return;
    const w = await this.#o.status.writeConfigState(result, this.#config.summary);
    if (w.ok) this.#configStateWritten = text;
    else this.#o.log?.(`configuration state: ${w.message}`);
  }

  #publishStats(): void {
    this.#o.metrics?.poolStats?.(this.#o.allocator.stats());
  }

  #poolStatusSoon(): void {
    if (!this.#leader || this.#cancelPoolStatus) return;
    this.#cancelPoolStatus = this.#schedule(this.#o.poolStatusDelayMs ?? 250, () => {
      this.#cancelPoolStatus = undefined;
      this.#publishStats();
      void this.writePoolStatusNow();
    });
  }

  #scheduleRepair(ms: number): void {
    this.#cancelRepair?.();
    this.#cancelRepair = this.#schedule(ms, () => {
      void this.repairNow().finally(() => {
        if (!this.#leader) return;
        // A pass reads every claim: the pause between passes grows with them (1.5 ms per claim, 75 s at 50,000;
        // unchanged up to 10,000), so repair keeps the same share of a CPU at any size instead of a 50,000-claim scan
        // every 15 s (issue 12; kube-apiserver's repair loop runs every 3 min). Passes due for an orphan are not delayed.
        const every =
          this.#o.repairIntervalMs ??
          Math.max(Math.min(15_000, Math.max(250, Math.floor(this.#grace() / 4))), Math.floor(1.5 * (this.#claims?.size ?? 0)));
        const due = this.lastRepair?.nextDueAt;
        const next = due !== undefined ? Math.min(every, Math.max(50, due - this.#now())) : every;
        this.#scheduleRepair(next);
      });
    });
  }

  #scheduleResync(): void {
    const every = this.#o.resyncIntervalMs ?? 300_000;
    if (every <= 0) return;
    this.#cancelResync?.();
    this.#cancelResync = this.#schedule(every, () => {
      this.#reprocessAll(true);
      if (this.lastResync) this.#o.log?.(`controller: resync: ${this.lastResync.reconciled} services queued, ${this.lastResync.skipped} settled skipped`);
      this.#scheduleResync();
    });
  }
}
