// What the speaker says about BGP (issue 9 "Status and signals"): the node's ServiceBGPStatus objects and the Events
// on session up/down. No I/O of its own: main.ts gives it a port over the API client and an informer's cache; unit
// tests give it recording fakes (bgp-status.test.ts).
//
// ServiceBGPStatus (MetalLB v0.15+, api/v1beta1/servicebgpstatus_types.go, internal/k8s/controllers/
// bgp_status_controller.go; spec metallb-compat.md §1.7, §8.4): one metallb.io/v1beta1 object per (Service, announcing
// node), generateName `bgp-`, labels metallb.io/node, metallb.io/service-name, metallb.io/service-namespace, owned by
// the speaker Pod (downward API POD_NAME/POD_UID) so a removed node leaves none behind; status.peers = the BGPPeer
// names the node intends to announce the Service to (bgp-plan.ts `statuses`), not the session state. Unlike
// ServiceL2Status (one owner per Service) every announcing node keeps its own object, so a speaker only ever writes,
// updates and deletes objects labelled with its own node. Writes happen only on change (desired vs the cache, or vs
// what this speaker last wrote while the cache catches up); a failed write is retried with backoff (500 ms doubling
// to 30 s); nothing else waits on them.
//
// Session events (MetalLB's native speaker has none; FRR-K8s shows sessions in BGPSessionState objects instead): on
// the BGPPeer the session belongs to, since `kubectl describe bgppeer <name>` is where a MetalLB user looks for a
// peer's health; the node is in the message and in reportingInstance. Reasons (docs/bgp.md "Session events"):
// Normal `BGPSessionUp`, Warning `BGPSessionDown` with the NOTIFICATION text (sent or received: code/subcode names
// and the shutdown communication, RFC 8203), Warning `BGPSessionConnectFailed` for a session that cannot connect
// (rate-limited: first failure, change of error, the same error at most every 5 min), Warning `BFDSessionDown` with
// the BFD diagnostic, Normal `BFDSessionUp`.
import type { EventEmitter } from 'node:events';
import { SERVICE_STATUS_LABELS } from '../api/service-l2-status.ts';
import type { OwnerReference } from '../api/object.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import type { EventSink, ObjectRef } from '../kube/events.ts';
import { Resources } from '../kube/resources.ts';
import { readServiceStatusObject, type ServiceStatusObject } from './service-status.ts';
import type { ServiceBgpStatusView } from './bgp-plan.ts';
import type { SessionDown, SessionUp } from './bgp/session.ts';

/** status of a metallb.io/v1beta1 ServiceBGPStatus (MetalLB api/v1beta1/servicebgpstatus_types.go). */
export interface BgpStatusBody {
  node: string;
  serviceName: string;
  serviceNamespace: string;
  /** BGPPeer names, sorted. */
  peers: string[];
}

/** One ServiceBGPStatus as cached: its name, the labels that say whose it is, its status. */
/** A cached ServiceBGPStatus object as the writer reads it. */
export type BgpStatusObject = ServiceStatusObject<BgpStatusBody>;

