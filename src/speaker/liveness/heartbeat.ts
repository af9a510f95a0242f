// The speakers' heartbeat datagram (pure codec, encode/decode/encodingLength contract as in style.md). One UDP datagram
// per peer per interval says "node N, incarnation I, sequence S, alive|leaving, my MACs". It is authenticated with
// HMAC-SHA256 (RFC 2104) over every byte before the tag, with a key derived (HKDF, RFC 5869) from the speakers' shared
// Secret (MetalLB's `memberlist` Secret, key `secretkey`, metallb-compat.md §5.4). It is not encrypted: nothing in it is
// secret (node names and MACs are visible on the segment anyway).
//
// Layout (network byte order), 69..577 bytes:
//   0  magic "bthb"           4
//   4  version (1)            u8
//   5  flags                  u8    bit 0: leaving; other bits must be 0
//   6  intervalMs             u16   the sender's heartbeat interval (the receiver's suspicion scales with it)
//   8  lagMs                  u16   the sender's recent worst timer lateness (busy node → wider suspicion)
//  10  incarnation            u64   sender process start (wall ms); a restart sends a higher one
//  18  seq                    u64   1, 2, 3 … per incarnation (replay protection)
//  26  sentAtMs               u64   sender wall clock (freshness check)
//  34  node length            u8    1..253
//  35  node                   …     DNS-1123 subdomain (a Kubernetes Node name)
//   …  MAC count              u8    0..64
//   …  MACs                   6 each
//   …  HMAC-SHA256            32
// Replay and freshness are judged by the detector (it holds the per-sender state); this module only authenticates.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const HEARTBEAT_MAGIC = Buffer.from('bthb', 'latin1');
export const HEARTBEAT_VERSION = 1;
/** Bytes of the HMAC-SHA256 tag. */
export const HEARTBEAT_TAG_BYTES = 32;
/** Shortest valid datagram: header, a one-letter node, no MACs, tag. */
export const HEARTBEAT_MIN_BYTES = 35 + 1 + 1 + HEARTBEAT_TAG_BYTES;
export const HEARTBEAT_MAX_MACS = 64;
/** Longest valid datagram (253-byte node name, 64 MACs): well under any MTU-sized UDP payload concern (577 bytes). */
export const HEARTBEAT_MAX_BYTES = 35 + 253 + 1 + HEARTBEAT_MAX_MACS * 6 + HEARTBEAT_TAG_BYTES;
/** Shortest accepted secret: 16 bytes (128 bits), as memberlist's smallest AES key. */
export const MIN_SECRET_BYTES = 16;

export type HeartbeatState = 'alive' | 'leaving';

export interface Heartbeat {
  version: number;
  /** Kubernetes Node name of the sender. */
  node: string;
  /** Sender process incarnation (wall-clock ms at start): higher = newer process. */
  incarnation: number;
  /** 1, 2, 3 … within one incarnation. */
  seq: number;
  /** Sender wall clock, ms since the epoch. */
  sentAtMs: number;
  state: HeartbeatState;
  /** The sender's interface MACs, lowercase `aa:bb:cc:dd:ee:ff` (never treated as IP conflicts). */
  macs: string[];
  /** Sender's heartbeat interval in ms (0..65535). */
  intervalMs: number;
  /** Sender's recent worst timer lateness in ms (0..65535, saturating). */
  lagMs: number;
}

/** Why a datagram was dropped: the decode reasons here plus the detector's replay/freshness verdicts. */
export type HeartbeatDropReason =
  | 'truncated'
  | 'oversized'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-mac' // HMAC mismatch: forged, corrupted, or another key
  | 'malformed' // authenticated but invalid fields (a buggy sender)
  | 'replayed' // (incarnation, seq) not newer than the last accepted one
  | 'stale' // sentAtMs too far from the receiver's clock
  | 'from-self';

export const HEARTBEAT_DROP_REASONS: readonly HeartbeatDropReason[] = [
  'truncated',
  'oversized',
  'bad-magic',
  'unsupported-version',
  'bad-mac',
  'malformed',
  'replayed',
  'stale',
  'from-self',
];

