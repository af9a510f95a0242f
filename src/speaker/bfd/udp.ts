// BFD I/O edge (RFC 5881, single hop): UDP sockets and timers around the pure session machine of session.ts.
// Receives Control packets on UDP 3784, sends them from one source port in 49152-65535 per (family, local address)
// with TTL / hop limit 255, demultiplexes by Your Discriminator or by (peer, interface), and reports per peer
// 'up' / 'down' (with the RFC 5880 diag) on an EventEmitter.
//
// Received TTL (RFC 5881 §5 "MUST discard if TTL is not 255", the GTSM of RFC 5082): Node's dgram cannot read it
// (IP_RECVTTL / IPV6_RECVHOPLIMIT need recvmsg ancillary data), and IP_MINTTL / IPV6_MINHOPCOUNT do not help: Linux
// enforces them for TCP only (test/integration/link-minttl.test.ts pins it). So every BFD socket (receive, and the
// transmit sockets, which peers may answer to) gets a classic BPF socket filter (SO_ATTACH_FILTER through the native
// addon, link/packet.ts attachSocketFilter) that loads the IPv4 TTL / IPv6 Hop Limit at SKF_NET_OFF and drops every
// datagram whose value is not 255 in the kernel, before it is queued (the socket's drop counter in /proc/net/udp
// counts it). `guardTtl` replaces that (tests) or, `false`, turns it off; when the addon cannot be loaded the TTL is
// not checked and that is logged once. `checkControlPacket(buf, { ttl })` checks it when a caller knows the TTL.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { interfaceLinkLocal, routerLinkLocal } from '../bgp/unnumbered.ts';
import { attachSocketFilter, type BpfInstruction } from '../link/packet.ts';
import {
  checkControlPacket,
  diagName,
  serializeControlPacket,
  SessionState,
  stateName,
  type BfdDropReason,
} from './packet.ts';
import {
  demultiplex,
  newSession,
  peerKey,
  step,
  type BfdAction,
  type BfdEvent,
  type BfdParams,
  type BfdSession,
} from './session.ts';

/** RFC 5881 §4: single-hop Control packets go to UDP 3784. */
export const BFD_CONTROL_PORT = 3784;
/** RFC 5881 §4: the source port range. */
export const BFD_SOURCE_PORTS: readonly [number, number] = [49152, 65535];

export interface BfdPeerConfig {
  /**
   * The peer's address (IPv4 or IPv6; link-local needs `ifname`). '' with `ifname`: BGP unnumbered, the peer is the
   * router whose Router Advertisements the kernel learned on `ifname` (BfdServer `findRouter`), found at sync().
   */
  peer: string;
  /** Our source address for this session (binds the transmit socket); default: the kernel's choice. */
  local?: string;
  /** Interface the session runs over: bound with SO_BINDTODEVICE when `bindToDevice` is given, and demux key. */
  ifname?: string;
  params: BfdParams;
  /** Start in AdminDown. */
  adminDown?: boolean;
  /** The peer's UDP port (default 3784; tests running both ends on one host use others). */
  port?: number;
  /** VRF name for the `vrf` metric label (default 'default'). */
  vrf?: string;
}

export interface BfdPeerCounters {
  /** metallb_bfd_control_packet_input */
  controlPacketInput: number;
  /** metallb_bfd_control_packet_output */
  controlPacketOutput: number;
  /** metallb_bfd_session_up_events */
  sessionUpEvents: number;
  /** metallb_bfd_session_down_events */
  sessionDownEvents: number;
}

/** What one peer's session looks like now (for status, metrics and tests). Intervals in ms. */
export interface BfdPeerInfo {
  peer: string;
  ifname: string | undefined;
  state: string;
  localDiag: number;
  localDiscr: number;
  remoteDiscr: number;
  remoteState: string;
  txIntervalMs: number;
  detectionTimeMs: number;
  polling: boolean;
  counters: BfdPeerCounters;
}

/**
 * One session's handle. Events: 'up' (), 'down' ({ diag, diagName }), 'state' ({ from, to, diag }) with state names.
 */
