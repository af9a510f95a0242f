// Address <-> slot mapping. A pool keeps its held addresses as "slots": for IPv6, and for IPv4 without
// avoidBuggyIPs, the slot is the address itself. With avoidBuggyIPs, IPv4 addresses ending in .0 or .255
// (MetalLB ipConfusesBuggyFirmwares, internal/allocator/allocator.go) have no slot, and the 254 usable addresses of
// every /24 are numbered consecutively: slot = (a >> 8) * 254 + (last octet - 1). So the usable addresses of any
// CIDR form one contiguous slot range, "lowest free" never has to step over .255/.0 gaps, and the capacity of a
// CIDR is simply its slot count (which equals MetalLB's poolCount rule, §3.4 of the spec).
import type { Family } from '../shared/ip.ts';

/** True for an IPv4 address ending in .0 or .255 (never allocated from an avoidBuggyIPs pool). */
export function isBuggy(family: Family, v: bigint): boolean {
  if (family !== 'IPv4') return false;
  const o = v & 0xffn;
  return o === 0n || o === 0xffn;
}

/** How one pool numbers one family's addresses. */
export interface SlotMap {
  /** The slot of a usable address (callers must not pass a buggy address to a buggy-avoiding map). */
  toSlot(v: bigint): bigint;
  fromSlot(s: bigint): bigint;
  /** Slot range [lo, hi] of the usable addresses in [first, last]; undefined when there are none. */
  range(first: bigint, last: bigint): { lo: bigint; hi: bigint } | undefined;
}

const identity: SlotMap = {
  toSlot: (v) => v,
  fromSlot: (s) => s,
  range: (first, last) => ({ lo: first, hi: last }),
};

const skipBuggy: SlotMap = {
  toSlot: (v) => (v >> 8n) * 254n + (v & 0xffn) - 1n,
  fromSlot: (s) => ((s / 254n) << 8n) | ((s % 254n) + 1n),
  range(first, last) {
    const lo = ceilUsable(first);
    const hi = floorUsable(last);
    if (lo > last || hi < first || lo > hi) return undefined;
    return { lo: skipBuggy.toSlot(lo), hi: skipBuggy.toSlot(hi) };
  },
};

export function slotMap(family: Family, avoidBuggyIPs: boolean): SlotMap {
  return family === 'IPv4' && avoidBuggyIPs ? skipBuggy : identity;
}

function ceilUsable(v: bigint): bigint {
  const o = v & 0xffn;
  return o === 0n ? v + 1n : o === 0xffn ? v + 2n : v;
}

function floorUsable(v: bigint): bigint {
  const o = v & 0xffn;
  return o === 0xffn ? v - 1n : o === 0n ? v - 2n : v;
}
