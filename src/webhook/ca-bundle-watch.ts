// Keeps the serving CA in the caBundle of berth's webhook configurations, driven by a watch instead of a poll.
// Each configuration is watched on its own (an informer with `fieldSelector=metadata.name=<name>`, which RBAC rules
// with resourceNames authorize); every check reads that cache, so nothing is asked of the API server while nothing
// changes. When the cache shows a configuration whose caBundle lacks the CA (GitOps sync of the manifests with an
// empty caBundle, a `kubectl apply` of them, a restore from backup), the keeper writes it back at once (read-modify-
// write with the read resourceVersion, cert-bootstrap.ts injectCaBundle) and verifies the write with one GET. A failed
// write is retried with capped exponential backoff; a success leaves no timer behind: the next check comes from the
// next watch event (or from the process: TLS installed, caches synced).
// With --cert-dir (cert-manager's cainjector owns the caBundle) it only checks, never writes.
import type { KubeObject } from '../api/object.ts';
import { caBundleProblems, injectCaBundle, type WebhookConfigIo, type WebhookConfigRef } from './cert-bootstrap.ts';

/** The watch cache of one configuration, as the keeper reads it. */
export interface WatchedConfig {
  /** False until the first list of the watch answered: the configuration's existence is not known yet. */
  readonly synced: boolean;
  /** The configuration as last seen by the watch; undefined when it does not exist. */
  readonly object: KubeObject | undefined;
  /** Why the watch is not synced yet (its last list error, e.g. `list: Forbidden: …` without list/watch RBAC). */
  readonly lastError?: string | undefined;
}

export interface CaBundleKeeperOptions {
  /** The configurations to keep (berth's Mutating- and ValidatingWebhookConfiguration). */
  readonly refs: readonly WebhookConfigRef[];
  /** The watch cache of `ref` (main.ts: one informer per configuration). */
  readonly watched: (ref: WebhookConfigRef) => WatchedConfig;
  /** Live reads and writes (used only to write a missing CA and verify the write). */
  readonly io: WebhookConfigIo;
  /** The serving CA (PEM); undefined while the certificate is not bootstrapped: nothing is checked then. */
  readonly caPem: () => string | undefined;
  /** Write the CA when it is missing (own TLS bootstrap); false with --cert-dir: check only. */
  readonly inject: boolean;
  /** After each check: the reasons the caBundles are not right (empty = every webhook trusts the CA). */
  readonly onResult: (problems: readonly string[]) => void;
  /** Info lines (a caBundle written). */
  readonly log?: (line: string) => void;
  /** Failures, each followed by a retry. */
  readonly warn?: (line: string) => void;
  /** Backoff of the retries after a failed write or verify: first delay and cap, ms (defaults 500 and 5,000). */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
}

/**
 * Checks and repairs the caBundles whenever `kick()` is called (watch events, TLS installed, caches synced). Checks
 * never overlap: a kick during a check runs one more check right after it. Only a failure schedules a timer.
 */
export class CaBundleKeeper {
  readonly #o: CaBundleKeeperOptions;
  #running = false;
  #again = false;
  #current: Promise<void> | undefined;
  #stopped = false;
  #failures = 0;
  #verified = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Counters for tests and logs: checks run, writes made, failures met. */
  readonly stats = { checks: 0, writes: 0, failures: 0 };

  constructor(opts: CaBundleKeeperOptions) {
    this.#o = opts;
  }

  /** True while a retry after a failure is scheduled (no timer otherwise). */
  get retryPending(): boolean {
    return this.#retry !== undefined;
  }

  /** Asks for a check now (coalesced with one already running). Resolves when that check (or its follow-up) ends. */
  kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#running) {
      // Resolves after the follow-up check, which sees what this kick was for (e.g. a CA installed meanwhile):
      // a caller that announces readiness after it must not act on the running check's older result.
      this.#again = true;
      return this.#current ?? Promise.resolve();
    }
    this.#current = this.#run();
    return this.#current;
  }

  async #run(): Promise<void> {
    this.#running = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    try {
      do {
        this.#again = false;
        await this.#check();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = false;
    }
    if (this.#failures > 0 && !this.#stopped) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.kick();
      }, this.#delay(this.#failures - 1));
      this.#retry.unref?.();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  #delay(n: number): number {
    // The capped doubling of kube/connect.ts backoffDelay (not imported: only main.ts does I/O).
    return Math.min(this.#o.backoff?.maxMs ?? 5_000, (this.#o.backoff?.initialMs ?? 500) * 2 ** Math.min(n, 30));
  }

  async #check(): Promise<void> {
    const caPem = this.#o.caPem();
    if (!caPem) {
      // --cert-dir without a ca.crt: nothing to check the caBundles against (cert-manager's cainjector owns them).
      // Bootstrap mode: the CA is not loaded yet; the kick after it is installed checks.
      if (!this.#o.inject) this.#settle([]);
      return;
    }
    this.stats.checks++;
    const problems: string[] = [];
    const stale: WebhookConfigRef[] = [];
    for (const ref of this.#o.refs) {
      const w = this.#o.watched(ref);
      if (!w.synced) {
        problems.push(`waiting for the watch of ${ref.kind} ${ref.name}${w.lastError ? ` (${w.lastError})` : ''}`);
        continue;
      }
      const p = caBundleProblems(ref, w.object, caPem);
      // A configuration that does not exist is GitOps' to create: reported, and re-checked when the watch sees it.
      if (p.length > 0 && w.object && this.#o.inject) stale.push(ref);
      else problems.push(...p);
    }
    if (stale.length === 0) {
      this.#settle(problems);
      return;
    }
    try {
      const r = await injectCaBundle(this.#o.io, stale, caPem);
      this.stats.writes += r.patched.length;
      if (r.patched.length > 0) this.#o.log?.(`caBundle written into ${r.patched.join(', ')}`);
      for (const ref of stale) problems.push(...caBundleProblems(ref, await this.#o.io.get(ref), caPem));
      this.#settle(problems);
    } catch (e) {
      // A caBundle already verified stays verified while the API server cannot be reached (the API server calling us
      // is the one we cannot reach: readiness flapping would only delay admissions when it is back).
      const message = e instanceof Error ? e.message : String(e);
      this.stats.failures++;
      if (!this.#verified) this.#o.onResult([...problems, `cannot write the caBundle: ${message}`]);
      this.#o.warn?.(`caBundle write failed: ${message}; retrying in ${this.#delay(this.#failures)} ms`);
      this.#failures++;
    }
  }

  #settle(problems: readonly string[]): void {
    this.#failures = 0;
    this.#verified = problems.length === 0;
    this.#o.onResult(problems);
  }
}
