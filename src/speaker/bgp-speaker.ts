// BgpSpeaker (issue 9 "Sessions"): keeps one BGP session per BGPPeer of this node's plan (bgp-plan.ts planBgp) and
// sends each session only what changed between two plans. A change of advertisement (new/removed prefix, other
// communities or LOCAL_PREF) is an UPDATE on the running session and never resets it; a change of what goes into the
// OPEN or the TCP connection (ASNs, address, port, source address, hold/keepalive time, connect time, router ID,
// password, multi-hop TTL, graceful restart, families) replaces that peer's session only, as MetalLB's native
// speaker does (internal/bgp/native: a session is keyed by its whole configuration; speaker/bgp_controller.go
// syncPeers). A BGPPeer with a bfdProfile gets a BFD session (bfd/udp.ts BfdServer.sync); when BFD goes down the BGP
// session is torn down at once (RFC 5882 §4.3) and held down until BFD is up again.
// Metrics (metallb-compat.md §7, MetalLB internal/bgp/native/stats.go): metallb_bgp_session_up,
// metallb_bgp_updates_total, metallb_bgp_announced_prefixes_total, metallb_bgp_pending_prefixes_total, label `peer` =
// "ip:port" (net.JoinHostPort form: "[v6]:port").
// I/O goes through injected factories (`createSession`, `bfd`), so the diffing and the BFD tie-in are unit-tested with
// fakes; the defaults are the real BgpSession (bgp/session.ts).
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BFDProfileConfig, PeerConfig } from '../config/types.ts';
import { paramsFromProfile } from './bfd/session.ts';
import type { BfdPeerConfig } from './bfd/udp.ts';
import {
  BgpSession,
  type AdvertisedAttributes,
  type BgpSessionStats,
  type SessionDown,
  type SessionUp,
} from './bgp/session.ts';
import { CeaseSubcode } from './bgp/wire/index.ts';
import { sameAttributes, type BgpRoute } from './bgp-plan.ts';

/** What `sync` reads from a plan (bgp-plan.ts BgpPlan satisfies it). */
export interface BgpPlanLike {
  peers: ReadonlyMap<string, { name: string; peer: PeerConfig; routes: ReadonlyMap<string, BgpRoute> }>;
}

/** Everything that goes into one session's OPEN / TCP connection: any difference means a new session. */
export interface SessionSpec {
  /** BGPPeer name. */
  name: string;
  /** '' with `interface`. */
  peerAddress: string;
  /** BGPPeer interface: BGP unnumbered to the router advertising on it (bgp/session.ts `interface`). */
  interface?: string;
  peerPort: number;
  localAddress?: string;
  /** BGPPeer localASN when set, else myASN: the AS of the OPEN and AS_PATH. */
  localAsn: number;
  /** 0 with dynamicAsn. */
  peerAsn: number;
  /** BGPPeer dynamicASN (bgp/session.ts). */
  dynamicAsn?: 'internal' | 'external';
  /** BGPPeer myASN when localAsn is its localASN. */
  routerAsn?: number;
  /** BGPPeer vrf: the VRF device the session socket is bound to. */
  device?: string;
  /** Seconds (BGPPeer holdTime, whole seconds); undefined = the session's default (90 s). */
  holdTime?: number;
  /** Seconds. */
  keepaliveTime?: number;
  /** ms. */
  connectTimeMs?: number;
  routerId?: string;
  nodeName: string;
  /** Resolved password (BGPPeer password, or the value of its passwordSecret). */
  password?: string;
  /** 255 with ebgpMultiHop, else the kernel default (MetalLB native does not set it). */
  ttl?: number;
  /** BGPPeer enableGracefulRestart (RFC 4724). */
  gracefulRestart: boolean;
  /** The peer address's family, plus the other with dualStackAddressFamily (metallb-compat.md §6.2). */
  families: ('ipv4' | 'ipv6')[];
}

/** The part of a BGP session the speaker uses (bgp/session.ts BgpSession has it). */
export interface SessionPort {
  start(): void;
  /**
   * Sends a Cease NOTIFICATION with `subcode` (default Administrative Shutdown) and `text`; no retry after it.
   * `opts.gracefulRestart`: a session advertising Graceful Restart closes without the NOTIFICATION (RFC 4724 §4).
   */
  stop(text?: string, subcode?: number, opts?: { gracefulRestart?: boolean }): Promise<void>;
  announce(prefix: string, attrs: AdvertisedAttributes): void;
  withdraw(prefix: string): void;
  /** Sends the announce/withdraw changes now rather than on the next turn of the event loop (optional). */
  flush?(): void;
  stats(): BgpSessionStats;
  on(event: 'established', l: (up: SessionUp) => void): unknown;
  on(event: 'down', l: (d: SessionDown) => void): unknown;
}

