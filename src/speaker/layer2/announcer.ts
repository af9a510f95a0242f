// Layer2Announcer: the I/O edge of layer 2. It owns one packet socket per (link, EtherType), feeds received frames
// to the pure responder, probes new IPs (RFC 5227 / RFC 4862 style), sends MetalLB's gratuitous bursts, reports
// foreign claims as conflicts, and keeps MetalLB's counters. Sockets come from an injected `openLink` and time
// from an injected Clock, so it runs against a recording fake link and a FakeClock in unit tests.
// MetalLB reference: internal/layer2/announcer.go (SetBalancer, gratuitous, spamLoop), stats.go.
import { EventEmitter } from 'node:events';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { Clock } from '../../kube/clock.ts';
import { ndpFilter, ndpFilterOrAll } from '../link/ndp-filter.ts';
import { NDP_FILTER, arpFilter, type BpfInstruction } from '../link/packet.ts';
import { macToString, type DropReason } from './errors.ts';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6 } from './ethernet.ts';
import { ipv6MulticastMac, solicitedNodeAddress } from './ndp.ts';
import {
  arpProbe,
  dadProbe,
  gratuitousArp,
  respond,
  unsolicitedNeighborAdvert,
  type ResponderState,
} from './responder.ts';

/** One open packet socket as the announcer sees it (H1's PacketSocket satisfies it). */
export interface LinkPort {
  readonly ifname: string;
  /** 6 bytes. */
  readonly mac: Buffer;
  /** A whole Ethernet frame; may throw (e.g. LinkError ENETDOWN): the announcer logs and carries on. */
  send(frame: Buffer): void;
  close(): void;
  /**
   * Optional (H1's PacketSocket has it): PACKET_ADD_MEMBERSHIP for a multicast MAC. The announcer opens the NIC's
   * receive filter for the solicited-node MAC (33:33:ff:xx:xx:xx) of each IPv6 it watches, as MetalLB joins the
   * solicited-node group (§5.2): veth and bridges flood anyway, real NICs drop unjoined multicast.
   */
  addMembership?(m: { kind: 'multicast'; mac: string }): void;
  dropMembership?(m: { kind: 'multicast'; mac: string }): void;
  /**
   * Optional (PacketSocket has it): an IP-layer join of an IPv6 group, so the kernel sends MLD reports for it. The
   * announcer joins the solicited-node group of each IPv6 it watches: a switch doing MLD snooping then forwards the
   * NSs for it to this node (without, it may forward them nowhere once its group table is built).
   */
  joinGroup?(group: string): void;
  leaveGroup?(group: string): void;
  /**
   * Optional (PacketSocket has it): a classic BPF program run by the kernel. The announcer gives each ARP socket
   * arpFilter and each IPv6 socket ndpFilter of its watched IPs (link/ndp-filter.ts), so neither the requests for IPs
   * this node does not watch nor the rest of the host's IPv6 traffic (which ETH_P_IPV6 sockets otherwise copy) reach JS.
   */
  attachFilter?(program: readonly BpfInstruction[]): void;
  /** Optional (PacketSocket has it; readable after close): frames the kernel dropped, the ring being full. */
  stats?(): { kernelDrops: number };
  /**
   * Optional (PacketSocket has it): the addon answers plain ARP requests for `announced` IPv4s itself, before JS
   * (the responder's ARP fast path, same decisions; see PacketSocket.setArpAnswers). The announcer pushes the sets
   * whenever they change and folds takeArpAnswerStats() into its counters.
   */
  setArpAnswers?(announced: readonly string[], watched: readonly string[]): void;
  takeArpAnswerStats?(): { perIp: ReadonlyMap<string, { answered: number; sendErrors: number }> };
}

/** Opens a socket on `ifname` bound to `ethertype` (0x0806 ARP, 0x86dd IPv6); throws when it cannot (EPERM, ENODEV). */
export type OpenLink = (ifname: string, ethertype: number, onFrame: (frame: Buffer) => void) => LinkPort;

export interface Announcement {
  /** IPv4 or IPv6 text, any valid form (stored canonical). */
  ip: string;
  /** `namespace/name`; several services may share one IP. */
  service: string;
  /** Interfaces to answer on; [] = every layer-2 link of the IP's family. */
  interfaces: string[];
  /**
   * false = announce at once without probing (a takeover from another berth speaker: the caller knows the IP had an
   * owner). Default true: probe the first time this node announces the IP on a link.
   */
  probe?: boolean;
}

