// election.ts: MetalLB's order (its own test vectors, preference scores, hash compared bytewise against sha256sum) and
// balanced mode's properties (fast-check, fixed seeds): spread ≤ 1, the proved movement bound, determinism.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  balancedOwners,
  electionHash,
  metallbOrder,
  rendezvousExcess,
  topTier,
  type Candidate,
} from './election.ts';

const flat = (...names: string[]): Candidate[] => names.map((name) => ({ name, score: 0 }));

function counts(owners: Map<string, string>, nodes: readonly string[]): number[] {
  const c = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const node of owners.values()) c.set(node, (c.get(node) ?? 0) + 1);
  return [...c.values()];
}

function moved(a: Map<string, string>, b: Map<string, string>): number {
  let n = 0;
  for (const [ip, node] of a) if (b.get(ip) !== node) n++;
  return n;
}

const ipsOf = (n: number, offset = 0): string[] =>
  Array.from({ length: n }, (_, i) => {
    const v = i + offset;
    return v < 256 ? `198.51.100.${v}` : `2001:db8::${v.toString(16)}`;
  });

describe('metallbOrder', () => {
  const table: Array<{ desc: string; ip: string; candidates: Candidate[]; want: string[] }> = [
    {
      desc: 'MetalLB layer2_controller_test "selector on both, c2 should announce"',
      ip: '10.20.30.1',
      candidates: flat('iris1', 'iris2'),
      want: ['iris2', 'iris1'],
    },
    {
      desc: 'MetalLB layer2_controller_test "two services ... controller 1 should announce the second" (10.20.30.2)',
      ip: '10.20.30.2',
      candidates: flat('iris1', 'iris2'),
      want: ['iris1', 'iris2'],
    },
    {
      desc: 'MetalLB vector, three nodes (spec §5.1)',
      ip: '192.168.1.240',
      candidates: flat('nodeA', 'nodeB', 'nodeC'),
      want: ['nodeB', 'nodeA', 'nodeC'],
    },
    {
      desc: 'input order does not matter',
      ip: '192.168.1.240',
      candidates: flat('nodeC', 'nodeB', 'nodeA'),
      want: ['nodeB', 'nodeA', 'nodeC'],
    },
    {
      desc: 'a preferred node (higher score) wins over the hash',
      ip: '192.168.1.240',
      candidates: [
        { name: 'nodeA', score: 100 },
        { name: 'nodeB', score: 0 },
        { name: 'nodeC', score: 0 },
      ],
      want: ['nodeA', 'nodeB', 'nodeC'],
    },
    {
      desc: 'scores sort descending, the hash breaks ties inside a tier',
      ip: '192.168.1.240',
      candidates: [
        { name: 'nodeA', score: 50 },
        { name: 'nodeB', score: 10 },
        { name: 'nodeC', score: 50 },
      ],
      want: ['nodeA', 'nodeC', 'nodeB'],
    },
    { desc: 'no candidates', ip: '198.51.100.1', candidates: [], want: [] },
  ];
  for (const t of table) {
    it(t.desc, () => assert.deepEqual(metallbOrder(t.ip, t.candidates), t.want));
  }

  it('hashes "<node>#<ip>" exactly as sha256sum does, and sorts bytewise', (t) => {
    let hex: (s: string) => string;
    try {
      execFileSync('sha256sum', ['--version'], { stdio: 'ignore' });
      hex = (s) => execFileSync('sha256sum', { input: s }).toString().slice(0, 64);
    } catch {
      t.skip('sha256sum not installed');
      return;
    }
    const nodes = ['worker-1', 'worker-2', 'worker-3', 'cp-0'];
    const ip = '2001:db8::10';
    for (const n of nodes) assert.equal(electionHash(n, ip).toString('hex'), hex(`${n}#${ip}`));
    const byHex = [...nodes].sort((a, b) => (hex(`${a}#${ip}`) < hex(`${b}#${ip}`) ? -1 : 1));
    assert.deepEqual(metallbOrder(ip, flat(...nodes)), byHex);
  });

  it('memoised orders stay correct: other lists for the same IP, callers mutating the result, frozen lists', () => {
    const ip = '192.168.1.240';
    const frozen = Object.freeze(flat('nodeA', 'nodeB', 'nodeC').map((c) => Object.freeze(c)));
    const a = metallbOrder(ip, frozen);
    a.reverse();
    assert.deepEqual(metallbOrder(ip, frozen), ['nodeB', 'nodeA', 'nodeC']);
    assert.deepEqual(metallbOrder(ip, flat('nodeA', 'nodeC')), ['nodeA', 'nodeC']);
    const mutable = flat('nodeA', 'nodeB');
    assert.deepEqual(metallbOrder(ip, mutable), ['nodeB', 'nodeA']);
    mutable[0] = { name: 'nodeA', score: 9 };
    assert.deepEqual(metallbOrder(ip, mutable), ['nodeA', 'nodeB']);
    for (let i = 0; i < 5; i++)
      assert.deepEqual(metallbOrder(ip, flat('nodeA', 'nodeB', 'nodeC')), ['nodeB', 'nodeA', 'nodeC']);
  });

  it('refuses bad candidates with a message naming the value', () => {
    assert.throws(() => metallbOrder('198.51.100.1', flat('a', 'a')), /"a" is listed twice/);
    assert.throws(() => metallbOrder('198.51.100.1', [{ name: 'a', score: NaN }]), /"a" has score NaN/);
    assert.throws(
      () => metallbOrder('198.51.100.1', flat('')),
      /candidate name "" must be a non-empty string/,
    );
  });
});

