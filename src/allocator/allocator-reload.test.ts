// Story: pool edits while IPs are in use (spec §3.6): re-map to renamed/split pools, orphan what no pool contains,
// and planPools reporting the same without touching anything (runStory asserts the state is unchanged after it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { pool, runStory, svc, tcp, type Row } from './testing.ts';

const shared = (key: string, port: number) => svc(key, { sharingKey: 's', ports: [tcp(port)] });
const dual = (key: string, policy: 'RequireDualStack' | 'PreferDualStack' = 'RequireDualStack') =>
  svc(key, { families: ['IPv4', 'IPv6'], ipFamilyPolicy: policy });

const rows: Row[] = [
  { desc: 'one pool', op: 'setPools', pools: [pool('a', ['10.0.0.0/24'])] },
  { desc: 'x1', op: 'allocate', key: 'ns/x1', want: ['10.0.0.0'] },
  { desc: 'x2', op: 'allocate', key: 'ns/x2', want: ['10.0.0.1'] },
  { desc: 'x3 shared', op: 'allocate', key: 'ns/x3', svc: shared('ns/x3', 80), want: ['10.0.0.2'] },
  { desc: 'x4 shares x3', op: 'allocate', key: 'ns/x4', svc: shared('ns/x4', 443), want: ['10.0.0.2'] },
  { desc: 'x5', op: 'allocate', key: 'ns/x5', want: ['10.0.0.3'] },
  { desc: 'plan a rename: nothing orphaned', op: 'planPools', pools: [pool('b', ['10.0.0.0/24'])], orphans: [] },
  { desc: 'rename', op: 'setPools', pools: [pool('b', ['10.0.0.0/24'])], orphans: [] },
  { desc: 'x1 now in b', op: 'allocate', key: 'ns/x1', want: ['10.0.0.0'], pool: 'b' },
  {
    desc: 'split into three pools',
    op: 'setPools',
    pools: [pool('lo', ['10.0.0.0/31']), pool('hi', ['10.0.0.2/31']), pool('rest', ['10.0.0.4/30'])],
    orphans: [],
  },
  { desc: 'x2 in lo', op: 'allocate', key: 'ns/x2', want: ['10.0.0.1'], pool: 'lo' },
  { desc: 'x4 in hi, still sharing', op: 'allocate', key: 'ns/x4', svc: shared('ns/x4', 443), want: ['10.0.0.2'], pool: 'hi' },
  {
    desc: 'plan a shrink: the shared IP is orphaned for both holders, reported with their old pool',
    op: 'planPools',
    pools: [pool('lo', ['10.0.0.0/31']), pool('hi', ['10.0.0.3/32']), pool('spare', ['10.0.1.0/30'])],
    orphans: ['ns/x3 10.0.0.2 (hi)', 'ns/x4 10.0.0.2 (hi)'],
  },
  {
    desc: 'apply the shrink: same report',
    op: 'setPools',
    pools: [pool('lo', ['10.0.0.0/31']), pool('hi', ['10.0.0.3/32']), pool('spare', ['10.0.1.0/30'])],
    orphans: ['ns/x3 10.0.0.2 (hi)', 'ns/x4 10.0.0.2 (hi)'],
  },
  { desc: 'orphans get a new IP on their next allocation', op: 'allocate', key: 'ns/x3', svc: shared('ns/x3', 80), want: ['10.0.1.0'], pool: 'spare' },
  { desc: 'and may share again', op: 'allocate', key: 'ns/x4', svc: shared('ns/x4', 443), want: ['10.0.1.0'], pool: 'spare' },
  {
    desc: 'avoidBuggyIPs switched on orphans the .0 holder',
    op: 'setPools',
    pools: [pool('lo', ['10.0.0.0/31'], { avoidBuggyIPs: true }), pool('hi', ['10.0.0.3/32']), pool('spare', ['10.0.1.0/30'])],
    orphans: ['ns/x1 10.0.0.0 (lo)'],
  },
  { desc: 'dual pool', op: 'setPools', pools: [pool('d', ['10.1.0.0/30', 'fd00::/126'])], orphans: ['ns/x2 10.0.0.1 (lo)', 'ns/x3 10.0.1.0 (spare)', 'ns/x4 10.0.1.0 (spare)', 'ns/x5 10.0.0.3 (hi)'] },
  { desc: 'a dual-stack holder', op: 'allocate', key: 'ns/dual', svc: dual('ns/dual'), want: ['10.1.0.0', 'fd00::'] },
  { desc: 'a v4 holder', op: 'allocate', key: 'ns/v4', want: ['10.1.0.1'] },
  {
    desc: 'the two families split into two pools: the dual holder is orphaned (its IPs must share one pool)',
    op: 'setPools',
    pools: [pool('d4', ['10.1.0.0/30']), pool('d6', ['fd00::/126'])],
    orphans: ['ns/dual 10.1.0.0,fd00:: (d)'],
  },
  { desc: 'the v4 holder moved', op: 'allocate', key: 'ns/v4', want: ['10.1.0.1'], pool: 'd4' },
  { desc: 'PreferDualStack in a v4-only pool: one IP', op: 'setPools', pools: [pool('p', ['10.2.0.0/30'])], orphans: ['ns/v4 10.1.0.1 (d4)'] },
  { desc: 'prefer gets v4', op: 'allocate', key: 'ns/pref', svc: dual('ns/pref', 'PreferDualStack'), want: ['10.2.0.0'] },
  { desc: 'the pool gains IPv6', op: 'setPools', pools: [pool('p', ['10.2.0.0/30', 'fd02::/126'])], orphans: [] },
  {
    desc: 'the next pass adds the missing family from the same pool (MetalLB AllocateFromPoolForAdditionalFamily)',
    op: 'allocate', key: 'ns/pref', svc: dual('ns/pref', 'PreferDualStack'), want: ['10.2.0.0', 'fd02::'],
  },
  {
    desc: 'the pool loses IPv6 again: both IPs are dropped',
    op: 'setPools', pools: [pool('p', ['10.2.0.0/30'])], orphans: ['ns/pref 10.2.0.0,fd02:: (p)'],
  },
  { desc: 'reallocated with one IP', op: 'allocate', key: 'ns/pref', svc: dual('ns/pref', 'PreferDualStack'), want: ['10.2.0.0'] },
  { desc: 'removing every pool orphans everything', op: 'setPools', pools: [], orphans: ['ns/pref 10.2.0.0 (p)'] },
];

describe('allocator story: pool changes (§3.6)', () => {
  it('re-maps, orphans and plans row by row', () => {
    const a = new Allocator();
    runStory(a, rows);
    assert.deepEqual(a.stats(), []);
    assert.deepEqual(a.allocations(), []);
  });
});