export class BfdPeer extends EventEmitter {
  readonly peer: string;
  readonly ifname: string | undefined;
  readonly key: string;
  /** Node's address string for send(): a link-local IPv6 gets `%ifname`. */
  readonly sendAddress: string;
  readonly family: 4 | 6;
  readonly local: string | undefined;
  readonly port: number;
  readonly vrf: string;
  /** The configuration this session was added with (sync() compares against it). */
  readonly config: BfdPeerConfig;
  session: BfdSession;
  counters: BfdPeerCounters = {
    controlPacketInput: 0,
    controlPacketOutput: 0,
    sessionUpEvents: 0,
    sessionDownEvents: 0,
  };
  txTimer: NodeJS.Timeout | undefined;
  detectTimer: NodeJS.Timeout | undefined;
  /** Wall time of the last valid packet (ms, Date.now()), for measuring detection. */
  lastReceivedAt = 0;

  constructor(cfg: BfdPeerConfig, session: BfdSession, family: 4 | 6, peer: string) {
    super();
    this.peer = peer;
    this.ifname = cfg.ifname;
    this.local = cfg.local === undefined ? undefined : ipaddr.parse(cfg.local.split('%')[0]!).toString();
    this.key = peerKey(peer, cfg.ifname);
    this.family = family;
    this.port = cfg.port ?? BFD_CONTROL_PORT;
    this.vrf = cfg.vrf ?? 'default';
    this.config = { ...cfg, params: { ...cfg.params } };
    this.sendAddress = scoped(peer, cfg.ifname);
    this.session = session;
  }

  /** Current state as a name: 'AdminDown' | 'Down' | 'Init' | 'Up'. */
  get state(): string {
    return stateName(this.session.state);
  }

  info(): BfdPeerInfo {
    const s = this.session;
    return {
      peer: this.peer,
      ifname: this.ifname,
      state: stateName(s.state),
      localDiag: s.localDiag,
      localDiscr: s.localDiscr,
      remoteDiscr: s.remoteDiscr,
      remoteState: stateName(s.remoteState),
      txIntervalMs: Math.max(s.txDesiredInUseUs, s.remoteMinRxUs) / 1000,
      detectionTimeMs: (s.remoteDetectMult * Math.max(s.rxRequiredInUseUs, s.remoteDesiredMinTxUs)) / 1000,
      polling: s.polling,
      counters: { ...this.counters },
    };
  }
}

export interface BfdServerOptions {
  log: Logger;
  /** UDP port to receive on (default 3784; 0 = any, see `listen`). Tests on one host use other ports. */
  port?: number;
  /** Receive socket bind addresses (default 0.0.0.0 and ::). */
  bindAddress4?: string;
  bindAddress6?: string;
  /** Source port range (default 49152-65535, RFC 5881 §4). */
  sourcePorts?: readonly [number, number];
  /** Jitter source (default Math.random). */
  random?: () => number;
  /**
   * Kernel-side received-TTL check on each BFD socket's fd: must make the kernel drop datagrams whose TTL / hop limit
   * is not `ttl` (255). Default: the ttlFilter BPF program (attachTtlGuard); `false`: no check. Not IP_MINTTL: Linux
   * ignores it for UDP (see the file comment).
   */
  guardTtl?: ((fd: number, family: 4 | 6, ttl: number) => void) | false;
  /** SO_BINDTODEVICE on a transmit socket's fd for peers with `ifname` (src/speaker/link/packet.ts bindToDevice). */
  bindToDevice?: (fd: number, ifname: string) => void;
  /**
   * For unnumbered entries (`peer: ''`, `ifname`): the router's link-local on `ifname` (`fe80::…%<if>`) or undefined
   * while none is known, and ours (no zone). Default: bgp/unnumbered.ts routerLinkLocal / interfaceLinkLocal, as the
   * BGP session finds its peer.
   */
  findRouter?: (ifname: string) => string | undefined;
  localLinkLocal?: (ifname: string) => string | undefined;
  /** While an unnumbered entry's router is unknown, sync() is retried after this many ms (default 1000). */
  unnumberedRetryMs?: number;
}

