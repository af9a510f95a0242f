// A keyed work queue (client-go's workqueue semantics, reduced): a key is queued at most once; a key being processed
// is never processed concurrently, and if it is added meanwhile it runs again afterwards; failed keys come back after
// a per-key exponential backoff. Time is injected (timers through `schedule`) so tests stay deterministic.

/**
 * Keys processed at once by default. A reconcile is I/O-bound (one to three sequential API round trips, ~1 ms of CPU):
 * the cap must not be what limits throughput when the API server slows down. With 8, a CPU-starved API server
 * (round trips of 100-200 ms) capped the controller at ~25 Services/s and time-to-IP queued for seconds behind the
 * work queue (issue 12: informer → dequeued p50 2.2 s, queue ~160 keys, at 23 creates/s); with 32 the queue stays
 * empty at the same load. 32 = the transport's default sockets per API server (transport.ts), so in-flight requests
 * are bounded there, not here.
 */
export const DEFAULT_CONCURRENCY = 32;

export interface WorkQueueOptions {
  /** Keys processed at once (default DEFAULT_CONCURRENCY). */
  readonly concurrency?: number;
  /** First retry delay (default 100 ms), doubling per failure up to maxDelayMs (default 60 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Delayed call; returns a cancel function (default setTimeout). */
  readonly schedule?: (ms: number, fn: () => void) => () => void;
}

/** What processing one key answers: done, or retry later (with backoff, or after a given delay). */
export type WorkOutcome = { readonly retry: false } | { readonly retry: true; readonly afterMs?: number };

const realSchedule = (ms: number, fn: () => void): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

export class WorkQueue {
  readonly #process: (key: string) => Promise<WorkOutcome>;
  readonly #o: Required<WorkQueueOptions>;
  readonly #queue: string[] = [];
  #head = 0;
  readonly #queued = new Set<string>();
  readonly #active = new Set<string>();
  readonly #dirty = new Set<string>();
  /** Keys added with respectBackoff while being processed: run again only if that run does not end in a retry. */
  readonly #dirtyUnlessRetry = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, () => void>();
  #stopped = false;
  #idleWaiters: Array<() => void> = [];
  processed = 0;

  constructor(process: (key: string) => Promise<WorkOutcome>, opts: WorkQueueOptions = {}) {
    this.#process = process;
    this.#o = {
      concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY,
      baseDelayMs: opts.baseDelayMs ?? 100,
      maxDelayMs: opts.maxDelayMs ?? 60_000,
      schedule: opts.schedule ?? realSchedule,
    };
  }

  get length(): number {
    return this.#queue.length - this.#head;
  }

  get active(): number {
    return this.#active.size;
  }

  /**
   * Queues `key`. `respectBackoff`: when the key failed and its retry is scheduled, leave it to that retry (events
   * caused by the key's own failing writes must not bypass its backoff).
   */
  add(key: string, opts: { readonly respectBackoff?: boolean } = {}): void {
    if (this.#stopped) return;
    if (opts.respectBackoff && this.#timers.has(key) && (this.#failures.get(key) ?? 0) > 0) return;
    if (this.#active.has(key)) {
      // An event of the key's own writes seen during its run (a watch read before the write's answer) must not turn a
      // failed run into an immediate re-run: its retry after the backoff sees the change anyway (issue 12 defect 2).
      (opts.respectBackoff ? this.#dirtyUnlessRetry : this.#dirty).add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  /** Adds after a delay (a later addAfter of the same key replaces an earlier one). */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    this.#timers.get(key)?.();
    const cancel = this.#o.schedule(ms, () => {
      this.#timers.delete(key);
      this.add(key);
    });
    this.#timers.set(key, cancel);
  }

  /** Whether `key` waits to be processed: queued, or added again while it is being processed. */
  pending(key: string): boolean {
    return this.#queued.has(key) || this.#dirty.has(key);
  }

  /** Forgets a key's failure count (its next failure retries after the base delay). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Drops everything queued or scheduled (in-flight work finishes). Used when leadership is lost. */
  clear(): void {
    for (const c of this.#timers.values()) c();
    this.#timers.clear();
    this.#queue.length = 0;
    this.#head = 0;
    this.#queued.clear();
    this.#dirty.clear();
    this.#dirtyUnlessRetry.clear();
    this.#failures.clear();
  }

  /** Resolves when nothing is queued or running (scheduled retries do not count). */
  idle(): Promise<void> {
    if (this.length === 0 && this.#active.size === 0) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  stop(): void {
    this.#stopped = true;
    this.clear();
  }

  #pump(): void {
    while (this.#active.size < this.#o.concurrency && this.#head < this.#queue.length) {
      const key = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.#queued.delete(key);
      this.#active.add(key);
      void this.#run(key);
    }
    if (this.length === 0 && this.#active.size === 0 && this.#idleWaiters.length > 0) {
      const w = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const f of w) f();
    }
  }

  async #run(key: string): Promise<void> {
    let outcome: WorkOutcome;
    try {
      outcome = await this.#process(key);
    } catch {
      outcome = { retry: true };
    }
    this.processed++;
    this.#active.delete(key);
    if (outcome.retry && !this.#stopped) {
      const n = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, n);
      const delay = outcome.afterMs ?? Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** (n - 1));
      this.addAfter(key, delay);
    } else {
      this.#failures.delete(key);
    }
    const soft = this.#dirtyUnlessRetry.delete(key);
    if (this.#dirty.delete(key) || (soft && !outcome.retry)) this.add(key);
    this.#pump();
  }
}
