// Pod IPs of the lab: dual-stack pairs from documentation ranges (RFC 5737, RFC 3849), so they never collide
// with a real network: IPv4 203.0.113.1-254 (TEST-NET-3), each paired with 2001:db8:1::<n> (n = 1..254), in the lab
// with or without --network. They stay clear of every pool the lab applies or its docs use: the dev pool `default`
// (192.168.1.220-250, examples/dev), the network lab's segment 198.51.100.0/24 and 2001:db8:51::/64 with its pool
// lab-l2 (src/lab/network/topology.ts), and the lab Nodes' InternalIPs 192.0.2.101.. (workloads/nodes.ts);
// pod-ips.test.ts checks it against the pools in examples/ and gitops/ too.

/** The /24 blocks (first three octets) Pod IPv4 addresses come from, in order. */
export const DEFAULT_POD_IPV4_BLOCKS: readonly string[] = ['203.0.113'];
/** The blocks of the network lab: disjoint from its segment 198.51.100.0/24 (and so from pool lab-l2). */
export const NETWORK_POD_IPV4_BLOCKS: readonly string[] = DEFAULT_POD_IPV4_BLOCKS;

/** Number of Pods the lab can give an IP to at once (with the default blocks). */
export const POD_IP_CAPACITY = 254 * DEFAULT_POD_IPV4_BLOCKS.length;

function checkBlocks(blocks: readonly string[]): void {
  if (blocks.length === 0) throw new Error('pod IPv4 blocks: at least one /24 block (e.g. "203.0.113") is required');
  for (const b of blocks) {
    const parts = b.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
      throw new Error(`pod IPv4 block "${b}" is not the first three octets of a /24 (e.g. "203.0.113")`);
    }
  }
}

/** The IPv4 and IPv6 address of slot `i` (0-based, < 254 × blocks.length). */
export function podIpPair(i: number, blocks: readonly string[] = DEFAULT_POD_IPV4_BLOCKS): [string, string] {
  const block = blocks[Math.floor(i / 254)];
  if (!Number.isInteger(i) || i < 0 || block === undefined) throw new Error(`pod IP slot ${i} is outside 0..${254 * blocks.length - 1}`);
  return [`${block}.${(i % 254) + 1}`, `2001:db8:1::${(i + 1).toString(16)}`];
}

/** The slot of an address given by podIpPair with the same blocks, or undefined for any other address. */
export function slotOf(ip: string, blocks: readonly string[] = DEFAULT_POD_IPV4_BLOCKS): number | undefined {
  const m4 = /^(\d+\.\d+\.\d+)\.(\d+)$/.exec(ip);
  if (m4) {
    const b = blocks.indexOf(m4[1]!);
    const host = Number(m4[2]);
    return b >= 0 && host >= 1 && host <= 254 ? b * 254 + host - 1 : undefined;
  }
  const m6 = /^2001:db8:1::([0-9a-f]{1,4})$/.exec(ip);
  if (m6) {
    const n = parseInt(m6[1]!, 16);
    if (n >= 1 && n <= 254 * blocks.length) return n - 1;
  }
  return undefined;
}

/** Allocates the lowest free slot; Pods restored from a snapshot mark theirs used. */
export class PodIpPool {
  private readonly used = new Set<number>();
  private readonly blocks: readonly string[];
  /** Slots available: 254 per IPv4 block. */
  readonly capacity: number;

  /** `blocks`: the IPv4 /24 blocks, e.g. NETWORK_POD_IPV4_BLOCKS; throws on a malformed block. */
  constructor(blocks: readonly string[] = DEFAULT_POD_IPV4_BLOCKS) {
    checkBlocks(blocks);
    this.blocks = [...blocks];
    this.capacity = 254 * blocks.length;
  }

  /** The IPv4 ranges, for messages: `203.0.113.1-254`. */
  describe(): string {
    return this.blocks.map((b) => `${b}.1-254`).join(', ');
  }

  markUsed(ips: readonly string[]): void {
    for (const ip of ips) {
      const s = slotOf(ip, this.blocks);
      if (s !== undefined) this.used.add(s);
    }
  }

  release(ips: readonly string[]): void {
    for (const ip of ips) {
      const s = slotOf(ip, this.blocks);
      if (s !== undefined) this.used.delete(s);
    }
  }

  /** The [IPv4, IPv6] pair of the lowest free slot, or undefined when all `capacity` slots are in use. */
  allocate(): [string, string] | undefined {
    for (let i = 0; i < this.capacity; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return podIpPair(i, this.blocks);
      }
    }
    return undefined;
  }
}