/** The events, as listener signatures (`announcer.on('conflict', (ip, mac, ifname) => …)`). */
export interface AnnouncerEvents {
  /**
   * A host whose MAC is neither ours nor a berth speaker's claims `ip` on `ifname` (first seen, or a new MAC).
   * `announced`: the claim came while `ip` was answered on that link (it stays announced and is defended, RFC 5227
   * §2.4 (b)); false when it came while probing (`ip` is not announced there until the conflict clears).
   */
  conflict(ip: string, mac: string, ifname: string, announced: boolean): void;
  /** No link of `ip` has an unresolved foreign claim any more (silent for `conflict.clearAfterMs`). */
  conflictCleared(ip: string): void;
  /** The first gratuitous ARP/NA for `ip` was sent (after probing, if any). */
  announced(ip: string): void;
  /** `ip` left the desired state: it is no longer answered, probed or watched on any link. */
  withdrawn(ip: string): void;
  /** A socket could not be opened on `ifname` (the IPs of that link are retried on the next set()). */
  linkError(ifname: string, error: Error): void;
}

type EventMap = { [K in keyof AnnouncerEvents]: Parameters<AnnouncerEvents[K]> };

export interface AnnouncerStats {
  /** Requests answered per IP (MetalLB `metallb_layer2_requests_received{ip}`: counted for announced IPs only). */
  requestsReceived: Map<string, number>;
  /** `metallb_layer2_responses_sent{ip}`. */
  responsesSent: Map<string, number>;
  /** `metallb_layer2_gratuitous_sent{ip}`, per packet (the IPv4 pair counts 2). */
  gratuitousSent: Map<string, number>;
  /** Per reason; `queue-full` counts the sockets' kernel drops (LinkPort.stats), present once one happened. */
  drops: Map<DropReason, number>;
}

export interface AnnouncerOptions {
  openLink: OpenLink;
  clock: Clock;
  /** Current layer-2 links (src/speaker/link/interfaces.ts layer2Links); read on every set(). */
  links: () => { arp: string[]; ndp: string[] };
  log: Logger;
  /** Probes before the first announcement on a link (default 3, 100 ms apart; count 0 = never probe). */
  probe?: { count: number; intervalMs: number };
  /** MACs of berth speakers (from liveness): their claims are never conflicts. */
  friendlyMacs: () => ReadonlySet<string>;
  /**
   * While a conflict is open the IP is re-probed every `recheckMs` (default 5000); it clears when the foreign host
   * has not claimed it for `clearAfterMs` (default 15000, i.e. three unanswered re-probes).
   */
  conflict?: { recheckMs: number; clearAfterMs: number };
  /**
   * Standby sockets, per family (default both true): on every set() a socket is opened on each layer-2 link of the
   * family (`links()`), and kept open while this node holds no IP there, so taking an IP (a failover) needs no
   * open. false: opened when the first IP needs the link, closed when the last one leaves. A socket closes when its
   * link leaves `links()`. An idle ARP socket answers nothing and drops plain requests in the addon.
   */
  standby?: { ipv4: boolean; ipv6: boolean };
}

/** MetalLB announcer.go: one GARP/NA at once, then every 1.1 s until 5 s after the latest trigger. */
export const GRATUITOUS_INTERVAL_MS = 1100;
export const GRATUITOUS_WINDOW_MS = 5000;
/** RFC 5227 §2.4 (b) DEFEND_INTERVAL: at most one defending announcement per 10 s per IP and link. */
export const DEFEND_INTERVAL_MS = 10_000;
/**
 * Another berth speaker announces an IP this node answers (its liveness view lost this node: delayed heartbeats):
 * after this long, if this node still answers the IP, it re-announces it (a new gratuitous burst), so clients that
 * followed the other speaker come back once that one hands the IP back. Long enough for this node to withdraw first
 * when the other speaker's claim is a handover this node is about to see too (one watch delivery apart).
 */
export const FRIENDLY_CLAIM_GRACE_MS = 200;

type Phase = 'probing' | 'blocked' | 'active';

interface IpOnLink {
  ip: string;
  phase: Phase;
  abort: AbortController;
  conflict: { mac: string; lastSeen: number } | undefined;
  rechecking: boolean;
  lastDefend: number;
  /** A re-announcement after another speaker's claim is pending (FRIENDLY_CLAIM_GRACE_MS). */
  friendlyPending: boolean;
  /** When the last such re-announcement went out (at most one per DEFEND_INTERVAL_MS). */
  lastFriendlyDefend: number;
}