/** The RFC 5881 §5 received TTL / hop limit. */
export const BFD_TTL = 255;

/** SKF_NET_OFF (linux/filter.h): BPF loads at this offset + n read byte n of the network (IP) header. */
const SKF_NET_OFF = -0x100000;

/**
 * A classic BPF program for a UDP socket of `family` that accepts a datagram only when its IPv4 TTL (IP header byte 8)
 * / IPv6 Hop Limit (byte 7) equals `ttl`, read at SKF_NET_OFF; everything else is dropped by the kernel. RFC 5881 §5,
 * RFC 791 §3.1, RFC 8200 §3. Throws RangeError for a ttl outside 0..255.
 */
export function ttlFilter(family: 4 | 6, ttl: number): BpfInstruction[] {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)
    throw new RangeError(`TTL ${String(ttl)} is invalid: an integer in 0..255`);
  return [
    { code: 0x30 /* BPF_LD|BPF_B|BPF_ABS */, jt: 0, jf: 0, k: (SKF_NET_OFF + (family === 4 ? 8 : 7)) >>> 0 },
    { code: 0x15 /* BPF_JMP|BPF_JEQ|BPF_K */, jt: 0, jf: 1, k: ttl },
    { code: 0x06 /* BPF_RET|BPF_K: accept */, jt: 0, jf: 0, k: 0xffffffff },
    { code: 0x06 /* BPF_RET|BPF_K: drop */, jt: 0, jf: 0, k: 0 },
  ];
}

/**
 * The default guardTtl: ttlFilter attached to a bound UDP socket's `fd`, and whatever was queued before it discarded
 * (link/packet.ts attachSocketFilter with drain). Throws LinkError, or Error when the addon cannot be loaded.
 */
export function attachTtlGuard(fd: number, family: 4 | 6, ttl: number): void {
  attachSocketFilter(fd, ttlFilter(family, ttl), { drain: true });
}

/** The fd under a bound dgram socket (Linux), or undefined when Node's internals do not expose it. */
export function dgramFd(sock: dgram.Socket): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(sock)) {
    const st = (sock as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[sym];
    const fd = st?.handle?.fd;
    if (typeof fd === 'number' && fd >= 0) return fd;
  }
  return undefined;
}

