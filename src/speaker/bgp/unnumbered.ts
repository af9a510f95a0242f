// BGP unnumbered (BGPPeer `interface`, FRR's `neighbor <if> interface`): the session runs over IPv6 link-local
// addresses of one interface, and IPv4 routes carry an IPv6 next hop (RFC 8950). Two link-local discoveries:
// - the router's address: the router sends Router Advertisements (RFC 4861 §6.2; FRR does so by itself on an
//   interface with an unnumbered neighbor), from which the kernel installs `default via fe80::… dev <if> proto ra`;
//   routerLinkLocal() reads it from /proc/net/ipv6_route (RTF_ADDRCONF/RTF_DEFAULT gateway routes on the interface).
//   The node's kernel must accept RAs on the interface (accept_ra 1, or 2 with IPv6 forwarding on).
// - ours, at the router: FRR learns an unnumbered neighbor's address only from the RAs it receives (zebra) and closes
//   a connection from a link-local it has not learned, so the node sends RAs too: Router Lifetime 0 (RFC 4861 §6.2.3:
//   "not a default router", nobody routes through the node), with the Source Link-Layer Address option, from its
//   link-local to ff02::1 (hop limit 255), through the AF_PACKET addon, as the NDP responder sends NAs.
// Lab facts behind this (FRR 8.4, kernel 6.x): docs/bgp.md "Peer AS, local AS, VRF, unnumbered".
import { readFileSync } from 'node:fs';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { openPacketSocket, type PacketSocket } from '../link/packet.ts';
import { icmpv6Checksum, ipv6Bytes } from '../layer2/ndp.ts';

/** linux/ipv6_route.h flags. */
const RTF_GATEWAY = 0x0002;
const RTF_DEFAULT = 0x00010000;
const RTF_ADDRCONF = 0x00040000;

/** One line of /proc/net/ipv6_route (the fields berth reads). */
export interface Ipv6Route {
  destination: string;
  prefixLength: number;
  nextHop: string;
  flags: number;
  device: string;
}

function hexToIpv6(h: string): string {
  if (!/^[0-9a-f]{32}$/i.test(h)) throw new TypeError(`"${h}" is not 32 hex digits`);
  return ipaddr.fromByteArray([...Buffer.from(h, 'hex')]).toString();
}

/**
 * Parses /proc/net/ipv6_route text (one route a line: destination, prefix length, source, source prefix length,
 * next hop as hex, metric, refcount, use, flags, device). Malformed lines are skipped.
 */
export function parseIpv6Routes(text: string): Ipv6Route[] {
  const out: Ipv6Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    try {
      out.push({
        destination: hexToIpv6(f[0]!),
        prefixLength: parseInt(f[1]!, 16),
        nextHop: hexToIpv6(f[4]!),
        flags: parseInt(f[8]!, 16),
        device: f[9]!,
      });
    } catch {
      continue;
    }
  }
  return out;
}

/**
 * The link-local address of a router that advertises itself on `ifname` (a gateway route learned from a Router
 * Advertisement), as `fe80::…%ifname` for connect(), or undefined when none was seen. `routes` defaults to
 * /proc/net/ipv6_route of the calling process's network namespace.
 */
export function routerLinkLocal(ifname: string, routes?: string): string | undefined {
  let text = routes;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/ipv6_route', 'utf8');
    } catch {
      return undefined;
    }
  }
  const r = parseIpv6Routes(text).find(
    (x) =>
      x.device === ifname &&
      (x.flags & RTF_GATEWAY) !== 0 &&
      (x.flags & (RTF_ADDRCONF | RTF_DEFAULT)) !== 0 &&
      ipaddr.IPv6.parse(x.nextHop).range() === 'linkLocal',
  );
  return r ? `${r.nextHop}%${ifname}` : undefined;
}

/** The first IPv6 link-local address of `ifname` (os.networkInterfaces), without zone, or undefined. */
export function interfaceLinkLocal(ifname: string): string | undefined {
  for (const a of os.networkInterfaces()[ifname] ?? []) {
    if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:')) return a.address.split('%')[0];
  }
  return undefined;
}

const ALL_NODES = 'ff02::1';
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);
const ICMPV6_ROUTER_ADVERTISEMENT = 134;

/**
 * An Ethernet frame carrying a Router Advertisement (RFC 4861 §4.2) from `linkLocal` / `mac` to all nodes:
 * Cur Hop Limit 0 (unspecified), no M/O flags, Router Lifetime 0 (not a default router), Reachable and Retrans
 * Time 0 (unspecified), one Source Link-Layer Address option; IPv6 hop limit 255. Throws TypeError naming a bad
 * address or MAC.
 */
export function routerAdvertisementFrame(mac: Buffer, linkLocal: string): Buffer {
  if (mac.length !== 6) throw new TypeError(`MAC of ${mac.length} bytes: must be 6`);
  const src = ipv6Bytes(linkLocal);
  const dst = ipv6Bytes(ALL_NODES);
  const icmp = Buffer.alloc(16 + 8);
  icmp[0] = ICMPV6_ROUTER_ADVERTISEMENT;
  // code 0, checksum (below), cur hop limit 0, flags 0, router lifetime 0, reachable 0, retrans 0
  icmp[16] = 1; // Source Link-Layer Address option, length 1 (8 bytes)
  icmp[17] = 1;
  mac.copy(icmp, 18);
  icmp.writeUInt16BE(icmpv6Checksum(src, dst, icmp), 2);
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(icmp.length, 4);
  ip[6] = 58; // next header ICMPv6
  ip[7] = 255; // hop limit (RFC 4861 §6.1.2: receivers drop anything else)
  src.copy(ip, 8);
  dst.copy(ip, 24);
  const eth = Buffer.alloc(14);
  ALL_NODES_MAC.copy(eth, 0);
  mac.copy(eth, 6);
  eth.writeUInt16BE(0x86dd, 12);
  return Buffer.concat([eth, ip, icmp]);
}

/** What the session needs from an announcer: stop it. */
export interface RouterAnnouncer {
  close(): void;
}

/**
 * Sends routerAdvertisementFrame on `ifname` now and every `intervalMs` (default 10 s, FRR's RA interval for
 * unnumbered neighbors) until close(). Frames are sent from the interface's current link-local (skipped while it has
 * none); send errors (link down) are passed to `onError` and retried at the next interval. Throws LinkError when the
 * packet socket cannot be opened (EPERM without CAP_NET_RAW, ENODEV).
 */
export function announceRouter(
  ifname: string,
  o: { intervalMs?: number; onError?: (err: Error) => void } = {},
): RouterAnnouncer {
  const sock: PacketSocket = openPacketSocket({
    ifname,
    ethertype: 0x86dd,
    onFrame: () => {},
    ring: false,
    // Receive nothing: this socket only sends.
    filter: [{ code: 0x06, jt: 0, jf: 0, k: 0 }],
    ...(o.onError ? { onError: o.onError } : {}),
  });
  const send = (): void => {
    const ll = interfaceLinkLocal(ifname);
    if (!ll) return;
    try {
      sock.send(routerAdvertisementFrame(sock.mac, ll));
    } catch (err) {
      o.onError?.(err as Error);
    }
  };
  send();
  const timer = setInterval(send, o.intervalMs ?? 10_000);
  timer.unref();
  return {
    close: () => {
      clearInterval(timer);
      sock.close();
    },
  };
}
