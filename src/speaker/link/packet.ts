// Raw link access for the speaker: AF_PACKET sockets (ARP/NDP frames) and the TCP socket options the BGP session
// needs (TCP_MD5SIG, SO_BINDTODEVICE). Everything goes through berth's one N-API addon, native/ (C++), which npm's
// install step builds; it is loaded lazily so importing this module never fails on a machine without it.
// Capabilities: AF_PACKET needs CAP_NET_RAW; SO_BINDTODEVICE needs CAP_NET_RAW on kernels before 5.7.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { Socket } from 'node:net';
import type { Server } from 'node:net';
import ipaddr from 'ipaddr.js';

/** A failed system call on a link or socket: `code` is the errno name ('EPERM', 'ENODEV', ...), `syscall` the call. */
export class LinkError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly ifname?: string;
  readonly errno?: number;
  constructor(
    message: string,
    o: { code: string; syscall: string; ifname?: string; errno?: number; cause?: unknown },
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'LinkError';
    this.code = o.code;
    this.syscall = o.syscall;
    if (o.ifname !== undefined) this.ifname = o.ifname;
    if (o.errno !== undefined) this.errno = o.errno;
  }
}

/** One AF_PACKET socket bound to an interface and an ethertype (packet(7)). */
export interface PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  /** 6 bytes, from SIOCGIFHWADDR at open time. */
  readonly mac: Buffer;
  /**
   * Sends a whole Ethernet frame (14-byte header included) on the interface as is. Throws LinkError.
   * Called from inside onFrame (a reply), the frame is queued instead and every frame queued during that batch of
   * received frames goes out with one sendmmsg(2) once its handlers have run (a few µs per frame less than one
   * send(2) each); do not modify the Buffer until then. A kernel refusal of a queued frame is not thrown: it goes
   * to onError and stats().sendErrors.
   */
  send(frame: Buffer): void;
  /**
   * Sends whole Ethernet frames with one sendmmsg(2) per 1,024; returns how many the kernel took, in order (fewer
   * when its transmit queue is full: send the rest later). Throws LinkError when the first one fails, TypeError /
   * RangeError for a frame that is not a Buffer of at least 14 bytes (nothing is sent then).
   */
  sendBatch(frames: readonly Buffer[]): number;
  /** Whether frames are read from a PACKET_RX_RING (else recvfrom(); see OpenPacketSocketOptions.ring). */
  readonly ring: boolean;
  /**
   * SO_ATTACH_FILTER: from now on the kernel queues only the frames the classic BPF `program` accepts (offsets from
   * the Ethernet header; e.g. NDP_FILTER); [] detaches it. Throws TypeError for a bad instruction, LinkError.
   */
  attachFilter(program: readonly BpfInstruction[]): void;
  /** Idempotent; no onFrame call is made after it returns. */
  close(): void;
  /**
   * PACKET_ADD_MEMBERSHIP (packet(7)): opens the interface's receive filter for a multicast MAC (e.g. the
   * 33:33:ff:xx:xx:xx of an IPv6 solicited-node group, which real NICs otherwise drop), or all multicast, or
   * promiscuous mode. Memberships are counted by the kernel and dropped when the socket closes. Throws LinkError.
   * (This programs only the NIC filter: an MLD report for snooping switches needs an IPv6 group join, e.g. a
   * dgram 'udp6' socket's addMembership(group, '::%ifname').)
   */
  addMembership(m: PacketMembership): void;
  /** PACKET_DROP_MEMBERSHIP: undoes one addMembership. Throws LinkError. */
  dropMembership(m: PacketMembership): void;
  /**
   * Joins an IPv6 multicast group on this interface at the IP layer (IPV6_JOIN_GROUP through a udp6 socket kept
   * for the purpose, bound to no port of interest): the kernel then sends MLD reports for it (RFC 3810 §6.1, with
   * its robustness retransmissions) and answers the router's or switch's queries, so a switch doing MLD snooping
   * forwards the group's frames (an NS to a solicited-node group) to this port; the NIC filter opens too. Counted:
   * one leaveGroup per joinGroup. TypeError for a group that is not IPv6 multicast (ff00::/8); LinkError otherwise.
   */
  joinGroup(group: string): void;
  /** Undoes one joinGroup (the kernel sends an MLD Done when the last member leaves). Throws LinkError. */
  leaveGroup(group: string): void;
  /** Counters since open (still readable after close). */
  stats(): PacketSocketStats;
  /**
   * Native ARP answering (ARP sockets): from now on the addon itself answers, before any frame crosses to JS, each
   * well-formed Ethernet/IPv4 ARP request (not a probe, not from our MAC, to broadcast or our MAC) whose sender IP is
   * not in `watched` and whose target IP is in `announced`, with the RFC 826 reply; the same request for a target in
   * neither set is dropped there. Everything else still reaches onFrame. This is exactly the layer-2 responder's
   * ARP fast path (src/speaker/layer2/responder.ts), so the decisions do not change, only where they are taken:
   * a reply no longer waits for JS. Both lists empty: off. IPv4 dotted quads; TypeError naming a bad one.
   * Counters: takeArpAnswerStats().
   */
  setArpAnswers(announced: readonly string[], watched: readonly string[]): void;
  /**
   * The native answer thread of this socket (started by the first setArpAnswers; see OpenPacketSocketOptions
   * .answerPriority): running, its kernel thread id, its scheduling policy and priority as read back from the
   * thread, the priority asked for, and the LinkError of a failed pthread_setschedparam (EPERM without
   * CAP_SYS_NICE). { running: false, ... } before it starts or with an addon that has no such thread.
   */
  answerThread(): AnswerThreadState;
  /**
   * What the native ARP answer did since the previous call (then reset): per target IP the replies sent and the ones
   * sendmmsg refused. The announcer takes them into MetalLB's counters.
   */
  takeArpAnswerStats(): ArpAnswerStats;
  /**
   * Since open: the delay of each native ARP answer from the kernel's receive timestamp of the request (the ring
   * slot's TPACKET_V2 tp_sec/tp_nsec) to the return of the sendmmsg that carried the reply: wake-up of the event
   * loop, the decision and the send, without JS.
   */
  arpAnswerDelays(): LatencyHistogram;
}

/** See PacketSocket.takeArpAnswerStats. */
export interface ArpAnswerStats {
  perIp: Map<string, { answered: number; sendErrors: number }>;
}

/** A log2 latency histogram in microseconds. */
export interface LatencyHistogram {
  count: number;
  sumMicros: number;
  /** buckets[i] counts delays in [2^i, 2^(i+1)) µs (bucket 0 includes < 1 µs). */
  buckets: number[];
}

export interface PacketSocketStats {
  /** frames handed to onFrame */
  received: number;
  /** event-loop wake-ups that delivered frames: all frames of one wake-up cross from C++ to JS as one batch */
  batches: number;
  /** the most frames one wake-up delivered */
  largestBatch: number;
  /** frames the kernel dropped because this socket's receive queue was full (PACKET_STATISTICS tp_drops) */
  kernelDrops: number;
  /** onFrame calls that threw (reported to onError as EHANDLER) */
  handlerErrors: number;
  /** frames queued by send() inside onFrame that the kernel then refused (the first error of a batch goes to onError) */
  sendErrors: number;
  /** ARP requests answered by the addon (setArpAnswers): not handed to onFrame, not in `received` */
  answeredNatively: number;
}

/** A packet-socket membership: a multicast MAC (lowercase aa:bb:cc:dd:ee:ff, I/G bit set), allmulti or promisc. */
export type PacketMembership =
  { kind: 'multicast'; mac: string } | { kind: 'allmulti' } | { kind: 'promisc' };