export class HeartbeatDecodeError extends Error {
  readonly reason: HeartbeatDropReason;
  /** Byte offset where decoding stopped. */
  readonly offset: number;
  constructor(reason: HeartbeatDropReason, offset: number, message: string) {
    super(`heartbeat: ${message}`);
    this.name = 'HeartbeatDecodeError';
    this.reason = reason;
    this.offset = offset;
  }
}

/** A derived HMAC key; build it once with `heartbeatKey(secret)`. */
export interface HeartbeatKey {
  readonly bytes: Buffer;
  readonly __brand: 'HeartbeatKey';
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const HKDF_INFO = 'berth speaker liveness heartbeat v1';

/**
 * Derives the heartbeat HMAC key from the shared secret (HKDF-SHA256, RFC 5869, 32 bytes, info names the purpose so
 * the same Secret can key other things without key reuse). Throws when the secret is shorter than 16 bytes.
 */
export function heartbeatKey(secret: Buffer | Uint8Array): HeartbeatKey {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new Error(
      `heartbeat: the shared secret is ${secret.length} bytes; it must be at least ${MIN_SECRET_BYTES} bytes`,
    );
  }
  const bytes = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), HKDF_INFO, 32));
  return { bytes, __brand: 'HeartbeatKey' } as HeartbeatKey;
}

/** Bytes `encode(hb)` writes. Throws like `encode` on an invalid node name or MAC count. */
export function encodingLength(hb: Pick<Heartbeat, 'node' | 'macs'>): number {
  const nodeLen = Buffer.byteLength(hb.node, 'utf8');
  return 35 + nodeLen + 1 + hb.macs.length * 6 + HEARTBEAT_TAG_BYTES;
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new RangeError(`heartbeat: ${name} ${v} must be an integer in 0..${max}`);
  }
}

/**
 * Writes `hb` (version is always HEARTBEAT_VERSION) and its tag. Throws a RangeError naming the field when a value is
 * out of range: node not a DNS-1123 subdomain of 1..253 bytes, more than 64 MACs or a MAC not `aa:bb:cc:dd:ee:ff`,
 * counters not safe non-negative integers.
 */
export function encode(hb: Omit<Heartbeat, 'version'> & { version?: number }, key: HeartbeatKey): Buffer {
  if (hb.node.length < 1 || hb.node.length > 253 || !NODE_NAME.test(hb.node)) {
    throw new RangeError(`heartbeat: node "${hb.node}" is not a DNS-1123 subdomain of 1..253 characters`);
  }
  if (hb.macs.length > HEARTBEAT_MAX_MACS) {
    throw new RangeError(`heartbeat: ${hb.macs.length} MACs; at most ${HEARTBEAT_MAX_MACS}`);
  }
  for (const m of hb.macs)
    if (!MAC.test(m)) throw new RangeError(`heartbeat: MAC "${m}" is not lowercase aa:bb:cc:dd:ee:ff`);
  checkUint('incarnation', hb.incarnation, Number.MAX_SAFE_INTEGER);
  checkUint('seq', hb.seq, Number.MAX_SAFE_INTEGER);
  checkUint('sentAtMs', hb.sentAtMs, Number.MAX_SAFE_INTEGER);
  checkUint('intervalMs', hb.intervalMs, 0xffff);
  const buf = Buffer.alloc(encodingLength(hb));
  HEARTBEAT_MAGIC.copy(buf, 0);
  buf.writeUInt8(HEARTBEAT_VERSION, 4);
  buf.writeUInt8(hb.state === 'leaving' ? 1 : 0, 5);
  buf.writeUInt16BE(hb.intervalMs, 6);
  buf.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.round(hb.lagMs))), 8);
  buf.writeBigUInt64BE(BigInt(hb.incarnation), 10);
  buf.writeBigUInt64BE(BigInt(hb.seq), 18);
  buf.writeBigUInt64BE(BigInt(hb.sentAtMs), 26);
  let o = 34;
  o = buf.writeUInt8(hb.node.length, o);
  o += buf.write(hb.node, o, 'latin1');
  o = buf.writeUInt8(hb.macs.length, o);
  for (const m of hb.macs) {
    for (const part of m.split(':')) o = buf.writeUInt8(parseInt(part, 16), o);
  }
  tag(buf.subarray(0, o), key).copy(buf, o);
  return buf;
}

function tag(body: Buffer, key: HeartbeatKey): Buffer {
  return createHmac('sha256', key.bytes).update(body).digest();
}