export type CreateSession = (spec: SessionSpec) => SessionPort;

/** The part of a BfdServer (bfd/udp.ts) the speaker uses: 'up'(peer) and 'down'(peer, {diag, diagName}) events. */
export interface BfdPort {
  sync(desired: readonly BfdPeerConfig[]): Promise<{ errors: string[] }>;
  on(event: 'up', l: (p: { peer: string; ifname?: string | undefined }) => void): unknown;
  on(
    event: 'down',
    l: (p: { peer: string; ifname?: string | undefined }, ev: { diag: number; diagName: string }) => void,
  ): unknown;
}

export interface BgpSpeakerOptions {
  /** This node's name (router ID fallback, logs). */
  node: string;
  log: Logger;
  /** Default: a real BgpSession (active connect, MD5/TTL through the native addon when set). */
  createSession?: CreateSession;
  /** BFD sessions for peers with a bfdProfile; without it bfdProfile is ignored (logged once per peer). */
  bfd?: BfdPort;
  /** UDP port of the peers' BFD (default 3784, RFC 5881 §4; tests running both ends on one host use others). */
  bfdPeerPort?: number;
}

/** Context of one `sync`: the BFD profiles of the Config and the passwords read from passwordSecrets. */
export interface SyncContext {
  bfdProfiles?: readonly BFDProfileConfig[];
  /** Peer name → password resolved from its passwordSecret (takes precedence over PeerConfig.password). */
  passwords?: ReadonlyMap<string, string>;
}

/** One peer's session as seen from outside (metrics, tests). */
export interface PeerSessionInfo {
  name: string;
  /** "ip:port" (MetalLB's `peer` label). */
  label: string;
  spec: SessionSpec;
  /** Held down by BFD. */
  bfdDown: boolean;
  stats: BgpSessionStats;
}

interface Entry {
  spec: SessionSpec;
  key: string;
  session: SessionPort;
  /** The routes map of the last plan applied (read-only, as the plan's maps are): diffed against the next one. */
  given: ReadonlyMap<string, BgpRoute>;
  /** Prefixes of `given` the session refused (bad prefix): retried on every sync. */
  failed: Set<string>;
  bfd: boolean;
  bfdDown: boolean;
  stopped: boolean;
}