/** ServiceBGPStatus reads (an informer's cache) and writes (each resolves its outcome, never throws). */
export interface BgpStatusPort {
  list(): readonly BgpStatusObject[];
  /** Creates one (generateName `bgp-`) with the labels and status; resolves its name, or undefined on failure. */
  create(service: { namespace: string; name: string }, status: BgpStatusBody): Promise<string | undefined>;
  updateStatus(name: string, status: BgpStatusBody): Promise<boolean>;
  /** true also when it was already gone. */
  delete(name: string): Promise<boolean>;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface BgpStatusWriterOptions {
  /** This node's name: only objects labelled with it are ever written or deleted. */
  node: string;
  port: BgpStatusPort;
  /** One API write done (`ok` false: it failed): metallb_k8s_client_updates_total / update_errors_total. */
  update?: (ok: boolean) => void;
  warn?: (fields: Record<string, unknown>, message: string) => void;
  timers?: Timers;
  now?: () => number;
  /** Retry backoff after a failed write (default 500 ms doubling to 30 s). */
  retry?: { initialMs: number; maxMs: number };
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: 'default', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function isSorted(xs: readonly string[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i - 1]! > xs[i]!) return false;
  return true;
}

function sameStatus(a: BgpStatusBody | undefined, b: BgpStatusBody): boolean {
  if (!a) return false;
  if (a === b) return true;
  const pa = isSorted(a.peers ?? []) ? (a.peers ?? []) : [...a.peers].sort();
  return (
    a.node === b.node &&
    a.serviceName === b.serviceName &&
    a.serviceNamespace === b.serviceNamespace &&
    pa.length === b.peers.length &&
    pa.every((p, i) => p === b.peers[i])
  );
}

/**
 * Keeps this node's ServiceBGPStatus objects equal to the plan's `statuses` (see the file comment). `set(statuses)`
 * after each plan, `reconcile()` when the informer reports a change, `deleted(name)` when it reports a delete,
 * `stop()` on shutdown (objects are left in place: their owner, the Pod, takes them along). One pass at a time; a call
 * during a pass runs one more pass after it. Never throws.
 */
export class BgpStatusWriter {
  readonly #o: BgpStatusWriterOptions;
  readonly #timers: Timers;
  readonly #now: () => number;
  /** Service key → desired status, from the last plan; undefined until the first plan (nothing is deleted before). */
  #desired: ReadonlyMap<string, BgpStatusBody> | undefined;
  /**
   * Service key → { name, status } this speaker last wrote, until the cache shows that object with that status as the
   * only one of its Service (the cache may lag behind).
   */
  #written = new Map<string, { name: string; status: BgpStatusBody }>();
  /** Names created here that the cache may not show yet → when (forgotten once cached, deleted, or after 10 s). */
  #recent = new Map<string, number>();
  #busy = false;
  #again = false;
  #stopped = false;
  #retry: unknown;
  #retryDelay: number;
  /** Writes attempted and failed, for tests and logs. */
  readonly counts = { writes: 0, failures: 0, passes: 0 };

  constructor(o: BgpStatusWriterOptions) {
    this.#o = o;
    this.#timers = o.timers ?? realTimers;
    this.#now = o.now ?? Date.now;
    this.#retryDelay = o.retry?.initialMs ?? 500;
  }

