// BFD Control packet codec (RFC 5880 §4.1) and the context-free part of the reception checks (§6.8.6).
// Pure: no sockets, no timers. Intervals on the wire and in these values are MICROSECONDS, as in the RFC.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
// |                       My Discriminator                        |
// |                      Your Discriminator                       |
// |                    Desired Min TX Interval                    |
// |                   Required Min RX Interval                    |
// |                 Required Min Echo RX Interval                 |
// |   Auth Type   |   Auth Len    |    Authentication Data...     |   (only when A is set)

/** RFC 5880 §4.1: the only version defined. */
export const BFD_VERSION = 1;
/** Mandatory section length in bytes (RFC 5880 §4.1). */
export const BFD_HEADER_LENGTH = 24;
/** Smallest Length with the A bit set: header + Auth Type + Auth Len (RFC 5880 §6.8.6 check 2 says 26). */
export const BFD_MIN_AUTH_LENGTH = 26;

/** bfd.SessionState values (RFC 5880 §4.1 "Sta"). */
export const SessionState = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type SessionStateName = keyof typeof SessionState;
export type SessionStateCode = (typeof SessionState)[SessionStateName];

/** Diagnostic codes (RFC 5880 §4.1 "Diag"); 9-31 are reserved. */
export const Diag = {
  NoDiagnostic: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
export type DiagCode = number;

/** Authentication types (RFC 5880 §4.1, IANA "BFD Authentication Types"). berth implements none of them. */
export const AuthType = {
  Reserved: 0,
  SimplePassword: 1,
  KeyedMD5: 2,
  MeticulousKeyedMD5: 3,
  KeyedSHA1: 4,
  MeticulousKeyedSHA1: 5,
} as const;

function nameOf(table: Record<string, number>, code: number): string {
  for (const [k, v] of Object.entries(table)) if (v === code) return k;
  return `UNKNOWN_${code}`;
}
/** `3` → `'Up'`; unknown → `'UNKNOWN_<n>'`. */
export const stateName = (code: number): string => nameOf(SessionState, code);
/** `1` → `'ControlDetectionTimeExpired'`; unknown → `'UNKNOWN_<n>'`. */
export const diagName = (code: number): string => nameOf(Diag, code);

/** A decoded or to-be-encoded BFD Control packet. Intervals in microseconds. */
export interface ControlPacket {
  version: number;
  diag: DiagCode;
  state: SessionStateCode;
  /** P: Poll, a parameter change is being verified (§6.5). */
  poll: boolean;
  /** F: Final, answer to a Poll. */
  final: boolean;
  /** C: Control Plane Independent. */
  controlPlaneIndependent: boolean;
  /** A: authentication section present. */
  authPresent: boolean;
  /** D: Demand mode. */
  demand: boolean;
  /** M: Multipoint, reserved, must be zero. */
  multipoint: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  desiredMinTxInterval: number;
  requiredMinRxInterval: number;
  requiredMinEchoRxInterval: number;
  /** Raw authentication section (§4.2) when A is set: type and its bytes after Auth Type/Auth Len. */
  auth?: { type: number; data: Buffer };
}

/**
 * Why a received packet was discarded. Packet-level ones come from `decodeControlPacket`/`checkControlPacket`
 * (RFC 5880 §6.8.6 checks 1-6 and 9); session-level ones from the demultiplexer and the UDP edge:
 * 'unknown-discriminator' (check 7), 'your-discriminator-zero' (check 8: Your Discriminator zero while State is not
 * Down/AdminDown), 'no-session' (no session for the source address), 'bad-ttl' (RFC 5881 §5 TTL/hop limit not 255),
 * 'session-admin-down' (check 17), 'passive-no-session'.
 */
export type BfdDropReason =
  | 'truncated'
  | 'bad-version'
  | 'bad-length'
  | 'zero-detect-mult'
  | 'multipoint'
  | 'zero-my-discriminator'
  | 'auth-unsupported'
  | 'unknown-discriminator'
  | 'your-discriminator-zero'
  | 'no-session'
  | 'bad-ttl'
  | 'session-admin-down';

export const BFD_DROP_REASONS: readonly BfdDropReason[] = [
  'truncated',
  'bad-version',
  'bad-length',
  'zero-detect-mult',
  'multipoint',
  'zero-my-discriminator',
  'auth-unsupported',
  'unknown-discriminator',
  'your-discriminator-zero',
  'no-session',
  'bad-ttl',
  'session-admin-down',
];

/** A packet that cannot be decoded or fails a §6.8.6 check; `offset` is where in the buffer it was noticed. */
export class BfdDecodeError extends Error {
  readonly reason: BfdDropReason;
  readonly offset: number;
  constructor(reason: BfdDropReason, offset: number, message: string) {
    super(message);
    this.name = 'BfdDecodeError';
    this.reason = reason;
    this.offset = offset;
  }
}

/** Bytes `encodeControlPacket` writes: 24, plus the auth section (2 + data) when `auth` is given. */
export function controlPacketLength(p: Pick<ControlPacket, 'auth'>): number {
  return BFD_HEADER_LENGTH + (p.auth ? 2 + p.auth.data.length : 0);
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`bfd: ${name} ${v} is not an unsigned 32-bit integer`);
  }
  return v;
}