/** linux/if_packet.h PACKET_MR_*. */
const PACKET_MR = { multicast: 0, promisc: 1, allmulti: 2 } as const;

export interface OpenPacketSocketOptions {
  ifname: string;
  /** 0x0806 ARP, 0x86dd IPv6: the socket is bound with htons(ethertype), so the kernel queues only those frames. */
  ethertype: number;
  /**
   * Called on Node's event loop for each received frame; copies of our own outgoing frames are never delivered.
   * meta.rxMicros (with `timestamps: true`, ring only): when the kernel received the frame, microseconds since the
   * epoch (CLOCK_REALTIME, comparable with realtimeMicros()); else 0. meta is reused: read it during the call.
   */
  onFrame: (frame: Buffer, meta: { outgoing: boolean; rxMicros: number }) => void;
  /** Ask the kernel's receive timestamp of every frame (meta.rxMicros). Default false. */
  timestamps?: boolean;
  /**
   * Receive queue. Default (DEFAULT_RING): a PACKET_RX_RING (TPACKET_V2) of 2,048 slots of 128 bytes (256 KiB) for
   * ARP (frames cut at 62 bytes), 1,024 slots of 256 bytes (256 KiB) for IPv6 (NDP: an NS or NA is about 86-100
   * bytes; one over 190 bytes, e.g. with SEND signatures, is cut), 512 slots of 2,048 bytes (1 MiB) for other
   * EtherTypes; a slot holds
   * 66 bytes of headers, so longer frames are cut to `frameSize - 66` bytes. The ring holds frames while
   * the event loop is busy, is not capped by net.core.rmem_max (the socket buffer is: about 200 KiB, a few hundred
   * frames), and needs no system call per frame. `false`: recvfrom() from the socket buffer. When the kernel
   * refuses a ring the socket falls back to recvfrom() (`ring` tells). frameSize: a power of two in 128..65536.
   */
  ring?: { frames: number; frameSize: number } | false;
  /**
   * A classic BPF program (SO_ATTACH_FILTER, filter.h struct sock_filter) run on every frame in the kernel: frames
   * it rejects never reach the socket; offsets start at the Ethernet header. E.g. NDP_FILTER for an IPv6 socket.
   */
  filter?: readonly BpfInstruction[];
  /**
   * Receive errors, and exceptions thrown by onFrame (code 'EHANDLER'); the socket keeps running after both.
   * ENETDOWN (syscall 'recvfrom') when the link goes down: frames flow again once it is up. After the interface is
   * deleted the socket is dead (send throws ENXIO): close it and open a new one when the link returns.
   * Without onError they become process warnings.
   */
  onError?: (err: LinkError) => void;
  /**
   * Scheduling of the native ARP answer thread (setArpAnswers) of this socket, sched(7): 0 or undefined =
   * SCHED_OTHER (default), 1..99 = SCHED_FIFO at that priority, applied with pthread_setschedparam(3) when the
   * thread starts: a real-time thread runs as soon as a request arrives instead of waiting for a CPU behind normal
   * tasks (docs/layer2.md "Real-time answer thread"). Needs CAP_SYS_NICE (or RLIMIT_RTPRIO): without it the thread
   * answers at SCHED_OTHER and onError gets one LinkError (syscall 'pthread_setschedparam', code EPERM) as it
   * starts. RangeError for anything but an integer 0..99.
   */
  answerPriority?: number;
}

/** The native answer thread of a packet socket, as PacketSocket.answerThread() reads it back. */
export interface AnswerThreadState {
  running: boolean;
  /** Kernel thread id (gettid(2), /proc/<pid>/task/<tid>); 0 when not running. */
  tid: number;
  /** sched(7) policy read back from the thread: 'fifo' (SCHED_FIFO), 'other' (SCHED_OTHER), ... */
  policy: 'fifo' | 'other' | 'rr' | 'batch' | 'idle' | 'unknown';
  /** Its real-time priority (0 for SCHED_OTHER). */
  priority: number;
  /** The priority asked for (OpenPacketSocketOptions.answerPriority). */
  requested: number;
  /** Why the requested priority is not applied (pthread_setschedparam's errno, e.g. EPERM). */
  error?: LinkError;
}

/** One classic BPF instruction (linux/filter.h struct sock_filter): opcode, jump-if-true, jump-if-false, operand. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/bpf_common.h opcodes used below.
const BPF_LD_B_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
const BPF_LD_W_LEN = 0x80; // BPF_LD | BPF_W | BPF_LEN
const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_RET_K = 0x06; // BPF_RET | BPF_K
const ins = (code: number, jt: number, jf: number, k: number): BpfInstruction => ({ code, jt, jf, k });

/**
 * For an IPv6 (0x86dd) packet socket: passes ICMPv6 (IPv6 next header 58, byte 20) Neighbor Solicitations and
 * Advertisements (ICMPv6 type 135/136, byte 54), and frames too short to hold both bytes (so the responder still
 * counts them as truncated); drops all other IPv6 traffic in the kernel, which AF_PACKET would otherwise copy to us.
 * Like the responder's own peek, it does not walk extension headers (RFC 4861 NDP messages carry none).
 */
export const NDP_FILTER: readonly BpfInstruction[] = Object.freeze([
  ins(BPF_LD_W_LEN, 0, 0, 0),
  ins(BPF_JGE_K, 1, 0, 55), // 14 Ethernet + 40 IPv6 + 1
  ins(BPF_RET_K, 0, 0, 0xffffffff),
  ins(BPF_LD_B_ABS, 0, 0, 20),
  ins(BPF_JEQ_K, 0, 4, 58),
  ins(BPF_LD_B_ABS, 0, 0, 54),
  ins(BPF_JEQ_K, 1, 0, 135),
  ins(BPF_JEQ_K, 0, 1, 136),
  ins(BPF_RET_K, 0, 0, 0xffffffff),
  ins(BPF_RET_K, 0, 0, 0),
]);

const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_LD_H_ABS = 0x28; // BPF_LD | BPF_H | BPF_ABS
const ACCEPT = 0xffffffff;

/** Most IPv4s arpFilter handles (4 instructions each within BPF_MAXINSNS 4096); beyond, it returns undefined. */
export const ARP_FILTER_MAX_IPS = 1000;

/**
 * For an ARP (0x0806) packet socket: a classic BPF program that drops in the kernel exactly the frames the layer-2
 * responder would ignore without counting them — a well-formed Ethernet/IPv4 ARP request (htype 1, ptype 0x0800,
 * hln 6, pln 4, oper 1, at least 42 bytes) to broadcast or `mac`, whose Ethernet source and ar$sha are not `mac`,
 * whose ar$spa is neither 0.0.0.0 nor in `watched` and whose ar$tpa is not in `watched` — and passes everything
 * else (short or malformed frames included, so they are still counted). A node that announces nothing then wakes
 * for no ARP request of the segment. `watched`: IPv4 dotted quads (announced ones included); undefined when there
 * are more than ARP_FILTER_MAX_IPS (then attach none). TypeError naming a bad MAC or IP.
 */
