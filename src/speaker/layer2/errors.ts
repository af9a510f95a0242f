// Shared by the layer-2 codecs and the responder: why a frame was not answered, and the decode error that says so.
// Pure: no I/O.

/**
 * Why the responder did not answer a frame (counted per reason for metrics; MetalLB's `dropReason`,
 * internal/layer2/announcer.go, with RFC 4861 §7.1 validity reasons added).
 * - `truncated`: shorter than its headers or its length fields say.
 * - `malformed`: a field has a value its RFC forbids (ARP lengths, ICMPv6 code ≠ 0, zero-length option, …).
 * - `unsupported`: well-formed but not handled (802.1Q tag, ARP for a non-Ethernet/IPv4 pair, RARP opcodes).
 * - `not-request`: an ARP reply that claims no watched IP.
 * - `wrong-destination`: unicast to another MAC, or an NS to a group that is not the target's solicited-node group.
 * - `not-announced`: asks for an IP this link watches (probing, in conflict) but does not answer for yet.
 * - `bad-hop-limit`: NDP with IPv6 hop limit ≠ 255 (RFC 4861 §7.1.1/§7.1.2: it crossed a router).
 * - `bad-checksum`: ICMPv6 checksum over the pseudo-header (RFC 4443 §2.3) does not match.
 * - `no-source-link-layer`: a multicast NS without the Source Link-Layer Address option (MetalLB ignores those).
 * - `from-self`: the Ethernet source is this link's own MAC.
 * - `queue-full`: never seen by the responder: the kernel dropped it because the socket's receive ring was full
 *   (PACKET_STATISTICS tp_drops, summed over the announcer's sockets).
 */
export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'unsupported'
  | 'not-request'
  | 'wrong-destination'
  | 'not-announced'
  | 'bad-hop-limit'
  | 'bad-checksum'
  | 'no-source-link-layer'
  | 'from-self'
  | 'queue-full';

export const DROP_REASONS: readonly DropReason[] = [
  'truncated',
  'malformed',
  'unsupported',
  'not-request',
  'wrong-destination',
  'not-announced',
  'bad-hop-limit',
  'bad-checksum',
  'no-source-link-layer',
  'from-self',
  'queue-full',
];

/** Thrown by every layer-2 decoder: `reason` is the drop reason it maps to, `offset` the byte where decoding stopped. */
export class L2DecodeError extends Error {
  readonly reason: DropReason;
  readonly offset: number;
  constructor(reason: DropReason, offset: number, message: string) {
    super(`${message} (${reason} at byte ${offset})`);
    this.name = 'L2DecodeError';
    this.reason = reason;
    this.offset = offset;
  }
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
// Text → bytes conversions are memoised (bounded: cleared when full) because every reply re-encodes the same few MACs.
const macCache = new Map<string, Buffer>();

/** `aa:bb:cc:dd:ee:ff` (any case) → 6-byte Buffer (a fresh copy); throws a TypeError naming the value otherwise. */
export function macToBuffer(mac: string): Buffer {
  let b = macCache.get(mac);
  if (!b) {
    const m = typeof mac === 'string' ? mac.toLowerCase() : '';
    if (!MAC_RE.test(m))
      throw new TypeError(
        `MAC address "${String(mac)}" is not six colon-separated hex bytes (aa:bb:cc:dd:ee:ff)`,
      );
    b = Buffer.from(m.replace(/:/g, ''), 'hex');
    if (macCache.size >= 1024) macCache.clear();
    macCache.set(mac, b);
  }
  return Buffer.from(b);
}

/** 6 bytes at `offset` → lowercase `aa:bb:cc:dd:ee:ff` (missing bytes read as 00). */
export function macToString(buf: Buffer, offset = 0): string {
  const h = (i: number): string => HEX[buf[offset + i] ?? 0]!;
  return `${h(0)}:${h(1)}:${h(2)}:${h(3)}:${h(4)}:${h(5)}`;
}

/** Writes a MAC given as a string or 6-byte Buffer at `offset`; throws a TypeError when it is neither. */
export function writeMac(mac: string | Buffer, buf: Buffer, offset: number): void {
  const b = typeof mac === 'string' ? macToBuffer(mac) : mac;
  if (b.length !== 6) throw new TypeError(`MAC address buffer has ${b.length} bytes, expected 6`);
  b.copy(buf, offset);
}

export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ZERO_MAC = '00:00:00:00:00:00';
