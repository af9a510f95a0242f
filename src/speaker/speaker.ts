// The speaker's logic object: world → plan → announcer, plus what the speaker says about it (ServiceL2Status objects,
// events, metrics). It does no I/O itself: main.ts gives it the plan (a `decide` closure over the informers' caches),
// the announcer (src/speaker/layer2/announcer.ts), the liveness (src/speaker/liveness/udp.ts), a ServiceL2Status port
// and an event sink; tests give it fakes.
//
// Rules it keeps (issue 8; spec metallb-compat.md §5, §8):
// - every change (objects, liveness, link rescan) schedules ONE recompute after `debounceMs`; a recompute calls
//   announcer.set() with what this node announces (announcementsFor(self));
// - the API server away changes nothing: caches are kept by the informers, the plan is recomputed from them, failed
//   status writes are retried with backoff; nothing is withdrawn because a write failed;
// - ServiceL2Status (§8.4, MetalLB internal/k8s/controllers/layer2_status_controller.go): the owner of a Service
//   creates or updates one object (generateName `l2-`, labels metallb.io/node, service-name, service-namespace) and
//   deletes other nodes' objects for that Service; a non-owner deletes its own. Writes happen only on change;
// - events: Normal `nodeAssigned` when this node starts answering for a Service it was elected for: once the announcer
//   reports one of the Service's IPs on the wire (its probe passed, or a takeover that skips it), not at the election,
//   so an IP a foreign host holds gets only `IPConflict`, never `nodeAssigned` then `IPConflict` (docs/layer2.md
//   "Events"); Warning `announceFailed` when none of the listed interfaces exists here (§5.2; as MetalLB, the IP stays
//   recorded as announced in the metric and ServiceL2Status); Warning `IPConflict` when the announcer reports a
//   foreign MAC on an IP;
// - stop() (SIGTERM): announcer.close() first (no two owners), then liveness.leave() (peers take over at once), then
//   liveness.close().
import type { EventEmitter } from 'node:events';
import type { EventSink, ObjectRef } from '../kube/events.ts';
import { familyOf } from '../shared/ip.ts';
import type { ServiceStatusObject } from './service-status.ts';

/** One (service, ip) decision of l2-plan.ts's planLayer2 (structurally its L2Decision). */
export interface Decision {
  service: string;
  ip: string;
  owner: string | undefined;
  interfaces: string[];
  reason?: string;
}

/** What this node announces (structurally announcer.ts's Announcement). */
export interface Announcement {
  ip: string;
  service: string;
  interfaces: string[];
  /** false: announce at once, no probe (a takeover from another berth speaker); default true. */
  probe?: boolean;
}

/** The announcer's counters, per IP and per drop reason (announcer.ts `stats()`). */
export interface L2Stats {
  requestsReceived: ReadonlyMap<string, number>;
  responsesSent: ReadonlyMap<string, number>;
  gratuitousSent: ReadonlyMap<string, number>;
  drops: ReadonlyMap<string, number>;
}

/** What the speaker needs of the Layer2Announcer (an EventEmitter: conflict, conflictCleared, announced, withdrawn). */
export interface AnnouncerPort extends Pick<EventEmitter, 'on'> {
  set(announcements: readonly Announcement[]): void;
  reannounce(ip: string): void;
  stats(): L2Stats;
  close(): void;
}

/**
 * What the speaker needs of the liveness (udp.ts `Liveness`; 'change' carries the alive set). At start-up this node
 * is absent from alive() until its peers can have heard it, and peers not heard yet are in it as `undecided`
 * (detector.ts rule 8).
 */
export interface LivenessPort extends Pick<EventEmitter, 'on'> {
  alive(): ReadonlySet<string>;
  /** Peers in alive() only because they were not heard yet: one leaving alive() is no lost node (no failover). */
  undecided?(): ReadonlySet<string>;
  leave(): Promise<void>;
  close(): void;
}