export function arpFilter(mac: Buffer, watched: readonly string[]): BpfInstruction[] | undefined {
  if (!Buffer.isBuffer(mac) || mac.length !== 6)
    throw new TypeError(`arpFilter: mac must be a 6-byte Buffer, got ${String((mac as Buffer)?.length)} bytes`);
  if (watched.length > ARP_FILTER_MAX_IPS) return undefined;
  const ips = watched.map((ip, i) => {
    if (typeof ip !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(ip))
      throw new TypeError(`arpFilter: watched[${i}] ${JSON.stringify(ip)} is not a dotted-quad IPv4 address`);
    return Buffer.from(ipaddr.IPv4.parse(ip).toByteArray()).readUInt32BE(0);
  });
  const macW = mac.readUInt32BE(0);
  const macH = mac.readUInt16BE(4);
  const p: BpfInstruction[] = [
    ins(BPF_LD_W_LEN, 0, 0, 0),
    ins(BPF_JGE_K, 1, 0, 42),
    ins(BPF_RET_K, 0, 0, ACCEPT), // short: the responder counts it
    ins(BPF_LD_W_ABS, 0, 0, 14),
    ins(BPF_JEQ_K, 1, 0, 0x00010800), // htype 1, ptype IPv4
    ins(BPF_RET_K, 0, 0, ACCEPT),
    ins(BPF_LD_W_ABS, 0, 0, 18),
    ins(BPF_JEQ_K, 1, 0, 0x06040001), // hln 6, pln 4, oper request
    ins(BPF_RET_K, 0, 0, ACCEPT),
    // Ethernet destination: broadcast or ours, else the responder decides (wrong-destination).
    ins(BPF_LD_W_ABS, 0, 0, 0),
    ins(BPF_JEQ_K, 0, 2, 0xffffffff),
    ins(BPF_LD_H_ABS, 0, 0, 4),
    ins(BPF_JEQ_K, 5, 0, 0xffff),
    ins(BPF_LD_W_ABS, 0, 0, 0),
    ins(BPF_JEQ_K, 0, 2, macW),
    ins(BPF_LD_H_ABS, 0, 0, 4),
    ins(BPF_JEQ_K, 1, 0, macH),
    ins(BPF_RET_K, 0, 0, ACCEPT),
  ];
  // Ethernet source (6) and ar$sha (22) must not be ours (from-self is counted).
  for (const at of [6, 22])
    p.push(
      ins(BPF_LD_W_ABS, 0, 0, at),
      ins(BPF_JEQ_K, 0, 3, macW),
      ins(BPF_LD_H_ABS, 0, 0, at + 4),
      ins(BPF_JEQ_K, 0, 1, macH),
      ins(BPF_RET_K, 0, 0, ACCEPT),
    );
  // ar$spa: a probe (0.0.0.0) or a watched sender (a claim) reaches the responder; so does a watched ar$tpa.
  p.push(ins(BPF_LD_W_ABS, 0, 0, 28), ins(BPF_JEQ_K, 0, 1, 0), ins(BPF_RET_K, 0, 0, ACCEPT));
  for (const k of ips) p.push(ins(BPF_JEQ_K, 0, 1, k), ins(BPF_RET_K, 0, 0, ACCEPT));
  p.push(ins(BPF_LD_W_ABS, 0, 0, 38));
  for (const k of ips) p.push(ins(BPF_JEQ_K, 0, 1, k), ins(BPF_RET_K, 0, 0, ACCEPT));
  p.push(ins(BPF_RET_K, 0, 0, 0));
  return p;
}

/** struct sock_filter[] in host byte order (u16 code, u8 jt, u8 jf, u32 k); TypeError naming a bad field. */
function encodeFilter(program: readonly BpfInstruction[]): Buffer {
  if (!Array.isArray(program) || program.length === 0 || program.length > 4096)
    throw new TypeError(
      `BPF filter must be an array of 1..4096 instructions, got ${String((program as unknown[])?.length)}`,
    );
  const b = Buffer.alloc(program.length * 8);
  program.forEach((p, i) => {
    const ok = (v: unknown, max: number): boolean =>
      Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
    if (!ok(p?.code, 0xffff) || !ok(p.jt, 255) || !ok(p.jf, 255) || !ok(p.k, 0xffffffff))
      throw new TypeError(
        `BPF instruction ${i} ${JSON.stringify(p)} is invalid: code 0..65535, jt and jf 0..255, k 0..4294967295`,
      );
    const le = new DataView(b.buffer, b.byteOffset + i * 8, 8);
    const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    le.setUint16(0, p.code, little);
    le.setUint8(2, p.jt);
    le.setUint8(3, p.jf);
    le.setUint32(4, p.k, little);
  });
  return b;
}

interface NativePacketSocket {
  readonly ifindex: number;
  readonly fd: number;
  readonly mac: Buffer;
  readonly ring: boolean;
  send(frame: Buffer): void;
  sendBatch(frames: Buffer[]): number;
  attachFilter(program: Buffer): void;
  close(): void;
  ref(): void;
  unref(): void;
  membership(add: boolean, type: number, mac?: Buffer): void;
  statistics(): { packets: number; drops: number; arpAnswered?: number };
  setArpAnswers?(announced: Buffer, watched: Buffer): void;
  takeArpAnswerStats?(): { counts: Uint32Array };
  arpAnswerDelays?(): Float64Array;
  setTimestamps?(on: boolean): void;
  setAnswerPriority?(priority: number): void;
  answerThread?(): { running: boolean; tid: number; policy: string; priority: number; requested: number; error?: unknown };
}
interface NativeAddon {
  PacketSocket: new (
    ifname: string,
    ethertype: number,
    onFrames: (batch: Buffer, ends: Uint32Array, stamps?: Float64Array) => void,
    onError: (err: unknown) => void,
    ring?: { frames: number; frameSize: number },
  ) => NativePacketSocket;
  setTcpMd5Sig(fd: number, address: string, prefixLength: number, key: Buffer): void;
  bindToDevice(fd: number, ifname: string): void;
  setMinTtl(fd: number, family: 4 | 6, ttl: number): void;
  setTtl(fd: number, family: 4 | 6, ttl: number): void;
  attachSocketFilter(fd: number, program: Buffer, drain?: boolean): number;
  tcpSocket(family: 4 | 6): number;
  closeFd(fd: number): void;
  mallocTrim?(minFreeBytes: number): { free: number; trimmed: boolean };
  realtimeMicros?(): number;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/berth_native.node', import.meta.url));
let addon: NativeAddon | undefined;

/** The native addon, loaded on first use. Throws an Error saying how to build it when it is missing. */
function native(): NativeAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (err) {
    throw new Error(
      `berth's native addon cannot be loaded from ${ADDON_PATH} (${(err as Error).message}); ` +
        'it is built by `npm ci` / `npm install`, or by hand with `npm run build:native` (needs g++, make, python3)',
      { cause: err },
    );
  }
  return addon;
}

/** Turns an addon Error (code/syscall/ifname/errno properties) into a LinkError; other values pass through. */
function toLinkError(err: unknown, fallbackSyscall: string, ifname?: string): unknown {
  if (err instanceof LinkError) return err;
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    const e = err as Error & { code: string; syscall?: string; ifname?: string; errno?: number };
    return new LinkError(e.message, {
      code: e.code,
      syscall: e.syscall ?? fallbackSyscall,
      ifname: e.ifname ?? ifname,
      errno: e.errno,
    });
  }
  return err;
}

function checkIfname(ifname: unknown): asserts ifname is string {
  if (typeof ifname !== 'string' || !/^[^/\s]{1,15}$/.test(ifname)) {
    throw new TypeError(
      `interface name ${JSON.stringify(ifname)} is invalid: 1..15 characters, no '/' or whitespace`,
    );
  }
}

/**
 * Default receive rings (see OpenPacketSocketOptions.ring). A ring is mmap'd whole at open, so its bytes are resident
 * for the socket's life (RssFile of the speaker): the slots are sized to the frames the speaker reads, 66 bytes of
 * TPACKET_V2 headers (tpacket2_hdr + sockaddr_ll, aligned) plus the frame.
 */
