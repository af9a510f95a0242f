// Pod IPs of the lab: dual-stack pairs from documentation ranges (RFC 5737, RFC 3849), so they never collide
// with a real network: IPv4 198.51.100.1-254 then 203.0.113.1-254, each paired with 2001:db8:1::<n> (n = 1..508).

/** Number of Pods the lab can give an IP to at once. */
export const POD_IP_CAPACITY = 508;

/** The IPv4 and IPv6 address of slot `i` (0-based, < POD_IP_CAPACITY). */
export function podIpPair(i: number): [string, string] {
  const v4 = i < 254 ? `198.51.100.${i + 1}` : `203.0.113.${i - 254 + 1}`;
  return [v4, `2001:db8:1::${(i + 1).toString(16)}`];
}

/** The slot of an address given by podIpPair, or undefined for any other address. */
export function slotOf(ip: string): number | undefined {
  let m = /^198\.51\.100\.(\d+)$/.exec(ip);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 254) return Number(m[1]) - 1;
  m = /^203\.0\.113\.(\d+)$/.exec(ip);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 254) return 254 + Number(m[1]) - 1;
  m = /^2001:db8:1::([0-9a-f]{1,4})$/.exec(ip);
  if (m) {
    const n = parseInt(m[1]!, 16);
    if (n >= 1 && n <= POD_IP_CAPACITY) return n - 1;
  }
  return undefined;
}

/** Allocates the lowest free slot; Pods restored from a snapshot mark theirs used. */
export class PodIpPool {
  private readonly used = new Set<number>();

  markUsed(ips: readonly string[]): void {
    for (const ip of ips) {
      const s = slotOf(ip);
      if (s !== undefined) this.used.add(s);
    }
  }

  release(ips: readonly string[]): void {
    for (const ip of ips) {
      const s = slotOf(ip);
      if (s !== undefined) this.used.delete(s);
    }
  }

  /** The [IPv4, IPv6] pair of the lowest free slot, or undefined when all POD_IP_CAPACITY are in use. */
  allocate(): [string, string] | undefined {
    for (let i = 0; i < POD_IP_CAPACITY; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return podIpPair(i);
      }
    }
    return undefined;
  }
}
