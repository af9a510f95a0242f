// Lease-based leader election (coordination.k8s.io/v1), the algorithm of client-go's leaderelection package, which
// client-node does not have (spec kubernetes-argocd.md §5):
// - a candidate takes the Lease when it is absent, released (empty holderIdentity), or expired — expiry is judged by
//   the candidate's own clock from when it last saw the record change (never by comparing clocks across machines);
// - every write is an update carrying the read resourceVersion, so of two candidates only one wins (409 = lost);
// - the leader renews every retryPeriod; if it cannot renew for renewDeadline it stops leading (before the lease
//   expires for others: renewDeadline < leaseDuration);
// - on shutdown the leader releases the Lease (clears holderIdentity) so a successor need not wait for expiry.
// Defaults 15 s / 10 s / 2 s as kube-controller-manager's --leader-elect-* flags.
import { microTime, parseKubeTime, realClock, type Clock } from './clock.ts';
import type { KubeClient } from './client.ts';
import type { KubeResult } from './errors.ts';
import { Resources } from './resources.ts';

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** The three calls election needs; `leaseApi()` implements them over the API, tests use a fake. */
export interface LeaseApi {
  get(): Promise<KubeResult<Lease>>;
  create(lease: Lease): Promise<KubeResult<Lease>>;
  /** Update with `lease.metadata.resourceVersion` (409 Conflict when someone else wrote first). */
  replace(lease: Lease): Promise<KubeResult<Lease>>;
}

export function leaseApi(client: KubeClient, namespace: string, name: string): LeaseApi {
  return {
    get: () => client.get<Lease>(Resources.leases, name, namespace),
    create: (lease) => client.create(Resources.leases, lease, { namespace }),
    replace: (lease) => client.replace(Resources.leases, lease),
  };
}

export interface LeaderElectionOptions {
  readonly api: LeaseApi;
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to ourselves). */
  readonly onNewLeader?: (identity: string) => void;
  readonly log?: (line: string) => void;
}

export class LeaderElector {
  readonly #o: Required<Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> &
    LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #abort = new AbortController();
  #leading = false;
  #loop: Promise<void> | undefined;
  /** Last record seen (holder + renewTime + rv) and when, on our clock. */
  #observed: { key: string; at: number; lease?: Lease } | undefined;
  #lastRenew = 0;
  #leader = '';

  constructor(opts: LeaderElectionOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
    this.#clock = opts.clock ?? realClock;
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationMs) {
      throw new Error(
        `leader election: renewDeadline (${this.#o.renewDeadlineMs} ms) must be shorter than leaseDuration (${this.#o.leaseDurationMs} ms)`,
      );
    }
    if (this.#o.retryPeriodMs >= this.#o.renewDeadlineMs) {
      throw new Error(
        `leader election: retryPeriod (${this.#o.retryPeriodMs} ms) must be shorter than renewDeadline (${this.#o.renewDeadlineMs} ms)`,
      );
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The identity of the current holder as last observed ('' when none). */
  get leader(): string {
    return this.#leader;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops campaigning; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    if (this.#leading) {
      await this.#release();
      this.#setLeading(false);
    }
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew();
      if (signal.aborted) break;
      const now = this.#clock.now();
      if (ok) {
        this.#lastRenew = now;
        if (!this.#leading) this.#setLeading(true);
      } else if (this.#leading && now - this.#lastRenew >= this.#o.renewDeadlineMs) {
        this.#o.log?.(`leader election: ${this.#o.identity} failed to renew lease ${this.#o.namespace}/${this.#o.name} within ${this.#o.renewDeadlineMs} ms; stepping down`);
        this.#setLeading(false);
      }
      await this.#clock.sleep(this.#leading ? this.#o.retryPeriodMs : jitter(this.#o.retryPeriodMs), signal);
    }
  }

  #setLeading(v: boolean): void {
    this.#leading = v;
    if (v) {
      this.#o.log?.(`leader election: ${this.#o.identity} became leader (lease ${this.#o.namespace}/${this.#o.name})`);
      this.#o.onStartedLeading?.();
    } else {
      this.#o.onStoppedLeading?.();
    }
  }

  #noteLeader(id: string): void {
    if (id !== this.#leader) {
      this.#leader = id;
      this.#o.onNewLeader?.(id);
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    const durationS = Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
    const got = await this.#o.api.get();
    if (!got.ok) {
      if (got.error.kind !== 'NotFound') {
        this.#o.log?.(`leader election: reading lease: ${got.error.message}`);
        return false;
      }
      const created = await this.#o.api.create({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: {
          holderIdentity: this.#o.identity,
          leaseDurationSeconds: durationS,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      if (!created.ok) return false;
      this.#observe(created.value, now);
      this.#noteLeader(this.#o.identity);
      return true;
    }
    const lease = got.value;
    this.#observe(lease, now);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    this.#noteLeader(holder);
    const durationMs = (spec.leaseDurationSeconds ?? durationS) * 1000;
    const expired = now >= this.#observed!.at + durationMs;
    if (holder !== '' && holder !== this.#o.identity && !expired) return false;
    const mine = holder === this.#o.identity;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: durationS,
        renewTime: microTime(now),
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    const put = await this.#o.api.replace(next);
    if (!put.ok) {
      if (put.error.kind !== 'Conflict') this.#o.log?.(`leader election: updating lease: ${put.error.message}`);
      return false;
    }
    this.#observe(put.value, now);
    this.#noteLeader(this.#o.identity);
    return true;
  }

  #observe(lease: Lease, now: number): void {
    const s = lease.spec ?? {};
    const key = `${s.holderIdentity ?? ''}|${s.renewTime ?? ''}|${parseKubeTime(s.acquireTime) ?? ''}`;
    if (!this.#observed || this.#observed.key !== key) this.#observed = { key, at: now, lease };
    else this.#observed.lease = lease;
  }

  async #release(): Promise<void> {
    const got = await this.#o.api.get();
    if (!got.ok || got.value.spec?.holderIdentity !== this.#o.identity) return;
    const now = this.#clock.now();
    await this.#o.api.replace({
      ...got.value,
      spec: {
        ...got.value.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: microTime(now),
        acquireTime: microTime(now),
      },
    });
  }
}

function jitter(ms: number): number {
  // client-go's JitterFactor 1.2: wait between retryPeriod and 2.2 × retryPeriod... a gentler spread suffices here.
  return Math.round(ms * (1 + Math.random() * 0.2));
}
