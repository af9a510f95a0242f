// Scale: a /8 pool with 50,000 held IPs still allocates correctly (lowest free, avoidBuggyIPs across ~200 /24
// boundaries, freed holes refilled in order). Speed is measured in bench/allocator.ts, never asserted here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIp, parseIp } from '../shared/ip.ts';
import { Allocator } from './allocator.ts';
import { pool, svc, tcp } from './testing.ts';

const N = 50_000;
const BASE = parseIp('10.0.0.0')!.value;

/** The i-th usable address of 10.0.0.0/8 under avoidBuggyIPs: 254 per /24, octets 1..254. */
function nth(i: number): string {
  const group = BigInt(Math.floor(i / 254));
  return formatIp('IPv4', BASE + group * 256n + BigInt((i % 254) + 1));
}

describe('allocator at scale', () => {
  it('a /8 with 50,000 held IPs: next IP, holes, sharing, counters', () => {
    const a = new Allocator();
    a.setPools([pool('big', ['10.0.0.0/8'], { avoidBuggyIPs: true })]);
    for (let i = 0; i < N; i++) {
      const r = a.allocate(`ns/s${i}`, svc(`ns/s${i}`));
      assert.equal(r.ok, true);
      if (i % 4999 === 0 || i === N - 1) assert.deepEqual(r.ok && r.ips, [nth(i)], `service ${i}`);
    }
    const s = a.stats()[0]!;
    assert.equal(s.ipv4InUse, N);
    assert.equal(s.services, N);
    assert.equal(s.ipv4Total, 65_536n * 254n);

    // The next free IP comes after all of them.
    assert.deepEqual(a.allocate('ns/next', svc('ns/next')), { ok: true, ips: [nth(N)], pool: 'big' });

    // Free 1,000 scattered IPs; new Services refill exactly those holes, lowest first.
    const freed: number[] = [];
    for (let i = 7; i < N; i += 50) {
      a.release(`ns/s${i}`);
      freed.push(i);
    }
    for (const i of freed) {
      const r = a.allocate(`ns/new${i}`, svc(`ns/new${i}`));
      assert.deepEqual(r.ok && r.ips, [nth(i)], `hole ${i}`);
    }
    assert.deepEqual(a.allocate('ns/after', svc('ns/after')), { ok: true, ips: [nth(N + 1)], pool: 'big' });

    // 200 Services with one sharing key and distinct ports all land on one new IP.
    for (let p = 0; p < 200; p++) {
      const r = a.allocate(`ns/shared${p}`, svc(`ns/shared${p}`, { sharingKey: 'k', ports: [tcp(1000 + p)] }));
      assert.deepEqual(r.ok && r.ips, [nth(N + 2)], `sharer ${p}`);
    }
    const after = a.stats()[0]!;
    assert.equal(after.ipv4InUse, N + 3);
    assert.equal(after.services, N + 2 + 200);
  });
});