/** status of a metallb.io/v1beta1 ServiceL2Status (MetalLB api/v1beta1/servicel2status_types.go). */
export interface L2StatusBody {
  node: string;
  serviceName: string;
  serviceNamespace: string;
  /** Only when the announcement is restricted to listed interfaces. */
  interfaces?: Array<{ name: string }>;
}

/** One ServiceL2Status as cached: its name, the labels that say whose it is, its status. */
/** A cached ServiceL2Status object as the writer reads it. */
export type L2StatusObject = ServiceStatusObject<L2StatusBody>;

/** ServiceL2Status reads (an informer's cache) and writes (each resolves true on success, never throws). */
export interface L2StatusPort {
  list(): readonly L2StatusObject[];
  /** Creates one (generateName `l2-`) with the labels and status; resolves its name, or undefined on failure. */
  create(service: { namespace: string; name: string }, status: L2StatusBody): Promise<string | undefined>;
  updateStatus(name: string, status: L2StatusBody): Promise<boolean>;
  delete(name: string): Promise<boolean>;
}

/** The speaker's metrics (src/metrics/speaker-metrics.ts). */
export interface SpeakerMetricsPort {
  /** metallb_speaker_announced{service,protocol,node,ip}: 1 while on, removed when off (protocol default `layer2`). */
  announced(service: string, ip: string, on: boolean, protocol?: 'layer2' | 'bgp'): void;
  /**
   * metallb_speaker_announced{protocol="bgp"} read at each scrape from `source` (it calls `visit` once per announced
   * (Service key, IP)) instead of one stored series per pair (issue 9: 10,000 Services kept ~2 MiB of prom-client
   * label objects and hash strings). The series are the same as with announced(…, 'bgp') calls; a later call
   * replaces the source. Optional: a port without it gets announced() calls.
   */
  announcedFrom?(protocol: 'bgp', source: (visit: (service: string, ip: string) => void) => void): void;
  ownerChanged(): void;
  failover(seconds: number): void;
  conflict(ip: string, on: boolean): void;
  /** One API write done (`ok` false: it failed), for metallb_k8s_client_updates_total / update_errors_total. */
  update(ok: boolean): void;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface SpeakerOptions<D extends Decision = Decision> {
  /** This node's name. */
  node: string;
  /** The current plan from the caches; undefined while no valid configuration was ever loaded (nothing changes). */
  decide: () => readonly D[] | undefined;
  /** l2-plan.ts's announcementsFor. */
  announcementsFor: (node: string, decisions: readonly D[]) => Announcement[];
  announcer: AnnouncerPort;
  liveness?: LivenessPort;
  /** The links this node has now (layer2Links), to tell when an advertisement's interfaces exist on none. */
  links: () => { arp: readonly string[]; ndp: readonly string[] };
  status?: L2StatusPort;
  events?: EventSink;
  /** The Service an event is about (uid and resourceVersion from the cache); undefined when not cached. */
  serviceRef?: (key: string) => ObjectRef | undefined;
  metrics?: SpeakerMetricsPort;
  /** One structured line per decision change (announce / withdraw / conflict). */
  log?: (fields: Record<string, unknown>, message: string) => void;
  warn?: (fields: Record<string, unknown>, message: string) => void;
  now?: () => number;
  timers?: Timers;
  /** Delay between a change and the recompute (default 5 ms). */
  debounceMs?: number;
  /** Status write retry backoff (default 500 ms doubling to 30 s). */
  retry?: { initialMs: number; maxMs: number };
}

const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** MetalLB's nodeAssigned message (speaker/main.go handleService: `announcing from node %q with protocol %q`). */
export function nodeAssignedMessage(node: string, protocol: 'layer2' | 'bgp' = 'layer2'): string {
  return `announcing from node "${node}" with protocol "${protocol}"`;
}

/** MetalLB's announceFailed message (speaker/layer2_controller.go, spec §5.2). */
export function announceFailedMessage(ip: string, node: string): string {
  return `the interfaces specified by LB IP "${ip}" doesn't exist in assigned node "${node}" with protocol "layer2"`;
}

/** berth's Normal `announceResumed` message (no MetalLB equivalent): a listed interface of the IP exists again. */
export function announceResumedMessage(ip: string, node: string): string {
  return `the interfaces specified by LB IP "${ip}" exist again in assigned node "${node}" with protocol "layer2": announcing it`;
}

/**
 * berth's Normal `IPConflictCleared` message (no MetalLB equivalent): no foreign host claims the IP any more. `announced`:
 * the conflict came while the IP was announced, which it stayed (else it was held back and is announced again now).
 */
export function ipConflictClearedMessage(ip: string, node: string, announced = false): string {
  return `IP "${ip}" is no longer claimed by a host that is not a berth speaker (seen from node "${node}"): ${announced ? 'still announced there' : 'announced there again'}`;
}

/**
 * berth's IPConflict message: the IP, the foreign MAC and the interface it was seen on, and what the speaker does
 * (docs/layer2.md "IP conflicts"): a claim while probing → not announced there; a claim while `announced` → it stays
 * announced and is defended (RFC 5227 §2.4 (b)).
 */
export function ipConflictMessage(ip: string, mac: string, ifname: string, node: string, announced = false): string {
  const action = announced ? 'still announced there and defended' : 'not announced there';
  return `IP "${ip}" is claimed by MAC ${mac} on interface ${ifname} (seen from node "${node}"), a host that is not a berth speaker: ${action}`;
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: 'default', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function sameStatus(a: L2StatusBody | undefined, b: L2StatusBody): boolean {
  if (!a) return false;
  const ifs = (s: L2StatusBody) => (s.interfaces ?? []).map((i) => i.name).join(',');
  return a.node === b.node && a.serviceName === b.serviceName && a.serviceNamespace === b.serviceNamespace && ifs(a) === ifs(b);
}

export class Speaker<D extends Decision = Decision> {
  readonly #o: SpeakerOptions<D>;
  readonly #timers: Timers;
  readonly #now: () => number;
  #debounce: unknown;
  #statusRetry: unknown;
  #retryDelay: number;
  #stopped = false;
  /** ip → owner at the last recompute. */
  #owners = new Map<string, string | undefined>();
  /** ip → services with that IP at the last recompute. */
  #servicesOfIp = new Map<string, string[]>();
  /** service → interfaces it is announced on by this node (only services this node owns). */
  #mine = new Map<string, string[]>();
  /** Services of #mine whose nodeAssigned was written (one of their IPs reached the wire since this node took them). */
  #assigned = new Set<string>();
  /** IPs the announcer reports answered on some link ('announced' until 'withdrawn'). */
  #onWire = new Set<string>();
  /** `service\0ip` announced by this node (for metallb_speaker_announced). */
  #announced = new Set<string>();
  /** IPs whose listed interfaces exist on none of this node's links (announceFailed raised). */
  #failed = new Set<string>();
  /** IPs the announcer reports as claimed by a foreign MAC. */
  #conflicts = new Map<string, { mac: string; ifname: string; announced?: boolean }>();
  /** Nodes detected dead or leaving → when. */
  #lost = new Map<string, number>();
  /** Peers that were alive only as undecided at the last liveness change (their removal is not a loss). */
  #undecided: ReadonlySet<string> = new Set();
  /**
   * Whether this node was in the alive set when the current #owners were computed. Not yet (start-up): those owners
   * were provisional, so taking an IP from them is neither an owner change nor a takeover that may skip the probe.
   */
  #selfLive = true;
  /** The undecided peers when the current #owners were computed: an IP "held" by one of them was held by nobody. */
  #plannedUndecided: ReadonlySet<string> = new Set();
  /** IPs taken over from a lost node → when that node was lost (until the first gratuitous packet). */
  #failovers = new Map<string, number>();
  #alive: ReadonlySet<string> | undefined;
  /** ServiceL2Status this node wrote: service → { name, status } (the cache may lag behind our writes). */
  #written = new Map<string, { name: string; status: L2StatusBody }>();
  /** Names this speaker created that its cache may not show yet → when (forgotten after 10 s or a delete seen). */
  #writtenRecently = new Map<string, number>();
  #statusBusy = false;
  #statusAgain = false;
  /** Counts, for tests and the ready line. */
  readonly counts = { recomputes: 0, statusWrites: 0, statusFailures: 0 };
  /** Wall ms the last decide() (the plan) took: the failover's re-plan share, logged with each liveness change. */
  #planMs = 0;
  /** Wall ms the last announcer.set() took (a takeover's first gratuitous packet goes out inside it). */
  #setMs = 0;

  constructor(o: SpeakerOptions<D>) {
    this.#o = o;
    this.#timers = o.timers ?? realTimers;
    this.#now = o.now ?? Date.now;
    this.#retryDelay = o.retry?.initialMs ?? 500;
    o.announcer.on('conflict', (ip: string, mac: string, ifname: string, announced?: boolean) => this.#conflict(ip, mac, ifname, announced === true));
    o.announcer.on('conflictCleared', (ip: string) => this.#conflictCleared(ip));
    o.announcer.on('announced', (ip: string) => this.#announcedOnWire(ip));
    o.announcer.on('withdrawn', (ip: string) => this.#onWire.delete(ip));
    if (o.liveness) {
      this.#alive = new Set(o.liveness.alive());
      this.#undecided = new Set(o.liveness.undecided?.() ?? []);
      o.liveness.on('change', (alive: ReadonlySet<string>) => this.#livenessChanged(alive));
    }
  }

  /** Something the plan depends on changed: recompute after the debounce delay (one recompute per burst). */
  changed(): void {
    if (this.#stopped || this.#debounce !== undefined) return;
    this.#debounce = this.#timers.set(() => {
      this.#debounce = undefined;
      this.sync();
    }, this.#o.debounceMs ?? 5);
  }

  /** Recomputes now: plan → announcer.set → bookkeeping, events, metrics, ServiceL2Status. Never throws. */
  sync(): void {
    if (this.#stopped) return;
    let decisions: readonly D[] | undefined;
    const planStart = performance.now();
    try {
      decisions = this.#o.decide();
      this.#planMs = performance.now() - planStart;
    } catch (e) {
      this.#o.warn?.({ error: String(e) }, `speaker: planning failed, keeping the current announcements: ${String(e)}`);
      return;
    }
    if (!decisions) return;
    this.counts.recomputes++;
    const self = this.#o.node;
    // --- owners, owner changes, failovers ---
    const owners = new Map<string, string | undefined>();
    const servicesOfIp = new Map<string, string[]>();
    // Only IPs some node owns: an IP no layer-2 advertisement gives an owner (every IP of a BGP-only node: 10,000
    // entries in each map) changes nothing below, and the announcer reports conflicts only on owned IPs.
    for (const d of decisions) if (d.owner !== undefined && !owners.has(d.ip)) owners.set(d.ip, d.owner);
    for (const d of decisions) {
      if (!owners.has(d.ip)) continue;
      // [service], not a push on []: that reserves 17 slots (152 bytes per IP).
      const list = servicesOfIp.get(d.ip);
      if (!list) servicesOfIp.set(d.ip, [d.service]);
      else if (!list.includes(d.service)) list.push(d.service);
    }
    // Failovers are noted before announcer.set(): a takeover's first gratuitous packet goes out inside set().
    const now = this.#now();
    // Owners of a provisional plan (this node not live yet, or the owner only undecided) held nothing for sure.
    const selfWasLive = this.#selfLive;
    const wasUndecided = this.#plannedUndecided;
    const held = (prev: string | undefined): prev is string => prev !== undefined && selfWasLive && !wasUndecided.has(prev);
    this.#selfLive = this.#o.liveness ? this.#o.liveness.alive().has(self) : true;
    this.#plannedUndecided = new Set(this.#o.liveness?.undecided?.() ?? []);
    for (const [ip, owner] of owners) {
      const prev = this.#owners.get(ip);
      if (held(prev) && owner !== undefined && prev !== owner) {
        this.#o.metrics?.ownerChanged();
        const lostAt = this.#lost.get(prev);
        if (owner === self && lostAt !== undefined) this.#failovers.set(ip, lostAt);
      }
    }
    for (const [n, at] of this.#lost) if (now - at > 60_000) this.#lost.delete(n);
    // An IP another berth speaker held is taken over without probing (the probe would only delay the failover).
    const announcements = this.#o.announcementsFor(self, decisions).map((a) => {
      const prev = this.#owners.get(a.ip);
      return held(prev) && prev !== self ? { ...a, probe: false } : a;
    });
    this.#owners = owners;
    this.#servicesOfIp = servicesOfIp;
    const setStart = performance.now();
    this.#o.announcer.set(announcements);
    this.#setMs = performance.now() - setStart;

    // --- what this node announces: metric, nodeAssigned, announceFailed, decision lines ---
    const mine = new Map<string, string[]>();
    const announced = new Set<string>();
    for (const a of announcements) {
      announced.add(`${a.service}\u0000${a.ip}`);
      const ifs = mine.get(a.service) ?? [];
      for (const i of a.interfaces) if (!ifs.includes(i)) ifs.push(i);
      mine.set(a.service, ifs);
    }
    for (const k of announced) {
      if (this.#announced.has(k)) continue;
      const [service, ip] = k.split('\u0000') as [string, string];
      this.#o.metrics?.announced(service, ip, true);
      this.#o.log?.({ decision: 'announce', service, ip, node: self, protocol: 'layer2' }, `speaker: announcing ${ip} for ${service}`);
    }
    const reasons = new Map(decisions.map((d) => [`${d.service}\u0000${d.ip}`, d]));
    for (const k of this.#announced) {
      if (announced.has(k)) continue;
      const [service, ip] = k.split('\u0000') as [string, string];
      this.#o.metrics?.announced(service, ip, false);
      const d = reasons.get(k);
      const reason = d === undefined ? 'serviceDeleted' : (d.reason ?? (d.owner !== self ? 'notOwner' : 'withdrawn'));
      this.#o.log?.({ decision: 'withdraw', service, ip, node: self, reason, owner: d?.owner ?? null }, `speaker: withdrawing ${ip} of ${service}: ${reason}`);
    }
    this.#announced = announced;
    this.#mine = mine;
    for (const service of this.#assigned) if (!mine.has(service)) this.#assigned.delete(service);
    // nodeAssigned for a Service taken now whose IP is already on the wire: a takeover (its first gratuitous packet
    // went out inside set()) or an IP another of its Services holds. Else it comes with the announcer's 'announced'.
    for (const a of announcements) if (this.#onWire.has(a.ip)) this.#assign(a.service);
    this.#checkInterfaces(announcements);
    for (const ip of this.#failovers.keys()) if (owners.get(ip) !== self) this.#failovers.delete(ip);
    this.reconcileStatus();
  }

  /**
   * The status informer saw ServiceL2Status `name` deleted: whatever this speaker remembers writing under that name is
   * forgotten (another speaker deleted it, or we did), and the objects are reconciled again.
   */
  statusDeleted(name: string): void {
    this.#writtenRecently.delete(name);
    for (const [key, w] of this.#written) if (w.name === name) this.#written.delete(key);
    this.reconcileStatus();
  }

  /** The services this node announces now, with the interfaces listed for them ([] = every interface). */
  announcing(): ReadonlyMap<string, readonly string[]> {
    return this.#mine;
  }

  /** IPs currently reported in conflict. */
  conflicts(): ReadonlyMap<string, { mac: string; ifname: string }> {
    return this.#conflicts;
  }

  /**
   * Brings the ServiceL2Status objects in line with what this node announces (§8.4). Writes only what differs from
   * the cache (or from what this speaker last wrote, when the cache has not caught up); a failed write schedules a
   * retry with backoff. One pass at a time; a call during a pass runs another pass after it.
   */
  reconcileStatus(): void {
    const port = this.#o.status;
    if (!port || this.#stopped) return;
    if (this.#statusBusy) {
      this.#statusAgain = true;
      return;
    }
    this.#statusBusy = true;
    void this.#statusPass(port).finally(() => {
      this.#statusBusy = false;
      if (this.#statusAgain && !this.#stopped) {
        this.#statusAgain = false;
        this.reconcileStatus();
      }
    });
  }

  async #statusPass(port: L2StatusPort): Promise<void> {
    const self = this.#o.node;
    const cached = port.list();
    const byService = new Map<string, L2StatusObject[]>();
    for (const o of cached) {
      if (!o.service) continue;
      const l = byService.get(o.service) ?? [];
      l.push(o);
      byService.set(o.service, l);
    }
    // What we wrote and the cache no longer has (deleted by someone, or by our own delete) is forgotten.
    const cachedNames = new Set(cached.map((o) => o.name));
    const keys = new Set<string>([...this.#mine.keys(), ...this.#written.keys()]);
    for (const [svc, objs] of byService) if (objs.some((o) => o.node === self)) keys.add(svc);
    let failed = false;
    const write = async (what: Promise<boolean>): Promise<boolean> => {
      const ok = await what;
      this.counts.statusWrites++;
      this.#o.metrics?.update(ok);
      if (!ok) {
        this.counts.statusFailures++;
        failed = true;
      }
      return ok;
    };
    for (const key of keys) {
      if (this.#stopped) return;
      const objs = byService.get(key) ?? [];
      const ifs = this.#mine.get(key);
      const { namespace, name } = splitKey(key);
      let own = objs.find((o) => o.node === self);
      const w = this.#written.get(key);
      if (!own && w && !cachedNames.has(w.name) && this.#writtenRecently.has(w.name)) {
        own = { name: w.name, node: self, service: key, status: w.status };
      }
      if (ifs === undefined) {
        // Not ours: delete our own object(s).
        for (const o of objs.filter((x) => x.node === self)) {
          if (await write(port.delete(o.name))) this.#writtenRecently.delete(o.name);
        }
        if (own && !objs.some((x) => x.name === own.name) && (await write(port.delete(own.name)))) this.#writtenRecently.delete(own.name);
        this.#written.delete(key);
        continue;
      }
      // Ours: delete other nodes' objects (and our duplicates), then create or update ours.
      for (const o of objs) {
        if (o === own || o.name === own?.name) continue;
        await write(port.delete(o.name));
      }
      const desired: L2StatusBody = {
        node: self,
        serviceName: name,
        serviceNamespace: namespace,
        ...(ifs.length > 0 ? { interfaces: [...ifs].sort().map((n) => ({ name: n })) } : {}),
      };
      // What we last wrote wins over a cache that may not have caught up with it.
      const current = w && own && w.name === own.name ? w.status : own?.status;
      if (own && sameStatus(current, desired)) {
        this.#written.set(key, { name: own.name, status: desired });
        continue;
      }
      if (own) {
        if (await write(port.updateStatus(own.name, desired))) this.#written.set(key, { name: own.name, status: desired });
      } else {
        const created = await port.create({ namespace, name }, desired);
        this.counts.statusWrites++;
        this.#o.metrics?.update(created !== undefined);
        if (created === undefined) {
          this.counts.statusFailures++;
          failed = true;
        } else {
          this.#written.set(key, { name: created, status: desired });
          this.#writtenRecently.set(created, this.#now());
        }
      }
    }
    // Forget "recently written" names once the cache has them (then the cache is the truth).
    const now = this.#now();
    for (const [n, at] of this.#writtenRecently) if (cachedNames.has(n) || now - at > 10_000) this.#writtenRecently.delete(n);
    if (failed) this.#scheduleStatusRetry();
    else this.#retryDelay = this.#o.retry?.initialMs ?? 500;
  }

  #scheduleStatusRetry(): void {
    if (this.#statusRetry !== undefined || this.#stopped) return;
    const ms = this.#retryDelay;
    this.#retryDelay = Math.min(this.#o.retry?.maxMs ?? 30_000, ms * 2);
    this.#o.warn?.({ retryInMs: ms }, `speaker: ServiceL2Status write failed; retrying in ${ms} ms`);
    this.#statusRetry = this.#timers.set(() => {
      this.#statusRetry = undefined;
      this.reconcileStatus();
    }, ms);
  }

  #checkInterfaces(announcements: readonly Announcement[]): void {
    let links: { arp: readonly string[]; ndp: readonly string[] };
    try {
      links = this.#o.links();
    } catch {
      return;
    }
    const failed = new Set<string>();
    for (const a of announcements) {
      if (a.interfaces.length === 0) continue;
      const have = familyOf(a.ip) === 'IPv6' ? links.ndp : links.arp;
      if (a.interfaces.some((i) => have.includes(i))) continue;
      failed.add(a.ip);
      if (!this.#failed.has(a.ip)) {
        this.#event(a.service, 'Warning', 'announceFailed', announceFailedMessage(a.ip, this.#o.node));
        this.#o.warn?.(
          { decision: 'announceFailed', service: a.service, ip: a.ip, interfaces: a.interfaces },
          `speaker: none of the interfaces ${a.interfaces.join(', ')} listed for ${a.ip} exists on this node`,
        );
      }
    }
    // A fault that ended while the IP is still announced here: Normal announceResumed, so `berth status` (which judges
    // by the latest Event) no longer shows the earlier Warning as current.
    for (const a of announcements) {
      if (this.#failed.has(a.ip) && !failed.has(a.ip)) this.#event(a.service, 'Normal', 'announceResumed', announceResumedMessage(a.ip, this.#o.node));
    }
    this.#failed = failed;
  }

  #conflict(ip: string, mac: string, ifname: string, announced: boolean): void {
    const prev = this.#conflicts.get(ip);
    this.#conflicts.set(ip, { mac, ifname, announced });
    this.#o.metrics?.conflict(ip, true);
    if (prev && prev.mac === mac && prev.ifname === ifname) return;
    this.#o.warn?.({ decision: 'conflict', ip, mac, interface: ifname }, `speaker: ${ip} is claimed by foreign MAC ${mac} on ${ifname}`);
    for (const service of this.#servicesOfIp.get(ip) ?? []) {
      this.#event(service, 'Warning', 'IPConflict', ipConflictMessage(ip, mac, ifname, this.#o.node, announced));
    }
  }

  #conflictCleared(ip: string): void {
    const was = this.#conflicts.get(ip);
    if (!was) return;
    this.#conflicts.delete(ip);
    this.#o.metrics?.conflict(ip, false);
    this.#o.log?.({ decision: 'conflictCleared', ip }, `speaker: no foreign claim on ${ip} any more`);
    for (const service of this.#servicesOfIp.get(ip) ?? []) {
      this.#event(service, 'Normal', 'IPConflictCleared', ipConflictClearedMessage(ip, this.#o.node, was.announced === true));
    }
  }

  /** Writes nodeAssigned for `service` unless it was written since this node took it. */
  #assign(service: string): void {
    if (this.#assigned.has(service) || !this.#mine.has(service)) return;
    this.#assigned.add(service);
    this.#event(service, 'Normal', 'nodeAssigned', nodeAssignedMessage(this.#o.node));
  }

  #announcedOnWire(ip: string): void {
    this.#onWire.add(ip);
    // A probe that passed (or a conflict that cleared): the Services this node was elected for start with this IP.
    // During sync() (a takeover inside set()) #mine is not updated yet: sync() itself assigns after it.
    for (const service of this.#servicesOfIp.get(ip) ?? []) this.#assign(service);
    const lostAt = this.#failovers.get(ip);
    if (lostAt === undefined) return;
    this.#failovers.delete(ip);
    this.#o.metrics?.failover(Math.max(0, this.#now() - lostAt) / 1000);
  }

  #livenessChanged(alive: ReadonlySet<string>): void {
    const now = this.#now();
    const lost: string[] = [];
    for (const n of this.#alive ?? []) {
      if (alive.has(n) || this.#undecided.has(n)) continue;
      this.#lost.set(n, now);
      lost.push(n);
    }
    const joined = [...alive].filter((n) => !this.#alive?.has(n));
    for (const n of alive) this.#lost.delete(n);
    this.#alive = new Set(alive);
    this.#undecided = new Set(this.#o.liveness?.undecided?.() ?? []);
    // A node lost: no debounce, every millisecond counts in a failover.
    const syncStart = performance.now();
    this.sync();
    const syncMs = performance.now() - syncStart;
    // One line per change of the live speakers, after the takeover (logging costs time): `detectedAtMs` is when the
    // change arrived, where a failover's timeline starts (bench:failover reads it).
    if (lost.length > 0 || joined.length > 0) {
      const list = [...alive].sort();
      this.#o.log?.(
        // syncMs: the whole recompute; of which planMs planning (decide) and setMs announcer.set(), inside which a
        // takeover's first gratuitous packet goes out; the rest is bookkeeping, logs, events, status after it
        {
          decision: 'liveness',
          lost,
          joined,
          alive: list,
          detectedAtMs: now,
          syncMs: Math.round(syncMs * 10) / 10,
          planMs: Math.round(this.#planMs * 10) / 10,
          setMs: Math.round(this.#setMs * 10) / 10,
        },
        `speaker: live speakers: ${list.join(', ') || 'none'}${lost.length > 0 ? ` (lost ${lost.join(', ')})` : ''}`,
      );
    }
  }

  #event(service: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const sink = this.#o.events;
    if (!sink) return;
    const ref = this.#o.serviceRef?.(service) ?? { kind: 'Service', apiVersion: 'v1', ...splitKey(service) };
    sink.event(ref, type, reason, message);
  }

  /**
   * SIGTERM: stop answering (announcer.close(): sockets closed, the native ARP answers with them), then tell the peers
   * we leave (they take our IPs at once), then stop the heartbeats. In this order a new owner never answers while we
   * still do (two owners for the time between the 'leaving' heartbeat and the close, under load hundreds of ms);
   * the price is the few ms until the peers hear 'leaving', during which nobody answers (clients retry ARP/NDP).
   * `leave` is bounded by `leaveTimeoutMs` (default 1 s): a stuck send never holds the exit.
   */
  async stop(leaveTimeoutMs = 1000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#debounce !== undefined) this.#timers.clear(this.#debounce);
    if (this.#statusRetry !== undefined) this.#timers.clear(this.#statusRetry);
    this.#o.announcer.close();
    if (this.#o.liveness) {
      let timer: unknown;
      await Promise.race([
        this.#o.liveness.leave().catch((e: unknown) => this.#o.warn?.({ error: String(e) }, `speaker: leave failed: ${String(e)}`)),
        new Promise<void>((r) => (timer = this.#timers.set(r, leaveTimeoutMs))),
      ]);
      this.#timers.clear(timer);
    }
    this.#o.liveness?.close();
  }
}