/**
 * Writes `p` at `offset` of `buf` (allocated when absent) and returns the offset after it (dns-packet contract).
 * The A bit is written as `authPresent || auth !== undefined`; Length is computed. Throws RangeError naming the field
 * for a value that does not fit its field (a bug in the caller, never input from the wire).
 */
export function encodeControlPacket(p: ControlPacket, buf?: Buffer, offset = 0): number {
  const len = controlPacketLength(p);
  const b = buf ?? Buffer.alloc(offset + len);
  if (b.length < offset + len)
    throw new RangeError(`bfd: buffer of ${b.length} bytes too small for ${len} at ${offset}`);
  if (!Number.isInteger(p.version) || p.version < 0 || p.version > 7)
    throw new RangeError(`bfd: version ${p.version} is not 0-7`);
  if (!Number.isInteger(p.diag) || p.diag < 0 || p.diag > 31)
    throw new RangeError(`bfd: diag ${p.diag} is not 0-31`);
  if (!Number.isInteger(p.state) || p.state < 0 || p.state > 3)
    throw new RangeError(`bfd: state ${p.state} is not 0-3`);
  if (!Number.isInteger(p.detectMult) || p.detectMult < 0 || p.detectMult > 255) {
    throw new RangeError(`bfd: detectMult ${p.detectMult} is not 0-255`);
  }
  if (p.auth && (p.auth.type < 0 || p.auth.type > 255 || p.auth.data.length > 253)) {
    throw new RangeError(
      `bfd: auth section type ${p.auth.type} with ${p.auth.data.length} bytes does not fit`,
    );
  }
  const a = p.authPresent || p.auth !== undefined;
  b[offset] = (p.version << 5) | p.diag;
  b[offset + 1] =
    (p.state << 6) |
    (p.poll ? 0x20 : 0) |
    (p.final ? 0x10 : 0) |
    (p.controlPlaneIndependent ? 0x08 : 0) |
    (a ? 0x04 : 0) |
    (p.demand ? 0x02 : 0) |
    (p.multipoint ? 0x01 : 0);
  b[offset + 2] = p.detectMult;
  b[offset + 3] = len;
  b.writeUInt32BE(u32('myDiscriminator', p.myDiscriminator), offset + 4);
  b.writeUInt32BE(u32('yourDiscriminator', p.yourDiscriminator), offset + 8);
  b.writeUInt32BE(u32('desiredMinTxInterval', p.desiredMinTxInterval), offset + 12);
  b.writeUInt32BE(u32('requiredMinRxInterval', p.requiredMinRxInterval), offset + 16);
  b.writeUInt32BE(u32('requiredMinEchoRxInterval', p.requiredMinEchoRxInterval), offset + 20);
  if (p.auth) {
    b[offset + 24] = p.auth.type;
    b[offset + 25] = 2 + p.auth.data.length;
    p.auth.data.copy(b, offset + 26);
  }
  return offset + len;
}

/** `encodeControlPacket` into a fresh buffer of exactly the packet's length. */
export function serializeControlPacket(p: ControlPacket): Buffer {
  const b = Buffer.alloc(controlPacketLength(p));
  encodeControlPacket(p, b, 0);
  return b;
}

/**
 * Decodes the Control packet at `offset` (the UDP payload). Applies the RFC 5880 §6.8.6 checks that need no session:
 * 1 version ≠ 1 → 'bad-version'; 2 Length < 24 (< 26 with A) → 'bad-length'; 3 Length > bytes available →
 * 'truncated'; 4 Detect Mult 0 → 'zero-detect-mult'; 5 M set → 'multipoint'; 6 My Discriminator 0 →
 * 'zero-my-discriminator'; an auth section whose Auth Len does not fit Length → 'bad-length'.
 * Bytes after Length are ignored. Throws only BfdDecodeError. The A bit is decoded, not refused: `checkControlPacket`
 * refuses it (check 9, berth uses no authentication).
 */
