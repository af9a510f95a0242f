// The per-IP kernel filter of an IPv6 (0x86dd) packet socket, the NDP counterpart of arpFilter (packet.ts): on a
// segment where every node's socket sees every Neighbor Solicitation, a node wakes only for the NSs and NAs whose
// target it watches (announces, probes or holds back for a conflict), so the non-owners of an IP sleep through the
// NSs for it (issue 8).
//
// A classic BPF program cannot verify the ICMPv6 checksum (RFC 4443 §2.3: a sum over a pseudo-header and the whole
// message), so it checks no validity at all: what it passes still goes through the responder's RFC 4861 §7.1
// validation (hop limit 255, code 0, checksum, length) in userspace, where malformed frames are dropped and counted.
// The price: a corrupt NS or NA whose target this node does not watch is dropped in the kernel uncounted, as a plain
// ARP request for an IP it does not watch already is (docs/layer2.md "Kernel filters").
import ipaddr from 'ipaddr.js';
import { NDP_FILTER, type BpfInstruction } from './packet.ts';

// linux/bpf_common.h opcodes.
const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_LD_B_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
const BPF_LD_W_LEN = 0x80; // BPF_LD | BPF_W | BPF_LEN
const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_RET_K = 0x06; // BPF_RET | BPF_K
const ACCEPT = 0xffffffff;
const ins = (code: number, jt: number, jf: number, k: number): BpfInstruction => ({ code, jt, jf, k });

/** Frame offsets (RFC 4861 §4.3/§4.4 after 14 bytes of Ethernet and 40 of IPv6): next header, ICMPv6 type, target. */
export const NDP_OFFSETS = { nextHeader: 20, icmpType: 54, target: 62, targetEnd: 78 } as const;

/** Most IPv6s ndpFilter handles (9 instructions each, within BPF_MAXINSNS 4096); beyond, it returns undefined. */
export const NDP_FILTER_MAX_IPS = 400;

/**
 * For an IPv6 (0x86dd) packet socket: a classic BPF program (offsets from the Ethernet header) that passes
 * - frames too short to hold the next-header and ICMPv6 type bytes (< 55 bytes) or an NS/NA too short to hold its
 *   target (< 78 bytes): the responder counts them as truncated;
 * - ICMPv6 (next header 58) Neighbor Solicitations and Advertisements (type 135/136) whose target address (bytes
 *   62-77) is one of `watched`;
 * and drops everything else in the kernel: other IPv6 traffic (as NDP_FILTER does) and NSs/NAs for any other target,
 * whatever their validity (checksum, hop limit, code: not checkable here, checked in userspace on what passes).
 * `watched`: IPv6 texts (any valid form, no zone). Returns undefined when there are more than NDP_FILTER_MAX_IPS (then
 * attach NDP_FILTER: every NS/NA reaches the responder). TypeError naming a bad address. Pure.
 */
export function ndpFilter(watched: readonly string[]): BpfInstruction[] | undefined {
  if (watched.length > NDP_FILTER_MAX_IPS) return undefined;
  const words = watched.map((ip, i) => {
    if (typeof ip !== 'string' || ip.includes('%') || !ipaddr.IPv6.isValid(ip))
      throw new TypeError(`ndpFilter: watched[${i}] ${JSON.stringify(ip)} is not an IPv6 address (without zone)`);
    const b = Buffer.from(ipaddr.IPv6.parse(ip).toByteArray());
    return [0, 4, 8, 12].map((o) => b.readUInt32BE(o));
  });
  const p: BpfInstruction[] = [
    ins(BPF_LD_W_LEN, 0, 0, 0),
    ins(BPF_JGE_K, 1, 0, NDP_OFFSETS.icmpType + 1),
    ins(BPF_RET_K, 0, 0, ACCEPT), // short: the responder counts it
    ins(BPF_LD_B_ABS, 0, 0, NDP_OFFSETS.nextHeader),
    ins(BPF_JEQ_K, 1, 0, 58),
    ins(BPF_RET_K, 0, 0, 0), // not ICMPv6 (extension headers are not walked: NDP messages carry none)
    ins(BPF_LD_B_ABS, 0, 0, NDP_OFFSETS.icmpType),
    ins(BPF_JEQ_K, 2, 0, 135),
    ins(BPF_JEQ_K, 1, 0, 136),
    ins(BPF_RET_K, 0, 0, 0), // other ICMPv6
    ins(BPF_LD_W_LEN, 0, 0, 0),
    ins(BPF_JGE_K, 1, 0, NDP_OFFSETS.targetEnd),
    ins(BPF_RET_K, 0, 0, ACCEPT), // an NS/NA cut before the end of its target: the responder counts it
  ];
  // Per IP: the last word first (the one most likely to differ), then the others; any mismatch → the next IP.
  for (const [w0, w1, w2, w3] of words) {
    p.push(
      ins(BPF_LD_W_ABS, 0, 0, NDP_OFFSETS.target + 12),
      ins(BPF_JEQ_K, 0, 7, w3!),
      ins(BPF_LD_W_ABS, 0, 0, NDP_OFFSETS.target),
      ins(BPF_JEQ_K, 0, 5, w0!),
      ins(BPF_LD_W_ABS, 0, 0, NDP_OFFSETS.target + 4),
      ins(BPF_JEQ_K, 0, 3, w1!),
      ins(BPF_LD_W_ABS, 0, 0, NDP_OFFSETS.target + 8),
      ins(BPF_JEQ_K, 0, 1, w2!),
      ins(BPF_RET_K, 0, 0, ACCEPT),
    );
  }
  p.push(ins(BPF_RET_K, 0, 0, 0));
  return p;
}

/** The program to attach for `watched`: ndpFilter's, or NDP_FILTER (every NS/NA) when there are too many IPs. */
export function ndpFilterOrAll(watched: readonly string[]): readonly BpfInstruction[] {
  return ndpFilter(watched) ?? NDP_FILTER;
}
