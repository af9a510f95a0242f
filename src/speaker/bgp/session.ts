// The BGP session edge (issue 9 "Sessions"): owns one peer's TCP connection and the RFC 4271 timers around the pure
// FSM of fsm.ts, frames the stream with the wire codec, and keeps the Adj-RIB-Out (RFC 4271 §3.2): what berth wants
// the peer to have, diffed against what this connection already sent, batched into UPDATEs (IPv4 in the classic
// NLRI field with NEXT_HOP, IPv6 in MP_REACH_NLRI, RFC 4760), replayed on every re-establish and followed by
// End-of-RIB (RFC 4724 §2). Received routes are decoded and ignored (FRR reflects our own, recipes §4.2); RFC 7606
// treat-as-withdraw / attribute-discard errors are counted and logged without a reset; a session-reset error sends
// its NOTIFICATION.
//
// MetalLB native behaviour kept (metallb-compat.md §6.2): active connect to peer:port with a 10 s dial timeout,
// optional source address, TCP MD5 (RFC 2385) set on the socket before the SYN (link/packet.ts openTcpSocket), retry
// 1 s doubling to 2 min, hold 90 s by default, keepalive = hold / 3, router ID = configured, else the local IPv4 of
// the connection, else an IPv4 on the interface of the local IPv6, else CRC32 of the node name; ORIGIN IGP, AS_PATH
// empty for iBGP and [localASN] for eBGP, NEXT_HOP = the session's local address, LOCAL_PREF for iBGP only.
// TTL: the kernel's default (64) unless `ttl` is set (1 for single-hop eBGP, 255 for ebgpMultiHop), through the addon.
//
// Why a connection ended: what the peer said wins. A peer that sends a NOTIFICATION and closes (or resets) leaves it
// in our receive queue, and Linux hands queued data out before the reset error; but a write into the dead socket
// (EPIPE / ECONNRESET) makes Node close the handle without reading, and after a stall (SIGSTOP/SIGCONT, a blocked
// event loop) libuv runs the overdue keepalive/hold timers before it polls the socket. So before a write error, a
// socket error or a keepalive/hold timer is acted on, the bytes already queued in the kernel are read and decoded
// (#drain); the FSM then sees the NOTIFICATION first, and the error only when nothing explains it.
//
// BGP unnumbered (option `interface`, BGPPeer interface): the peer is the router whose Router Advertisements the
// kernel learned on the interface, dialled at its link-local; the session sends RAs (lifetime 0) so the router learns
// the node's link-local, and offers RFC 8950 Extended Next Hop so IPv4 routes carry the IPv6 next hop (unnumbered.ts).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import zlib from 'node:zlib';
import { EventEmitter } from 'node:events';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { realClock, type Clock } from '../../kube/clock.ts';
import { openTcpSocket } from '../link/packet.ts';
import { announceRouter, routerLinkLocal, type RouterAnnouncer } from './unnumbered.ts';
import {
  FSM_DEFAULTS,
  initialState,
  step,
  type DownReason,
  type FsmAction,
  type FsmEvent,
  type FsmState,
  type FsmStateName,
  type TimerName,
} from './fsm.ts';
import {
  Afi,
  BgpDecodeError,
  Safi,
  decode,
  encode,
  endOfRib,
  canonicalPrefix,
  frameLength,
  notificationLabel,
  notificationText,
  openAsn,
  parsePrefix,
  routeUpdates,
  withdrawUpdates,
  type AfiSafi,
  type BgpMessage,
  type CodecContext,
  type ExtendedCommunity,
  type LargeCommunity,
  type Negotiated,
  type NotificationMessage,
  type OpenMessage,
  type Prefix,
  type UpdateMessage,
} from './wire/index.ts';

/** What one advertisement carries besides the prefix (BGPAdvertisement: localPref, communities; MetalLB §6.2). */
export interface AdvertisedAttributes {
  /** Sent on iBGP sessions only (RFC 4271 §5.1.5); ignored on eBGP, as MetalLB does. */
  localPref?: number;
  /** RFC 1997 values (wire `community(hi, lo)` / `parseCommunityValue`). */
  communities?: readonly number[];
  largeCommunities?: readonly LargeCommunity[];
  extendedCommunities?: readonly ExtendedCommunity[];
  med?: number;
}