  /** The desired objects: bgp-plan.ts BgpPlan.statuses (Service key → view). Reconciles when they differ. */
  set(statuses: ReadonlyMap<string, ServiceBgpStatusView>): void {
    // The plan's own views when they already are the bodies to write (this node, peers sorted: bgp-plan.ts makes them
    // so): no copy per Service (issue 9: 10,000 Services). Views are read-only; a view of another shape is copied.
    let next: ReadonlyMap<string, BgpStatusBody> = statuses;
    for (const v of statuses.values()) {
      if (v.node === this.#o.node && isSorted(v.peers)) continue;
      const copy = new Map<string, BgpStatusBody>();
      for (const [key, w] of statuses) {
        copy.set(key, { node: this.#o.node, serviceName: w.serviceName, serviceNamespace: w.serviceNamespace, peers: [...w.peers].sort() });
      }
      next = copy;
      break;
    }
    const prev = this.#desired;
    this.#desired = next;
    if (prev && prev.size === next.size && [...next].every(([k, s]) => sameStatus(prev.get(k), s))) return;
    this.reconcile();
  }

  /** The cache changed (add/update): compare again. */
  reconcile(): void {
    if (this.#stopped || !this.#desired) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    void this.#pass().finally(() => {
      this.#busy = false;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        this.reconcile();
      }
    });
  }

  /** The informer saw object `name` deleted: forget having written it, and compare again (recreated if still wanted). */
  deleted(name: string): void {
    this.#recent.delete(name);
    for (const [key, w] of this.#written) if (w.name === name) this.#written.delete(key);
    this.reconcile();
  }

  /** No more writes (pending retry cancelled). */
  stop(): void {
    this.#stopped = true;
    if (this.#retry !== undefined) this.#timers.clear(this.#retry);
    this.#retry = undefined;
  }

  /** Resolves once no pass is running (tests). */
  async idle(): Promise<void> {
    while (this.#busy) await new Promise((r) => setImmediate(r));
  }

  async #pass(): Promise<void> {
    // A pass at 10,000 Services lasts minutes (two requests per create): each key is compared with the latest plan, so
    // a plan that changes meanwhile (a BGPAdvertisement deleted) stops the writes it no longer wants at once, and the
    // previous plan's statuses are not kept alive by the pass.
    const self = this.#o.node;
    this.counts.passes++;
    let cached: readonly BgpStatusObject[];
    try {
      cached = this.#o.port.list();
    } catch {
      cached = [];
    }
    const mine = new Map<string, BgpStatusObject[]>();
    for (const o of cached) {
      if (o.node !== self || !o.service) continue;
      // [o], not a push on []: that reserves 17 slots (a pass holds one list per Service for minutes).
      const l = mine.get(o.service);
      if (l) l.push(o);
      else mine.set(o.service, [o]);
    }
    const cachedNames = new Set(cached.map((o) => o.name));
    let failed = false;
    const done = (ok: boolean): boolean => {
      this.counts.writes++;
      this.#o.update?.(ok);
      if (!ok) {
        this.counts.failures++;
        failed = true;
      }
      return ok;
    };
    const keys = [...new Set([...this.#desired!.keys(), ...mine.keys(), ...this.#written.keys()])].sort();
    for (const key of keys) {
      if (this.#stopped) return;
      const objs = (mine.get(key) ?? [])
        .slice()
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const w = this.#written.get(key);
      // Created by us and not in the cache yet: it exists (unless the informer reported it deleted: then #written lost it).
      if (w && !cachedNames.has(w.name) && this.#recent.has(w.name) && !objs.some((o) => o.name === w.name)) {
        objs.unshift({ name: w.name, node: self, service: key, status: w.status });
      }
      const want = this.#desired?.get(key);
      if (!want) {
        for (const o of objs) {
          if (done(await this.#o.port.delete(o.name))) this.#recent.delete(o.name);
        }
        this.#written.delete(key);
        continue;
      }
      // Keep the one we last wrote (else the first by name); delete duplicates (two speakers' restarts, a lost create).
      const keep = objs.find((o) => o.name === w?.name) ?? objs[0];
      for (const o of objs) if (o !== keep) done(await this.#o.port.delete(o.name));
      // What we wrote in the last 10 s wins over a cache that may not have caught up with it.
      const current =
        keep && w?.name === keep.name && this.#recentlyWritten(keep.name) ? w.status : keep?.status;
      if (keep && sameStatus(current, want)) {
        // The cache shows it as wanted (one object): nothing to remember (issue 9: an entry per Service for good was
        // 0.8 MiB at 10,000 Services); else keep what we wrote until the cache shows it.
        if (objs.length === 1 && cachedNames.has(keep.name) && sameStatus(keep.status, want)) this.#written.delete(key);
        else this.#written.set(key, { name: keep.name, status: want });
        continue;
      }
      if (keep) {
        if (done(await this.#o.port.updateStatus(keep.name, want))) {
          this.#written.set(key, { name: keep.name, status: want });
          this.#recent.set(keep.name, this.#now());
        }
        continue;
      }
      const { namespace, name } = splitKey(key);
      const created = await this.#o.port.create({ namespace, name }, want);
      if (done(created !== undefined)) {
        this.#written.set(key, { name: created!, status: want });
        this.#recent.set(created!, this.#now());
      }
    }
    const now = this.#now();
    for (const [n, at] of this.#recent) if (now - at > 10_000) this.#recent.delete(n);
    if (failed) this.#scheduleRetry();
    else this.#retryDelay = this.#o.retry?.initialMs ?? 500;
  }

  /** A write of ours the cache has not shown yet (its copy is older than what we wrote). */
  #recentlyWritten(name: string): boolean {
    const at = this.#recent.get(name);
    return at !== undefined && this.#now() - at <= 10_000;
  }

  #scheduleRetry(): void {
    if (this.#retry !== undefined || this.#stopped) return;
    const ms = this.#retryDelay;
    this.#retryDelay = Math.min(this.#o.retry?.maxMs ?? 30_000, ms * 2);
    this.#o.warn?.({ retryInMs: ms }, `speaker: ServiceBGPStatus write failed; retrying in ${ms} ms`);
    this.#retry = this.#timers.set(() => {
      this.#retry = undefined;
      this.reconcile();
    }, ms);
  }
}

/** A cached ServiceBGPStatus object → what the writer reads (labels → node and Service; status → body). */
export function bgpStatusObject(o: KubeObject): BgpStatusObject {
  return readServiceStatusObject<BgpStatusBody>(o, (st) => ({
    peers: Array.isArray(st.peers) ? st.peers.filter((p): p is string => typeof p === 'string') : [],
  }));
}

export interface KubeBgpStatusPortOptions {
  client: KubeClient;
  /** The speaker's namespace (metallb-system). */
  namespace: string;
  node: string;
  /** The informer's cache of ServiceBGPStatus objects in `namespace`. */
  cache: () => readonly KubeObject[];
  /** ownerReferences (the speaker Pod), or undefined outside a Pod. */
  owner?: OwnerReference[];
  warn: (message: string) => void;
}

/** The port over the API: create (generateName `bgp-`, then the status through /status), patch /status, delete. */
export function kubeBgpStatusPort(o: KubeBgpStatusPortOptions): BgpStatusPort {
  const { client, namespace: ns } = o;
  const r = Resources.serviceBGPStatuses;
  return {
    list: () => o.cache().map(bgpStatusObject),
    async create(svc, status) {
      const c = await client.create<KubeObject>(r, {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'ServiceBGPStatus',
        metadata: {
          generateName: 'bgp-',
          namespace: ns,
          labels: {
            [SERVICE_STATUS_LABELS.node]: o.node,
            [SERVICE_STATUS_LABELS.serviceName]: svc.name,
            [SERVICE_STATUS_LABELS.serviceNamespace]: svc.namespace,
          },
          ...(o.owner ? { ownerReferences: o.owner } : {}),
        },
        status,
      } as KubeObject);
      if (!c.ok) {
        o.warn(`speaker: creating the ServiceBGPStatus of ${svc.namespace}/${svc.name}: ${c.error.message}`);
        return undefined;
      }
      const name = c.value.metadata?.name ?? '';
      // The status subresource ignores status on create (kube-apiserver does): write it through /status.
      const p = await client.patch(r, name, { status }, { namespace: ns, subresource: 'status' });
      if (!p.ok) {
        o.warn(`speaker: writing the status of ServiceBGPStatus ${ns}/${name}: ${p.error.message}`);
        if (p.error.kind === 'NotFound') return undefined;
      }
      return name;
    },
    async updateStatus(name, status) {
      const p = await client.patch(r, name, { status }, { namespace: ns, subresource: 'status' });
      if (!p.ok) o.warn(`speaker: updating ServiceBGPStatus ${ns}/${name}: ${p.error.message}`);
      return p.ok;
    },
    async delete(name) {
      const d = await client.delete(r, name, { namespace: ns });
      if (!d.ok && d.error.kind !== 'NotFound') {
        o.warn(`speaker: deleting ServiceBGPStatus ${ns}/${name}: ${d.error.message}`);
        return false;
      }
      return true;
    },
  };
}

/** Reason of the Normal event when a BGP session reaches Established. */
export const BGP_SESSION_UP = 'BGPSessionUp';
/** Reason of the Warning event when an established BGP session goes down. */
export const BGP_SESSION_DOWN = 'BGPSessionDown';
/** Reason of the Warning event when BFD declares a peer down (the BGP session is closed at once). */
export const BFD_SESSION_DOWN = 'BFDSessionDown';
/** Reason of the Normal event when BFD is up again after a BFDSessionDown. */
export const BFD_SESSION_UP = 'BFDSessionUp';

/**
 * Reason of the Warning event when a BGP session cannot be established (berth's own: MetalLB has none). Rate-limited
 * per BGPPeer by sessionEvents: the first failed attempt, a change of error, and the same error again at most every
 * `connectFailedRepeatMs`.
 */
export const BGP_SESSION_CONNECT_FAILED = 'BGPSessionConnectFailed';

/** `node "n1": BGP session to 192.0.2.1:179 not established (attempt 3): connect ECONNREFUSED 192.0.2.1:179`. */
export function connectFailedMessage(
  node: string,
  label: string,
  down: Pick<SessionDown, 'text' | 'attempt'>,
): string {
  return `node "${node}": BGP session to ${label} not established${down.attempt !== undefined ? ` (attempt ${down.attempt})` : ''}: ${down.text}`;
}

/** `node "n1": BGP session to 198.51.100.1:179 established (peer router ID …, hold time 9 s, IPv4+IPv6 unicast)`. */
export function sessionUpMessage(
  node: string,
  label: string,
  up: Pick<SessionUp, 'peerRouterId' | 'negotiated'>,
): string {
  const n = up.negotiated as
    { holdTime?: number; families?: ReadonlyArray<{ afi: number; safi: number }> } | undefined;
  const fams = (n?.families ?? []).map((f) => (f.afi === 2 ? 'IPv6' : f.afi === 1 ? 'IPv4' : `AFI ${f.afi}`));
  return (
    `node "${node}": BGP session to ${label} established (peer router ID ${up.peerRouterId}` +
    (n?.holdTime !== undefined ? `, hold time ${n.holdTime} s` : '') +
    (fams.length ? `, ${[...new Set(fams)].join('+')} unicast` : '') +
    ')'
  );
}

/** `node "n1": BGP session to 198.51.100.1:179 down: <SessionDown.text, which carries the NOTIFICATION>`. */
export function sessionDownMessage(node: string, label: string, down: Pick<SessionDown, 'text'>): string {
  return `node "${node}": BGP session to ${label} down: ${down.text}`;
}

/** `node "n1": BFD session to 198.51.100.1 down (Control Detection Time Expired): BGP session closed, held down until BFD is up`. */
export function bfdDownMessage(node: string, label: string, diagName: string | undefined): string {
  return `node "${node}": BFD down for the peer at ${label} (${diagName ?? 'no diagnostic'}): BGP session closed, held down until BFD is up`;
}

/** `node "n1": BFD up again for the peer at 198.51.100.1:179: reconnecting`. */
export function bfdUpMessage(node: string, label: string): string {
  return `node "${node}": BFD up again for the peer at ${label}: reconnecting the BGP session`;
}

export interface SessionEventsOptions {
  /** bgp-speaker.ts BgpSpeaker: 'sessionUp', 'sessionDown', 'bfdDown', 'bfdUp'. */
  speaker: Pick<EventEmitter, 'on'>;
  events: EventSink;
  node: string;
  /** The BGPPeer object `name` (uid/resourceVersion from the cache), or undefined when not cached (no event). */
  peerRef: (name: string) => ObjectRef | undefined;
  /** ms; the same connect error is reported again at most this often (default 5 min). */
  connectFailedRepeatMs?: number;
  /** ms; a different connect error is reported at once, but at most this often per peer (default 30 s). */
  connectFailedMinMs?: number;
  now?: () => number;
}

/**
 * Turns BgpSpeaker's session signals into Events on the BGPPeer (reasons above; see the file comment). A failed
 * connection attempt ('connectFailed', { name, label, down }) becomes a Warning BGPSessionConnectFailed for the first
 * failure, for a change of error (at most every connectFailedMinMs) and for the same error at most every
 * connectFailedRepeatMs; an Established session starts the count again. Returns the number of listeners added (5).
 */
export function sessionEvents(o: SessionEventsOptions): number {
  const now = o.now ?? Date.now;
  const repeatMs = o.connectFailedRepeatMs ?? 5 * 60_000;
  const minMs = o.connectFailedMinMs ?? 30_000;
  /** BGPPeer name → the connect error last reported and when. */
  const reported = new Map<string, { text: string; at: number }>();
  const emit = (peer: string, type: 'Normal' | 'Warning', reason: string, message: string): boolean => {
    const ref = o.peerRef(peer);
    if (ref) o.events.event(ref, type, reason, message);
    return ref !== undefined;
  };
  o.speaker.on('connectFailed', (e: { name: string; label: string; down: SessionDown }) => {
    const last = reported.get(e.name);
    const t = now();
    const due = !last || t - last.at >= repeatMs || (last.text !== e.down.text && t - last.at >= minMs);
    if (!due) return;
    if (emit(e.name, 'Warning', BGP_SESSION_CONNECT_FAILED, connectFailedMessage(o.node, e.label, e.down)))
      reported.set(e.name, { text: e.down.text, at: t });
  });
  o.speaker.on('sessionUp', (e: { name: string; label: string; up: SessionUp }) => {
    reported.delete(e.name);
    emit(e.name, 'Normal', BGP_SESSION_UP, sessionUpMessage(o.node, e.label, e.up));
  });
  o.speaker.on('sessionDown', (e: { name: string; label: string; down: SessionDown }) =>
    emit(e.name, 'Warning', BGP_SESSION_DOWN, sessionDownMessage(o.node, e.label, e.down)),
  );
  o.speaker.on('bfdDown', (e: { name: string; label: string; diagName?: string }) =>
    emit(e.name, 'Warning', BFD_SESSION_DOWN, bfdDownMessage(o.node, e.label, e.diagName)),
  );
  o.speaker.on('bfdUp', (e: { name: string; label: string }) =>
    emit(e.name, 'Normal', BFD_SESSION_UP, bfdUpMessage(o.node, e.label)),
  );
  return 5;
}