export const DEFAULT_RING = {
  /**
   * ARP: an Ethernet/IPv4 ARP frame is 42 bytes (60 padded, 64 with an 802.1Q tag), so 128-byte slots keep 62 bytes
   * of it (the 42 every decision reads, and the padding); 2,048 slots (102 ms at 20,000 requests/s; with the native
   * ARP answer on, the addon's answer thread drains it without waiting for the event loop; the layer-2-netns test's
   * 2,000-request burst fits even before that thread runs) in 256 KiB.
   */
  arp: { frames: 2048, frameSize: 128 },
  /**
   * IPv6 (NDP_FILTER: NS/NA only): an NS or NA with a link-layer address option is 86 bytes, 94 with a nonce
   * (RFC 7527), so 256-byte slots keep 190 bytes (longer ones, e.g. with SEND's CGA options, are cut: the responder
   * drops them as undecodable and counts them); 1,024 slots (51 ms at 20,000/s, drained by the event loop) in
   * 256 KiB.
   */
  ipv6: { frames: 1024, frameSize: 256 },
  other: { frames: 512, frameSize: 2048 },
} as const;

function checkFrame(frame: unknown, ifname: string): asserts frame is Buffer {
  if (!Buffer.isBuffer(frame)) throw new TypeError(`frame for ${ifname} must be a Buffer`);
  if (frame.length < 14) {
    throw new RangeError(
      `frame of ${frame.length} bytes for ${ifname} is shorter than the 14-byte Ethernet header`,
    );
  }
}