interface Port {
  key: string;
  ifname: string;
  family: 4 | 6;
  link: LinkPort;
  ips: Map<string, IpOnLink>;
  /** Solicited-node MAC → number of watched IPs that need it (IPv6 ports). */
  groups: Map<string, number>;
  responder: ResponderState | undefined;
  /** The sets pushed to the kernel filter and the addon are out of date; a microtask pushes them. */
  nativeDirty: boolean;
  /** The link has no setArpAnswers or it failed once: JS answers everything. */
  nativeOff: boolean;
  /** The link has no attachFilter or a per-IP filter failed once: no per-IP filter (IPv6: NDP_FILTER if it took). */
  filterOff: boolean;
}

interface Want {
  ip: string;
  family: 4 | 6;
  services: Set<string>;
  /** undefined = every link of the family. */
  interfaces: Set<string> | undefined;
  probe: boolean;
}

function bump<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

/**
 * Announces service IPs on layer 2 for THIS node (interfaces.md "src/speaker/layer2/"; MetalLB §5.2-§5.3).
 *
 * `set(announcements)` is the desired state; it is diffed against what runs:
 * - A new (IP, link) pair is probed first: `probe.count` ARP probes (RFC 5227 §2.1.1, sender IP 0.0.0.0) or DAD
 *   NSs (RFC 4862 §5.4.2, from ::), `probe.intervalMs` apart, then one more interval of listening; with no foreign
 *   claim the IP becomes active (answered) and the gratuitous burst starts. The defaults (3 × 100 ms, so 300 ms)
 *   are far shorter than RFC 5227's (1-2 s apart, 2 s ANNOUNCE_WAIT, random start delay) because this delay is
 *   paid before the Service works. Probing happens only the first time this node announces that IP on that link
 *   (in this process), never again after a withdraw and re-add, and never when the announcement says
 *   `probe: false`: a failover must reach the first gratuitous ARP in well under 500 ms, and probing an IP that
 *   another berth speaker holds (or held until it died) tells nothing.
 * - A claim during probing by a MAC that is neither ours nor in `friendlyMacs()` emits `conflict` and the IP is
 *   not announced on that link; it is re-probed every `conflict.recheckMs` and, once the foreign host has been
 *   silent for `conflict.clearAfterMs`, `conflictCleared` is emitted and the IP is announced (no new probe: the
 *   re-probes were the probes). A foreign claim while active also emits `conflict`; the IP stays announced and is
 *   defended by one gratuitous announcement at most every 10 s (RFC 5227 §2.4 (b)).
 * - A removed IP stops being answered at once (nothing is sent; MetalLB §5.3) and `withdrawn` is emitted.
 * - `reannounce(ip)` starts a new burst: one gratuitous ARP pair / unsolicited NA at once, then every 1.1 s until
 *   5 s after the latest trigger.
 * Sockets: one per (link, EtherType): ARP on `links().arp` for IPv4, IPv6 on `links().ndp` for IPv6, opened on
 * every such link at set() and kept while this node holds no IP (`standby`, default on: a takeover needs no open),
 * closed when the link leaves `links()`. Call set() again (even unchanged) to pick up link changes. Plain ARP
 * requests for active IPs are answered by the addon itself when the link can (LinkPort.setArpAnswers: no JS on that
 * path), with the same decisions and counters. Nothing here throws into the caller's event loop: send errors and
 * bad frames are logged/counted.
 */
