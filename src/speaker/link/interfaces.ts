// The node's network interfaces as the layer 2 speaker needs them, and MetalLB's rules for which ones answer ARP and
// NDP (internal/layer2/announcer.go, updateInterfaces; spec metallb-compat §5.2).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';

/** One network interface: flags from /sys/class/net/<name>/flags, addresses from os.networkInterfaces(). */
export interface LinkInfo {
  name: string;
  ifindex: number;
  /** lowercase aa:bb:cc:dd:ee:ff */
  mac: string;
  /** IFF_UP */
  up: boolean;
  /** IFF_BROADCAST: ARP is answered only on these */
  broadcast: boolean;
  /** IFF_NOARP */
  noarp: boolean;
  /** IFF_LOOPBACK */
  loopback: boolean;
  /** has a master (bridge, bond or VRF port) */
  enslaved: boolean;
  /** canonical IPv4 addresses */
  ipv4: string[];
  /** the first fe80::/10 address, canonical (RFC 5952), without zone */
  ipv6LinkLocal: string | undefined;
}

/** linux/if.h flag bits. */
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_NOARP = 0x80;

/**
 * MetalLB's default `announcedInterfacesToExclude` (config/native/exclude-l2-config.yaml, ConfigMap
 * metallb-excludel2): container, virtual and overlay interfaces never answer ARP/NDP.
 */
export const DEFAULT_EXCLUDED_INTERFACES: readonly RegExp[] = Object.freeze([
  /^docker.*/,
  /^cbr.*/,
  /^dummy.*/,
  /^virbr.*/,
  /^lxcbr.*/,
  /^veth.*/,
  /^lo$/,
  /^cali.*/,
  /^tunl.*/,
  /^flannel.*/,
  /^kube-ipvs.*/,
  /^cni.*/,
  /^nodelocaldns.*/,
  /^lxc.*/,
]);

type Addresses = ReturnType<typeof networkInterfaces>;

function readSys(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Parses one interface from a sysfs-like directory (`<sysDir>/<name>/{ifindex,address,flags,master}`) and an
 * os.networkInterfaces() result. Exported for tests; returns undefined when the directory has no readable ifindex
 * (the interface vanished while being read).
 */
export function readLink(sysDir: string, name: string, addresses: Addresses): LinkInfo | undefined {
  const dir = join(sysDir, name);
  const ifindex = Number(readSys(dir, 'ifindex'));
  if (!Number.isInteger(ifindex) || ifindex <= 0) return undefined;
  const flags = Number.parseInt(readSys(dir, 'flags') ?? '0', 16) || 0;
  const ipv4: string[] = [];
  let ipv6LinkLocal: string | undefined;
  for (const a of addresses[name] ?? []) {
    const address = a.address.split('%')[0] ?? '';
    if (!ipaddr.isValid(address)) continue;
    const ip = ipaddr.parse(address);
    if (ip.kind() === 'ipv4') ipv4.push(ip.toString());
    else if (ipv6LinkLocal === undefined && ip.range() === 'linkLocal') ipv6LinkLocal = ip.toString();
  }
  return {
    name,
    ifindex,
    mac: (readSys(dir, 'address') ?? '').toLowerCase(),
    up: (flags & IFF_UP) !== 0,
    broadcast: (flags & IFF_BROADCAST) !== 0,
    noarp: (flags & IFF_NOARP) !== 0,
    loopback: (flags & IFF_LOOPBACK) !== 0,
    enslaved: existsSync(join(dir, 'master')),
    ipv4,
    ipv6LinkLocal,
  };
}

/**
 * Every interface of this network namespace, sorted by ifindex: /sys/class/net/* plus os.networkInterfaces() for
 * addresses. `sysDir` and `addresses` are injectable for tests.
 */
export function listLinks(sysDir = '/sys/class/net', addresses: Addresses = networkInterfaces()): LinkInfo[] {
  let names: string[];
  try {
    names = readdirSync(sysDir);
  } catch {
    return [];
  }
  const links: LinkInfo[] = [];
  for (const name of names) {
    const link = readLink(sysDir, name, addresses);
    if (link) links.push(link);
  }
  return links.sort((a, b) => a.ifindex - b.ifindex);
}

/**
 * The interfaces that answer ARP and NDP, by MetalLB's rules (§5.2, announcer.go updateInterfaces): skip names that
 * match an `excluded` pattern, interfaces that are down, enslaved to a master, or NOARP; then ARP on interfaces with
 * the broadcast flag, NDP on interfaces that have an IPv6 link-local address. Pure; names in input order.
 */
export function layer2Links(
  links: LinkInfo[],
  excluded: readonly RegExp[] = DEFAULT_EXCLUDED_INTERFACES,
): { arp: string[]; ndp: string[] } {
  const arp: string[] = [];
  const ndp: string[] = [];
  for (const l of links) {
    if (excluded.some((re) => re.test(l.name))) continue;
    if (!l.up || l.enslaved || l.noarp) continue;
    if (l.broadcast) arp.push(l.name);
    if (l.ipv6LinkLocal !== undefined) ndp.push(l.name);
  }
  return { arp, ndp };
}