/** A bind error that passes on its own: the local address is not (yet) usable here (EADDRNOTAVAIL, e.g. DAD). */
function isTransientBindError(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if ((c as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') return true;
  }
  return false;
}

/** Node's form of an IPv6 link-local address with its interface (`fe80::1%eth0`), needed to bind or send; others as is. */
export function scoped(address: string, ifname: string | undefined): string {
  if (!ifname || !ipaddr.isValid(address)) return address;
  const a = ipaddr.parse(address);
  return a.kind() === 'ipv6' && a.range() === 'linkLocal' ? `${address}%${ifname}` : address;
}

function canonical(address: string, what: string): { ip: string; family: 4 | 6 } {
  const bare = address.split('%')[0]!;
  if (!ipaddr.isValid(bare)) throw new TypeError(`bfd: ${what} "${address}" is not an IPv4 or IPv6 address`);
  const a = ipaddr.process(bare);
  return { ip: a.toString(), family: a.kind() === 'ipv4' ? 4 : 6 };
}

/**
 * Owns the BFD sockets and every session of this process. `add` a peer to start its session; 'up'/'down' are emitted
 * on the returned BfdPeer and, with the peer as first argument, on the server. Nothing a peer sends can throw out of
 * it: bad datagrams are dropped and counted in `drops`.
 */
export class BfdServer extends EventEmitter {
  readonly #o: BfdServerOptions;
  readonly #log: Logger;
  readonly #byDiscr = new Map<number, BfdPeer>();
  readonly #byKey = new Map<string, BfdPeer>();
  readonly #rx = new Map<4 | 6, Promise<dgram.Socket>>();
  readonly #tx = new Map<string, Promise<dgram.Socket>>();
  readonly drops = new Map<BfdDropReason, number>();
  #closed = false;
  #warnedTtl = false;
  /** The last sync()'s entries, and the timer that runs it again while an unnumbered router is unknown. */
  #desired: readonly BfdPeerConfig[] = [];
  #unresolvedTimer: NodeJS.Timeout | undefined;
  /** Unnumbered interfaces → the router (and local) link-local last found there. */
  readonly #unnumbered = new Map<string, { peer: string; local?: string }>();

  constructor(o: BfdServerOptions) {
    super();
    this.#o = o;
    this.#log = o.log;
  }

  /** Binds the receive socket of `family` now (`add` does it too) and returns its UDP port. */
  async listen(family: 4 | 6): Promise<number> {
    return (await this.#rxSocket(family)).address().port;
  }

  /** Starts a session with `cfg.peer`. Throws for an invalid address/parameters or a peer already present. */
  async add(cfg: BfdPeerConfig): Promise<BfdPeer> {
    if (this.#closed) throw new Error('bfd: server closed');
    const zone = cfg.peer.split('%')[1];
    if (zone && !cfg.ifname) cfg = { ...cfg, ifname: zone }; // fe80::1%eth0 names its interface
    const { ip, family } = canonical(cfg.peer, 'peer');
    if (cfg.local !== undefined && canonical(cfg.local, 'local address').family !== family) {
      throw new TypeError(`bfd: local address "${cfg.local}" and peer "${cfg.peer}" are not the same family`);
    }
    const key = peerKey(ip, cfg.ifname);
    if (this.#byKey.has(key)) throw new Error(`bfd: a session with ${key} already exists`);
    let discr: number;
    do discr = randomInt(1, 0xffffffff);
    while (this.#byDiscr.has(discr));
    const p = new BfdPeer(
      cfg,
      newSession({ localDiscr: discr, params: cfg.params, adminDown: cfg.adminDown }),
      family,
      ip,
    );
    this.#byDiscr.set(discr, p);
    this.#byKey.set(key, p);
    try {
      await this.#rxSocket(family);
      await this.#txSocket(p);
    } catch (e) {
      this.#byDiscr.delete(discr);
      this.#byKey.delete(key);
      throw e;
    }
    this.#dispatch(p, { type: 'start' });
    return p;
  }

  /**
   * Makes the sessions match `desired` (one entry per peer + ifname, e.g. from the BGPPeers with a bfdProfile): new
   * peers are added, absent ones removed (AdminDown sent), changed parameters applied in place (a Poll Sequence when
   * Up, RFC 5880 §6.8.3), `adminDown` toggled; a changed local address, port or vrf restarts the session. An entry that
   * fails (bad address, no source port) is reported in `errors` with its message; the others still apply.
   */
  async sync(desired: readonly BfdPeerConfig[]): Promise<{ peers: BfdPeer[]; errors: string[] }> {
    const errors: string[] = [];
    const want = new Map<string, BfdPeerConfig>();
    this.#desired = desired;
    clearTimeout(this.#unresolvedTimer);
    this.#unresolvedTimer = undefined;
    const resolved = this.#resolveUnnumbered(desired);
    if (resolved.unresolved > 0 && !this.#closed) {
      // Retried until the router's RAs are seen; the sync then adds the session (or replaces it when the router moved).
      this.#unresolvedTimer = setTimeout(() => {
        this.#unresolvedTimer = undefined;
        if (!this.#closed) void this.sync(this.#desired).catch(() => undefined);
      }, this.#o.unnumberedRetryMs ?? 1000);
      this.#unresolvedTimer.unref();
    }
    for (const cfg of resolved.entries) {
      try {
        want.set(peerKey(canonical(cfg.peer, 'peer').ip, cfg.ifname ?? cfg.peer.split('%')[1]), cfg);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    for (const p of this.peers()) {
      const cfg = want.get(p.key);
      let same = false;
      try {
        same =
          cfg !== undefined &&
          (cfg.local === undefined ? undefined : canonical(cfg.local, 'local address').ip) === p.local &&
          (cfg.port ?? BFD_CONTROL_PORT) === p.port &&
          (cfg.vrf ?? 'default') === p.vrf;
      } catch (e) {
        errors.push((e as Error).message);
        want.delete(p.key);
      }
      if (!same) this.remove(p);
    }
    const peers: BfdPeer[] = [];
    let transient = false;
    for (const [key, cfg] of want) {
      const p = this.#byKey.get(key);
      try {
        if (!p) {
          peers.push(await this.add(cfg));
          continue;
        }
        const old = p.config.params;
        const n = cfg.params;
        if (
          old.transmitIntervalMs !== n.transmitIntervalMs ||
          old.receiveIntervalMs !== n.receiveIntervalMs ||
          old.detectMultiplier !== n.detectMultiplier ||
          old.passive !== n.passive
        ) {
          this.setParams(p, n);
        }
        if (cfg.adminDown === true && p.session.state !== SessionState.AdminDown) this.adminDown(p);
        if (cfg.adminDown !== true && p.session.state === SessionState.AdminDown) this.adminUp(p);
        Object.assign(p.config, { ...cfg, params: { ...n } });
        peers.push(p);
      } catch (e) {
        errors.push((e as Error).message);
        if (isTransientBindError(e)) transient = true;
      }
    }
    if (transient && !this.#closed && this.#unresolvedTimer === undefined) {
      // A local address not usable yet (an IPv6 link-local still tentative during DAD, RFC 4862 §5.4; an address being
      // added): retried like an unresolved router, so the session comes up once the address is there.
      this.#unresolvedTimer = setTimeout(() => {
        this.#unresolvedTimer = undefined;
        if (!this.#closed) void this.sync(this.#desired).catch(() => undefined);
      }, this.#o.unnumberedRetryMs ?? 1000);
      this.#unresolvedTimer.unref();
    }
    return { peers, errors };
  }

  /**
   * Unnumbered entries (`peer: ''` with `ifname`) with the router found on the interface: `peer` its link-local
   * (no zone), `local` ours when known. Entries whose router is not known yet are left out and counted (their
   * sessions, if any, stay: a router that stops sending RAs keeps its BFD session, BFD itself says whether it is up).
   */
  #resolveUnnumbered(desired: readonly BfdPeerConfig[]): { entries: BfdPeerConfig[]; unresolved: number } {
    const entries: BfdPeerConfig[] = [];
    let unresolved = 0;
    for (const cfg of desired) {
      if (cfg.peer !== '' || !cfg.ifname) {
        entries.push(cfg);
        continue;
      }
      const router = (this.#o.findRouter ?? routerLinkLocal)(cfg.ifname)?.split('%')[0];
      if (!router) {
        unresolved++;
        const kept = this.#unnumbered.get(cfg.ifname);
        if (kept) entries.push({ ...cfg, ...kept });
        continue;
      }
      const local = cfg.local ?? (this.#o.localLinkLocal ?? interfaceLinkLocal)(cfg.ifname);
      const found = { peer: router, ...(local ? { local } : {}) };
      this.#unnumbered.set(cfg.ifname, found);
      entries.push({ ...cfg, ...found });
    }
    return { entries, unresolved };
  }

  /** The session with `peer` (and `ifname`), if any. */
  get(peer: string, ifname?: string): BfdPeer | undefined {
    return this.#byKey.get(peerKey(canonical(peer, 'peer').ip, ifname));
  }

  peers(): BfdPeer[] {
    return [...this.#byKey.values()];
  }

  /** New local parameters (a BFDProfile edit): a Poll Sequence when Up (RFC 5880 §6.8.3). */
  setParams(p: BfdPeer, params: BfdParams): void {
    this.#dispatch(p, { type: 'set-params', params });
  }

  adminDown(p: BfdPeer): void {
    this.#dispatch(p, { type: 'admin-down' });
  }

  adminUp(p: BfdPeer): void {
    this.#dispatch(p, { type: 'admin-up' });
  }

  /** Ends the session: one AdminDown packet tells the peer (RFC 5880 §6.8.16), then its timers stop. */
  remove(p: BfdPeer): void {
    if (this.#byKey.get(p.key) !== p) return;
    if (p.session.state !== SessionState.AdminDown) this.#dispatch(p, { type: 'admin-down' });
    this.#stopTimers(p);
    this.#byKey.delete(p.key);
    this.#byDiscr.delete(p.session.localDiscr);
  }

  /** Stops everything; with `adminDown` each peer is told first. Idempotent. */
  async close(o: { adminDown?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    for (const p of this.peers()) {
      if (o.adminDown) this.remove(p);
      this.#stopTimers(p);
    }
    this.#closed = true;
    clearTimeout(this.#unresolvedTimer);
    this.#byKey.clear();
    this.#byDiscr.clear();
    const socks = await Promise.allSettled([...this.#rx.values(), ...this.#tx.values()]);
    // Give queued AdminDown datagrams a turn of the loop before closing.
    await new Promise((r) => setImmediate(r));
    for (const s of socks) if (s.status === 'fulfilled') s.value.close();
  }

  #stopTimers(p: BfdPeer): void {
    clearTimeout(p.txTimer);
    clearTimeout(p.detectTimer);
    p.txTimer = undefined;
    p.detectTimer = undefined;
  }

  #count(reason: BfdDropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  #rxSocket(family: 4 | 6): Promise<dgram.Socket> {
    let s = this.#rx.get(family);
    if (!s) {
      s = new Promise<dgram.Socket>((resolve, reject) => {
        const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
        sock.once('error', reject);
        sock.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
        const addr = family === 4 ? (this.#o.bindAddress4 ?? '0.0.0.0') : (this.#o.bindAddress6 ?? '::');
        sock.bind(this.#o.port ?? BFD_CONTROL_PORT, addr, () => {
          sock.off('error', reject);
          sock.on('error', (err) => this.#log.warn({ err, family }, 'bfd: receive socket error'));
          this.#guardTtl(sock, family);
          resolve(sock);
        });
      });
      this.#rx.set(family, s);
      s.catch(() => this.#rx.delete(family));
    }
    return s;
  }

  /** Attaches the received-TTL guard to a BFD socket; when it cannot, logs once that the TTL is not checked. */
  #guardTtl(sock: dgram.Socket, family: 4 | 6): void {
    const guard = this.#o.guardTtl === undefined ? attachTtlGuard : this.#o.guardTtl;
    const fd = dgramFd(sock);
    let why = guard === false ? 'guardTtl is off' : 'the dgram socket exposes no fd';
    if (guard && fd !== undefined) {
      try {
        guard(fd, family, BFD_TTL);
        return;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    if (this.#warnedTtl) return;
    this.#warnedTtl = true;
    this.#log.warn(
      { family, why },
      `bfd: received TTL not enforced (${why}); RFC 5881 §5 wants only TTL ${BFD_TTL} accepted`,
    );
  }

  #txSocket(p: BfdPeer): Promise<dgram.Socket> {
    const k = `${p.family}|${p.local ?? ''}|${p.ifname ?? ''}`;
    let s = this.#tx.get(k);
    if (!s) {
      s = this.#bindTx(p);
      this.#tx.set(k, s);
      s.catch(() => this.#tx.delete(k));
    }
    return s;
  }

  async #bindTx(p: BfdPeer): Promise<dgram.Socket> {
    const [lo, hi] = this.#o.sourcePorts ?? BFD_SOURCE_PORTS;
    let last: unknown;
    for (let attempt = 0; attempt < 32; attempt++) {
      const port = randomInt(lo, hi + 1);
      const sock = dgram.createSocket({ type: p.family === 4 ? 'udp4' : 'udp6', ipv6Only: p.family === 6 });
      try {
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(port, p.local ? scoped(p.local, p.ifname) : p.family === 4 ? '0.0.0.0' : '::', () => {
            sock.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        last = e;
        sock.close();
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw new Error(`bfd: binding a source port for ${p.peer}: ${String(e)}`, { cause: e });
      }
      sock.setTTL(BFD_TTL); // RFC 5881 §5: TTL / hop limit 255 (uv_udp_set_ttl sets IPV6_UNICAST_HOPS on udp6)
      this.#guardTtl(sock, p.family);
      sock.on('error', (err) => this.#log.warn({ err, peer: p.peer }, 'bfd: transmit socket error'));
      // Packets sent to us on the source port are Control packets too (some peers answer there).
      sock.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
      if (p.ifname && this.#o.bindToDevice) {
        const fd = dgramFd(sock);
        if (fd !== undefined) this.#o.bindToDevice(fd, p.ifname);
      }
      return sock;
    }
    throw new Error(`bfd: no free source port in ${lo}-${hi} after 32 tries`, { cause: last });
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    try {
      const r = checkControlPacket(msg);
      if (!r.ok) {
        this.#count(r.reason);
        this.#log.debug({ from: rinfo.address, reason: r.reason }, r.message);
        return;
      }
      const [addr, zone] = rinfo.address.split('%');
      const from = { address: canonical(addr!, 'source').ip, ifname: zone };
      const d = demultiplex(r.packet, from, this.#byDiscr, this.#byKey);
      if (!d.ok) {
        this.#count(d.reason);
        return;
      }
      const p = d.session;
      if (p.peer !== from.address) {
        this.#count('unknown-discriminator');
        return;
      }
      if (p.session.state === SessionState.AdminDown) this.#count('session-admin-down');
      p.counters.controlPacketInput++;
      p.lastReceivedAt = Date.now();
      this.#dispatch(p, { type: 'receive', packet: r.packet });
    } catch (err) {
      // Never let a datagram take the process down.
      this.#count('truncated');
      this.#log.warn({ err, from: rinfo.address }, 'bfd: dropped a datagram that broke the handler');
    }
  }

  #dispatch(p: BfdPeer, event: BfdEvent): void {
    if (this.#closed || this.#byKey.get(p.key) !== p) return;
    const r = step(p.session, event, { random: this.#o.random ?? Math.random });
    p.session = r.session;
    for (const a of r.actions) this.#apply(p, a);
  }

  #apply(p: BfdPeer, a: BfdAction): void {
    switch (a.type) {
      case 'send':
        this.#send(p, serializeControlPacket(a.packet));
        return;
      case 'arm-tx':
        clearTimeout(p.txTimer);
        p.txTimer = setTimeout(() => this.#dispatch(p, { type: 'tx-timer' }), a.ms);
        p.txTimer.unref();
        return;
      case 'cancel-tx':
        clearTimeout(p.txTimer);
        p.txTimer = undefined;
        return;
      case 'arm-detect':
        clearTimeout(p.detectTimer);
        if (a.ms > 0) {
          p.detectTimer = setTimeout(() => this.#dispatch(p, { type: 'detect-timer' }), a.ms);
          p.detectTimer.unref();
        }
        return;
      case 'cancel-detect':
        clearTimeout(p.detectTimer);
        p.detectTimer = undefined;
        return;
      case 'state': {
        const ev = { from: stateName(a.from), to: stateName(a.to), diag: a.diag };
        this.#log.info(
          { peer: p.peer, ifname: p.ifname, ...ev, diagName: diagName(a.diag) },
          'bfd: session state',
        );
        p.emit('state', ev);
        this.emit('state', p, ev);
        return;
      }
      case 'up':
        p.counters.sessionUpEvents++;
        p.emit('up');
        this.emit('up', p);
        return;
      case 'down': {
        p.counters.sessionDownEvents++;
        const ev = { diag: a.diag, diagName: diagName(a.diag) };
        p.emit('down', ev);
        this.emit('down', p, ev);
        return;
      }
    }
  }

  #send(p: BfdPeer, buf: Buffer): void {
    const k = `${p.family}|${p.local ?? ''}|${p.ifname ?? ''}`;
    const s = this.#tx.get(k);
    if (!s) return;
    void s.then(
      (sock) => {
        if (this.#closed && p.session.state !== SessionState.AdminDown) return;
        sock.send(buf, p.port, p.sendAddress, (err) => {
          if (err) this.#log.debug({ err, peer: p.peer }, 'bfd: send failed');
          else p.counters.controlPacketOutput++;
        });
      },
      () => undefined,
    );
  }
}
