// Property tests (fast-check, fixed seeds): random sequences of allocate / assign / restore / release / pool changes
// on small pools, checked against brute force after every step:
// - never two non-sharing holders on one IP; every IP inside its pool; counters equal a recount (checkInvariants);
// - an automatic allocation returns, in the chosen pool, the IP MetalLB's linear walk would return (linearLowest);
// - allocate → release → allocate returns the same (lowest free) IPs;
// - planPools reports exactly what setPools then does.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIp } from '../shared/ip.ts';
import { Allocator } from './allocator.ts';
import { allocation, checkInvariants, frozen, linearLowest, pool, tcp, udp } from './testing.ts';
import type { Family, IpFamilyPolicy, PoolSpec, Port, ServiceRequest } from './types.ts';

const SHAPES: readonly (readonly string[])[] = [
  ['10.0.0.252-10.0.1.3'], // crosses a /24 boundary: .255 and .0 inside
  ['10.0.2.0/30', 'fd00::/126'],
  ['fd01::/127', '10.0.3.254/31'],
  ['10.0.4.0/31'],
];
const NAMES = ['a', 'b', 'c', 'd', 'e'];
const IPS = [
  '10.0.0.252', '10.0.0.253', '10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1', '10.0.1.2', '10.0.1.3',
  '10.0.2.0', '10.0.2.3', '10.0.3.254', '10.0.3.255', '10.0.4.0', '10.0.4.1', '10.9.9.9',
  'fd00::', 'fd00::3', 'fd01::', 'fd01::1', 'fd09::1',
];
const KEYS = ['n1/s0', 'n1/s1', 'n1/s2', 'n1/s3', 'n1/s4', 'n2/s5', 'n2/s6', 'n2/s7', 'n2/s8', 'n2/s9'];
const PORTS: readonly Port[] = [tcp(80), tcp(443), udp(53)];

const saArb = fc.constantFrom<PoolSpec['serviceAllocation'] | undefined>(
  undefined,
  undefined,
  allocation({ namespaces: ['n1'], priority: 1 }),
  allocation({ serviceSelectors: [{ matchLabels: { app: 'web' } }] }),
  allocation({ priority: 2 }),
  allocation({ namespaceConstrained: true }),
);

const poolsArb: fc.Arbitrary<PoolSpec[]> = fc
  .tuple(
    fc.shuffledSubarray(NAMES, { minLength: SHAPES.length, maxLength: SHAPES.length }),
    fc.array(fc.record({ use: fc.boolean(), avoid: fc.boolean(), auto: fc.boolean(), sa: saArb }), {
      minLength: SHAPES.length,
      maxLength: SHAPES.length,
    }),
  )
  .map(([names, opts]) =>
    SHAPES.flatMap((addresses, i) => {
      const o = opts[i]!;
      if (!o.use && i > 0) return [];
      return [
        pool(names[i]!, addresses, {
          avoidBuggyIPs: o.avoid,
          autoAssign: o.auto || i === 0,
          ...(o.sa ? { serviceAllocation: o.sa } : {}),
        }),
      ];
    }),
  );

const familiesArb = fc.constantFrom<[Family[], IpFamilyPolicy]>(
  [['IPv4'], 'SingleStack'],
  [['IPv4'], 'SingleStack'],
  [['IPv6'], 'SingleStack'],
  [['IPv4', 'IPv6'], 'RequireDualStack'],
  [['IPv6', 'IPv4'], 'PreferDualStack'],
  [['IPv4', 'IPv6'], 'PreferDualStack'],
);

const reqArb = (key: string): fc.Arbitrary<ServiceRequest> =>
  fc
    .record({
      web: fc.boolean(),
      sharingKey: fc.constantFrom('', 'k1', 'k1', 'k2'),
      backendKey: fc.constantFrom('', '', 'app=x'),
      ports: fc.subarray([...PORTS], { minLength: 0 }),
      fam: familiesArb,
      requested: fc.oneof({ weight: 4, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.subarray(IPS, { minLength: 1, maxLength: 2 }) }),
      pool: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...NAMES, 'zz') }),
    })
    .map((r): ServiceRequest => {
      const [ns, name] = key.split('/') as [string, string];
      return {
        namespace: ns,
        name,
        labels: r.web ? { app: 'web' } : {},
        ports: r.ports,
        sharingKey: r.sharingKey,
        backendKey: r.backendKey,
        families: r.fam[0],
        ipFamilyPolicy: r.fam[1],
        requestedIPs: r.requested,
        ...(r.pool ? { pool: r.pool } : {}),
      };
    });

type Op =
  | { kind: 'allocate'; key: string; req: ServiceRequest }
  | { kind: 'assign' | 'restore'; key: string; req: ServiceRequest; ips: string[] }
  | { kind: 'release'; key: string }
  | { kind: 'setPools'; pools: PoolSpec[] };

