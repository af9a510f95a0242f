// The Kubernetes CEL IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/ip.go and cidr.go, KEP-4026,
// in the base environment since 1.30). Parsing follows Go's net/netip as Kubernetes uses it: IPv4 is exactly
// four decimal octets without leading zeros, no surrounding spaces, no zone (`%eth0`), and IPv4-mapped IPv6
// (`::ffff:1.2.3.4`) is refused by both isIP() and isCIDR(). A CIDR may have host bits set (`10.0.0.5/24`).
import ipaddr from 'ipaddr.js';
import { FAMILY_BITS, formatIp, type Family } from '../../shared/ip.ts';

/** A CEL `net.IP` value. */
export class CelIP {
  constructor(
    readonly family: Family,
    readonly value: bigint,
  ) {}
  toString(): string {
    return formatIp(this.family, this.value);
  }
}

/** A CEL `net.CIDR` value: the address as written plus the prefix length. */
export class CelCIDR {
  constructor(
    readonly ip: CelIP,
    readonly prefix: number,
  ) {}
  masked(): CelCIDR {
    const host = BigInt(FAMILY_BITS[this.ip.family] - this.prefix);
    return new CelCIDR(new CelIP(this.ip.family, (this.ip.value >> host) << host), this.prefix);
  }
  contains(ip: CelIP): boolean {
    if (ip.family !== this.ip.family) return false;
    const host = BigInt(FAMILY_BITS[this.ip.family] - this.prefix);
    return ip.value >> host === this.ip.value >> host;
  }
  toString(): string {
    return `${this.ip.toString()}/${this.prefix}`;
  }
}

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
// ::ffff:0:0/96: the upper 96 bits are 0...0ffff.
const MAPPED_PREFIX = 0xffffn;

function bytesToBig(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** netip.ParseAddr plus Kubernetes' refusals (zones, IPv4-mapped IPv6); a string reason when not an IP. */
export function parseStrictIp(text: string): CelIP | string {
  const m = V4.exec(text);
  if (m) {
    const octets = m.slice(1).map(Number);
    if (octets.some((o) => o > 255)) return 'IPv4 field has value >255';
    return new CelIP('IPv4', bytesToBig(octets));
  }
  if (text.includes('%')) return 'IP address with zone value is not allowed';
  if (!text.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(text) || !ipaddr.IPv6.isValid(text)) return 'unable to parse IP';
  // An embedded IPv4 tail obeys the same octet rules as a plain IPv4 address.
  // It is rewritten as two hex groups first: ipaddr.js reads `::1.2.3.4` as `::ffff:1.2.3.4`.
  let hex = text;
  const tail = /:([^:]*\.[^:]*)$/.exec(text)?.[1];
  if (tail !== undefined) {
    const m4 = V4.exec(tail);
    if (!m4) return 'unable to parse IP';
    const o = m4.slice(1).map(Number);
    if (o.some((x) => x > 255)) return 'IPv4 field has value >255';
    hex = `${text.slice(0, -tail.length)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
    if (!ipaddr.IPv6.isValid(hex)) return 'unable to parse IP';
  }
  const value = bytesToBig(ipaddr.IPv6.parse(hex).toByteArray());
  if (value >> 32n === MAPPED_PREFIX) return 'IPv4-mapped IPv6 address is not allowed';
  return new CelIP('IPv6', value);
}

/** netip.ParsePrefix plus the same refusals; host bits may be set. */
export function parseStrictCidr(text: string): CelCIDR | string {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return 'no \'/\'';
  const ip = parseStrictIp(text.slice(0, slash));
  if (typeof ip === 'string') return ip;
  const bits = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > FAMILY_BITS[ip.family]) return `bad bits after slash: "${bits}"`;
  return new CelCIDR(ip, Number(bits));
}

type Out = { ok: true; value: unknown } | { ok: false; error: string };
const ok = (value: unknown): Out => ({ ok: true, value });
const err = (error: string): Out => ({ ok: false, error });

/**
 * The library's overloads. `target` is the receiver for member calls (undefined for global ones); returns
 * undefined when `fn` is not one of them so the caller can report "no matching overload".
 */
export function callIpLibrary(fn: string, target: unknown, hasTarget: boolean, args: unknown[]): Out | undefined {
  const [a] = args;
  if (!hasTarget && args.length === 1 && typeof a === 'string') {
    switch (fn) {
      case 'isIP':
        return ok(typeof parseStrictIp(a) !== 'string');
      case 'isCIDR':
        return ok(typeof parseStrictCidr(a) !== 'string');
      case 'ip': {
        const p = parseStrictIp(a);
        return typeof p === 'string' ? err(`IP Address ${JSON.stringify(a)} parse error during conversion from string: ${p}`) : ok(p);
      }
      case 'cidr': {
        const p = parseStrictCidr(a);
        return typeof p === 'string' ? err(`network address ${JSON.stringify(a)} parse error during conversion from string: ${p}`) : ok(p);
      }
    }
  }
  if (target instanceof CelIP && args.length === 0) {
    const v = target.value;
    switch (fn) {
      case 'family':
        return ok(target.family === 'IPv4' ? 4 : 6);
      case 'isUnspecified':
        return ok(v === 0n);
      case 'isLoopback':
        return ok(target.family === 'IPv4' ? v >> 24n === 127n : v === 1n);
    }
  }
  if (target instanceof CelCIDR) {
    if (args.length === 0) {
      switch (fn) {
        case 'ip':
          return ok(target.ip);
        case 'masked':
          return ok(target.masked());
        case 'prefixLength':
          return ok(target.prefix);
      }
    }
    if (args.length === 1 && fn === 'containsIP') {
      const ip = typeof a === 'string' ? parseStrictIp(a) : a;
      if (typeof ip === 'string') return err(`IP Address ${JSON.stringify(a)} parse error during conversion from string: ${ip}`);
      if (ip instanceof CelIP) return ok(target.contains(ip));
    }
    if (args.length === 1 && fn === 'containsCIDR') {
      const c = typeof a === 'string' ? parseStrictCidr(a) : a;
      if (typeof c === 'string') return err(`network address ${JSON.stringify(a)} parse error during conversion from string: ${c}`);
      if (c instanceof CelCIDR) return ok(c.ip.family === target.ip.family && c.prefix >= target.prefix && target.contains(c.ip));
    }
  }
  return undefined;
}

/** `ip.isCanonical(s)`: a namespaced global function in the library. */
export function isCanonicalIp(s: string): Out {
  const p = parseStrictIp(s);
  if (typeof p === 'string') return err(`IP Address ${JSON.stringify(s)} parse error during conversion from string: ${p}`);
  return ok(p.toString() === s);
}
