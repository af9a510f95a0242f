// The slow, authoritative half of speaker liveness: one coordination.k8s.io/v1 Lease per node,
// `metallb-speaker-<node>` in the speaker namespace, renewed every 10 s with one merge PATCH (kubelet's node-lease
// pattern: holderIdentity = node, leaseDurationSeconds 40, renewTime). Peers' Leases are read through one informer
// (list + watch) per speaker, selected by label, and fed to the detector (`onLease` → Liveness.leaseSeen).
//
// Cost (issue 8: API writes must not grow with the number of Services):
// - writes: one PATCH per node per 10 s (a create the first time), whatever the number of Services: 0.1 N requests/s;
// - reads: one long-lived watch per node; every renewal is one watch event to each of the N speakers, N²/10 events/s
//   served from the API server's watch cache (100 nodes: 1,000 small events/s), plus one LIST at start and after a
//   410. Polling with LIST every 10 s would move the same bytes but as N list requests per 10 s, each heavier for the
//   server (etcd quorum read without resourceVersion=0) and up to 10 s staler; the informer also keeps its cache and
//   retries with backoff (0.5 s doubling to 30 s) by itself while the API server is away.
// - API server away: renewals fail, are counted and retried with backoff (0.5 s doubling, capped at the renew
//   interval); nothing is withdrawn or forgotten: the last Leases seen stay known (the detector times them out by its
//   own clock, so a dead API server never makes live peers look dead while their heartbeats arrive).
import type { Logger } from 'pino';
import { microTime, parseKubeTime, realClock, type Clock } from '../../kube/clock.ts';
import type { KubeClient, KubeObject } from '../../kube/client.ts';
import { Informer } from '../../kube/informer.ts';
import type { Lease } from '../../kube/leader-election.ts';
import { Resources } from '../../kube/resources.ts';
import { encodeSilentPeers, SILENT_PEERS_ANNOTATION } from './silent-peers.ts';

/** A Lease as the informer caches it. */
type LeaseObject = KubeObject & Lease;

export const SPEAKER_LEASE_PREFIX = 'metallb-speaker-';
/** Labels on every speaker Lease; the informer selects on them. */
export const SPEAKER_LEASE_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'berth',
  'app.kubernetes.io/component': 'speaker-lease',
};
export const DEFAULT_RENEW_INTERVAL_MS = 10_000;
/** As kubelet's node Lease: four renewals. */
export const DEFAULT_LEASE_DURATION_SECONDS = 40;

/** `metallb-speaker-<node>`; throws when the name would exceed 253 characters (object names are DNS subdomains). */
export function speakerLeaseName(node: string): string {
  const name = `${SPEAKER_LEASE_PREFIX}${node}`;
  if (node === '' || name.length > 253) {
    throw new RangeError(
      `speaker lease: node name "${node}" gives lease name of ${name.length} characters; at most 253`,
    );
  }
  return name;
}

export interface SpeakerLeasesOptions {
  client: KubeClient;
  /** The speaker namespace (`--namespace`, default metallb-system). */
  namespace: string;
  /** This node's name. */
  node: string;
  renewIntervalMs?: number;
  leaseDurationSeconds?: number;
  clock?: Clock;
  log: Logger;
  /** A peer's Lease was added or renewed: `renewTimeMs` is its spec.renewTime in ms (undefined when unset). */
  onLease?: (node: string, renewTimeMs: number | undefined) => void;
  /** A peer's Lease was deleted (its speaker stopped cleanly). */
  onLeaseGone?: (node: string) => void;
  /**
   * The peers this speaker's heartbeats heard and now hear no more (detector: not alive, heard before or left):
   * published on our Lease as the `berth.io/silent-peers` annotation (silent-peers.ts) with every renewal, and by
   * publish() when the view changes. Absent: nothing is published.
   */
  silentPeers?: () => Iterable<string>;
  /** Least time between two publish() writes, ms (default 1,000): a flapping view costs at most one write a second. */
  publishSpacingMs?: number;
  /** Retry delays after a failed renewal (default 500 ms doubling, capped at renewIntervalMs). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** The informer's retry delays (default 500 ms doubling to 30 s). */
  watchBackoff?: { initialMs?: number; maxMs?: number };
}