function readSafe(buf: Buffer, at: number, name: string): number {
  const v = buf.readBigUInt64BE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new HeartbeatDecodeError('malformed', at, `${name} ${v} exceeds 2^53-1`);
  return Number(v);
}

/**
 * Authenticates and parses one datagram. Checks, in order: length (`truncated`/`oversized`), magic (`bad-magic`),
 * version (`unsupported-version`), the HMAC tag in constant time (`bad-mac`, before any field is trusted), then the
 * fields (`malformed`). Throws HeartbeatDecodeError with that reason; never anything else.
 */
export function decode(buf: Buffer, key: HeartbeatKey): Heartbeat {
  if (buf.length < HEARTBEAT_MIN_BYTES) {
    throw new HeartbeatDecodeError(
      'truncated',
      buf.length,
      `${buf.length} bytes; a heartbeat has at least ${HEARTBEAT_MIN_BYTES}`,
    );
  }
  if (buf.length > HEARTBEAT_MAX_BYTES) {
    throw new HeartbeatDecodeError(
      'oversized',
      HEARTBEAT_MAX_BYTES,
      `${buf.length} bytes; a heartbeat has at most ${HEARTBEAT_MAX_BYTES}`,
    );
  }
  if (!buf.subarray(0, 4).equals(HEARTBEAT_MAGIC))
    throw new HeartbeatDecodeError('bad-magic', 0, 'not a berth heartbeat (magic)');
  const version = buf.readUInt8(4);
  if (version !== HEARTBEAT_VERSION) {
    throw new HeartbeatDecodeError(
      'unsupported-version',
      4,
      `version ${version}; this speaker reads version ${HEARTBEAT_VERSION}`,
    );
  }
  const end = buf.length - HEARTBEAT_TAG_BYTES;
  if (!timingSafeEqual(tag(buf.subarray(0, end), key), buf.subarray(end))) {
    throw new HeartbeatDecodeError(
      'bad-mac',
      end,
      'HMAC-SHA256 tag does not match (forged, corrupted, or another key)',
    );
  }
  const flags = buf.readUInt8(5);
  if (flags & ~1) throw new HeartbeatDecodeError('malformed', 5, `unknown flags 0x${flags.toString(16)}`);
  const intervalMs = buf.readUInt16BE(6);
  const lagMs = buf.readUInt16BE(8);
  const incarnation = readSafe(buf, 10, 'incarnation');
  const seq = readSafe(buf, 18, 'seq');
  const sentAtMs = readSafe(buf, 26, 'sentAtMs');
  const nodeLen = buf.readUInt8(34);
  let o = 35;
  if (nodeLen < 1 || o + nodeLen + 1 > end)
    throw new HeartbeatDecodeError('malformed', 34, `node length ${nodeLen} does not fit`);
  const node = buf.toString('latin1', o, o + nodeLen);
  if (!NODE_NAME.test(node))
    throw new HeartbeatDecodeError('malformed', o, `node "${node}" is not a DNS-1123 subdomain`);
  o += nodeLen;
  const count = buf.readUInt8(o++);
  if (count > HEARTBEAT_MAX_MACS || o + count * 6 !== end) {
    throw new HeartbeatDecodeError(
      'malformed',
      o - 1,
      `${count} MACs do not fill the ${end - o} bytes before the tag`,
    );
  }
  const macs: string[] = [];
  for (let i = 0; i < count; i++, o += 6) {
    macs.push([...buf.subarray(o, o + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'));
  }
  return {
    version,
    node,
    incarnation,
    seq,
    sentAtMs,
    state: flags & 1 ? 'leaving' : 'alive',
    macs,
    intervalMs,
    lagMs,
  };
}

export type DecodeResult =
  { ok: true; heartbeat: Heartbeat } | { ok: false; reason: HeartbeatDropReason; message: string };

/** `decode` as a value: for socket handlers, which must never throw. */
export function tryDecode(buf: Buffer, key: HeartbeatKey): DecodeResult {
  try {
    return { ok: true, heartbeat: decode(buf, key) };
  } catch (e) {
    if (e instanceof HeartbeatDecodeError) return { ok: false, reason: e.reason, message: e.message };
    return {
      ok: false,
      reason: 'malformed',
      message: `heartbeat: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}
