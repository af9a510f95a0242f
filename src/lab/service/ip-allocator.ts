// Cluster-IP allocator for one service CIDR: the network address (and, for IPv4, broadcast) are never
// handed out, like kube-apiserver's ipallocator; next-free search from a moving cursor.
import { formatIp, parseCidr, parseIp, type Family } from '../../shared/ip.ts';

export type SpecificResult = 'ok' | 'in-use' | 'out-of-range' | 'bad-ip';

export class IpAllocator {
  readonly family: Family;
  readonly cidr: string;
  private readonly first: bigint;
  private readonly last: bigint;
  private readonly used = new Set<bigint>();
  private cursor: bigint;

  constructor(cidr: string) {
    const r = parseCidr(cidr);
    if (!r) throw new Error(`ip allocator: "${cidr}" is not a CIDR`);
    this.family = r.family;
    this.cidr = cidr;
    this.first = r.first + 1n;
    this.last = r.family === 'IPv4' ? r.last - 1n : r.last;
    this.cursor = this.first;
  }

  contains(ip: string): boolean {
    const p = parseIp(ip);
    return !!p && p.family === this.family && p.value >= this.first && p.value <= this.last;
  }

  isUsed(ip: string): boolean {
    const p = parseIp(ip);
    return !!p && this.used.has(p.value);
  }

  allocateSpecific(ip: string): SpecificResult {
    const p = parseIp(ip);
    if (!p || p.family !== this.family) return 'bad-ip';
    if (p.value < this.first || p.value > this.last) return 'out-of-range';
    if (this.used.has(p.value)) return 'in-use';
    this.used.add(p.value);
    return 'ok';
  }

  allocateNext(): string | undefined {
    const size = this.last - this.first + 1n;
    if (BigInt(this.used.size) >= size) return undefined;
    for (let n = 0n; n < size; n++) {
      const v = this.cursor;
      this.cursor = this.cursor >= this.last ? this.first : this.cursor + 1n;
      if (!this.used.has(v)) {
        this.used.add(v);
        return formatIp(this.family, v);
      }
    }
    return undefined;
  }

  release(ip: string): void {
    const p = parseIp(ip);
    if (p && p.family === this.family) this.used.delete(p.value);
  }
}

/** Node ports (default 30000-32767), the same next-free search. */
export class PortAllocator {
  private readonly used = new Set<number>();
  private cursor: number;
  constructor(
    readonly min = 30000,
    readonly max = 32767,
  ) {
    this.cursor = min;
  }

  inRange(p: number): boolean {
    return Number.isInteger(p) && p >= this.min && p <= this.max;
  }

  isUsed(p: number): boolean {
    return this.used.has(p);
  }

  allocateSpecific(p: number): 'ok' | 'in-use' | 'out-of-range' {
    if (!this.inRange(p)) return 'out-of-range';
    if (this.used.has(p)) return 'in-use';
    this.used.add(p);
    return 'ok';
  }

  allocateNext(): number | undefined {
    const size = this.max - this.min + 1;
    for (let n = 0; n < size; n++) {
      const p = this.cursor;
      this.cursor = this.cursor >= this.max ? this.min : this.cursor + 1;
      if (!this.used.has(p)) {
        this.used.add(p);
        return p;
      }
    }
    return undefined;
  }

  release(p: number): void {
    this.used.delete(p);
  }
}