export interface BgpSessionOptions {
  /** The peer's address (BGPPeer peerAddress), IPv4 or IPv6; '' with `interface`. */
  peerAddress: string;
  /**
   * BGPPeer interface (BGP unnumbered; FRR `neighbor <if> interface`): the peer is the router that sends Router
   * Advertisements on this interface. Each connect attempt dials its link-local address as the kernel learned it
   * (unnumbered.ts routerLinkLocal; none yet: the attempt fails and backs off); the session sends RAs with Router
   * Lifetime 0 on the interface so the router learns ours, and offers the Extended Next Hop capability (RFC 8950),
   * so IPv4 routes carry the node's IPv6 next hop when the router agrees. Active only; no localAddress. A `password`
   * is set for the discovered link-local (without its zone: TCP_MD5SIG keys match the address on any interface).
   */
  interface?: string;
  /** Finds the router on `interface`, `fe80::…%<if>` (default unnumbered.ts routerLinkLocal). */
  findRouter?: (ifname: string) => string | undefined;
  /** Starts the node's Router Advertisements on `interface` (default unnumbered.ts announceRouter). */
  announceRouter?: (ifname: string) => RouterAnnouncer;
  /** BGPPeer peerPort, default 179. */
  peerPort?: number;
  /** BGPPeer sourceAddress: the local address to connect from. */
  localAddress?: string;
  /** The AS this session speaks as (OPEN, AS_PATH): BGPPeer myASN, or its localASN when set. */
  localAsn: number;
  /** BGPPeer peerASN; 0 with `dynamicAsn`. */
  peerAsn: number;
  /**
   * BGPPeer dynamicASN: accept a peer AS equal to `routerAsn` (internal) or different from it and from localAsn
   * (external); iBGP vs eBGP (AS_PATH, LOCAL_PREF) then follows the AS the peer's OPEN carries (fsm.ts peerAsMismatch).
   */
  dynamicAsn?: 'internal' | 'external';
  /** BGPPeer myASN when localAsn is its localASN (dynamicAsn compares with it); default localAsn. */
  routerAsn?: number;
  /**
   * BGPPeer vrf: SO_BINDTODEVICE on the session socket before connect (link/packet.ts openTcpSocket), so the SYN is
   * routed in that VRF's table and the source address is one of its interfaces (Linux VRF, ip-vrf(8)).
   */
  device?: string;
  /** Seconds, 0 or 3-65535, default 90 (MetalLB). */
  holdTime?: number;
  /** Seconds; default negotiated hold / 3. */
  keepaliveTime?: number;
  /** BGPPeer connectTime, ms: the active connect timeout (default 10 s, MetalLB's dial timeout). */
  connectTimeMs?: number;
  /** BGPPeer routerID; default derived per connection (see file header). */
  routerId?: string;
  /** For the CRC32 router ID fallback (MetalLB). */
  nodeName?: string;
  /** RFC 2385 key (BGPPeer password / passwordSecret); '' or undefined = none. */
  password?: string;
  /**
   * IP TTL / IPv6 hop limit of the session's packets (1-255; through the native addon, link/packet.ts setTtl):
   * 1 for a directly connected eBGP peer, 255 for ebgpMultiHop. Default: the kernel's (64), as MetalLB native.
   */
  ttl?: number;
  /** Wait for the peer to connect (hand connections in with `incoming`); never dial. */
  passive?: boolean;
  /** IPv4 next hop when the transport is IPv6 (default: an IPv4 on the interface of the local address). */
  nextHopV4?: string;
  /** IPv6 next hop (default: the local address on an IPv6 transport, else a global IPv6 on the same interface). */
  nextHopV6?: string;
  /**
   * RFC 4724 Graceful Restart (BGPPeer enableGracefulRestart): advertise the capability with this Restart Time
   * (0-4095 s) and the Forwarding State bit for every family (the data plane, kube-proxy, keeps forwarding while the
   * speaker restarts), so the router keeps our routes as stale until we are back and send End-of-RIB.
   */
  gracefulRestart?: { restartTimeSec: number };
  /** Address families to negotiate (default both). */
  families?: readonly ('ipv4' | 'ipv6')[];
  /**
   * Failed connection attempts in a row after which the log says so at warn (once; default 5). The first failure and
   * each change of error are logged at info, the repeats at debug.
   */
  warnAfterAttempts?: number;
  /** Retry backoff start / cap, ms (default 1 s / 2 min). */
  backoffMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  log: Logger;
  /** Opens the (unconnected) socket for an active connect; default net.Socket, or openTcpSocket with the MD5 key / TTL. */
  openSocket?: (o: {
    family: 4 | 6;
    password?: string;
    ttl?: number;
    peerAddress: string;
    device?: string;
  }) => net.Socket;
}

/** Counters for MetalLB's metallb_bgp_* metrics (§7) and for tests. */
export interface BgpSessionStats {
  state: FsmStateName;
  /** metallb_bgp_session_up. */
  up: boolean;
  /** metallb_bgp_updates_total: UPDATE messages sent. */
  updatesSent: number;
  updatesReceived: number;
  /** RFC 7606 non-fatal errors in received UPDATEs, by handling ('treat-as-withdraw' / 'attribute-discard'). */
  updateErrors: Map<string, number>;
  /** metallb_bgp_announced_prefixes_total: prefixes the peer currently has from us. */
  announcedPrefixes: number;
  /** metallb_bgp_pending_prefixes_total: prefixes wanted but not (yet) sent on this connection. */
  pendingPrefixes: number;
  notificationsSent: number;
  notificationsReceived: number;
  /** Times the session reached Established. */
  establishedCount: number;
  lastDown?: SessionDown;
}

/** Payload of the 'down' event (also stats().lastDown). */
export interface SessionDown {
  reason: DownReason;
  /** Human text: the detail and the NOTIFICATION (wire notificationText), for events and logs (see downText). */
  text: string;
  wasEstablished: boolean;
  /**
   * On a failed attempt (not Established before, not a stop): how many attempts in a row have failed, this one
   * included (1 for the first failure; reset by Established).
   */
  attempt?: number;
  notification?: { direction: 'sent' | 'received'; message: NotificationMessage };
}

/** Payload of the 'established' event. */
export interface SessionUp {
  negotiated: Negotiated;
  /** The AS in the peer's OPEN (the configured peerASN, or the one dynamicASN accepted). */
  peerAsn: number;
  peerRouterId: string;
  localAddress: string;
  routerId: string;
}

interface Connection {
  socket: net.Socket;
  id: number;
  buf: Buffer;
  localAddress?: string;
  failed: boolean;
  /** The first socket error (write/read), reported at 'close' unless a NOTIFICATION explained the end first. */
  error?: string;
  /** socket.write callback: drains what the peer sent before a write error destroys the handle. */
  onWrite: (err?: Error | null) => void;
}

/**
 * One BGP session. Events: 'established' (SessionUp), 'down' (SessionDown), 'state' (FsmStateName).
 * `start()` begins connecting (or waiting, passive); `announce` / `withdraw` edit the Adj-RIB-Out at any time;
 * `stop()` sends Cease/Administrative Shutdown and resolves once the socket is closed.
 */
