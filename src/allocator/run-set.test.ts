import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RunSet } from './run-set.ts';

describe('RunSet', () => {
  it('merges adjacent values into runs and splits them on delete', () => {
    const s = new RunSet();
    for (const v of [5n, 7n, 6n, 1n, 2n]) assert.equal(s.add(v), true);
    assert.equal(s.add(6n), false, 'adding a member again reports false');
    assert.deepEqual([...s.values()], [1n, 2n, 5n, 6n, 7n]);
    assert.equal(s.runCount, 2);
    assert.equal(s.size, 5);
    assert.equal(s.delete(6n), true);
    assert.equal(s.runCount, 3, '5..7 split into 5 and 7');
    assert.equal(s.delete(6n), false);
    assert.equal(s.lowestAbsent(1n), 3n);
    assert.equal(s.lowestAbsent(5n), 6n);
    assert.equal(s.lowestAbsent(0n), 0n);
    assert.equal(s.ceil(3n), 5n);
    assert.equal(s.ceil(7n), 7n);
    assert.equal(s.ceil(8n), undefined);
  });

  it('handles values beyond 64 bits (IPv6)', () => {
    const s = new RunSet();
    const base = (1n << 127n) + 12345n;
    s.add(base);
    s.add(base + 1n);
    assert.equal(s.lowestAbsent(base), base + 2n);
    assert.equal(s.has(base + 1n), true);
  });

  it('stays balanced: depth is logarithmic in the number of runs', () => {
    const s = new RunSet();
    // 20,000 isolated values inserted in ascending order: the worst case for an unbalanced tree.
    for (let i = 0n; i < 20_000n; i++) s.add(i * 2n);
    assert.equal(s.runCount, 20_000);
    assert.ok(s.depth <= Math.ceil(1.45 * Math.log2(s.runCount + 2)), `depth ${s.depth}`);
    // Deleting every other run keeps it balanced too.
    for (let i = 0n; i < 20_000n; i += 2n) s.delete(i * 2n);
    assert.equal(s.runCount, 10_000);
    assert.ok(s.depth <= Math.ceil(1.45 * Math.log2(s.runCount + 2)), `depth ${s.depth}`);
  });

  it('agrees with a plain Set on random operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), v: fc.bigInt(0n, 64n) }),
      fc.record({ kind: fc.constant('delete' as const), v: fc.bigInt(0n, 64n) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.bigInt(0n, 70n), (ops, probe) => {
        const s = new RunSet();
        const model = new Set<bigint>();
        for (const o of ops) {
          if (o.kind === 'add') assert.equal(s.add(o.v), !model.has(o.v) && (model.add(o.v), true));
          else assert.equal(s.delete(o.v), model.delete(o.v));
        }
        const sorted = [...model].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        assert.deepEqual([...s.values()], sorted);
        assert.equal(s.size, model.size);
        let runs = 0;
        for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i]! !== sorted[i - 1]! + 1n) runs++;
        assert.equal(s.runCount, runs);
        let absent = probe;
        while (model.has(absent)) absent++;
        assert.equal(s.lowestAbsent(probe), absent);
        assert.equal(s.ceil(probe), sorted.find((v) => v >= probe));
        assert.equal(s.has(probe), model.has(probe));
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