const keyArb = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: keyArb.chain((key) => reqArb(key).map((req): Op => ({ kind: 'allocate', key, req }))) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(keyArb, fc.subarray(IPS, { minLength: 1, maxLength: 2 }), fc.constantFrom<'assign' | 'restore'>('assign', 'restore'))
      .chain(([key, ips, kind]) => reqArb(key).map((req): Op => ({ kind, key, req, ips }))),
  },
  { weight: 3, arbitrary: keyArb.map((key): Op => ({ kind: 'release', key })) },
  { weight: 1, arbitrary: poolsArb.map((pools): Op => ({ kind: 'setPools', pools })) },
);

function run(initial: PoolSpec[], ops: Op[]): void {
  const a = new Allocator();
  let pools = frozen(initial);
  a.setPools(pools);
  for (const op of ops) {
    if (op.kind === 'setPools') {
      const next = frozen(op.pools);
      const plan = a.planPools(next);
      const before = a.allocations();
      const done = a.setPools(next);
      assert.deepEqual(done, plan, 'planPools == setPools report');
      // Every holder either survives with the same IPs or is reported.
      const orphaned = new Set(done.orphaned.map((o) => o.key));
      for (const b of before) {
        if (orphaned.has(b.key)) assert.equal(a.ipsOf(b.key), undefined);
        else assert.deepEqual(a.ipsOf(b.key)?.ips, b.ips);
      }
      pools = next;
    } else if (op.kind === 'release') {
      a.release(op.key);
    } else if (op.kind === 'allocate') {
      const req = frozen(op.req);
      const heldBefore = a.ipsOf(op.key);
      const r = a.allocate(op.key, req);
      if (r.ok) {
        assert.deepEqual(a.ipsOf(op.key), { ips: r.ips, pool: r.pool });
        if (!heldBefore && req.requestedIPs.length === 0) {
          const spec = pools.find((p) => p.name === r.pool)!;
          for (const ip of r.ips) {
            const ref = parseIp(ip)!;
            const want = linearLowest(a, spec, ref.family, { key: op.key, ...req });
            assert.equal(ref.value, want, `${ip} is not the lowest free ${ref.family} of pool ${r.pool}`);
          }
          a.release(op.key);
          assert.deepEqual(a.allocate(op.key, req), r, 'allocate → release → allocate returns the same IPs');
        }
      } else if (heldBefore) {
        assert.deepEqual(a.ipsOf(op.key), heldBefore, 'a failed re-decision keeps the held IPs');
      }
    } else {
      const req = frozen(op.req);
      const before = a.allocations();
      const ips = frozen(op.ips);
      const r =
        op.kind === 'assign'
          ? a.assign(op.key, req, ips)
          : a.restore(op.key, { sharingKey: req.sharingKey, backendKey: req.backendKey, ports: req.ports }, ips);
      if (r.ok) assert.deepEqual(a.ipsOf(op.key), { ips: r.ips, pool: r.pool });
      else assert.deepEqual(a.allocations(), before, `a failed ${op.kind} changes nothing`);
      if (op.kind === 'assign') {
        // check() agrees with what assign just did (now idempotent).
        if (r.ok) assert.deepEqual(a.check(op.key, req, ips), r);
      }
    }
    checkInvariants(a, pools, op.kind);
  }
}

describe('allocator properties', () => {
  it('random operation sequences keep every invariant', () => {
    fc.assert(
      fc.property(poolsArb, fc.array(opArb, { minLength: 15, maxLength: 60 }), (pools, ops) => run(pools, ops)),
      { numRuns: 300, seed: 20240611 },
    );
  });

  it('dense sharing: many services on few IPs', () => {
    const denseReq = (key: string) =>
      fc.record({ sk: fc.constantFrom('k1', 'k2'), ports: fc.subarray([...PORTS], { minLength: 1, maxLength: 1 }) }).map(
        (r): ServiceRequest => ({
          namespace: 'n1', name: key.split('/')[1]!, labels: {}, ports: r.ports, sharingKey: r.sk, backendKey: '',
          families: ['IPv4'], ipFamilyPolicy: 'SingleStack', requestedIPs: [],
        }),
      );
    const dense = fc.oneof(
      { weight: 3, arbitrary: keyArb.chain((key) => denseReq(key).map((req): Op => ({ kind: 'allocate', key, req }))) },
      { weight: 1, arbitrary: keyArb.map((key): Op => ({ kind: 'release', key })) },
    );
    fc.assert(
      fc.property(fc.array(dense, { minLength: 10, maxLength: 60 }), (ops) => run([pool('a', ['10.0.0.0/30'])], ops)),
      { numRuns: 150, seed: 7 },
    );
  });
});