export class Layer2Announcer extends EventEmitter<EventMap> {
  readonly #o: AnnouncerOptions;
  readonly #probe: { count: number; intervalMs: number };
  readonly #conflict: { recheckMs: number; clearAfterMs: number };
  readonly #standby: { ipv4: boolean; ipv6: boolean };
  readonly #standbyFailed = new Set<string>();
  readonly #ports = new Map<string, Port>();
  readonly #wants = new Map<string, Want>();
  /** `ifname|ip` pairs that were active once: never probed again. */
  readonly #seen = new Set<string>();
  readonly #announced = new Set<string>();
  readonly #bursts = new Map<string, { deadline: number; abort: AbortController }>();
  readonly #stats: AnnouncerStats = {
    requestsReceived: new Map(),
    responsesSent: new Map(),
    gratuitousSent: new Map(),
    drops: new Map(),
  };
  #closed = false;
  /** Kernel drops of sockets already closed (their counters end with them). */
  #closedKernelDrops = 0;

  constructor(o: AnnouncerOptions) {
    super();
    this.#o = o;
    this.#probe = o.probe ?? { count: 3, intervalMs: 100 };
    this.#conflict = o.conflict ?? { recheckMs: 5000, clearAfterMs: 15_000 };
    this.#standby = o.standby ?? { ipv4: true, ipv6: true };
    for (const [name, v] of [
      ['probe.count', this.#probe.count],
      ['probe.intervalMs', this.#probe.intervalMs],
      ['conflict.recheckMs', this.#conflict.recheckMs],
      ['conflict.clearAfterMs', this.#conflict.clearAfterMs],
    ] as const)
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`Layer2Announcer ${name} ${v} is not an integer ≥ 0`);
    if (this.#conflict.recheckMs === 0)
      throw new RangeError('Layer2Announcer conflict.recheckMs must be > 0');
  }

  /** Desired announcements of this node; see the class comment. Invalid IPs are logged and skipped. */
  set(announcements: readonly Announcement[]): void {
    if (this.#closed) return;
    const wants = new Map<string, Want>();
    for (const a of announcements) {
      const canon = canonicalIp(a.ip);
      if (!canon) {
        this.#o.log.error(
          { ip: a.ip, service: a.service },
          `layer2: "${a.ip}" is not an IPv4 or IPv6 address, not announced`,
        );
        continue;
      }
      const w = wants.get(canon.ip) ?? {
        ip: canon.ip,
        family: canon.family,
        services: new Set<string>(),
        interfaces: new Set<string>(),
        probe: true,
      };
      w.services.add(a.service);
      if (a.interfaces.length === 0) w.interfaces = undefined;
      else if (w.interfaces) for (const i of a.interfaces) w.interfaces.add(i);
      if (a.probe === false) w.probe = false;
      wants.set(canon.ip, w);
    }
    const links = this.#o.links();
    const desired = new Map<string, { ifname: string; family: 4 | 6; ips: Set<string> }>();
    for (const w of wants.values()) {
      for (const ifname of w.family === 4 ? links.arp : links.ndp) {
        if (w.interfaces && !w.interfaces.has(ifname)) continue;
        const key = `${ifname}|${w.family}`;
        const d = desired.get(key) ?? { ifname, family: w.family, ips: new Set<string>() };
        d.ips.add(w.ip);
        desired.set(key, d);
      }
    }
    const standby = new Set<string>();
    if (this.#standby.ipv4) for (const l of links.arp) standby.add(`${l}|4`);
    if (this.#standby.ipv6) for (const l of links.ndp) standby.add(`${l}|6`);
    // Removals first: stop answering at once.
    for (const port of [...this.#ports.values()]) {
      const keep = desired.get(port.key)?.ips;
      for (const ip of [...port.ips.keys()]) if (!keep?.has(ip)) this.#removeFromPort(port, ip);
      if (port.ips.size === 0 && !standby.has(port.key)) this.#closePort(port);
    }
    for (const ip of [...this.#wants.keys()]) {
      if (wants.has(ip)) continue;
      this.#stopBurst(ip);
      this.#announced.delete(ip);
      this.#o.log.info({ ip }, 'layer2: withdrawn');
      this.emit('withdrawn', ip);
    }
    this.#wants.clear();
    for (const [ip, w] of wants) this.#wants.set(ip, w);
    for (const d of desired.values()) {
      let port = this.#ports.get(`${d.ifname}|${d.family}`);
      for (const ip of d.ips) {
        if (port?.ips.has(ip)) continue;
        port ??= this.#openPort(d.ifname, d.family);
        if (!port) break;
        this.#addToPort(port, ip, this.#wants.get(ip)!.probe);
      }
    }
    // A standby socket that cannot open (EPERM, ENODEV) is tried once per link appearance, not on every set():
    // the IPs that need the link still try (and report linkError) as before.
    for (const key of this.#standbyFailed)
      if (!standby.has(key) || this.#ports.has(key)) this.#standbyFailed.delete(key);
    for (const key of standby) {
      if (this.#ports.has(key) || this.#standbyFailed.has(key)) continue;
      const bar = key.lastIndexOf('|');
      if (!this.#openPort(key.slice(0, bar), key.slice(bar + 1) === '4' ? 4 : 6))
        this.#standbyFailed.add(key);
    }
  }

  /** A new gratuitous burst for `ip` on every link where it is active (e.g. after a failover); no-op otherwise. */
  reannounce(ip: string): void {
    const canon = canonicalIp(ip)?.ip;
    if (canon && this.#activePorts(canon).length > 0) this.#trigger(canon);
  }

  /** Copies of the counters (MetalLB metric names in AnnouncerStats), the addon's ARP answers included. */
  stats(): AnnouncerStats {
    for (const p of this.#ports.values()) this.#foldNative(p);
    const drops = new Map(this.#stats.drops);
    let queueFull = this.#closedKernelDrops;
    for (const p of this.#ports.values()) queueFull += kernelDrops(p.link);
    if (queueFull > 0) drops.set('queue-full', queueFull);
    return {
      requestsReceived: new Map(this.#stats.requestsReceived),
      responsesSent: new Map(this.#stats.responsesSent),
      gratuitousSent: new Map(this.#stats.gratuitousSent),
      drops,
    };
  }

  /** Per IP: the links where it is answered, probed, or blocked by a conflict (for status and tests). */
  state(): Map<string, Array<{ ifname: string; phase: Phase; conflictMac?: string }>> {
    const out = new Map<string, Array<{ ifname: string; phase: Phase; conflictMac?: string }>>();
    for (const port of this.#ports.values())
      for (const s of port.ips.values()) {
        const list = out.get(s.ip) ?? [];
        list.push(
          s.conflict
            ? { ifname: port.ifname, phase: s.phase, conflictMac: s.conflict.mac }
            : { ifname: port.ifname, phase: s.phase },
        );
        out.set(s.ip, list);
      }
    return out;
  }

  /** Stops every timer and closes every socket; sends nothing. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ip of [...this.#bursts.keys()]) this.#stopBurst(ip);
    for (const port of [...this.#ports.values()]) {
      for (const s of port.ips.values()) s.abort.abort();
      port.ips.clear();
      this.#closePort(port);
    }
    this.#wants.clear();
  }

  #openPort(ifname: string, family: 4 | 6): Port | undefined {
    const key = `${ifname}|${family}`;
    let port: Port | undefined;
    try {
      const link = this.#o.openLink(ifname, family === 4 ? ETHERTYPE_ARP : ETHERTYPE_IPV6, (frame) => {
        if (port) this.#onFrame(port, frame);
      });
      port = {
        key,
        ifname,
        family,
        link,
        ips: new Map(),
        groups: new Map(),
        responder: undefined,
        nativeDirty: false,
        nativeOff: family !== 4 || typeof link.setArpAnswers !== 'function',
        filterOff: typeof link.attachFilter !== 'function',
      };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#o.log.error({ ifname, family, err: err.message }, 'layer2: cannot open packet socket');
      this.emit('linkError', ifname, err);
      return undefined;
    }
    this.#ports.set(key, port);
    if (family === 6 && port.link.attachFilter) {
      // At once, before any frame: nothing is watched yet (the microtask #invalidate queues pushes the watched IPs).
      try {
        port.link.attachFilter(ndpFilter([]) ?? NDP_FILTER);
      } catch (e) {
        // Not fatal: the responder peeks at every IPv6 frame and ignores what is not NDP.
        port.filterOff = true;
        let all = true;
        try {
          port.link.attachFilter(NDP_FILTER);
        } catch {
          all = false;
        }
        this.#o.log.warn(
          { ifname, err: e instanceof Error ? e.message : String(e) },
          all ? 'layer2: per-IP NDP filter not attached: every Neighbor Solicitation/Advertisement reaches the responder' : 'layer2: NDP filter not attached',
        );
      }
    }
    this.#invalidate(port);
    this.#o.log.debug({ ifname, family, mac: macToString(port.link.mac) }, 'layer2: link opened');
    return port;
  }

  /**
   * The port's IPs or phases changed: the JS responder state is rebuilt on the next frame, and a microtask pushes the
   * new sets, once per burst of changes (a set() of 1,000 IPs pushes once), to the kernel filter (arpFilter /
   * ndpFilter: requests for IPs not watched never reach us) and, on an ARP port, to the addon (setArpAnswers). Frames
   * are read on the event loop, so none meets stale sets in between; a request for a newly watched IP that the
   * kernel received before the push was dropped by the old filter, as it was not ours yet.
   */
  #invalidate(port: Port): void {
    port.responder = undefined;
    if ((port.nativeOff && port.filterOff) || port.nativeDirty) return;
    port.nativeDirty = true;
    queueMicrotask(() => this.#pushSets(port));
  }

  #pushSets(port: Port): void {
    port.nativeDirty = false;
    if (this.#closed || this.#ports.get(port.key) !== port) return;
    const st = this.#responderState(port);
    const watched = [...st.watched];
    if (!port.filterOff) {
      const v6 = port.family === 6;
      try {
        port.link.attachFilter!(v6 ? ndpFilterOrAll(watched) : (arpFilter(port.link.mac, watched) ?? []));
      } catch (e) {
        port.filterOff = true;
        try {
          port.link.attachFilter!(v6 ? NDP_FILTER : []);
        } catch {
          // no filter was attached: nothing to undo
        }
        this.#o.log.warn(
          { ifname: port.ifname, err: e instanceof Error ? e.message : String(e) },
          v6
            ? 'layer2: per-IP NDP filter not attached: every Neighbor Solicitation/Advertisement reaches the responder'
            : 'layer2: per-IP ARP filter not attached: every ARP request reaches the responder',
        );
      }
    }
    if (port.nativeOff) return;
    try {
      port.link.setArpAnswers!([...st.announced], watched);
    } catch (e) {
      // JS answers everything then (same decisions, later).
      port.nativeOff = true;
      try {
        port.link.setArpAnswers!([], watched);
      } catch {
        // the addon refuses even that: it never answered, nothing to undo
      }
      this.#o.log.warn(
        { ifname: port.ifname, err: e instanceof Error ? e.message : String(e) },
        'layer2: native ARP answering off, answering in JS',
      );
    }
  }

  /** Adds what the addon answered on `port` since the last call to the MetalLB counters. */
  #foldNative(port: Port): void {
    if (port.family !== 4 || typeof port.link.takeArpAnswerStats !== 'function') return;
    try {
      for (const [ip, c] of port.link.takeArpAnswerStats().perIp) {
        bump(this.#stats.requestsReceived, ip, c.answered + c.sendErrors);
        if (c.answered > 0) bump(this.#stats.responsesSent, ip, c.answered);
      }
    } catch (e) {
      this.#o.log.warn(
        { ifname: port.ifname, err: e instanceof Error ? e.message : String(e) },
        'layer2: reading native ARP counters failed',
      );
    }
  }

  #closePort(port: Port): void {
    this.#ports.delete(port.key);
    this.#foldNative(port);
    try {
      port.link.close();
    } catch (e) {
      this.#o.log.warn({ ifname: port.ifname, err: String(e) }, 'layer2: closing packet socket failed');
    }
    this.#closedKernelDrops += kernelDrops(port.link);
  }

  #addToPort(port: Port, ip: string, probe: boolean): void {
    const s: IpOnLink = {
      ip,
      phase: 'probing',
      abort: new AbortController(),
      conflict: undefined,
      rechecking: false,
      lastDefend: -Infinity,
      friendlyPending: false,
      lastFriendlyDefend: -Infinity,
    };
    port.ips.set(ip, s);
    this.#invalidate(port);
    if (port.family === 6) this.#membership(port, ip, true);
    if (probe && this.#probe.count > 0 && !this.#seen.has(`${port.ifname}|${ip}`))
      void this.#runProbe(port, s);
    else this.#activate(port, s);
  }

  #removeFromPort(port: Port, ip: string): void {
    const s = port.ips.get(ip);
    if (!s) return;
    s.abort.abort();
    port.ips.delete(ip);
    this.#invalidate(port);
    if (port.family === 6) this.#membership(port, ip, false);
  }

  /**
   * Reference-counted multicast filter entry for `ip`'s solicited-node MAC, and IP-layer join of its solicited-node
   * group (MLD reports); failures are logged, not fatal.
   */
  #membership(port: Port, ip: string, add: boolean): void {
    const group = solicitedNodeAddress(ip);
    const mac = ipv6MulticastMac(group);
    const n = port.groups.get(mac) ?? 0;
    const next = add ? n + 1 : n - 1;
    if (next > 0) port.groups.set(mac, next);
    else port.groups.delete(mac);
    if ((add && n !== 0) || (!add && next !== 0)) return;
    try {
      if (add) port.link.addMembership?.({ kind: 'multicast', mac });
      else port.link.dropMembership?.({ kind: 'multicast', mac });
    } catch (e) {
      this.#o.log.warn(
        { ifname: port.ifname, mac, err: e instanceof Error ? e.message : String(e) },
        'layer2: multicast membership failed',
      );
    }
    try {
      if (add) port.link.joinGroup?.(group);
      else port.link.leaveGroup?.(group);
    } catch (e) {
      this.#o.log.warn(
        { ifname: port.ifname, group, err: e instanceof Error ? e.message : String(e) },
        'layer2: MLD group join failed: switches doing MLD snooping may not forward solicitations here',
      );
    }
  }

  async #runProbe(port: Port, s: IpOnLink): Promise<void> {
    this.#o.log.debug({ ip: s.ip, ifname: port.ifname }, 'layer2: probing');
    for (let i = 0; i < this.#probe.count; i++) {
      if (s.abort.signal.aborted || s.phase !== 'probing') return;
      this.#sendProbe(port, s.ip);
      await this.#o.clock.sleep(this.#probe.intervalMs, s.abort.signal);
    }
    if (s.abort.signal.aborted || s.phase !== 'probing') return;
    this.#activate(port, s);
  }

  #sendProbe(port: Port, ip: string): void {
    const frame = port.family === 4 ? arpProbe(port.link.mac, ip) : dadProbe(port.link.mac, ip);
    this.#send(port, frame, ip);
  }

  #activate(port: Port, s: IpOnLink): void {
    s.phase = 'active';
    this.#invalidate(port);
    this.#seen.add(`${port.ifname}|${s.ip}`);
    this.#o.log.info(
      { ip: s.ip, ifname: port.ifname, mac: macToString(port.link.mac) },
      'layer2: announcing',
    );
    this.#trigger(s.ip, port);
    if (!this.#announced.has(s.ip)) {
      this.#announced.add(s.ip);
      this.emit('announced', s.ip);
    }
  }

  #activePorts(ip: string): Port[] {
    return [...this.#ports.values()].filter((p) => p.ips.get(ip)?.phase === 'active');
  }

  #gratuitous(port: Port, ip: string): void {
    const frames =
      port.family === 4 ? gratuitousArp(port.link.mac, ip) : [unsolicitedNeighborAdvert(port.link.mac, ip)];
    for (const f of frames) if (this.#send(port, f, ip)) bump(this.#stats.gratuitousSent, ip);
  }

  /** Sends at once (on `only`, else on every active link of `ip`) and (re)starts the 5 s window. */
  #trigger(ip: string, only?: Port): void {
    const deadline = this.#o.clock.now() + GRATUITOUS_WINDOW_MS;
    for (const p of only ? [only] : this.#activePorts(ip)) this.#gratuitous(p, ip);
    const running = this.#bursts.get(ip);
    if (running) {
      running.deadline = deadline;
      return;
    }
    const b = { deadline, abort: new AbortController() };
    this.#bursts.set(ip, b);
    void (async () => {
      for (;;) {
        await this.#o.clock.sleep(GRATUITOUS_INTERVAL_MS, b.abort.signal);
        if (b.abort.signal.aborted) return;
        if (this.#o.clock.now() >= b.deadline) break;
        for (const p of this.#activePorts(ip)) this.#gratuitous(p, ip);
      }
      if (this.#bursts.get(ip) === b) this.#bursts.delete(ip);
    })();
  }

  #stopBurst(ip: string): void {
    const b = this.#bursts.get(ip);
    if (!b) return;
    b.abort.abort();
    this.#bursts.delete(ip);
  }

  /** Sends one frame; false (logged) when the socket refuses it. */
  #send(port: Port, frame: Buffer, ip: string): boolean {
    try {
      port.link.send(frame);
      return true;
    } catch (e) {
      this.#o.log.warn(
        { ifname: port.ifname, ip, err: e instanceof Error ? e.message : String(e) },
        'layer2: send failed',
      );
      return false;
    }
  }

  #responderState(port: Port): ResponderState {
    if (!port.responder) {
      const announced = new Set<string>();
      for (const s of port.ips.values()) if (s.phase === 'active') announced.add(s.ip);
      port.responder = { mac: port.link.mac, announced, watched: new Set(port.ips.keys()) };
    }
    return port.responder;
  }

  #onFrame(port: Port, frame: Buffer): void {
    if (this.#closed || this.#ports.get(port.key) !== port) return;
    try {
      const r = respond(frame, this.#responderState(port));
      switch (r.kind) {
        case 'reply':
          bump(this.#stats.requestsReceived, r.ip);
          if (this.#send(port, r.frame, r.ip)) bump(this.#stats.responsesSent, r.ip);
          // A probe (RFC 5227 ARP probe from 0.0.0.0, RFC 4862 DAD NS from ::) for an IP we announce: answered
          // above (the defence), and a host that wants our IP, so a conflict unless it is a berth speaker.
          if (r.requester.ip === '0.0.0.0' || r.requester.ip === '::')
            this.#onClaim(port, r.ip, r.requester.mac);
          return;
        case 'drop':
          bump(this.#stats.drops, r.reason);
          return;
        case 'claim':
          this.#onClaim(port, r.ip, r.mac);
          return;
        case 'ignore':
          return;
      }
    } catch (e) {
      this.#o.log.error(
        { ifname: port.ifname, err: e instanceof Error ? e.message : String(e) },
        'layer2: frame handling failed',
      );
    }
  }

  #isFriendly(mac: string): boolean {
    return this.#o.friendlyMacs().has(mac) || this.#isOurs(mac);
  }

  #isOurs(mac: string): boolean {
    for (const p of this.#ports.values()) if (macToString(p.link.mac) === mac) return true;
    return false;
  }

  /**
   * Another berth speaker claims (gratuitous ARP/NA, or answers) an IP this node answers on `port`: their views of
   * who is alive differ (it declared this node dead: its heartbeats came late). It is no conflict, and this node keeps
   * answering (in its own view it owns the IP); once FRIENDLY_CLAIM_GRACE_MS later, if it still answers the IP there,
   * it re-announces it (a new burst), at most once per DEFEND_INTERVAL_MS, so the clients that followed the other
   * speaker's announcement come back when that speaker hands the IP back (it does so silently, at our next heartbeat):
   * without it they kept sending to a node that no longer answers for the IP until their neighbour entry expired.
   */
  #onFriendlyClaim(port: Port, s: IpOnLink, mac: string): void {
    if (s.friendlyPending || this.#o.clock.now() - s.lastFriendlyDefend < DEFEND_INTERVAL_MS) return;
    s.friendlyPending = true;
    this.#o.log.info({ ip: s.ip, mac, ifname: port.ifname }, 'layer2: another berth speaker announces an IP this node answers (liveness views differ)');
    void (async () => {
      await this.#o.clock.sleep(FRIENDLY_CLAIM_GRACE_MS, s.abort.signal);
      s.friendlyPending = false;
      if (this.#closed || s.abort.signal.aborted || port.ips.get(s.ip) !== s || s.phase !== 'active') return;
      s.lastFriendlyDefend = this.#o.clock.now();
      this.#trigger(s.ip);
    })();
  }

  #onClaim(port: Port, ip: string, mac: string): void {
    const s = port.ips.get(ip);
    if (!s) return;
    if (this.#isFriendly(mac)) {
      if (s.phase === 'active' && !this.#isOurs(mac)) this.#onFriendlyClaim(port, s, mac);
      return;
    }
    const now = this.#o.clock.now();
    const previous = s.conflict?.mac;
    s.conflict = { mac, lastSeen: now };
    if (s.phase === 'probing') {
      s.phase = 'blocked';
      this.#invalidate(port);
    }
    if (previous !== mac) {
      this.#o.log.warn(
        { ip, mac, ifname: port.ifname, phase: s.phase },
        'layer2: IP claimed by a host that is not a berth speaker',
      );
      this.emit('conflict', ip, mac, port.ifname, s.phase === 'active');
    }
    if (s.phase === 'active' && now - s.lastDefend >= DEFEND_INTERVAL_MS) {
      s.lastDefend = now;
      this.#gratuitous(port, ip);
    }
    if (!s.rechecking) void this.#recheck(port, s);
  }

  async #recheck(port: Port, s: IpOnLink): Promise<void> {
    s.rechecking = true;
    try {
      for (;;) {
        await this.#o.clock.sleep(this.#conflict.recheckMs, s.abort.signal);
        if (s.abort.signal.aborted || !s.conflict) return;
        if (this.#o.clock.now() - s.conflict.lastSeen >= this.#conflict.clearAfterMs) break;
        this.#sendProbe(port, s.ip);
      }
      this.#o.log.info({ ip: s.ip, ifname: port.ifname, mac: s.conflict.mac }, 'layer2: conflict cleared');
      s.conflict = undefined;
      const stillConflicted = [...this.#ports.values()].some((p) => p.ips.get(s.ip)?.conflict !== undefined);
      if (!stillConflicted) this.emit('conflictCleared', s.ip);
      if (s.phase === 'blocked') this.#activate(port, s);
    } finally {
      s.rechecking = false;
    }
  }
}

/** A link's kernel drop count, 0 when it keeps none or cannot tell. */
function kernelDrops(link: LinkPort): number {
  try {
    const n = link.stats?.().kernelDrops;
    return typeof n === 'number' && Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

function canonicalIp(ip: string): { ip: string; family: 4 | 6 } | undefined {
  if (typeof ip !== 'string') return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(ip)) return { ip: ipaddr.IPv4.parse(ip).toString(), family: 4 };
  if (!ip.includes('%') && ipaddr.IPv6.isValid(ip))
    return { ip: ipaddr.IPv6.parse(ip).toString(), family: 6 };
  return undefined;
}
