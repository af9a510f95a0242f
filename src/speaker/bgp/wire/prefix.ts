// IP addresses and NLRI prefixes on the wire (RFC 4271 §4.3 "Length, Prefix" tuples; RFC 4760 §5 for IPv6).
//
//   +---------------------------+
//   |   Length (1 octet, bits)  |
//   +---------------------------+
//   |   Prefix (variable)       |   ceil(Length / 8) octets, trailing bits irrelevant
//   +---------------------------+
//
// Pure. Addresses are canonical text (ipaddr.js toString(): dotted quad, RFC 5952 for IPv6).
import ipaddr from 'ipaddr.js';
import { Afi } from './constants.ts';
import type { BgpDecodeError } from './errors.ts';

/** An IP prefix: `prefix` is the canonical network address (host bits zero), `length` its prefix length in bits. */
export interface Prefix {
  prefix: string;
  length: number;
}

/** The AFI of an address in canonical or any ipaddr.js-accepted text: 1 (IPv4) or 2 (IPv6). */
export function afiOf(address: string): number {
  return address.includes(':') ? Afi.IPv6 : Afi.IPv4;
}

/** Address size in bytes for AFI 1/2. */
function addressBytes(afi: number): number {
  return afi === Afi.IPv6 ? 16 : 4;
}

/**
 * The 4 or 16 bytes of an IP address (a new array per call). Throws RangeError naming the value when it is not an IPv4
 * dotted quad or an IPv6 address.
 */
export function addressToBytes(address: string): readonly number[] {
  const packed = packedAddress(address);
  const bytes = new Array<number>(packed.length);
  for (let i = 0; i < packed.length; i++) bytes[i] = packed.charCodeAt(i);
  return bytes;
}

/**
 * Memo of parsed addresses: the speaker encodes the same Service addresses in every UPDATE, withdraw and replay
 * (ipaddr.js parsing costs microseconds each: seconds for 10,000 prefixes × 3 peers). Bounded. Each value is the
 * address's 4/16 bytes as a one-byte string (one char per byte, 24/32 bytes of heap), followed by one more char
 * (NOT_CANONICAL) when the text is not the canonical one: an array of numbers and a canonical text per entry, plus a
 * second memo of Prefix objects by prefix text, held 3.9 MiB at 10,000 Services (bench:bgp --speaker heap snapshot,
 * issue 9); parsePrefix now needs no memo of its own.
 */
const addressMemo = new Map<string, string>();
const ADDRESS_MEMO_MAX = 1 << 15;
const NOT_CANONICAL = '\u0001';

/** `address`'s memo entry (see addressMemo); RangeError naming a bad address. */
function addressEntry(address: string): string {
  let m = addressMemo.get(address);
  if (m === undefined) {
    const bytes = parseAddressBytes(address);
    m = String.fromCharCode(...bytes);
    if (ipaddr.fromByteArray(bytes).toString() !== address) m += NOT_CANONICAL;
    if (addressMemo.size >= ADDRESS_MEMO_MAX) addressMemo.clear();
    addressMemo.set(address, m);
  }
  return m;
}

/** `address`'s bytes, packed one per char (see addressMemo); RangeError naming a bad address. */
function packedAddress(address: string): string {
  const m = addressEntry(address);
  return m.length === 5 || m.length === 17 ? m.slice(0, -1) : m;
}

function parseAddressBytes(address: string): number[] {
  if (address.includes(':')) {
    // One parse (IPv6.isValid would parse a second time); zone IDs (fe80::1%eth0) are not wire addresses.
    if (!address.includes('%')) {
      try {
        return ipaddr.IPv6.parse(address).toByteArray();
      } catch {
        /* fall through to the error */
      }
    }
  } else if (ipaddr.IPv4.isValidFourPartDecimal(address)) return ipaddr.IPv4.parse(address).toByteArray();
  throw new RangeError(`address ${JSON.stringify(address)} is not an IPv4 dotted quad or an IPv6 address`);
}

/** Writes an address's 4/16 bytes at `offset`; returns the new offset. Throws RangeError on a bad address. */
export function encodeAddress(address: string, buf: Buffer, offset: number): number {
  const packed = packedAddress(address);
  for (let i = 0; i < packed.length; i++) buf[offset + i] = packed.charCodeAt(i);
  return offset + packed.length;
}

/** Canonical text of the 4 (IPv4) or 16 (IPv6) bytes at `offset`; the caller has checked the bounds. */
export function decodeAddress(buf: Buffer, offset: number, afi: number): string {
  const n = addressBytes(afi);
  return ipaddr.fromByteArray([...buf.subarray(offset, offset + n)]).toString();
}

