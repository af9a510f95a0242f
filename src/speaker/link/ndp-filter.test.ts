// ndpFilter: the per-IP kernel filter of the IPv6 packet socket, run here by a small classic-BPF interpreter (the
// opcodes it emits) over captured frames (testdata.ts); the kernel runs it in test/e2e/speaker-ndp-filter.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KERNEL_NA, NDISC6_NS } from '../layer2/testdata.ts';
import { ndpFilter, ndpFilterOrAll, NDP_FILTER_MAX_IPS } from './ndp-filter.ts';
import { NDP_FILTER, type BpfInstruction } from './packet.ts';

/** Runs a classic BPF program (LD W/B ABS, LD W LEN, JEQ/JGE K, RET K) on `frame`: the bytes kept, 0 = dropped. */
function runBpf(p: readonly BpfInstruction[], frame: Buffer): number {
  let a = 0;
  for (let pc = 0; pc < p.length; pc++) {
    const i = p[pc]!;
    switch (i.code) {
      case 0x20:
        if (i.k + 4 > frame.length) return 0; // the kernel drops a frame read past its end
        a = frame.readUInt32BE(i.k);
        break;
      case 0x30:
        if (i.k + 1 > frame.length) return 0;
        a = frame[i.k]!;
        break;
      case 0x80:
        a = frame.length;
        break;
      case 0x15:
        pc += a === i.k >>> 0 ? i.jt : i.jf;
        break;
      case 0x35:
        pc += a >= i.k >>> 0 ? i.jt : i.jf;
        break;
      case 0x06:
        return i.k >>> 0;
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} not interpreted`);
    }
  }
  throw new Error('fell off the end of the program');
}

const pass = (p: readonly BpfInstruction[], f: Buffer): boolean => runBpf(p, f) !== 0;
const TARGET = '2001:db8:77::2';

/** A copy of `f` whose ICMPv6 checksum (bytes 56-57) is wrong. */
function badChecksum(f: Buffer): Buffer {
  const c = Buffer.from(f);
  c[57] = c[57]! ^ 0xff;
  return c;
}

/** A copy of the NS for target `ip` (bytes 62-77; the checksum is then wrong, which the filter cannot tell). */
function nsFor(ip: string): Buffer {
  const c = Buffer.from(NDISC6_NS);
  const words = ip === '2001:db8:77::3' ? '20010db8007700000000000000000003' : '20010db8009900000000000000000002';
  Buffer.from(words, 'hex').copy(c, 62);
  return c;
}

test('ndpFilter passes the NS and NA whose target is watched, in any text form, also with a bad checksum (checked in userspace)', () => {
  for (const form of [TARGET, '2001:DB8:77:0:0:0:0:2', '2001:0db8:0077:0000:0000:0000:0000:0002']) {
    const p = ndpFilter(['2001:db8::1', form])!;
    assert.ok(pass(p, NDISC6_NS), form);
    assert.ok(pass(p, KERNEL_NA), form);
    assert.ok(pass(p, badChecksum(NDISC6_NS)), 'a corrupt NS for a watched target reaches the responder, which counts it');
  }
});

test('ndpFilter drops the NS and NA for targets not watched, corrupt or not, and differing in any one word', () => {
  const p = ndpFilter([TARGET])!;
  assert.ok(!pass(p, nsFor('2001:db8:77::3')), 'last word differs');
  assert.ok(!pass(p, nsFor('2001:db8:99::2')), 'second word differs');
  assert.ok(!pass(p, badChecksum(nsFor('2001:db8:77::3'))), 'corrupt, not watched: dropped uncounted');
  const none = ndpFilter([])!;
  assert.ok(!pass(none, NDISC6_NS) && !pass(none, KERNEL_NA), 'nothing watched: no NS/NA wakes the node');
});

test('ndpFilter passes frames too short to judge (the responder counts them truncated) and drops other IPv6 traffic', () => {
  const p = ndpFilter([])!;
  assert.ok(pass(p, NDISC6_NS.subarray(0, 54)), 'no ICMPv6 type byte');
  assert.ok(pass(p, NDISC6_NS.subarray(0, 70)), 'an NS cut inside its target');
  const udp = Buffer.from(NDISC6_NS);
  udp[20] = 17;
  assert.ok(!pass(p, udp), 'UDP');
  const echo = Buffer.from(NDISC6_NS);
  echo[54] = 128;
  assert.ok(!pass(ndpFilter([TARGET])!, echo), 'an ICMPv6 echo request, even with a watched address where an NS target would be');
});

test('ndpFilter: more than NDP_FILTER_MAX_IPS → undefined (ndpFilterOrAll falls back to NDP_FILTER); a bad address names itself', () => {
  const many = Array.from({ length: NDP_FILTER_MAX_IPS + 1 }, (_, i) => `2001:db8:1::${(i + 1).toString(16)}`);
  assert.equal(ndpFilter(many), undefined);
  assert.equal(ndpFilterOrAll(many), NDP_FILTER);
  const max = ndpFilter(many.slice(0, NDP_FILTER_MAX_IPS))!;
  assert.ok(max.length <= 4096, `${max.length} instructions within BPF_MAXINSNS`);
  assert.ok(max.every((i) => i.jt <= 255 && i.jf <= 255));
  assert.throws(() => ndpFilter(['2001:db8::1', '198.51.100.1']), /watched\[1\] "198\.51\.100\.1" is not an IPv6 address/);
  assert.throws(() => ndpFilter(['fe80::1%eth0']), /watched\[0\] "fe80::1%eth0"/);
});