/** The `peer` label of MetalLB's metrics: net.JoinHostPort(address, port). */
export function peerLabel(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/** peerLabel of a session; an unnumbered one (BGPPeer interface) by its interface, as FRR names such neighbors. */
function specLabel(spec: SessionSpec): string {
  return spec.interface !== undefined ? spec.interface : peerLabel(spec.peerAddress, spec.peerPort);
}

/**
 * The session configuration of one BGPPeer (MetalLB §6.2 defaults): hold/keepalive in whole seconds, TTL 255 with
 * ebgpMultiHop, families = the peer address's (+ the other with dualStackAddressFamily).
 */
export function sessionSpecFor(peer: PeerConfig, node: string, password?: string): SessionSpec {
  const v6 = net.isIPv6(peer.peerAddress);
  // Unnumbered: both families over the link-local session (IPv4 with RFC 8950 next hops).
  const unnumbered = peer.interface !== undefined;
  const pw = password ?? peer.password;
  return {
    name: peer.name,
    peerAddress: peer.peerAddress,
    ...(unnumbered ? { interface: peer.interface } : {}),
    peerPort: peer.peerPort,
    ...(peer.sourceAddress !== undefined ? { localAddress: peer.sourceAddress } : {}),
    localAsn: peer.localASN ?? peer.myASN,
    peerAsn: peer.peerASN,
    ...(peer.dynamicASN !== undefined ? { dynamicAsn: peer.dynamicASN } : {}),
    ...(peer.localASN !== undefined ? { routerAsn: peer.myASN } : {}),
    ...(peer.vrf !== undefined ? { device: peer.vrf } : {}),
    ...(peer.holdTimeMs !== undefined ? { holdTime: Math.floor(peer.holdTimeMs / 1000) } : {}),
    ...(peer.keepaliveTimeMs !== undefined ? { keepaliveTime: Math.floor(peer.keepaliveTimeMs / 1000) } : {}),
    ...(peer.connectTimeMs !== undefined ? { connectTimeMs: peer.connectTimeMs } : {}),
    ...(peer.routerID !== undefined ? { routerId: peer.routerID } : {}),
    nodeName: node,
    ...(pw ? { password: pw } : {}),
    ...(peer.ebgpMultiHop ? { ttl: 255 } : {}),
    gracefulRestart: peer.enableGracefulRestart,
    families: peer.dualStackAddressFamily || unnumbered ? ['ipv4', 'ipv6'] : [v6 ? 'ipv6' : 'ipv4'],
  };
}

/**
 * Restart Time advertised with RFC 4724 graceful restart (enableGracefulRestart), in seconds: FRR's default
 * (`bgp graceful-restart restart-time`), which MetalLB's FRR mode leaves in place.
 */
export const GRACEFUL_RESTART_TIME_SEC = 120;

/** The real session: bgp/session.ts BgpSession. */
export function defaultCreateSession(log: Logger): CreateSession {
  return (spec) => {
    const s = new BgpSession({
      peerAddress: spec.peerAddress,
      ...(spec.interface !== undefined ? { interface: spec.interface } : {}),
      peerPort: spec.peerPort,
      ...(spec.localAddress !== undefined ? { localAddress: spec.localAddress } : {}),
      localAsn: spec.localAsn,
      peerAsn: spec.peerAsn,
      ...(spec.dynamicAsn !== undefined ? { dynamicAsn: spec.dynamicAsn } : {}),
      ...(spec.routerAsn !== undefined ? { routerAsn: spec.routerAsn } : {}),
      ...(spec.device !== undefined ? { device: spec.device } : {}),
      ...(spec.holdTime !== undefined ? { holdTime: spec.holdTime } : {}),
      ...(spec.keepaliveTime !== undefined ? { keepaliveTime: spec.keepaliveTime } : {}),
      ...(spec.connectTimeMs !== undefined ? { connectTimeMs: spec.connectTimeMs } : {}),
      ...(spec.routerId !== undefined ? { routerId: spec.routerId } : {}),
      nodeName: spec.nodeName,
      ...(spec.password !== undefined ? { password: spec.password } : {}),
      ...(spec.ttl !== undefined ? { ttl: spec.ttl } : {}),
      families: spec.families,
      ...(spec.gracefulRestart ? { gracefulRestart: { restartTimeSec: GRACEFUL_RESTART_TIME_SEC } } : {}),
      log,
    });
    return {
      start: () => s.start(),
      stop: (text, subcode, opts) => s.stop(text, subcode, opts),
      announce: (p, a) => s.announce(p, a),
      withdraw: (p) => s.withdraw(p),
      flush: () => s.flush(),
      stats: () => s.stats(),
      on: (event: 'established' | 'down', l: (x: never) => void) =>
        s.on(event, l as (...args: unknown[]) => void),
    } as SessionPort;
  };
}

/**
 * Attributes objects shared by the routes that only differ by prefix (the planner shares an ad's communities array
 * among its host routes): one object per (communities array, LOCAL_PREF), so the session keys them once.
 */
const sharedAttrs = new WeakMap<readonly number[], Map<number | undefined, AdvertisedAttributes>>();

function attrsOf(r: BgpRoute): AdvertisedAttributes {
  if (r.largeCommunities.length === 0 && r.extendedCommunities.length === 0) {
    let byPref = sharedAttrs.get(r.communities);
    if (!byPref) sharedAttrs.set(r.communities, (byPref = new Map()));
    let a = byPref.get(r.localPref);
    if (!a) byPref.set(r.localPref, (a = newAttrs(r)));
    return a;
  }
  return newAttrs(r);
}

function newAttrs(r: BgpRoute): AdvertisedAttributes {
  return {
    ...(r.localPref !== undefined ? { localPref: r.localPref } : {}),
    communities: r.communities,
    largeCommunities: r.largeCommunities,
    extendedCommunities: r.extendedCommunities,
  };
}

/**
 * The BGP sessions of this node. Events: 'sessionUp' ({ name, label, up: SessionUp }), 'sessionDown' ({ name, label,
 * down: SessionDown }) with the NOTIFICATION text in down.text, 'connectFailed' ({ name, label, down }) for each failed
 * connection attempt (down.attempt counts them), 'bfdDown' / 'bfdUp' ({ name, label, diagName? }).
 * `sync(plan)` calls are serialized; `close()` stops every session (Cease/Administrative Shutdown).
 */
export class BgpSpeaker extends EventEmitter {
  readonly #o: BgpSpeakerOptions;
  readonly #create: CreateSession;
  readonly #sessions = new Map<string, Entry>();
  /** Updates sent by sessions already replaced, per label (metallb_bgp_updates_total must not go backwards). */
  readonly #updatesBase = new Map<string, number>();
  #chain: Promise<void> = Promise.resolve();
  /** Syncs called and not finished: 0 = the next one runs at once (synchronously up to its UPDATEs). */
  #pending = 0;
  #closed = false;
  #warnedNoBfd = new Set<string>();

  constructor(o: BgpSpeakerOptions) {
    super();
    this.#o = o;
    this.#create = o.createSession ?? defaultCreateSession(o.log);
    o.bfd?.on('down', (p, ev) => this.#bfdChanged(p.peer, false, ev.diagName, p.ifname));
    o.bfd?.on('up', (p) => this.#bfdChanged(p.peer, true, undefined, p.ifname));
  }

  /**
   * Brings the sessions to `plan`: new peers get a started session with all their routes; peers no longer planned
   * are stopped (Cease/Peer De-configured); a peer whose session configuration changed is replaced (only that one);
   * for the others only the route differences are announced / withdrawn (routes of a family the session does not
   * carry are left out), and every session flushes: when no earlier sync is still running, the UPDATEs are handed
   * to the sockets before sync() returns (issue 9: a user waits for them, not for the speaker's other work on the
   * same event). Then the BFD sessions are synced. Resolves with the BFD errors (bad address, no profile), never
   * rejects.
   */
  sync(plan: BgpPlanLike, ctx: SyncContext = {}): Promise<{ errors: string[] }> {
    // Counted from the call (not the start), so a sync never overtakes one still waiting in the chain.
    const first = this.#pending++ === 0;
    const run = (first ? this.#sync(plan, ctx) : this.#chain.then(() => this.#sync(plan, ctx))).finally(
      () => this.#pending--,
    );
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #sync(plan: BgpPlanLike, ctx: SyncContext): Promise<{ errors: string[] }> {
    if (this.#closed) return { errors: [] };
    const errors: string[] = [];
    const stops: Promise<void>[] = [];
    for (const [name, e] of this.#sessions) {
      if (plan.peers.has(name)) continue;
      this.#sessions.delete(name);
      this.#retire(e);
      this.#o.log.info({ peer: name }, `bgp: peer ${name} removed, closing its session`);
      stops.push(this.#stop(e, 'peer de-configured', CeaseSubcode.PeerDeconfigured));
    }
    const profiles = new Map((ctx.bfdProfiles ?? []).map((p) => [p.name, p]));
    const bfdWanted: BfdPeerConfig[] = [];
    for (const [name, p] of plan.peers) {
      let spec: SessionSpec;
      try {
        spec = sessionSpecFor(p.peer, this.#o.node, ctx.passwords?.get(name));
      } catch (err) {
        errors.push(`peer ${name}: ${(err as Error).message}`);
        continue;
      }
      const key = JSON.stringify(spec);
      let e = this.#sessions.get(name);
      /** A replaced session to the same address stays held down while BFD is down. */
      let heldByBfd = false;
      if (e && e.key !== key) {
        heldByBfd = e.bfdDown && e.spec.peerAddress === spec.peerAddress;
        this.#o.log.info({ peer: name }, `bgp: peer ${name} configuration changed, resetting its session`);
        this.#sessions.delete(name);
        this.#retire(e);
        stops.push(this.#stop(e, 'peer configuration changed', CeaseSubcode.OtherConfigurationChange));
        e = undefined;
      }
      const bfdProfile = p.peer.bfdProfile;
      const profile = bfdProfile !== undefined ? profiles.get(bfdProfile) : undefined;
      if (bfdProfile !== undefined && !this.#o.bfd) {
        if (!this.#warnedNoBfd.has(name)) {
          this.#warnedNoBfd.add(name);
          this.#o.log.warn(
            { peer: name },
            `bgp: peer ${name} has bfdProfile ${bfdProfile} but BFD is not running`,
          );
        }
      } else if (bfdProfile !== undefined && !profile) {
        errors.push(`peer ${name}: bfdProfile ${JSON.stringify(bfdProfile)} is not a known BFDProfile`);
      } else if (profile) {
        bfdWanted.push({
          // Unnumbered: peer '' + ifname, the BFD server finds the router on the interface as the session does.
          peer: spec.peerAddress,
          ...(spec.interface !== undefined ? { ifname: spec.interface } : {}),
          ...(spec.localAddress !== undefined ? { local: spec.localAddress } : {}),
          params: paramsFromProfile(profile),
          ...(this.#o.bfdPeerPort !== undefined ? { port: this.#o.bfdPeerPort } : {}),
        });
      }
      const bfd = profile !== undefined && this.#o.bfd !== undefined;
      if (!e) {
        let session: SessionPort;
        try {
          session = this.#create(spec);
        } catch (err) {
          errors.push(`peer ${name}: ${(err as Error).message}`);
          continue;
        }
        e = {
          spec,
          key,
          session,
          given: new Map(),
          failed: new Set(),
          bfd,
          bfdDown: bfd && heldByBfd,
          stopped: false,
        };
        this.#watch(e);
        this.#sessions.set(name, e);
        this.#apply(e, p.routes);
        if (!e.bfdDown) session.start();
        continue;
      }
      if (e.bfd && !bfd && e.bfdDown) {
        // BFD no longer asked for: nothing holds the session down any more.
        e.bfdDown = false;
        e.session.start();
      }
      e.bfd = bfd;
      this.#apply(e, p.routes);
    }
    for (const e of this.#sessions.values()) e.session.flush?.();
    await Promise.all(stops);
    if (this.#o.bfd) {
      try {
        const r = await this.#o.bfd.sync(bfdWanted);
        errors.push(...r.errors);
      } catch (err) {
        errors.push(`bfd: ${(err as Error).message}`);
      }
    }
    for (const m of errors) this.#o.log.warn(`bgp: ${m}`);
    return { errors };
  }

  /**
   * Announces / withdraws the differences between the routes `e` was given last and `routes` (a plan's map: read-only
   * once given, so the same map object means no change). Unchanged routes are found by identity first (BgpPlanner
   * keeps the objects of unchanged routes), then by sameAttributes; no copy of the routes is kept.
   */
  #apply(e: Entry, routes: ReadonlyMap<string, BgpRoute>): void {
    const before = e.given;
    if (routes === before && e.failed.size === 0) return;
    const v4 = e.spec.families.includes('ipv4');
    const v6 = e.spec.families.includes('ipv6');
    const carried = (prefix: string): boolean => (prefix.includes(':') ? v6 : v4);
    for (const [prefix, r] of routes) {
      const old = before.get(prefix);
      if (old !== undefined && (old === r || sameAttributes(old, r)) && !e.failed.has(prefix)) continue;
      if (!carried(prefix)) continue;
      try {
        e.session.announce(prefix, attrsOf(r));
        if (e.failed.size > 0) e.failed.delete(prefix);
      } catch (err) {
        e.failed.add(prefix);
        this.#o.log.warn(
          { peer: e.spec.name, prefix },
          `bgp: cannot announce ${prefix}: ${(err as Error).message}`,
        );
      }
    }
    if (routes !== before) {
      for (const prefix of before.keys()) {
        if (routes.has(prefix)) continue;
        // A refused prefix was never announced.
        if (e.failed.size > 0 && e.failed.delete(prefix)) continue;
        if (carried(prefix)) e.session.withdraw(prefix);
      }
    }
    e.given = routes;
  }

  #watch(e: Entry): void {
    const label = specLabel(e.spec);
    e.session.on('established', (up) => {
      if (e.stopped) return;
      this.#o.log.info(
        { peer: e.spec.name, address: label },
        `bgp: session with ${e.spec.name} (${label}) up`,
      );
      this.emit('sessionUp', { name: e.spec.name, label, up });
    });
    e.session.on('down', (down) => {
      if (!down.wasEstablished) {
        // A failed attempt (BGPSessionConnectFailed, rate-limited in bgp-status.ts sessionEvents); not a stop.
        if (!e.stopped && down.attempt !== undefined)
          this.emit('connectFailed', { name: e.spec.name, label, down });
        return;
      }
      this.#o.log.warn(
        { peer: e.spec.name, address: label, reason: down.reason },
        `bgp: session with ${e.spec.name} (${label}) down: ${down.text}`,
      );
      this.emit('sessionDown', { name: e.spec.name, label, down });
    });
  }

  #retire(e: Entry): void {
    const label = specLabel(e.spec);
    this.#updatesBase.set(label, (this.#updatesBase.get(label) ?? 0) + e.session.stats().updatesSent);
  }

  async #stop(e: Entry, text: string, subcode: number, opts?: { gracefulRestart?: boolean }): Promise<void> {
    e.stopped = true;
    try {
      await e.session.stop(text, subcode, opts);
    } catch (err) {
      this.#o.log.warn({ peer: e.spec.name }, `bgp: stopping the session failed: ${(err as Error).message}`);
    }
  }

  #bfdChanged(address: string, up: boolean, diagName?: string, ifname?: string): void {
    for (const e of this.#sessions.values()) {
      const mine =
        e.spec.interface !== undefined ? e.spec.interface === ifname : e.spec.peerAddress === address;
      if (!e.bfd || e.stopped || !mine) continue;
      const label = specLabel(e.spec);
      if (!up && !e.bfdDown) {
        e.bfdDown = true;
        this.#o.log.warn(
          { peer: e.spec.name, address: label, diag: diagName },
          `bgp: BFD down for ${e.spec.name} (${diagName ?? 'no diagnostic'}), closing the BGP session`,
        );
        this.emit('bfdDown', { name: e.spec.name, label, ...(diagName !== undefined ? { diagName } : {}) });
        void e.session
          .stop(`BFD down (${diagName ?? 'no diagnostic'})`, CeaseSubcode.BfdDown)
          .catch(() => undefined);
      } else if (up && e.bfdDown) {
        e.bfdDown = false;
        this.#o.log.info(
          { peer: e.spec.name, address: label },
          `bgp: BFD up for ${e.spec.name}, reconnecting`,
        );
        this.emit('bfdUp', { name: e.spec.name, label });
        e.session.start();
      }
    }
  }

  /** The sessions now, by peer name order. */
  sessions(): PeerSessionInfo[] {
    return [...this.#sessions.values()]
      .sort((a, b) => (a.spec.name < b.spec.name ? -1 : a.spec.name > b.spec.name ? 1 : 0))
      .map((e) => ({
        name: e.spec.name,
        label: specLabel(e.spec),
        spec: e.spec,
        bfdDown: e.bfdDown,
        stats: e.session.stats(),
      }));
  }

  /** UPDATEs sent to `label` over the process's life, including by replaced sessions. */
  updatesTotal(label: string): number {
    let n = this.#updatesBase.get(label) ?? 0;
    for (const e of this.#sessions.values())
      if (specLabel(e.spec) === label) n += e.session.stats().updatesSent;
    return n;
  }

  /**
   * Stops every session (Cease/Administrative Shutdown, `text`); later syncs do nothing. `opts.gracefulRestart` (the
   * process stopping, e.g. SIGTERM in a rolling update): sessions with Graceful Restart (BGPPeer
   * enableGracefulRestart) close without a NOTIFICATION, so their routers keep the routes as stale until the
   * restarted speaker's End-of-RIB (RFC 4724 §4); the others get the Cease.
   */
  async close(text = 'speaker shutting down', opts: { gracefulRestart?: boolean } = {}): Promise<void> {
    this.#closed = true;
    await this.#chain;
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(all.map((e) => this.#stop(e, text, CeaseSubcode.AdministrativeShutdown, opts)));
  }
}

/**
 * Registers MetalLB's native BGP metrics on `registry` (metallb-compat.md §7; help texts after MetalLB
 * internal/bgp/native/stats.go), read from `speaker` at scrape time, label `peer` = "ip:port".
 */
export function bgpMetrics(registry: Registry, speaker: Pick<BgpSpeaker, 'sessions' | 'updatesTotal'>): void {
  const gauge = (name: string, help: string, value: (s: BgpSessionStats) => number): void => {
    new Gauge<'peer'>({
      name,
      help,
      labelNames: ['peer'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of speaker.sessions()) this.set({ peer: s.label }, value(s.stats));
      },
    });
  };
  gauge('metallb_bgp_session_up', 'BGP session state (1 is up, 0 is down)', (s) => (s.up ? 1 : 0));
  gauge(
    'metallb_bgp_announced_prefixes_total',
    'Number of prefixes currently being advertised on the BGP session',
    (s) => s.announcedPrefixes,
  );
  gauge(
    'metallb_bgp_pending_prefixes_total',
    'Number of prefixes that should be advertised on the BGP session',
    (s) => s.pendingPrefixes,
  );
  new Counter<'peer'>({
    name: 'metallb_bgp_updates_total',
    help: 'Number of BGP UPDATE messages sent',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of speaker.sessions()) this.inc({ peer: s.label }, speaker.updatesTotal(s.label));
    },
  });
}
