// Store.listAt with a page bound (`max`, issue 12): every page of a paged LIST, read at the list's first revision
// while the bucket keeps changing, equals the whole list at that revision cut at the start key, and `remaining`
// counts all of it. Reference: the objects at rv rebuilt from a snapshot taken then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from './store.ts';
import type { KubeObject } from './types.ts';

const svc = (ns: string, name: string, v: number): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { v } });

/** A small seeded generator (mulberry32), so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMESPACES = ['a', 'a-b', 'ab', 'b', 'z'];

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`paged listAt at a past revision equals the snapshot of that revision (seed ${seed})`, () => {
    const r = rng(seed);
    const s = new Store({ historyLimit: 10_000 });
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const churn = (n: number) => {
      for (let i = 0; i < n; i++) {
        const ns = pick(NAMESPACES);
        const name = `s${Math.floor(r() * 60)}`;
        if (r() < 0.3) s.remove('services', ns, name);
        else s.put('services', svc(ns, name, i));
        if (r() < 0.2) s.put('leases', svc('x', 'lease', i));
      }
    };
    churn(300);
    const rv = s.resourceVersion;
    const snapshot = (ns?: string): Array<[string, unknown]> =>
      s.list('services', ns).map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o.spec]);
    const want = new Map([undefined, ...NAMESPACES].map((ns) => [ns, snapshot(ns)]));
    churn(200); // changes after rv: every page below must undo them
    for (const ns of [undefined, ...NAMESPACES]) {
      const all = want.get(ns)!;
      for (const limit of [1, 3, 7, 1000]) {
        let start: string | undefined;
        const got: Array<[string, unknown]> = [];
        for (let guard = 0; guard < 1000; guard++) {
          const page = s.listAt('services', ns, rv, start, limit + 1);
          assert.notEqual(page, 'gone');
          if (page === 'gone') return;
          const from = start === undefined ? 0 : all.findIndex(([k]) => k >= start!);
          const rest = from < 0 ? [] : all.slice(from);
          assert.equal(page.remaining, rest.length, `remaining (ns ${ns}, limit ${limit}, start ${start})`);
          assert.ok(page.length <= limit + 1);
          const taken = page.slice(0, limit);
          got.push(...taken.map(([k, o]): [string, unknown] => [k, o.spec]));
          if (page.length <= limit) break;
          start = `${taken[taken.length - 1]![0]}\u0000`;
        }
        assert.deepEqual(got, all, `ns ${ns}, limit ${limit}`);
      }
      // Unbounded: the whole list at rv, as before.
      const whole = s.listAt('services', ns, rv);
      assert.notEqual(whole, 'gone');
      if (whole !== 'gone') assert.deepEqual(whole.map(([k, o]) => [k, o.spec]), all);
    }
  });
}

test('a page read at the current revision counts the rest without reading it', () => {
  const s = new Store();
  for (let i = 0; i < 1000; i++) s.put('services', svc('held', `s${String(i).padStart(4, '0')}`, i));
  const page = s.listAt('services', 'held', s.resourceVersion, 'held/s0500', 11);
  assert.notEqual(page, 'gone');
  if (page === 'gone') return;
  assert.equal(page.length, 11);
  assert.equal(page[0]![0], 'held/s0500');
  assert.equal(page.remaining, 500);
  assert.equal(s.listAt('services', 'other', s.resourceVersion, undefined, 5) !== 'gone' && s.listAt('services', 'other', s.resourceVersion, undefined, 5).length, 0);
});