export function decodeControlPacket(buf: Buffer, offset = 0): { value: ControlPacket; offset: number } {
  const avail = buf.length - offset;
  if (avail < 4)
    throw new BfdDecodeError(
      'truncated',
      offset,
      `bfd: ${Math.max(0, avail)} bytes, a Control packet needs ${BFD_HEADER_LENGTH}`,
    );
  const b0 = buf[offset]!;
  const b1 = buf[offset + 1]!;
  const version = b0 >> 5;
  if (version !== BFD_VERSION)
    throw new BfdDecodeError('bad-version', offset, `bfd: version ${version}, expected ${BFD_VERSION}`);
  const authPresent = (b1 & 0x04) !== 0;
  const length = buf[offset + 3]!;
  const min = authPresent ? BFD_MIN_AUTH_LENGTH : BFD_HEADER_LENGTH;
  if (length < min)
    throw new BfdDecodeError(
      'bad-length',
      offset + 3,
      `bfd: Length ${length} < ${min}${authPresent ? ' (A bit set)' : ''}`,
    );
  if (length > avail)
    throw new BfdDecodeError('truncated', offset + 3, `bfd: Length ${length} > ${avail} bytes received`);
  const detectMult = buf[offset + 2]!;
  if (detectMult === 0) throw new BfdDecodeError('zero-detect-mult', offset + 2, 'bfd: Detect Mult is zero');
  if ((b1 & 0x01) !== 0) throw new BfdDecodeError('multipoint', offset + 1, 'bfd: Multipoint (M) bit set');
  const myDiscriminator = buf.readUInt32BE(offset + 4);
  if (myDiscriminator === 0)
    throw new BfdDecodeError('zero-my-discriminator', offset + 4, 'bfd: My Discriminator is zero');
  const value: ControlPacket = {
    version,
    diag: b0 & 0x1f,
    state: (b1 >> 6) as SessionStateCode,
    poll: (b1 & 0x20) !== 0,
    final: (b1 & 0x10) !== 0,
    controlPlaneIndependent: (b1 & 0x08) !== 0,
    authPresent,
    demand: (b1 & 0x02) !== 0,
    multipoint: false,
    detectMult,
    myDiscriminator,
    yourDiscriminator: buf.readUInt32BE(offset + 8),
    desiredMinTxInterval: buf.readUInt32BE(offset + 12),
    requiredMinRxInterval: buf.readUInt32BE(offset + 16),
    requiredMinEchoRxInterval: buf.readUInt32BE(offset + 20),
  };
  if (authPresent) {
    const authLen = buf[offset + 25]!;
    if (authLen < 2 || BFD_HEADER_LENGTH + authLen > length) {
      throw new BfdDecodeError(
        'bad-length',
        offset + 25,
        `bfd: Auth Len ${authLen} does not fit Length ${length}`,
      );
    }
    value.auth = {
      type: buf[offset + 24]!,
      data: Buffer.from(buf.subarray(offset + 26, offset + 24 + authLen)),
    };
  }
  return { value, offset: offset + length };
}

export type CheckResult =
  { ok: true; packet: ControlPacket } | { ok: false; reason: BfdDropReason; message: string };

/**
 * Decode plus the packet-level §6.8.6 checks, as a value (never throws): everything `decodeControlPacket` checks, then
 * check 9 (A bit set but no authentication configured → 'auth-unsupported'), and RFC 5881 §5 when `ttl` is known
 * (the received TTL / hop limit must be 255 for single hop → 'bad-ttl').
 */
export function checkControlPacket(buf: Buffer, opts: { ttl?: number } = {}): CheckResult {
  if (opts.ttl !== undefined && opts.ttl !== 255) {
    return {
      ok: false,
      reason: 'bad-ttl',
      message: `bfd: received TTL ${opts.ttl}, single hop requires 255 (RFC 5881 §5)`,
    };
  }
  let packet: ControlPacket;
  try {
    packet = decodeControlPacket(buf, 0).value;
  } catch (e) {
    if (e instanceof BfdDecodeError) return { ok: false, reason: e.reason, message: e.message };
    return { ok: false, reason: 'truncated', message: `bfd: ${String(e)}` };
  }
  if (packet.authPresent) {
    return {
      ok: false,
      reason: 'auth-unsupported',
      message: `bfd: authentication type ${packet.auth?.type ?? '?'} (${nameOf(AuthType, packet.auth?.type ?? -1)}) received, berth uses none`,
    };
  }
  return { ok: true, packet };
}