export class BgpSession extends EventEmitter {
  /** The peer's address; with `interface`, '' until a router was found, then its `fe80::…%<if>`. */
  get peerAddress(): string {
    return this.#peerAddress;
  }
  #peerAddress: string;
  /** BGP unnumbered: the node's Router Advertisements while started. */
  #announcer: RouterAnnouncer | undefined;
  /** The last error starting the announcer (logged once). */
  #announcerError: string | undefined;
  /** RFC 8950 Extended Next Hop for IPv4 unicast negotiated on this connection (both OPENs carry it). */
  #extendedNextHop = false;
  readonly #o: BgpSessionOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #state: FsmState;
  #conn: Connection | undefined;
  #connSeq = 0;
  readonly #timers = new Map<TimerName, AbortController>();
  #queue: FsmEvent[] = [];
  #dispatching = false;
  #ctx: CodecContext = { fourOctetAs: false };
  #families: AfiSafi[] = [];
  /**
   * The Adj-RIB-Out: prefix text → its attributes (one object per attribute set: the speaker shares them; their key is
   * memoised by attrsKey). Prefix objects are parsed again when sent: nothing else is kept per prefix (issue 9 RSS).
   */
  readonly #rib = new Map<string, AdvertisedAttributes>();
  /**
   * What the peer has for the prefixes that may differ from the Adj-RIB-Out: prefix → the attributes last sent for it
   * (null: nothing sent). A prefix not in it has exactly its #rib entry at the peer (or nothing, not in #rib) — unless
   * #peerEmpty. One map of the changes instead of a second 10,000-entry map of what was sent, per session (issue 9 RSS).
   */
  readonly #pending = new Map<string, AdvertisedAttributes | null>();
  /** The peer has nothing of ours (no connection since, or never Established): the whole #rib is to be sent. */
  #peerEmpty = true;
  #flushScheduled = false;
  #routerId = '';
  /** The peer's AS: configured, or (dynamicAsn) the one of the current connection's OPEN once Established. */
  #peerAsn: number;
  /** Attempts failed in a row since the start or the last Established (SessionDown.attempt). */
  #failedAttempts = 0;
  /** The text of the last failed attempt (the log says when the error changes). */
  #lastFailure: string | undefined;
  readonly #warnAfterAttempts: number;
  readonly #stats: Omit<BgpSessionStats, 'state' | 'up' | 'announcedPrefixes' | 'pendingPrefixes'> = {
    updatesSent: 0,
    updatesReceived: 0,
    updateErrors: new Map(),
    notificationsSent: 0,
    notificationsReceived: 0,
    establishedCount: 0,
  };
  #noNextHopLogged = new Set<number>();

  /** Throws RangeError/TypeError naming a bad option (address, ASN, hold time, port). */
  constructor(o: BgpSessionOptions) {
    super();
    if (o.interface !== undefined) {
      if (o.interface === '' || o.interface.length > 15 || /[\s/%:]/.test(o.interface))
        throw new TypeError(
          `interface ${JSON.stringify(o.interface)} must be an interface name (1-15 characters)`,
        );
      if (o.peerAddress !== '')
        throw new TypeError(
          `peerAddress ${JSON.stringify(o.peerAddress)} and interface ${JSON.stringify(o.interface)} are exclusive: the peer is found on the interface`,
        );
      for (const [k, v] of [
        ['localAddress', o.localAddress],
        ['passive', o.passive || undefined],
      ] as const)
        if (v !== undefined) throw new TypeError(`${k} is not supported with interface (BGP unnumbered)`);
    } else if (net.isIP(o.peerAddress) === 0)
      throw new TypeError(`peerAddress ${JSON.stringify(o.peerAddress)} is not an IP address`);
    if (o.localAddress !== undefined && net.isIP(o.localAddress) !== net.isIP(o.peerAddress))
      throw new TypeError(
        `localAddress ${JSON.stringify(o.localAddress)} is not an address of the peer's family`,
      );
    const port = o.peerPort ?? 179;
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new RangeError(`peerPort ${port} must be 1-65535`);
    if (o.ttl !== undefined && (!Number.isInteger(o.ttl) || o.ttl < 1 || o.ttl > 255))
      throw new RangeError(`ttl ${o.ttl} must be an integer 1-255`);
    const rt = o.gracefulRestart?.restartTimeSec;
    if (rt !== undefined && (!Number.isInteger(rt) || rt < 0 || rt > 4095))
      throw new RangeError(`gracefulRestart.restartTimeSec ${rt} must be an integer 0-4095 (RFC 4724 §3)`);
    if (o.device !== undefined && (o.device === '' || o.device.length > 15 || /[\s/]/.test(o.device)))
      throw new TypeError(
        `device ${JSON.stringify(o.device)} must be an interface or VRF name (1-15 characters)`,
      );
    if (o.routerId !== undefined && !ipaddr.IPv4.isValidFourPartDecimal(o.routerId))
      throw new TypeError(`routerId ${JSON.stringify(o.routerId)} must be a dotted-quad IPv4 address`);
    const warnAfter = o.warnAfterAttempts ?? 5;
    if (!Number.isInteger(warnAfter) || warnAfter < 1)
      throw new RangeError(`warnAfterAttempts ${warnAfter} must be an integer of at least 1`);
    this.#warnAfterAttempts = warnAfter;
    this.#peerAddress = o.interface !== undefined ? '' : ipaddr.parse(o.peerAddress).toString();
    this.#o = o;
    this.#clock = o.clock ?? realClock;
    this.#log = o.log.child({
      peer: o.interface !== undefined ? `interface ${o.interface}` : this.peerAddress,
    });
    this.#peerAsn = o.peerAsn;
    const fams = o.families ?? ['ipv4', 'ipv6'];
    this.#state = initialState({
      localAsn: o.localAsn,
      peerAsn: o.peerAsn,
      ...(o.dynamicAsn !== undefined ? { dynamicAsn: o.dynamicAsn } : {}),
      ...(o.routerAsn !== undefined ? { routerAsn: o.routerAsn } : {}),
      holdTime: o.holdTime ?? 90,
      ...(o.keepaliveTime !== undefined ? { keepaliveTime: o.keepaliveTime } : {}),
      connectRetryMs: o.connectTimeMs ?? FSM_DEFAULTS.connectRetryMs,
      backoffMs: o.backoffMs ?? FSM_DEFAULTS.backoffMs,
      maxBackoffMs: o.maxBackoffMs ?? FSM_DEFAULTS.maxBackoffMs,
      openHoldMs: FSM_DEFAULTS.openHoldMs,
      passive: o.passive ?? false,
      capabilities: [
        ...(fams.includes('ipv4')
          ? [{ type: 'multiprotocol' as const, afi: Afi.IPv4, safi: Safi.Unicast }]
          : []),
        ...(fams.includes('ipv6')
          ? [{ type: 'multiprotocol' as const, afi: Afi.IPv6, safi: Safi.Unicast }]
          : []),
        { type: 'route-refresh' as const },
        ...(o.interface !== undefined && fams.includes('ipv4')
          ? [
              {
                type: 'unknown' as const,
                code: CAPABILITY_EXTENDED_NEXT_HOP,
                value: ENH_IPV4_UNICAST_OVER_IPV6,
              },
            ]
          : []),
        ...(o.gracefulRestart
          ? [
              {
                type: 'graceful-restart' as const,
                restartState: false,
                notification: false,
                restartTime: o.gracefulRestart.restartTimeSec,
                families: [
                  ...(fams.includes('ipv4')
                    ? [{ afi: Afi.IPv4, safi: Safi.Unicast, forwardingState: true }]
                    : []),
                  ...(fams.includes('ipv6')
                    ? [{ afi: Afi.IPv6, safi: Safi.Unicast, forwardingState: true }]
                    : []),
                ],
              },
            ]
          : []),
      ],
    });
  }

  /** The FSM state name (RFC 4271 §8.2.2). */
  get state(): FsmStateName {
    return this.#state.name;
  }

  /** Starts the session (ManualStart): connects, or waits for `incoming` when passive. */
  start(): void {
    this.#startAnnouncer();
    this.#dispatch({ type: 'ManualStart' });
  }

  /**
   * Unnumbered: starts the node's Router Advertisements on the interface unless they run. Called by start() and again
   * before each connect attempt, so a failure (the addon not loadable yet, no CAP_NET_RAW, the link not there yet) is
   * retried with the session's backoff instead of leaving the router unable to learn the node; logged once per error.
   */
  #startAnnouncer(): void {
    const ifname = this.#o.interface;
    if (ifname !== undefined && !this.#announcer) {
      try {
        let last = '';
        this.#announcer = this.#o.announceRouter
          ? this.#o.announceRouter(ifname)
          : announceRouter(ifname, {
              onError: (err) => {
                // Once per distinct error (a down link fails every interval).
                if (err.message === last) return;
                last = err.message;
                this.#log.warn({ err }, `sending a Router Advertisement on ${ifname} failed`);
              },
            });
        this.#announcerError = undefined;
      } catch (err) {
        const message = (err as Error).message;
        if (message === this.#announcerError) return;
        this.#announcerError = message;
        this.#log.error(
          { err },
          `cannot send Router Advertisements on ${ifname}: the router may not learn this node's link-local address (retried at each connect attempt)`,
        );
      }
    }
  }

  /**
   * Stops the session (ManualStop): a Cease NOTIFICATION when connected — `subcode` (default Administrative
   * Shutdown; e.g. CeaseSubcode.PeerDeconfigured, BfdDown) with `text` as the RFC 9003 Shutdown Communication for
   * subcodes 2 and 4 — and no retry until start(). A NOTIFICATION the peer sent before (already queued on the socket)
   * is decoded first and is then the 'down' reason. Resolves once the socket is closed.
   * `opts.gracefulRestart`: when this session advertises Graceful Restart (`gracefulRestart` option), the connection
   * is closed without a NOTIFICATION instead, so the peer keeps the routes as stale while the speaker restarts
   * (RFC 4724 §4; a Cease would end them at once); without the capability the Cease is sent as usual.
   */
  async stop(text?: string, subcode?: number, opts: { gracefulRestart?: boolean } = {}): Promise<void> {
    const sock = this.#conn?.socket;
    // A NOTIFICATION the peer already sent is why the session ended (e.g. BFD down after a stall): report it.
    if (this.#conn) this.#drain(this.#conn);
    this.#announcer?.close();
    this.#announcer = undefined;
    this.#dispatch({
      type: 'ManualStop',
      ...(text !== undefined ? { text } : {}),
      ...(subcode !== undefined ? { subcode } : {}),
      ...(opts.gracefulRestart && this.#o.gracefulRestart ? { notify: false } : {}),
    });
    if (sock && !sock.destroyed) await new Promise<void>((r) => sock.once('close', () => r()));
  }

  /** Passive mode: a connection accepted by the speaker's listener for this peer. Refused unless waiting (Active). */
  incoming(socket: net.Socket): void {
    if (this.#state.name !== 'Active' || this.#conn) {
      socket.destroy();
      return;
    }
    this.#attach(socket);
    this.#connected();
  }

  /**
   * Adds or changes the route for `prefix` (`198.51.100.10/32`, `2001:db8::10/128`) in the Adj-RIB-Out; sent on the
   * next turn of the event loop (batched with other changes), and on every re-establish. Throws RangeError naming a
   * bad prefix.
   */
  announce(prefix: string, attrs: AdvertisedAttributes = {}): void {
    // The caller's text when it is canonical (the planner's key string, shared rather than copied).
    const k = canonicalPrefix(prefix);
    this.#markDirty(k);
    this.#rib.set(k, attrs);
  }

  /** Removes `prefix` from the Adj-RIB-Out (withdrawn on the next turn when the peer has it). */
  withdraw(prefix: string): void {
    const k = canonicalPrefix(prefix);
    if (!this.#rib.has(k)) return;
    this.#markDirty(k);
    this.#rib.delete(k);
  }

  /**
   * Sends now what announce/withdraw changed since the last flush (otherwise sent on the next turn of the event loop):
   * the speaker calls it once it has applied a whole plan, so the UPDATEs reach the socket before the rest of its
   * work on that event (layer-2 plan, status writes). No-op unless Established or when nothing changed.
   */
  flush(): void {
    this.#flush();
  }

  /** The prefixes in the Adj-RIB-Out, `prefix/len` strings. */
  advertised(): string[] {
    return [...this.#rib.keys()];
  }

  stats(): BgpSessionStats {
    let pending = this.#peerEmpty ? this.#rib.size : 0;
    let announced = this.#peerEmpty ? 0 : this.#rib.size;
    if (!this.#peerEmpty) {
      for (const [k, was] of this.#pending) {
        const a = this.#rib.get(k);
        if (a !== undefined) announced--;
        if (was !== null) announced++;
        if (a !== undefined && (was === null || (was !== a && attrsKey(was) !== attrsKey(a)))) pending++;
      }
    }
    return {
      ...this.#stats,
      updateErrors: new Map(this.#stats.updateErrors),
      state: this.#state.name,
      up: this.#state.name === 'Established',
      announcedPrefixes: announced,
      pendingPrefixes: pending,
    };
  }

  // ---- FSM plumbing ----

  #dispatch(e: FsmEvent): void {
    this.#queue.push(e);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let ev = this.#queue.shift(); ev; ev = this.#queue.shift()) {
        const before = this.#state.name;
        const r = step(this.#state, ev);
        this.#state = r.state;
        for (const a of r.actions) this.#perform(a);
        if (r.state.name !== before) this.emit('state', r.state.name);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #perform(a: FsmAction): void {
    switch (a.type) {
      case 'connect':
        this.#connect();
        return;
      case 'close':
        this.#close();
        return;
      case 'send':
        if (a.message.type === 'notification') this.#stats.notificationsSent++;
        this.#send(a.message as BgpMessage);
        return;
      case 'startTimer':
        this.#startTimer(a.timer, a.ms);
        return;
      case 'stopTimer':
        this.#timers.get(a.timer)?.abort();
        this.#timers.delete(a.timer);
        return;
      case 'established':
        this.#established(a.negotiated, a.peerOpen);
        return;
      case 'update':
        this.#received(a.message);
        return;
      case 'refresh':
        if (a.message.subtype === 0 && a.message.safi === Safi.Unicast && this.#familyUp(a.message.afi)) {
          // The requested <AFI, SAFI> again, as if none of it had been sent (withdraws still pending are kept); a
          // family not negotiated is ignored (RFC 2918 §4).
          const v6 = a.message.afi === Afi.IPv6;
          if (!this.#peerEmpty) for (const k of this.#rib.keys()) if (k.includes(':') === v6) this.#pending.set(k, null);
        }
        this.#flush();
        return;
      case 'down':
        this.#down(a);
        return;
    }
  }

  #startTimer(timer: TimerName, ms: number): void {
    this.#timers.get(timer)?.abort();
    const ac = new AbortController();
    this.#timers.set(timer, ac);
    const event: FsmEvent['type'] =
      timer === 'hold'
        ? 'HoldTimerExpires'
        : timer === 'keepalive'
          ? 'KeepaliveTimerExpires'
          : timer === 'idleHold'
            ? 'IdleHoldTimerExpires'
            : 'ConnectRetryTimerExpires';
    void this.#clock.sleep(ms, ac.signal).then(() => {
      if (ac.signal.aborted || this.#timers.get(timer) !== ac) return;
      // A stalled loop runs overdue timers before it reads the socket: take what the peer sent first (a NOTIFICATION
      // or a KEEPALIVE that restarts this very timer).
      if ((timer === 'hold' || timer === 'keepalive') && this.#conn) this.#drain(this.#conn);
      if (ac.signal.aborted || this.#timers.get(timer) !== ac) return;
      this.#timers.delete(timer);
      this.#dispatch({ type: event } as FsmEvent);
    });
  }

  // ---- TCP ----

  #connect(): void {
    const ifname = this.#o.interface;
    if (ifname !== undefined) {
      this.#startAnnouncer();
      const router = (this.#o.findRouter ?? routerLinkLocal)(ifname);
      if (!router) {
        queueMicrotask(() =>
          this.#dispatch({
            type: 'TcpConnectionFails',
            error: `no Router Advertisement seen on ${ifname} yet: the router's link-local address is unknown`,
          }),
        );
        return;
      }
      this.#peerAddress = router;
    }
    const family = net.isIP(this.peerAddress.split('%')[0]!) === 6 ? 6 : 4;
    let socket: net.Socket;
    try {
      const password = this.#o.password ? this.#o.password : undefined;
      const ttl = this.#o.ttl;
      const device = this.#o.device;
      socket = this.#o.openSocket
        ? this.#o.openSocket({
            family,
            peerAddress: this.peerAddress,
            ...(password ? { password } : {}),
            ...(ttl !== undefined ? { ttl } : {}),
            ...(device !== undefined ? { device } : {}),
          })
        : password || ttl !== undefined || device !== undefined
          ? openTcpSocket({
              family,
              // The key is matched on the address alone: a link-local's zone (unnumbered) is not part of it.
              ...(password
                ? { md5: { peer: { address: this.peerAddress.split('%')[0]! }, key: password } }
                : {}),
              ...(ttl !== undefined ? { ttl } : {}),
              ...(device !== undefined ? { device } : {}),
            })
          : new net.Socket();
    } catch (err) {
      this.#log.error({ err }, 'cannot open the BGP socket');
      queueMicrotask(() => this.#dispatch({ type: 'TcpConnectionFails', error: (err as Error).message }));
      return;
    }
    const conn = this.#attach(socket);
    socket.once('connect', () => {
      if (this.#conn === conn) this.#connected();
    });
    socket.connect({
      port: this.#o.peerPort ?? 179,
      host: this.peerAddress,
      ...(this.#o.localAddress !== undefined ? { localAddress: this.#o.localAddress } : {}),
    });
  }

  #attach(socket: net.Socket): Connection {
    const conn: Connection = {
      socket,
      id: ++this.#connSeq,
      buf: Buffer.alloc(0),
      failed: false,
      // Node calls a failed write's callback before it destroys the socket: the handle is still open here.
      onWrite: (err) => {
        if (!err) return;
        conn.error ??= err.message;
        this.#drain(conn);
      },
    };
    this.#conn = conn;
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      conn.error ??= err.message;
    });
    // The reason is chosen at 'close', once every byte delivered before it has been decoded.
    socket.on('close', () => {
      if (conn.failed) return;
      conn.failed = true;
      if (this.#conn === conn)
        this.#dispatch({
          type: 'TcpConnectionFails',
          error: conn.error ?? 'the peer closed the TCP connection',
        });
    });
    socket.on('data', (d: Buffer) => this.#data(conn, d));
    return conn;
  }

  /**
   * Decodes what the peer sent that Node has not delivered yet: the socket's readable buffer, then the kernel's
   * receive queue, read with non-blocking read(2) on the socket's descriptor until EAGAIN, end of stream or an error
   * (Linux returns queued data before a reset's ECONNRESET). A no-op once the handle is closed.
   */
  #drain(conn: Connection): void {
    if (this.#conn !== conn || conn.failed) return;
    const s = conn.socket;
    // read() hands buffered chunks to the 'data' listener (#data) itself.
    while (s.readableLength > 0 && this.#conn === conn && s.read() !== null);
    const fd = (s as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    // Bounded: a peer streaming faster than we decode cannot keep us here.
    for (let i = 0; i < 64 && this.#conn === conn && !conn.failed; i++) {
      let n: number;
      try {
        n = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch {
        return; // EAGAIN (nothing queued) or the connection's error, which 'error'/'close' report
      }
      if (n <= 0) return;
      this.#data(conn, Buffer.from(chunk.subarray(0, n)));
    }
  }

  #connected(): void {
    const conn = this.#conn!;
    // Without the zone (%<if>) of a link-local: the address goes into next hops and the router ID rule.
    const local = conn.socket.localAddress
      ? ipaddr.process(conn.socket.localAddress.split('%')[0]!).toString()
      : '';
    conn.localAddress = local;
    this.#routerId = this.#o.routerId ?? routerIdFor(local, this.#o.nodeName ?? os.hostname());
    this.#dispatch({ type: 'TcpConnectionConfirmed', routerId: this.#routerId });
  }

  #close(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#pending.clear();
    this.#peerEmpty = true;
    this.#ctx = { fourOctetAs: false };
    this.#families = [];
    this.#extendedNextHop = false;
    if (!conn) return;
    conn.failed = true;
    const s = conn.socket;
    if (s.destroyed) return;
    // Let a NOTIFICATION written just before go out, then make sure the socket goes away.
    s.end();
    setTimeout(() => s.destroy(), 1000).unref();
  }

  #send(m: BgpMessage): void {
    const conn = this.#conn;
    const s = conn?.socket;
    if (!conn || !s || s.destroyed || !s.writable) return;
    s.write(encode(m, this.#ctx), conn.onWrite);
  }

  #data(conn: Connection, d: Buffer): void {
    if (this.#conn !== conn) return;
    conn.buf = conn.buf.length ? Buffer.concat([conn.buf, d]) : d;
    // One message at a time: the codec context changes once the OPENs are exchanged.
    while (this.#conn === conn) {
      let m: BgpMessage;
      try {
        const len = frameLength(conn.buf, 0, this.#ctx);
        if (len === undefined || conn.buf.length < len) return;
        m = decode(conn.buf, this.#ctx, 0).value;
        conn.buf = conn.buf.subarray(len);
      } catch (err) {
        conn.buf = Buffer.alloc(0);
        if (err instanceof BgpDecodeError) {
          this.#dispatch({
            type: 'DecodeError',
            error: {
              code: err.code,
              subcode: err.subcode,
              data: err.data,
              message: `${err.label}: ${err.message}`,
            },
          });
        } else {
          this.#log.error({ err }, 'BGP decoder failed unexpectedly; resetting the session');
          this.#dispatch({ type: 'TcpConnectionFails', error: String(err) });
        }
        return;
      }
      this.#dispatch(messageEvent(m));
    }
  }

  // ---- session life ----

  #established(n: Negotiated, peerOpen: OpenMessage): void {
    const peerRouterId = peerOpen.bgpIdentifier;
    this.#peerAsn = openAsn(peerOpen);
    this.#ctx = { fourOctetAs: n.fourOctetAs, ibgp: this.#o.localAsn === this.#peerAsn };
    this.#families = n.families;
    this.#extendedNextHop =
      this.#o.interface !== undefined &&
      peerOpen.capabilities.some(
        (c) => c.type === 'unknown' && c.code === CAPABILITY_EXTENDED_NEXT_HOP && hasEnhIpv4Unicast(c.value),
      );
    // A peer that sent no Multiprotocol capability speaks IPv4 unicast only (RFC 4760 §8, what BIRD/FRR assume);
    // wire negotiate() intersects the lists, which would leave nothing to send.
    const peerMp = peerOpen.capabilities.some((c) => c.type === 'multiprotocol');
    const weV4 = (this.#o.families ?? ['ipv4', 'ipv6']).includes('ipv4');
    if (!peerMp && weV4 && !this.#families.some((f) => f.afi === Afi.IPv4 && f.safi === Safi.Unicast))
      this.#families = [{ afi: Afi.IPv4, safi: Safi.Unicast }];
    this.#stats.establishedCount++;
    this.#failedAttempts = 0;
    this.#lastFailure = undefined;
    const up: SessionUp = {
      negotiated: n,
      peerAsn: this.#peerAsn,
      peerRouterId,
      localAddress: this.#conn?.localAddress ?? '',
      routerId: this.#routerId,
    };
    this.#log.info(
      {
        holdTime: n.holdTime,
        routerId: this.#routerId,
        peerRouterId,
        peerAsn: this.#peerAsn,
        families: n.families.map((f) => `${f.afi}/${f.safi}`),
      },
      'BGP session established',
    );
    // A new connection's peer has nothing of ours: the flush sends the whole Adj-RIB-Out (no withdraws).
    this.#pending.clear();
    this.#peerEmpty = true;
    // The whole Adj-RIB-Out and the End-of-RIB markers in one writev.
    const sock = this.#conn?.socket;
    sock?.cork();
    try {
      this.#flush();
      for (const f of this.#families) this.#sendUpdate(endOfRib(f.afi, f.safi));
    } finally {
      sock?.uncork();
    }
    this.emit('established', up);
  }

  #down(a: Extract<FsmAction, { type: 'down' }>): void {
    if (a.notification?.direction === 'received') this.#stats.notificationsReceived++;
    const text = downText(a.detail, a.notification?.message);
    // An attempt that failed (not a stop): counted until the next Established, for the log and the 'down' payload.
    const failed = !a.wasEstablished && a.reason !== 'manual-stop';
    if (!failed) this.#failedAttempts = 0;
    else this.#failedAttempts++;
    const d: SessionDown = {
      reason: a.reason,
      text,
      wasEstablished: a.wasEstablished,
      ...(failed ? { attempt: this.#failedAttempts } : {}),
      ...(a.notification ? { notification: a.notification } : {}),
    };
    this.#stats.lastDown = d;
    if (a.wasEstablished) this.#log.warn({ reason: a.reason }, `BGP session down: ${text}`);
    else if (!failed) this.#log.debug({ reason: a.reason }, `BGP connection attempt stopped: ${text}`);
    else this.#logFailedAttempt(a.reason, text);
    if (!failed) this.#lastFailure = undefined;
    this.emit('down', d);
  }

  /**
   * A failed attempt in the log: info for the first one and whenever the error changes, warn once when
   * `warnAfterAttempts` attempts in a row have failed, debug for the repeats in between (the backoff grows to
   * maxBackoffMs, so a dead peer logs little).
   */
  #logFailedAttempt(reason: DownReason, text: string): void {
    const n = this.#failedAttempts;
    const changed = this.#lastFailure !== text;
    this.#lastFailure = text;
    const fields = { reason, attempt: n };
    if (n === this.#warnAfterAttempts)
      this.#log.warn(fields, `BGP session not established after ${n} attempts: ${text}`);
    else if (n === 1 || changed)
      this.#log.info(
        fields,
        `BGP connection attempt failed${n > 1 ? ` (attempt ${n}, new error)` : ''}: ${text}`,
      );
    else this.#log.debug(fields, `BGP connection attempt ${n} failed: ${text}`);
  }

  #received(u: UpdateMessage): void {
    this.#stats.updatesReceived++;
    for (const e of u.errors ?? []) {
      this.#stats.updateErrors.set(e.handling, (this.#stats.updateErrors.get(e.handling) ?? 0) + 1);
      this.#log.warn(
        { handling: e.handling, error: e.label },
        `malformed UPDATE from the peer (RFC 7606 ${e.handling}): ${e.message}`,
      );
    }
    // Received routes are not used (berth only announces): nothing else to do.
  }

  /** Before `k`'s #rib entry changes: remembers what the peer has for it (its current entry, once sent). */
  #markDirty(k: string): void {
    if (this.#peerEmpty) return;
    if (!this.#pending.has(k)) this.#pending.set(k, this.#rib.get(k) ?? null);
    if (this.#flushScheduled || this.#state.name !== 'Established') return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #familyUp(afi: number): boolean {
    return this.#families.some((f) => f.afi === afi && f.safi === Safi.Unicast);
  }

  /** Sends what changed in the Adj-RIB-Out since the last flush, grouped by family and attributes. */
  #flush(): void {
    if (this.#state.name !== 'Established' || (!this.#peerEmpty && this.#pending.size === 0)) return;
    /** Groups by `<afi> <attrsKey>`: attribute sets equal in value share one UPDATE stream. */
    const announce = new Map<string, AnnounceGroup>();
    /** The same groups by attributes object (per AFI): one lookup per prefix, no key string built per prefix. */
    const byAttrs = [new Map<AdvertisedAttributes, AnnounceGroup>(), new Map<AdvertisedAttributes, AnnounceGroup>()];
    const withdraw = new Map<number, { prefixes: Prefix[]; keys: string[] }>();
    const keep: Array<[string, AdvertisedAttributes | null]> = [];
    const up4 = this.#familyUp(Afi.IPv4);
    const up6 = this.#familyUp(Afi.IPv6);
    const all = this.#peerEmpty;
    for (const k of all ? this.#rib.keys() : this.#pending.keys()) {
      const was = all ? null : this.#pending.get(k)!;
      const attrs = this.#rib.get(k);
      const v6 = k.includes(':');
      const afi = v6 ? Afi.IPv6 : Afi.IPv4;
      if (!(v6 ? up6 : up4)) {
        keep.push([k, was]);
        continue;
      }
      if (attrs) {
        const objs = byAttrs[v6 ? 1 : 0]!;
        let b = objs.get(attrs);
        if (!b) {
          const key = attrsKey(attrs);
          const g = `${afi} ${key}`;
          b = announce.get(g);
          if (!b) announce.set(g, (b = { afi, attrs, key, prefixes: [], keys: [], was: [] }));
          objs.set(attrs, b);
        }
        if (was !== null && (was === attrs || attrsKey(was) === b.key)) continue;
        b.prefixes.push(parsePrefix(k));
        b.keys.push(k);
        b.was.push(was);
      } else if (was !== null) {
        let w = withdraw.get(afi);
        if (!w) withdraw.set(afi, (w = { prefixes: [], keys: [] }));
        w.prefixes.push(parsePrefix(k));
        w.keys.push(k);
      }
    }
    // From here the peer has #rib, but for what is kept (family not negotiated) or not sendable (no next hop).
    this.#pending.clear();
    this.#peerEmpty = false;
    for (const [k, was] of keep) this.#pending.set(k, was);
    // Every UPDATE of this flush in one writev (net.Socket cork/uncork), not one write(2) and segment each.
    const sock = this.#conn?.socket;
    sock?.cork();
    try {
      this.#sendRoutes(withdraw, announce);
    } finally {
      sock?.uncork();
    }
  }

  #sendRoutes(
    withdraw: ReadonlyMap<number, { prefixes: Prefix[]; keys: string[] }>,
    announce: ReadonlyMap<string, AnnounceGroup>,
  ): void {
    for (const w of withdraw.values()) {
      for (const u of withdrawUpdates(w.prefixes, this.#ctx)) this.#sendUpdate(u);
    }
    for (const b of announce.values()) {
      const nextHop = this.#nextHop(b.afi);
      if (!nextHop) {
        if (!this.#noNextHopLogged.has(b.afi)) {
          this.#noNextHopLogged.add(b.afi);
          this.#log.warn(
            { afi: b.afi },
            `no IPv${b.afi === Afi.IPv6 ? 6 : 4} next hop for this session (set nextHopV${b.afi === Afi.IPv6 ? 6 : 4}): prefixes stay pending`,
          );
        }
        b.keys.forEach((k, i) => this.#pending.set(k, b.was[i]!));
        continue;
      }
      const ibgp = this.#o.localAsn === this.#peerAsn;
      const updates = routeUpdates(
        b.prefixes,
        {
          asPath: ibgp ? [] : [this.#o.localAsn],
          nextHop,
          ...(b.attrs.med !== undefined ? { med: b.attrs.med } : {}),
          ...(ibgp && b.attrs.localPref !== undefined ? { localPref: b.attrs.localPref } : {}),
          ...(b.attrs.communities?.length ? { communities: b.attrs.communities } : {}),
          ...(b.attrs.largeCommunities?.length ? { largeCommunities: b.attrs.largeCommunities } : {}),
          ...(b.attrs.extendedCommunities?.length
            ? { extendedCommunities: b.attrs.extendedCommunities }
            : {}),
        },
        this.#ctx,
      );
      for (const u of updates) this.#sendUpdate(u);
    }
  }

  #sendUpdate(u: UpdateMessage): void {
    this.#stats.updatesSent++;
    this.#send(u);
  }

  /** The next hop for `afi`: configured, else the local address of the connection or one on the same interface. */
  #nextHop(afi: number): string | undefined {
    const configured = afi === Afi.IPv6 ? this.#o.nextHopV6 : this.#o.nextHopV4;
    if (configured) return configured;
    // RFC 8950, BGP unnumbered: IPv4 routes with the IPv6 next hop once Extended Next Hop is negotiated; an IPv4
    // address the node may have on the interface is in no subnet the router shares.
    if (afi === Afi.IPv4 && this.#extendedNextHop) return this.#nextHop(Afi.IPv6);
    const local = this.#conn?.localAddress;
    if (!local) return undefined;
    const want = afi === Afi.IPv6 ? 6 : 4;
    if (net.isIP(local) === want) return local;
    return sameInterfaceAddress(local, want);
  }
}

/** Prefixes of one flush sent with one attribute set (attrsKey `key`) in one family. */
interface AnnounceGroup {
  afi: number;
  attrs: AdvertisedAttributes;
  key: string;
  prefixes: Prefix[];
  keys: string[];
  /** Per key, what the peer had before (null: nothing): kept pending when the group cannot be sent. */
  was: Array<AdvertisedAttributes | null>;
}

/** RFC 8950 §4: the Extended Next Hop Encoding capability. */
const CAPABILITY_EXTENDED_NEXT_HOP = 5;
/** Its value for IPv4 unicast NLRI (AFI 1, SAFI 1 on 2 octets) with IPv6 next hops (AFI 2). */
const ENH_IPV4_UNICAST_OVER_IPV6 = Buffer.from([0, 1, 0, 1, 0, 2]);

/** Whether an Extended Next Hop capability value lists IPv4 unicast over IPv6 (6-byte tuples, RFC 8950 §4). */
function hasEnhIpv4Unicast(v: Buffer): boolean {
  for (let i = 0; i + 6 <= v.length; i += 6)
    if (v.readUInt16BE(i) === 1 && v.readUInt16BE(i + 2) === 1 && v.readUInt16BE(i + 4) === 2) return true;
  return false;
}

function messageEvent(m: BgpMessage): FsmEvent {
  switch (m.type) {
    case 'open':
      return { type: 'BGPOpen', message: m };
    case 'keepalive':
      return { type: 'KeepAliveMsg' };
    case 'update':
      return { type: 'UpdateMsg', message: m };
    case 'notification':
      return { type: 'NotifMsg', message: m };
    case 'route-refresh':
      return { type: 'RouteRefreshMsg', message: m };
  }
}

/** attrsKey per attributes object: the speaker hands one shared object to every route with the same attributes. */
const attrsKeys = new WeakMap<AdvertisedAttributes, string>();

function attrsKey(a: AdvertisedAttributes): string {
  let k = attrsKeys.get(a);
  if (k === undefined) attrsKeys.set(a, (k = attrsKeyOf(a)));
  return k;
}

function attrsKeyOf(a: AdvertisedAttributes): string {
  return JSON.stringify([
    a.localPref ?? null,
    a.med ?? null,
    [...(a.communities ?? [])].sort((x, y) => x - y),
    (a.largeCommunities ?? []).map((c) => `${c.globalAdministrator}:${c.localData1}:${c.localData2}`).sort(),
    (a.extendedCommunities ?? []).map((c) => JSON.stringify(c)).sort(),
  ]);
}

/** IPv6 ranges usable as a next hop (ipaddr.js names; 2001:db8::/32 is 'reserved' there). */
const GLOBAL_V6 = new Set(['unicast', 'reserved', 'uniqueLocal', 'rfc6052', '6to4', 'teredo']);

/**
 * An address of family `want` (4, or 6 global unicast) on the interface that holds `address`
 * (os.networkInterfaces()), or undefined.
 */
export function sameInterfaceAddress(address: string, want: 4 | 6): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    if (!addrs?.some((a) => a.address === address)) continue;
    for (const a of addrs) {
      if (want === 4 && a.family === 'IPv4') return a.address;
      if (want === 6 && a.family === 'IPv6' && GLOBAL_V6.has(ipaddr.parse(a.address).range()))
        return ipaddr.parse(a.address).toString();
    }
  }
  return undefined;
}

/**
 * MetalLB's router ID rule (§6.2) for a connection from `localAddress`: that IPv4, else an IPv4 on the same
 * interface (IPv6 transport), else the CRC32 of `nodeName` as a dotted quad (never 0.0.0.0).
 */
export function routerIdFor(localAddress: string, nodeName: string): string {
  if (net.isIPv4(localAddress)) return localAddress;
  const v4 = localAddress ? sameInterfaceAddress(localAddress, 4) : undefined;
  if (v4) return v4;
  const h = zlib.crc32(nodeName) || 1;
  return [(h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff].join('.');
}

/**
 * The text of a session end: the FSM's detail, then the NOTIFICATION (wire notificationText: code/subcode names, the
 * RFC 8203/9003 Shutdown Communication or the data) unless the detail already names it, so a stop reads
 * `stopped (Cease/OtherConfigurationChange)`, not `stopped (Cease/OtherConfigurationChange): Cease/OtherConfigurationChange`.
 * When the detail names the code/subcode and the NOTIFICATION carries more (a Shutdown Communication), that `(label)`
 * becomes `(label: "text")`.
 */
export function downText(detail: string, notification?: NotificationMessage): string {
  if (!notification) return detail;
  const full = notificationText(notification);
  const label = notificationLabel(notification.code, notification.subcode);
  if (!detail.includes(label)) return `${detail}: ${full}`;
  if (full === label || detail.includes(full)) return detail;
  return detail.includes(`(${label})`) ? detail.replace(`(${label})`, `(${full})`) : `${detail}: ${full}`;
}