describe('topTier', () => {
  it('keeps the highest score only', () => {
    assert.deepEqual(
      topTier([
        { name: 'a', score: 1 },
        { name: 'b', score: 3 },
        { name: 'c', score: 3 },
      ]).map((c) => c.name),
      ['b', 'c'],
    );
    assert.deepEqual(topTier([]), []);
  });
});

describe('balancedOwners', () => {
  it('gives every IP an owner and keeps the spread within one (example: 10 IPs on 4 nodes)', () => {
    const owners = balancedOwners(ipsOf(10), flat('a', 'b', 'c', 'd'));
    assert.equal(owners.size, 10);
    assert.deepEqual(counts(owners, ['a', 'b', 'c', 'd']).sort(), [2, 2, 3, 3]);
  });

  it('balances among the most preferred nodes only', () => {
    const owners = balancedOwners(ipsOf(9), [
      { name: 'edge-1', score: 100 },
      { name: 'edge-2', score: 100 },
      { name: 'worker', score: 0 },
    ]);
    assert.deepEqual(new Set(owners.values()), new Set(['edge-1', 'edge-2']));
    assert.deepEqual(counts(owners, ['edge-1', 'edge-2']).sort(), [4, 5]);
  });

  it('counts a repeated IP once and returns nothing without candidates', () => {
    assert.equal(balancedOwners(['198.51.100.1', '198.51.100.1'], flat('a')).size, 1);
    assert.equal(balancedOwners(ipsOf(3), []).size, 0);
  });

  it("a node that holds nothing above its quota keeps MetalLB's choice when the hash is already balanced", () => {
    // 2 IPs, 2 nodes, hash sends one to each → balanced mode agrees with MetalLB for both.
    const ips = ['198.51.100.1', '198.51.100.2'];
    const nodes = flat('x', 'y');
    const mlb = ips.map((ip) => metallbOrder(ip, nodes)[0]);
    if (mlb[0] !== mlb[1]) {
      const owners = balancedOwners(ips, nodes);
      assert.deepEqual(
        ips.map((ip) => owners.get(ip)),
        mlb,
      );
      assert.equal(rendezvousExcess(ips, nodes), 0);
    }
  });

  const worldArb = fc.record({
    nIps: fc.integer({ min: 0, max: 200 }),
    offset: fc.integer({ min: 0, max: 200 }),
    nNodes: fc.integer({ min: 1, max: 12 }),
  });

  it('property: spread ≤ 1 for uniform candidates, every IP owned by a candidate', () => {
    fc.assert(
      fc.property(worldArb, ({ nIps, offset, nNodes }) => {
        const nodes = Array.from({ length: nNodes }, (_, i) => `node-${i}`);
        const ips = ipsOf(nIps, offset);
        const owners = balancedOwners(ips, flat(...nodes));
        assert.equal(owners.size, nIps);
        for (const node of owners.values()) assert.ok(nodes.includes(node));
        const c = counts(owners, nodes);
        assert.ok(Math.max(...c) - Math.min(...c) <= 1, `spread of ${JSON.stringify(c)}`);
      }),
      { seed: 8, numRuns: 100 },
    );
  });

  it('property: a node leaving moves at most load(r) + E(before) + E(after) IPs, only its own when E = 0', () => {
    fc.assert(
      fc.property(worldArb, fc.nat(), ({ nIps, offset, nNodes }, pick) => {
        const nodes = Array.from({ length: nNodes + 1 }, (_, i) => `node-${i}`);
        const gone = nodes[pick % nodes.length]!;
        const rest = nodes.filter((n) => n !== gone);
        const ips = ipsOf(nIps, offset);
        const before = balancedOwners(ips, flat(...nodes));
        const after = balancedOwners(ips, flat(...rest));
        const load = [...before.values()].filter((n) => n === gone).length;
        const bound = load + rendezvousExcess(ips, flat(...nodes)) + rendezvousExcess(ips, flat(...rest));
        const m = moved(before, after);
        assert.ok(m >= load, 'every IP of the node that left moves');
        assert.ok(m <= bound, `moved ${m} > bound ${bound}`);
        // Movement stays on IPs of the leaving node or IPs off their rendezvous home.
        for (const [ip, node] of before) {
          if (after.get(ip) === node || node === gone) continue;
          const homeBefore = metallbOrder(ip, flat(...nodes))[0];
          const homeAfter = metallbOrder(ip, flat(...rest))[0];
          assert.ok(
            node !== homeBefore || after.get(ip) !== homeAfter,
            `${ip} moved while home in both plans`,
          );
        }
      }),
      { seed: 9, numRuns: 60 },
    );
  });

  it('property: a node joining moves at most load(k) + E(before) + E(after) IPs', () => {
    fc.assert(
      fc.property(worldArb, ({ nIps, offset, nNodes }) => {
        const nodes = Array.from({ length: nNodes }, (_, i) => `node-${i}`);
        const joined = [...nodes, 'node-new'];
        const ips = ipsOf(nIps, offset);
        const before = balancedOwners(ips, flat(...nodes));
        const after = balancedOwners(ips, flat(...joined));
        const load = [...after.values()].filter((n) => n === 'node-new').length;
        const bound = load + rendezvousExcess(ips, flat(...nodes)) + rendezvousExcess(ips, flat(...joined));
        assert.ok(moved(before, after) <= bound);
      }),
      { seed: 10, numRuns: 60 },
    );
  });

  it('property: deterministic whatever the order of IPs and candidates', () => {
    fc.assert(
      fc.property(worldArb, fc.nat(), ({ nIps, offset, nNodes }, seed) => {
        const nodes = Array.from({ length: nNodes }, (_, i) => ({
          name: `n${i}`,
          score: i % 3 === 0 ? 5 : 0,
        }));
        const ips = ipsOf(nIps, offset);
        const shuffle = <T>(xs: T[]): T[] =>
          xs
            .map((x, i) => ({ x, k: (i * 7919 + seed) % 1009 }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        const a = balancedOwners(ips, nodes);
        const b = balancedOwners(shuffle([...ips]), shuffle([...nodes]));
        assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort());
      }),
      { seed: 11, numRuns: 40 },
    );
  });
});