class AfPacketSocket implements PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  readonly mac: Buffer;
  readonly ring: boolean;
  readonly #sock: NativePacketSocket;
  #closed = false;
  #received = 0;
  #batches = 0;
  #largestBatch = 0;
  #handlerErrors = 0;
  #sendErrors = 0;
  /** The udp6 socket holding joinGroup memberships (created on first use), and the count per group. */
  #mld: DgramSocket | undefined;
  readonly #groups = new Map<string, number>();
  /** Frames sent by onFrame handlers during the current batch, flushed with one sendmmsg after it. */
  #pending: Buffer[] | undefined;
  readonly #report: (err: LinkError) => void;
  /** answerPriority asked for and not yet checked (the first setArpAnswers starts the thread and checks it). */
  #priorityPending = false;

  constructor(o: OpenPacketSocketOptions) {
    this.ifname = o.ifname;
    const report = (err: LinkError): void => {
      if (o.onError) {
        try {
          o.onError(err);
          return;
        } catch (_) {
          // a throwing error handler falls back to a warning below
        }
      }
      process.emitWarning(err);
    };
    this.#report = report;
    const meta = { outgoing: false, rxMicros: 0 };
    const onFrame = (frame: Buffer): void => {
      this.#received++;
      try {
        o.onFrame(frame, meta);
      } catch (err) {
        this.#handlerErrors++;
        report(
          new LinkError(`onFrame handler for ${o.ifname} threw: ${(err as Error)?.message ?? String(err)}`, {
            code: 'EHANDLER',
            syscall: 'onFrame',
            ifname: o.ifname,
            cause: err,
          }),
        );
      }
    };
    // One call per event-loop wake-up: frame i is batch[ends[i-1] .. ends[i]) (views, no copies).
    const onFrames = (batch: Buffer, ends: Uint32Array, stamps?: Float64Array): void => {
      if (this.#closed) return;
      this.#batches++;
      if (ends.length > this.#largestBatch) this.#largestBatch = ends.length;
      let start = 0;
      this.#pending = [];
      try {
        for (let i = 0; i < ends.length && !this.#closed; i++) {
          const end = ends[i]!;
          meta.rxMicros = stamps ? stamps[i]! : 0;
          onFrame(batch.subarray(start, end));
          start = end;
        }
      } finally {
        this.#flush();
      }
    };
    const onError = (err: unknown): void => {
      const e = toLinkError(err, 'recvfrom', o.ifname);
      report(
        e instanceof LinkError
          ? e
          : new LinkError(String(err), { code: 'EIO', syscall: 'recvfrom', ifname: o.ifname }),
      );
    };
    const ring =
      o.ring === false
        ? undefined
        : (o.ring ??
          (o.ethertype === 0x0806
            ? DEFAULT_RING.arp
            : o.ethertype === 0x86dd
              ? DEFAULT_RING.ipv6
              : DEFAULT_RING.other));
    const filter = o.filter === undefined ? undefined : encodeFilter(o.filter);
    const prio = o.answerPriority ?? 0;
    if (!Number.isInteger(prio) || prio < 0 || prio > 99)
      throw new RangeError(
        `answerPriority ${String(prio)} for ${o.ifname} is invalid: 0 (SCHED_OTHER) or a SCHED_FIFO priority 1..99`,
      );
    try {
      this.#sock = new (native().PacketSocket)(o.ifname, o.ethertype, onFrames, onError, ring && { ...ring });
    } catch (err) {
      throw toLinkError(err, 'socket', o.ifname);
    }
    if (filter) {
      try {
        this.#sock.attachFilter(filter);
      } catch (err) {
        this.#sock.close();
        throw toLinkError(err, 'setsockopt(SO_ATTACH_FILTER)', o.ifname);
      }
    }
    if (o.timestamps) this.#sock.setTimestamps?.(true);
    if (prio > 0) {
      if (this.#sock.setAnswerPriority) this.#sock.setAnswerPriority(prio); // remembered: applied as the thread starts
      this.#priorityPending = true;
    }
    this.ifindex = this.#sock.ifindex;
    this.mac = Buffer.from(this.#sock.mac);
    this.ring = this.#sock.ring;
  }

  /**
   * Sends what onFrame handlers queued during one batch: one sendmmsg per 1,024 frames. A frame the kernel refuses
   * is counted in sendErrors and skipped; the first error of a flush goes to onError.
   */
  #flush(): void {
    const frames = this.#pending;
    this.#pending = undefined;
    if (!frames || frames.length === 0 || this.#closed) return;
    let sent = 0;
    let reported = false;
    while (sent < frames.length) {
      try {
        const chunk = sent === 0 && frames.length <= 1024 ? frames : frames.slice(sent, sent + 1024);
        const n = this.#sock.sendBatch(chunk);
        sent += n;
        if (n === 0)
          throw new LinkError(`sendmmsg on ${this.ifname} sent nothing`, {
            code: 'EAGAIN',
            syscall: 'sendmmsg',
            ifname: this.ifname,
          });
      } catch (err) {
        this.#sendErrors++;
        sent++; // the frame that failed
        if (!reported) {
          reported = true;
          const e = toLinkError(err, 'sendmmsg', this.ifname);
          this.#report(
            e instanceof LinkError
              ? e
              : new LinkError(String(err), { code: 'EIO', syscall: 'sendmmsg', ifname: this.ifname }),
          );
        }
      }
    }
  }

  attachFilter(program: readonly BpfInstruction[]): void {
    const code = Array.isArray(program) && program.length === 0 ? Buffer.alloc(0) : encodeFilter(program);
    if (this.#closed)
      throw new LinkError(`setsockopt(SO_ATTACH_FILTER) on ${this.ifname}: socket is closed`, {
        code: 'EBADF',
        syscall: 'setsockopt(SO_ATTACH_FILTER)',
        ifname: this.ifname,
      });
    try {
      this.#sock.attachFilter(code);
    } catch (err) {
      throw toLinkError(err, 'setsockopt(SO_ATTACH_FILTER)', this.ifname);
    }
  }

  sendBatch(frames: readonly Buffer[]): number {
    if (!Array.isArray(frames)) throw new TypeError(`frames for ${this.ifname} must be an Array of Buffers`);
    for (const f of frames) checkFrame(f, this.ifname);
    if (this.#closed)
      throw new LinkError(`sendmmsg on ${this.ifname}: socket is closed`, {
        code: 'EBADF',
        syscall: 'sendmmsg',
        ifname: this.ifname,
      });
    let sent = 0;
    while (sent < frames.length) {
      const chunk = frames.slice(sent, sent + 1024);
      let n: number;
      try {
        n = this.#sock.sendBatch(chunk);
      } catch (err) {
        if (sent > 0) return sent;
        throw toLinkError(err, 'sendmmsg', this.ifname);
      }
      sent += n;
      if (n < chunk.length) break;
    }
    return sent;
  }

  send(frame: Buffer): void {
    checkFrame(frame, this.ifname);
    if (this.#closed)
      throw new LinkError(`send on ${this.ifname}: socket is closed`, {
        code: 'EBADF',
        syscall: 'send',
        ifname: this.ifname,
      });
    if (this.#pending) {
      this.#pending.push(frame);
      return;
    }
    try {
      this.#sock.send(frame);
    } catch (err) {
      throw toLinkError(err, 'send', this.ifname);
    }
  }

  addMembership(m: PacketMembership): void {
    this.#membership(true, m);
  }

  dropMembership(m: PacketMembership): void {
    this.#membership(false, m);
  }

  #membership(add: boolean, m: PacketMembership): void {
    const syscall = add ? 'setsockopt(PACKET_ADD_MEMBERSHIP)' : 'setsockopt(PACKET_DROP_MEMBERSHIP)';
    let mac: Buffer | undefined;
    if (m?.kind === 'multicast') {
      if (typeof m.mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(m.mac)) {
        throw new TypeError(
          `multicast MAC ${JSON.stringify(m.mac)} is invalid: six hex octets aa:bb:cc:dd:ee:ff`,
        );
      }
      mac = Buffer.from(m.mac.replaceAll(':', ''), 'hex');
      if (((mac[0] ?? 0) & 1) === 0) {
        throw new TypeError(
          `MAC ${m.mac} is not a multicast address: the I/G bit (0x01 of the first octet) must be set`,
        );
      }
    } else if (m?.kind !== 'allmulti' && m?.kind !== 'promisc') {
      throw new TypeError(
        `membership kind ${JSON.stringify((m as { kind?: unknown })?.kind)} is invalid: multicast, allmulti or promisc`,
      );
    }
    if (this.#closed)
      throw new LinkError(`${syscall} on ${this.ifname}: socket is closed`, {
        code: 'EBADF',
        syscall,
        ifname: this.ifname,
      });
    try {
      this.#sock.membership(add, PACKET_MR[m.kind], mac);
    } catch (err) {
      throw toLinkError(err, syscall, this.ifname);
    }
  }

  setArpAnswers(announced: readonly string[], watched: readonly string[]): void {
    const pack = (ips: readonly string[], what: string): Buffer => {
      if (!Array.isArray(ips)) throw new TypeError(`setArpAnswers: ${what} must be an array of IPv4 addresses`);
      const b = Buffer.alloc(ips.length * 4);
      ips.forEach((ip, i) => {
        if (typeof ip !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(ip))
          throw new TypeError(`setArpAnswers: ${what}[${i}] ${JSON.stringify(ip)} is not a dotted-quad IPv4 address`);
        Buffer.from(ipaddr.IPv4.parse(ip).toByteArray()).copy(b, i * 4);
      });
      return b;
    };
    const a = pack(announced, 'announced');
    const w = pack(watched, 'watched');
    if (this.#closed) return;
    if (!this.#sock.setArpAnswers)
      throw new LinkError(`setArpAnswers on ${this.ifname}: the native addon is older than this code; rebuild it`, {
        code: 'ENOSYS',
        syscall: 'setArpAnswers',
        ifname: this.ifname,
      });
    this.#sock.setArpAnswers(a, w);
    if (this.#priorityPending) {
      this.#priorityPending = false;
      const t = this.answerThread();
      if (t.error) this.#report(t.error);
      else if (!this.#sock.setAnswerPriority)
        this.#report(
          new LinkError(
            `answer thread of ${this.ifname}: the native addon has no setAnswerPriority (older than this code; rebuild it): it runs at SCHED_OTHER`,
            { code: 'ENOSYS', syscall: 'pthread_setschedparam', ifname: this.ifname },
          ),
        );
    }
  }

  answerThread(): AnswerThreadState {
    const t = this.#closed ? undefined : this.#sock.answerThread?.();
    if (!t) return { running: false, tid: 0, policy: 'other', priority: 0, requested: 0 };
    const policies = ['fifo', 'other', 'rr', 'batch', 'idle'] as const;
    const state: AnswerThreadState = {
      running: t.running,
      tid: t.tid,
      policy: policies.find((p) => p === t.policy) ?? 'unknown',
      priority: t.priority,
      requested: t.requested,
    };
    if (t.error !== undefined) {
      const e = toLinkError(t.error, 'pthread_setschedparam', this.ifname);
      if (e instanceof LinkError) {
        state.error = new LinkError(
          `answer thread of ${this.ifname}: SCHED_FIFO priority ${t.requested} refused (${e.message}); it runs at SCHED_OTHER`,
          { code: e.code, syscall: 'pthread_setschedparam', ifname: this.ifname, ...(e.errno !== undefined ? { errno: e.errno } : {}) },
        );
      }
    }
    return state;
  }

  takeArpAnswerStats(): ArpAnswerStats {
    const perIp = new Map<string, { answered: number; sendErrors: number }>();
    const raw = this.#sock.takeArpAnswerStats?.();
    if (raw) {
      const c = raw.counts;
      for (let i = 0; i + 2 < c.length; i += 3) {
        const v = c[i]!;
        perIp.set(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, {
          answered: c[i + 1]!,
          sendErrors: c[i + 2]!,
        });
      }
    }
    return { perIp };
  }

  arpAnswerDelays(): LatencyHistogram {
    const d = this.#sock.arpAnswerDelays?.() ?? new Float64Array(2);
    return {
      buckets: [...d.subarray(0, d.length - 2)],
      count: d[d.length - 2]!,
      sumMicros: d[d.length - 1]!,
    };
  }

  joinGroup(group: string): void {
    const g = checkGroup(group);
    if (this.#closed)
      throw new LinkError(`setsockopt(IPV6_JOIN_GROUP) on ${this.ifname}: socket is closed`, {
        code: 'EBADF',
        syscall: 'setsockopt(IPV6_JOIN_GROUP)',
        ifname: this.ifname,
      });
    const n = this.#groups.get(g) ?? 0;
    if (n === 0) {
      try {
        this.#mld ??= createSocket({ type: 'udp6' }).unref();
        this.#mld.addMembership(g, `::%${this.ifname}`);
      } catch (err) {
        const e = err as Error & { code?: string; errno?: number };
        throw new LinkError(`setsockopt(IPV6_JOIN_GROUP ${g}) on ${this.ifname}: ${e.message}`, {
          code: typeof e.code === 'string' ? e.code : 'EIO',
          syscall: 'setsockopt(IPV6_JOIN_GROUP)',
          ifname: this.ifname,
          cause: err,
        });
      }
    }
    this.#groups.set(g, n + 1);
  }

  leaveGroup(group: string): void {
    const g = checkGroup(group);
    const n = this.#groups.get(g) ?? 0;
    if (n === 0) return;
    if (n > 1) {
      this.#groups.set(g, n - 1);
      return;
    }
    this.#groups.delete(g);
    try {
      this.#mld?.dropMembership(g, `::%${this.ifname}`);
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new LinkError(`setsockopt(IPV6_LEAVE_GROUP ${g}) on ${this.ifname}: ${e.message}`, {
        code: typeof e.code === 'string' ? e.code : 'EIO',
        syscall: 'setsockopt(IPV6_LEAVE_GROUP)',
        ifname: this.ifname,
        cause: err,
      });
    }
  }

  stats(): PacketSocketStats {
    const st = this.#sock.statistics();
    return {
      received: this.#received,
      batches: this.#batches,
      largestBatch: this.#largestBatch,
      kernelDrops: st.drops,
      handlerErrors: this.#handlerErrors,
      sendErrors: this.#sendErrors,
      answeredNatively: st.arpAnswered ?? 0,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sock.close();
    this.#groups.clear();
    this.#mld?.close(); // the kernel leaves its groups (MLD Done)
    this.#mld = undefined;
  }
}

/** Canonical text of an IPv6 multicast group, or a TypeError naming the value. */
function checkGroup(group: string): string {
  if (typeof group !== 'string' || group.includes('%') || !ipaddr.IPv6.isValid(group))
    throw new TypeError(`multicast group ${JSON.stringify(group)} is not an IPv6 address (without zone)`);
  const a = ipaddr.IPv6.parse(group);
  if (a.range() !== 'multicast')
    throw new TypeError(`${group} is not an IPv6 multicast group (ff00::/8)`);
  return a.toString();
}

/**
 * Opens an AF_PACKET SOCK_RAW socket on `ifname` bound to `ethertype` (packet(7)); frames arrive through onFrame on
 * Node's event loop (a uv_poll, no thread): every frame pending at a wake-up, read from a receive ring (see
 * `ring`), crosses from the addon to JS in one batch, then onFrame runs once per frame (a view into the batch's
 * Buffer: copy it to keep it past the call cheaply). The open socket keeps the process alive until close().
 * Throws LinkError: EPERM without CAP_NET_RAW, ENODEV when the interface does not exist; TypeError for a bad name or
 * an ethertype outside 0..0xffff.
 */
export function openPacketSocket(o: OpenPacketSocketOptions): PacketSocket {
  checkIfname(o.ifname);
  if (!Number.isInteger(o.ethertype) || o.ethertype < 0 || o.ethertype > 0xffff) {
    throw new TypeError(
      `ethertype ${String(o.ethertype)} is invalid: an integer in 0..0xffff (e.g. 0x0806 ARP, 0x86dd IPv6)`,
    );
  }
  if (typeof o.onFrame !== 'function') throw new TypeError('openPacketSocket: onFrame must be a function');
  return new AfPacketSocket(o);
}

let realtimeClock: (() => number) | undefined;

/**
 * Now as microseconds since the epoch, read from CLOCK_REALTIME by the addon (clock_gettime(2)): the clock of the
 * kernel receive stamps of OpenPacketSocketOptions.timestamps, so `realtimeMicros() - meta.rxMicros` is exact to the
 * clock's resolution. Without the addon (or an addon built before it had the call): performance.timeOrigin +
 * performance.now(), fixed at start-up and measured 22 µs to 0.3 ms off CLOCK_REALTIME.
 */
export function realtimeMicros(): number {
  if (!realtimeClock) {
    let f: (() => number) | undefined;
    try {
      f = native().realtimeMicros;
    } catch {
      f = undefined; // no addon: the fallback below
    }
    realtimeClock = f ?? ((): number => (performance.timeOrigin + performance.now()) * 1000);
  }
  return realtimeClock();
}

/** What one mallocTrim call saw and did. */
export interface MallocTrimResult {
  /** Bytes free in the C library's malloc arenas before (glibc mallinfo2 fordblks); -1 where it cannot tell. */
  free: number;
  /** Whether malloc_trim(0) ran and gave pages back. */
  trimmed: boolean;
}

/**
 * glibc's malloc keeps what the process free()d (V8's parser and compiler zones, OpenSSL, libuv buffers) in its
 * arenas, resident though unused: after the speaker's start (every Service parsed, planned and announced) about
 * 1.2 MiB of RssAnon with 1,000 Services (bench/speaker-rss.ts). When the arenas hold at least `minFreeBytes` free,
 * this calls malloc_trim(0) (malloc_trim(3): whole free pages go back to the kernel with MADV_DONTNEED, also between
 * live chunks). A few hundred µs for a heap of a few MiB. Through the addon: throws its load Error when it is
 * missing; { free: -1, trimmed: false } on a C library without malloc_trim. RangeError for a negative or NaN value.
 */
export function mallocTrim(minFreeBytes: number): MallocTrimResult {
  if (typeof minFreeBytes !== 'number' || !(minFreeBytes >= 0))
    throw new RangeError(`mallocTrim: minFreeBytes ${String(minFreeBytes)} is invalid: a number of bytes >= 0`);
  const f = native().mallocTrim;
  if (!f) return { free: -1, trimmed: false };
  return f(minFreeBytes);
}

/**
 * Runs mallocTrim(minFreeBytes) every `everyMs` (defaults 10 s, 256 KiB) on an unref'd timer, so the C library's
 * free memory does not stay resident after a burst of work (start-up, a resync, a configuration change). Returns
 * the function that stops it. Never throws: without the addon it does nothing (and returns a no-op).
 */
export function startMallocTrim(o: { everyMs?: number; minFreeBytes?: number } = {}): () => void {
  const everyMs = o.everyMs ?? 10_000;
  const minFree = o.minFreeBytes ?? 256 * 1024;
  if (!(everyMs > 0) || !(minFree >= 0))
    throw new RangeError(`startMallocTrim: everyMs ${String(everyMs)} must be > 0 and minFreeBytes ${String(minFree)} >= 0`);
  try {
    if (!native().mallocTrim) return () => undefined;
  } catch {
    return () => undefined;
  }
  const timer = setInterval(() => void mallocTrim(minFree), everyMs).unref();
  return () => clearInterval(timer);
}

/** Linux TCP_MD5SIG_MAXKEYLEN. */
export const TCP_MD5_MAX_KEY_BYTES = 80;

/**
 * Sets (or, with key '', removes) the RFC 2385 TCP MD5 signature key for `peer` on a TCP socket fd: TCP_MD5SIG, or
 * TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_PREFIX when prefixLength is given (a key for a whole prefix). On a listening
 * socket the key covers connections accepted from that peer; on a client socket set it before connect() (see
 * tcpSocket), since Linux drops segments that should be signed and are not. An IPv4 peer on an IPv6 socket is
 * handled (mapped to ::ffff:a.b.c.d). The key is never echoed in errors.
 * Throws TypeError/RangeError for a bad address, prefix or a key over 80 bytes; LinkError for the syscall.
 */
export function setTcpMd5Sig(
  fd: number,
  peer: { address: string; prefixLength?: number },
  key: string,
): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd ${String(fd)} is invalid: a non-negative integer`);
  if (typeof peer?.address !== 'string' || !ipaddr.isValid(peer.address)) {
    throw new TypeError(
      `TCP MD5 peer address ${JSON.stringify(peer?.address)} is not an IPv4 or IPv6 address`,
    );
  }
  const addr = ipaddr.parse(peer.address);
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const prefix = peer.prefixLength;
  if (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max)) {
    throw new RangeError(
      `TCP MD5 prefix length ${String(prefix)} for ${peer.address} is invalid: an integer in 0..${max}`,
    );
  }
  if (typeof key !== 'string') throw new TypeError('TCP MD5 key must be a string');
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length > TCP_MD5_MAX_KEY_BYTES) {
    throw new RangeError(
      `TCP MD5 key for ${peer.address} is ${bytes.length} bytes: at most ${TCP_MD5_MAX_KEY_BYTES} (Linux TCP_MD5SIG_MAXKEYLEN)`,
    );
  }
  try {
    native().setTcpMd5Sig(fd, addr.toString(), prefix ?? -1, bytes);
  } catch (err) {
    throw toLinkError(err, 'setsockopt(TCP_MD5SIG)');
  }
}

/** SO_BINDTODEVICE on a socket fd (a VRF or interface name; '' unbinds). socket(7). Throws LinkError (ENODEV, EPERM). */
export function bindToDevice(fd: number, ifname: string): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd ${String(fd)} is invalid: a non-negative integer`);
  if (ifname !== '') checkIfname(ifname);
  try {
    native().bindToDevice(fd, ifname);
  } catch (err) {
    throw toLinkError(err, 'setsockopt(SO_BINDTODEVICE)', ifname || undefined);
  }
}

/**
 * IP_MINTTL (family 4) / IPV6_MINHOPCOUNT (family 6) on a TCP socket fd: the kernel drops received segments whose
 * TTL / hop limit is below `ttl` (GTSM, RFC 5082; on a listening socket it covers the SYNs). 0 turns it off.
 * Linux applies it to TCP only: UDP datagrams (BFD) are delivered whatever their TTL. ip(7), ipv6(7).
 * Throws TypeError for a bad family or ttl, LinkError for the syscall (e.g. ENOPROTOOPT on the wrong family).
 */
export function setMinTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd ${String(fd)} is invalid: a non-negative integer`);
  if (family !== 4 && family !== 6) throw new TypeError(`family ${String(family)} is invalid: 4 or 6`);
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) {
    throw new RangeError(`minimum TTL ${String(ttl)} is invalid: an integer in 0..255`);
  }
  try {
    native().setMinTtl(fd, family, ttl);
  } catch (err) {
    throw toLinkError(err, family === 4 ? 'setsockopt(IP_MINTTL)' : 'setsockopt(IPV6_MINHOPCOUNT)');
  }
}

/**
 * IP_TTL (family 4) / IPV6_UNICAST_HOPS (family 6) for what a socket fd sends: 255 for GTSM (RFC 5082), 1 for a
 * directly connected eBGP peer. Throws TypeError for a bad family or ttl (1..255), LinkError for the syscall.
 */
export function setTtl(fd: number, family: 4 | 6, ttl: number): void {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd ${String(fd)} is invalid: a non-negative integer`);
  if (family !== 4 && family !== 6) throw new TypeError(`family ${String(family)} is invalid: 4 or 6`);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
    throw new RangeError(`TTL ${String(ttl)} is invalid: an integer in 1..255`);
  }
  try {
    native().setTtl(fd, family, ttl);
  } catch (err) {
    throw toLinkError(err, family === 4 ? 'setsockopt(IP_TTL)' : 'setsockopt(IPV6_UNICAST_HOPS)');
  }
}

/**
 * SO_ATTACH_FILTER on any socket fd (e.g. a dgram socket's, bfd/udp.ts dgramFd): the kernel drops what the classic BPF
 * `program` rejects before it is queued; an empty program detaches. On a UDP socket the program sees the datagram from
 * the UDP header, the IP header at SKF_NET_OFF (-0x100000). The filter does not apply to datagrams already queued:
 * `drain` (datagram sockets only) discards those, so call it in the bind callback, before the loop reads the socket.
 * Returns how many were discarded. socket(7), Documentation/networking/filter.rst.
 * Throws TypeError for a bad program (the instruction and the field ranges), LinkError for the syscall.
 */
export function attachSocketFilter(
  fd: number,
  program: readonly BpfInstruction[],
  o: { drain?: boolean } = {},
): number {
  if (!Number.isInteger(fd) || fd < 0)
    throw new TypeError(`fd ${String(fd)} is invalid: a non-negative integer`);
  const buf = program.length === 0 ? Buffer.alloc(0) : encodeFilter(program);
  try {
    return native().attachSocketFilter(fd, buf, o.drain === true);
  } catch (err) {
    throw toLinkError(err, 'setsockopt(SO_ATTACH_FILTER)');
  }
}

/**
 * The file descriptor of a Node net.Socket (connected, or created with `{ fd }`) or a listening net.Server (Linux: its
 * libuv handle's fd). Throws LinkError EBADF when it has none yet (a Socket before connect, a Server before listen).
 */
export function socketFd(sock: Socket | Server): number {
  const fd = (sock as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    throw new LinkError(
      'socket has no file descriptor yet (a net.Socket before connect or a net.Server before listen)',
      {
        code: 'EBADF',
        syscall: 'socketFd',
      },
    );
  }
  return fd;
}

/**
 * A new unconnected TCP socket fd (close-on-exec), so options that must precede the SYN (TCP MD5, SO_BINDTODEVICE)
 * can be set before `new net.Socket({ fd }).connect(...)`; openTcpSocket does the whole sequence. Throws LinkError.
 */
export function tcpSocket(family: 4 | 6): number {
  try {
    return native().tcpSocket(family);
  } catch (err) {
    throw toLinkError(err, 'socket');
  }
}

/** Closes an fd from tcpSocket that was never handed to a net.Socket. */
export function closeFd(fd: number): void {
  native().closeFd(fd);
}

export interface OpenTcpSocketOptions {
  /** 4 or 6: the address family of the peer you will connect() to. */
  family: 4 | 6;
  /** RFC 2385 key for the peer, set before the SYN. */
  md5?: { peer: { address: string; prefixLength?: number }; key: string };
  /** SO_BINDTODEVICE (VRF name or interface) before connect. */
  device?: string;
  /** TTL / hop limit of what it sends (setTtl), from the SYN on. */
  ttl?: number;
  /** Minimum received TTL / hop limit (setMinTtl, GTSM). */
  minTtl?: number;
}

/**
 * An unconnected net.Socket whose TCP MD5 key and device binding are already set, for an active BGP session:
 * `openTcpSocket({ family: 4, md5: { peer: { address }, key } }).connect(179, address)`. The key must be there before
 * the SYN: Linux drops unsigned segments from a peer that has a key, and the peer drops ours. Throws like
 * setTcpMd5Sig / bindToDevice (the fd is closed on failure).
 */
export function openTcpSocket(o: OpenTcpSocketOptions): Socket {
  if (o.family !== 4 && o.family !== 6)
    throw new TypeError(`TCP socket family ${String(o.family)} is invalid: 4 or 6`);
  const fd = tcpSocket(o.family);
  try {
    if (o.md5) setTcpMd5Sig(fd, o.md5.peer, o.md5.key);
    if (o.device !== undefined) bindToDevice(fd, o.device);
    if (o.ttl !== undefined) setTtl(fd, o.family, o.ttl);
    if (o.minTtl !== undefined) setMinTtl(fd, o.family, o.minTtl);
    return new Socket({ fd, readable: true, writable: true });
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/** Options of runArpLoad (the benches' native ARP requester). */
export interface ArpLoadOptions {
  /** The interface to send on and listen to (1..15 characters). */
  ifname: string;
  /** The IPv4 address asked for (ar$tpa). */
  target: string;
  /** Requests per second, in (0, 1,000,000]. */
  rate: number;
  /** Seconds of requests, > 0 (rate × seconds: 1..20,000,000 requests). */
  seconds: number;
  /**
   * How a reply names its request. 'spa' (default; a bridged segment): ar$sha is the interface's MAC, ar$spa rotates
   * over 682 documentation-range addresses and a reply goes to the latest request from its ar$tpa. 'sha' (a veth
   * pair only: a bridge floods replies to unknown MACs): request n carries ar$sha 02:00:nn:nn:nn:nn, echoed as the
   * reply's ar$tha.
   */
  match?: 'spa' | 'sha';
  /** 'sha' only: every referenceEvery-th request (default 10, ≥ 2) asks for this IPv4 instead (e.g. one a kernel answers). */
  reference?: string;
  referenceEvery?: number;
  /** Pacing: a sendmmsg(2) batch of the requests due every tickMicros (default 1000, 10..1,000,000). */
  tickMicros?: number;
  /** How long to wait for replies after the last request (default 200 ms, 0..60,000); replies in the next 50 ms are `late`. */
  graceMs?: number;
}

/** Replies to one kind of request (the target's or the reference's) in a runArpLoad run. */
export interface ArpLoadSeries {
  /** requests sent */
  asked: number;
  /** replies matched within the grace period (asked − replies were lost) */
  replies: number;
  /**
   * Per reply, µs from the request's to the reply's kernel stamp on the interface (a second AF_PACKET socket bound
   * to ETH_P_ALL with SO_TIMESTAMPNS sees the outgoing request as PACKET_OUTGOING): what `tcpdump -i IFNAME` shows.
   */
  wireMicros: Float64Array;
  /** Per reply, µs from the clock read just before the request's sendmmsg(2) to the reply's kernel stamp. */
  sendMicros: Float64Array;
  /** Per reply, µs from the clock read just before the request's sendmmsg(2) to the requester thread reading it. */
  readMicros: Float64Array;
}

/** What runArpLoad saw. */
export interface ArpLoadResult {
  /** requests the kernel took (target and reference) */
  sent: number;
  /** outgoing requests the tap saw and stamped */
  requestsSeen: number;
  /** ARP replies for the target (or reference) that named no request we sent, or one already answered */
  unmatched: number;
  /** replies after the grace period (their requests count as lost) */
  late: number;
  /** replies matched whose request the tap never saw (no wireMicros for them) */
  noRequestStamp: number;
  /** sendmmsg calls that found the interface's queue full (the rest waited a tick) */
  sendStalls: number;
  /** seconds from the first to the last request */
  seconds: number;
  /** frames the tap's receive queue dropped (PACKET_STATISTICS tp_drops): if not 0 the requester lost replies */
  kernelDrops: number;
  /** CPU time of the requester's thread (getrusage RUSAGE_THREAD), µs; system time includes the softirq work done in its sends */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** µs the requester's thread waited for a CPU while runnable (/proc/thread-self/schedstat); -1 if unreadable */
  runQueueWaitMicros: number;
  /** the thread's context switches (voluntary + involuntary) during the run */
  contextSwitches: number;
  main: ArpLoadSeries;
  reference?: ArpLoadSeries;
}

type ArpLoadFn = (o: ArpLoadOptions) => Promise<ArpLoadResult>;

/** Whether the addon has the native ARP requester (runArpLoad): false when it is missing or older. */
export function hasNativeArpLoad(): boolean {
  try {
    return typeof (native() as unknown as { arpLoad?: ArpLoadFn }).arpLoad === 'function';
  } catch {
    return false;
  }
}

/**
 * Sends ARP requests (RFC 826) for `target` on `ifname` at `rate` per second for `seconds` from a native thread
 * (native/src/arp_load.cc: paced sendmmsg(2) batches, replies read with recvmmsg(2) from an ETH_P_ALL tap with
 * kernel timestamps) and resolves with what it saw; the JS thread stays idle meanwhile. Needs CAP_NET_RAW.
 * Rejects with TypeError naming the option and its rule for bad options (checked by the addon), with LinkError
 * (EPERM, ENODEV, ...) when a socket cannot be opened or a send fails; with the addon's load Error when it is
 * missing or has no arpLoad (hasNativeArpLoad() tells).
 */
export async function runArpLoad(o: ArpLoadOptions): Promise<ArpLoadResult> {
  checkIfname(o.ifname);
  const f = (native() as unknown as { arpLoad?: ArpLoadFn }).arpLoad;
  if (typeof f !== 'function')
    throw new Error(`berth's native addon at ${ADDON_PATH} has no arpLoad: rebuild it (npm run build:native)`);
  try {
    return await f(o);
  } catch (err) {
    throw toLinkError(err, 'arpLoad', o.ifname);
  }
}

/** Options of openPacketTap. */
export interface OpenPacketTapOptions {
  ifname: string;
  /**
   * Every frame the interface sends or receives that `filter` passes (our own process's other sockets' frames
   * included), on Node's event loop, with its kernel timestamp: rxMicros, µs since the epoch (CLOCK_REALTIME, as
   * realtimeMicros()) when the kernel received it or handed it to the driver (0 if the kernel gave none). The frame
   * is a view valid during the call.
   */
  onFrame: (frame: Buffer, rxMicros: number) => void;
  /** Kernel-side classic BPF filter (see OpenPacketSocketOptions.filter); without one every frame comes through. */
  filter?: readonly BpfInstruction[];
  /** The receive ring (see OpenPacketSocketOptions.ring); default 4,096 slots of 128 bytes (512 KiB). */
  ring?: { frames: number; frameSize: number };
  onError?: (err: LinkError) => void;
}

/** A packet tap: see openPacketTap. */
export interface PacketTap {
  /** Frames the kernel dropped because the tap's queue was full (PACKET_STATISTICS tp_drops, since the last call). */
  kernelDrops(): number;
  close(): void;
}

/** Classic BPF: pass EtherType 0x0806 (ARP) frames only. */
export const ARP_ONLY_FILTER: readonly BpfInstruction[] = Object.freeze([
  { code: 0x28, jt: 0, jf: 0, k: 12 }, // ldh [12]
  { code: 0x15, jt: 0, jf: 1, k: 0x0806 }, // jeq #0x806
  { code: 0x06, jt: 0, jf: 0, k: 0xffff }, // ret #65535
  { code: 0x06, jt: 0, jf: 0, k: 0 }, // ret #0
]);

/**
 * A tap on `ifname`: an AF_PACKET socket bound to ETH_P_ALL that also gets copies of the frames other sockets send
 * on the interface (sll_pkttype PACKET_OUTGOING; only ETH_P_ALL taps get those, and a socket never gets its own),
 * each stamped by the kernel as it leaves for the driver, as `tcpdump -i IFNAME` sees it. The benches stamp their
 * requests with it (bench/failover-arp-load.ts). Throws LinkError (EPERM without CAP_NET_RAW, ENODEV), TypeError
 * for a bad interface name; the addon's load Error when it is missing.
 */
export function openPacketTap(o: OpenPacketTapOptions): PacketTap {
  checkIfname(o.ifname);
  if (typeof o.onFrame !== 'function') throw new TypeError('openPacketTap: onFrame must be a function');
  const report = (err: unknown): void => {
    const e = toLinkError(err, 'recvfrom', o.ifname);
    const le = e instanceof LinkError ? e : new LinkError(String(err), { code: 'EIO', syscall: 'recvfrom', ifname: o.ifname });
    if (o.onError) o.onError(le);
    else process.emitWarning(le);
  };
  const onFrames = (batch: Buffer, ends: Uint32Array, stamps?: Float64Array): void => {
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i]!;
      o.onFrame(batch.subarray(start, end), stamps ? stamps[i]! : 0);
      start = end;
    }
  };
  const Ctor = native().PacketSocket as unknown as new (
    ...args: [...ConstructorParameters<NativeAddon['PacketSocket']>, { outgoing: boolean }]
  ) => NativePacketSocket;
  let sock: NativePacketSocket;
  try {
    sock = new Ctor(o.ifname, 0x0003, onFrames, report, { ...(o.ring ?? { frames: 4096, frameSize: 128 }) }, { outgoing: true });
  } catch (err) {
    throw toLinkError(err, 'socket', o.ifname);
  }
  try {
    if (o.filter) sock.attachFilter(encodeFilter(o.filter));
    if (!sock.setTimestamps) throw new Error(`berth's native addon at ${ADDON_PATH} has no setTimestamps: rebuild it`);
    sock.setTimestamps(true);
  } catch (err) {
    sock.close();
    throw toLinkError(err, 'setsockopt(SO_ATTACH_FILTER)', o.ifname);
  }
  return {
    kernelDrops: () => sock.statistics().drops,
    close: () => sock.close(),
  };
}