export interface SpeakerLeasesStats {
  renewals: number;
  renewFailures: number;
  /** Our clock, ms; 0 before the first success. */
  lastRenewAt: number;
  lastError: string | undefined;
  informer: { lists: number; watches: number; errors: number };
}

export class SpeakerLeases {
  readonly #o: SpeakerLeasesOptions;
  readonly #name: string;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #informer: Informer<LeaseObject>;
  readonly #abort = new AbortController();
  readonly #stats: Omit<SpeakerLeasesStats, 'informer'> = {
    renewals: 0,
    renewFailures: 0,
    lastRenewAt: 0,
    lastError: undefined,
  };
  #loop: Promise<void> | undefined;
  #created = false;
  /** Silent peers → since when (our clock, ms), as last computed. */
  readonly #silentSince = new Map<string, number>();
  /** The annotation value last written (undefined: never written). */
  #published: string | null | undefined;
  #publishing: Promise<void> | undefined;
  #publishAgain = false;

  constructor(o: SpeakerLeasesOptions) {
    this.#o = o;
    this.#name = speakerLeaseName(o.node);
    this.#clock = o.clock ?? realClock;
    this.#interval = o.renewIntervalMs ?? DEFAULT_RENEW_INTERVAL_MS;
    if (!(this.#interval >= 10))
      throw new RangeError(`speaker lease: renewIntervalMs ${this.#interval} must be ≥ 10`);
    this.#informer = new Informer<LeaseObject>({
      client: o.client,
      resource: Resources.leases,
      namespace: o.namespace,
      labelSelector: Object.entries(SPEAKER_LEASE_LABELS)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      log: (line) => o.log.debug(line),
      ...(o.watchBackoff ? { backoff: o.watchBackoff } : {}),
    });
    const seen = (l: LeaseObject): void => {
      const node = nodeOf(l);
      if (node !== undefined && node !== o.node) o.onLease?.(node, parseKubeTime(l.spec?.renewTime));
    };
    this.#informer.on({
      add: seen,
      update: seen,
      delete: (l) => {
        const node = nodeOf(l);
        if (node !== undefined && node !== o.node) o.onLeaseGone?.(node);
      },
    });
  }

  /** Starts renewing our Lease and watching the others. */
  start(): void {
    this.#informer.start();
    this.#loop ??= this.#run();
  }

  /** Resolves once the peers' Leases were listed (the informer synced). */
  get synced(): Promise<void> {
    return this.#informer.synced;
  }

  /**
   * Stops renewing and watching. With `release`, deletes our Lease so peers relying on the Lease path drop this node
   * at once (SIGTERM); a failure to delete is logged, not thrown.
   */
  async stop(o: { release?: boolean } = {}): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#publishing;
    await this.#informer.stop();
    if (o.release) {
      const r = await this.#o.client.delete(Resources.leases, this.#name, { namespace: this.#o.namespace });
      if (!r.ok && r.error.kind !== 'NotFound')
        this.#o.log.warn({ err: r.error.message, lease: this.#name }, 'speaker lease: release failed');
    }
  }

  /**
   * The heartbeat view changed: writes the `berth.io/silent-peers` annotation (only it) if its value differs from
   * the last one written, at most once per publishSpacingMs, coalescing the changes in between. Never throws; a
   * failed write is retried by the next renewal.
   */
  publish(): void {
    if (!this.#o.silentPeers || this.#abort.signal.aborted) return;
    if (this.#publishing) {
      this.#publishAgain = true;
      return;
    }
    this.#publishing = (async () => {
      do {
        this.#publishAgain = false;
        await this.#clock.sleep(this.#o.publishSpacingMs ?? 1_000, this.#abort.signal);
        if (this.#abort.signal.aborted || !this.#created) return;
        const value = this.#silentValue();
        if (value === this.#published) continue;
        const r = await this.#o.client.patch(
          Resources.leases,
          this.#name,
          { metadata: { annotations: { [SILENT_PEERS_ANNOTATION]: value } } },
          { namespace: this.#o.namespace },
        );
        if (r.ok) this.#published = value;
        else this.#o.log.debug({ err: r.error.message, lease: this.#name }, 'speaker lease: publishing silent peers failed');
      } while (this.#publishAgain && !this.#abort.signal.aborted);
    })().finally(() => {
      this.#publishing = undefined;
    });
  }

  /** The annotation value now (encodeSilentPeers), keeping each peer's first "since". */
  #silentValue(): string | null {
    const now = this.#clock.now();
    const current = new Set(this.#o.silentPeers?.() ?? []);
    for (const n of [...this.#silentSince.keys()]) if (!current.has(n)) this.#silentSince.delete(n);
    for (const n of current) if (n !== this.#o.node && !this.#silentSince.has(n)) this.#silentSince.set(n, now);
    return encodeSilentPeers(this.#silentSince);
  }

  /** Peers' Leases as last seen (node → renewTime ms), kept while the API server is away. */
  leases(): Map<string, number | undefined> {
    const m = new Map<string, number | undefined>();
    for (const l of this.#informer.list()) {
      const node = nodeOf(l);
      if (node !== undefined && node !== this.#o.node) m.set(node, parseKubeTime(l.spec?.renewTime));
    }
    return m;
  }

  stats(): SpeakerLeasesStats {
    const i = this.#informer.stats;
    return { ...this.#stats, informer: { lists: i.lists, watches: i.watches, errors: i.errors } };
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const first = this.#o.backoff?.initialMs ?? 500;
    const max = this.#o.backoff?.maxMs ?? this.#interval;
    let delay = first;
    while (!signal.aborted) {
      const error = await this.#renew();
      if (signal.aborted) break;
      if (error === undefined) {
        this.#stats.renewals++;
        this.#stats.lastRenewAt = this.#clock.now();
        delay = first;
        await this.#clock.sleep(this.#interval, signal);
      } else {
        this.#stats.renewFailures++;
        if (this.#stats.lastError !== error)
          this.#o.log.warn(
            { err: error, lease: this.#name, retryMs: delay },
            'speaker lease: renewal failed',
          );
        this.#stats.lastError = error;
        await this.#clock.sleep(delay, signal);
        delay = Math.min(max, delay * 2);
      }
    }
  }

  /** One renewal: a merge PATCH of renewTime (create on NotFound). Returns the error message, or undefined. */
  async #renew(): Promise<string | undefined> {
    const now = microTime(this.#clock.now());
    const duration = this.#o.leaseDurationSeconds ?? DEFAULT_LEASE_DURATION_SECONDS;
    const { client, namespace, node } = this.#o;
    const silent = this.#o.silentPeers ? this.#silentValue() : undefined;
    if (this.#created) {
      const r = await client.patch(
        Resources.leases,
        this.#name,
        {
          metadata: {
            labels: SPEAKER_LEASE_LABELS,
            ...(silent !== undefined && silent !== this.#published ? { annotations: { [SILENT_PEERS_ANNOTATION]: silent } } : {}),
          },
          spec: { holderIdentity: node, leaseDurationSeconds: duration, renewTime: now },
        },
        { namespace },
      );
      if (r.ok) {
        if (silent !== undefined) this.#published = silent;
        return undefined;
      }
      if (r.error.kind !== 'NotFound') return r.error.message;
      this.#created = false;
    }
    const lease: Lease = {
      metadata: {
        name: this.#name,
        namespace,
        labels: { ...SPEAKER_LEASE_LABELS },
        ...(typeof silent === 'string' ? { annotations: { [SILENT_PEERS_ANNOTATION]: silent } } : {}),
      },
      spec: { holderIdentity: node, leaseDurationSeconds: duration, acquireTime: now, renewTime: now },
    };
    const c = await client.create(Resources.leases, lease, { namespace });
    if (c.ok || c.error.kind === 'AlreadyExists') {
      // AlreadyExists: a previous incarnation's Lease; renew it with a PATCH right away (its annotation rewritten)
      this.#created = true;
      this.#published = c.ok && silent !== undefined ? silent : undefined;
      return c.ok ? undefined : this.#renew();
    }
    return c.error.message;
  }
}

/** The node a speaker Lease belongs to (spec.holderIdentity, else the name after the prefix). */
function nodeOf(l: Lease): string | undefined {
  const holder = l.spec?.holderIdentity;
  if (holder) return holder;
  const name = l.metadata?.name ?? '';
  return name.startsWith(SPEAKER_LEASE_PREFIX) ? name.slice(SPEAKER_LEASE_PREFIX.length) : undefined;
}