/**
 * Parses `198.51.100.0/24` / `2001:db8::/32` into a Prefix; host bits must be zero. The address is the caller's text
 * when it is canonical (no new string beyond the slice). Throws RangeError naming the value.
 */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  if (slash < 0) throw new RangeError(`prefix ${JSON.stringify(text)} has no "/length"`);
  const address = text.slice(0, slash);
  const entry = addressEntry(address);
  const canonical = entry.length === 4 || entry.length === 16;
  const bits = (canonical ? entry.length : entry.length - 1) * 8;
  // The length: 1-3 decimal digits (as /^\d{1,3}$/), without a new string for it.
  const digits = text.length - slash - 1;
  let length = digits >= 1 && digits <= 3 ? 0 : NaN;
  for (let i = slash + 1; i < text.length && length === length; i++) {
    const d = text.charCodeAt(i) - 48;
    length = d >= 0 && d <= 9 ? length * 10 + d : NaN;
  }
  if (!(length <= bits)) {
    throw new RangeError(`prefix ${JSON.stringify(text)}: length must be 0-${bits}`);
  }
  const p = { prefix: canonical ? address : ipaddr.fromByteArray(addressToBytes(address) as number[]).toString(), length };
  checkPrefix(p);
  return p;
}

/** `198.51.100.0/24`. */
export function formatPrefix(p: Prefix): string {
  return `${p.prefix}/${p.length}`;
}

/**
 * The canonical text of prefix `text` (formatPrefix(parsePrefix(text))), and `text` itself when it already is: no new
 * string for the planner's canonical keys (the session keys its Adj-RIB-Out by them, 10,000s per plan). Throws
 * RangeError naming a bad prefix, as parsePrefix.
 */
export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  const n = p.prefix.length;
  if (text.length > n + 1 && text.length <= n + 4 && text.startsWith(p.prefix) && text.charCodeAt(n) === 47) {
    // The length as written: decimal digits, no leading zero, equal to p.length.
    let v = 0;
    let ok = text.length === n + 2 || text.charCodeAt(n + 1) !== 48;
    for (let i = n + 1; ok && i < text.length; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) ok = false;
      else v = v * 10 + d;
    }
    if (ok && v === p.length) return text;
  }
  return formatPrefix(p);
}

/** Throws RangeError when `p` is not a canonical prefix (bad address, length out of range, host bits set). */
export function checkPrefix(p: Prefix): void {
  prefixBytes(p);
}

/** The address bytes (packed, see addressMemo) of a valid canonical prefix; RangeError naming the value otherwise (see checkPrefix). */
function prefixBytes(p: Prefix): string {
  const bytes = packedAddress(p.prefix);
  const max = bytes.length * 8;
  if (!Number.isInteger(p.length) || p.length < 0 || p.length > max) {
    throw new RangeError(`prefix ${formatPrefix(p)}: length must be an integer 0-${max}`);
  }
  for (let bit = p.length; bit < max; bit++) {
    if ((bytes.charCodeAt(bit >> 3) >> (7 - (bit & 7))) & 1) {
      throw new RangeError(`prefix ${formatPrefix(p)}: host bits after /${p.length} must be zero`);
    }
  }
  return bytes;
}

/** Bytes one prefix takes on the wire: 1 + ceil(length / 8). */
export function prefixLength(p: Prefix): number {
  return 1 + ((p.length + 7) >> 3);
}

/**
 * Writes one NLRI prefix at `offset`, returns the new offset. `afi` is the family the field carries; a prefix of the
 * other family, a bad length or host bits set throw RangeError naming the value.
 */
export function encodePrefix(p: Prefix, afi: number, buf: Buffer, offset: number): number {
  const bytes = prefixBytes(p);
  if ((bytes.length === 16 ? Afi.IPv6 : Afi.IPv4) !== afi) {
    throw new RangeError(
      `prefix ${formatPrefix(p)} is not of AFI ${afi} (${afi === Afi.IPv4 ? 'IPv4' : 'IPv6'})`,
    );
  }
  buf[offset] = p.length;
  const n = (p.length + 7) >> 3;
  for (let i = 0; i < n; i++) buf[offset + 1 + i] = bytes.charCodeAt(i);
  return offset + 1 + n;
}

/**
 * Decodes the prefixes of an NLRI / Withdrawn Routes field `buf[start, end)` of family `afi` (1 or 2). Trailing bits
 * after the prefix length are cleared (RFC 4271 §4.3: "irrelevant"). A length above 32/128 or a prefix running past
 * `end` throws `onError(message)` (RFC 7606 §5.3: syntactically incorrect NLRI → session reset).
 */
export function decodePrefixes(
  buf: Buffer,
  start: number,
  end: number,
  afi: number,
  onError: (message: string) => BgpDecodeError,
): Prefix[] {
  const out: Prefix[] = [];
  const size = addressBytes(afi);
  let pos = start;
  while (pos < end) {
    const length = buf[pos]!;
    if (length > size * 8) throw onError(`prefix length ${length} exceeds ${size * 8} at offset ${pos}`);
    const n = (length + 7) >> 3;
    if (pos + 1 + n > end) throw onError(`prefix /${length} at offset ${pos} runs past the end of its field`);
    const bytes = new Array<number>(size).fill(0);
    for (let i = 0; i < n; i++) bytes[i] = buf[pos + 1 + i]!;
    if (length & 7) bytes[n - 1]! &= 0xff << (8 - (length & 7));
    out.push({ prefix: ipaddr.fromByteArray(bytes).toString(), length });
    pos += 1 + n;
  }
  return out;
}
