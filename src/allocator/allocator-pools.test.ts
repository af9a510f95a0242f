// Story: pool choice, spec §3.2 (requested IPs → address-pool → pinned pools by priority → fallback pools),
// plus the §10B quirks (priority-only serviceAllocation, namespaceSelectors that match nothing).
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { allocation, pool, runStory, svc, type Row } from './testing.ts';

const prod = (priority: number) => allocation({ namespaces: ['prod'], priority });

const pools = [
  pool('default', ['10.0.0.0/30']),
  pool('zeta', ['10.0.9.0/30']),
  pool('manual', ['10.0.1.0/30'], { autoAssign: false }),
  pool('p0', ['10.0.2.0/30'], { serviceAllocation: prod(0) }),
  pool('p1', ['10.0.4.0/32'], { serviceAllocation: prod(1) }),
  pool('p5b', ['10.0.5.0/32'], { serviceAllocation: prod(5) }),
  pool('p5a', ['10.0.6.0/32'], { serviceAllocation: prod(5) }),
  pool('noauto', ['10.0.10.0/32'], { autoAssign: false, serviceAllocation: prod(1) }),
  pool('web', ['10.0.7.0/32'], { serviceAllocation: allocation({ serviceSelectors: [{ matchLabels: { app: 'web' } }] }) }),
  // namespaceSelectors that resolved to no namespace: unusable for automatic allocation (§10B).
  pool('nsless', ['10.0.8.0/30'], { serviceAllocation: allocation({ namespaceConstrained: true }) }),
];

const rows: Row[] = [
  { desc: 'pools', op: 'setPools', pools },
  { desc: 'no serviceAllocation match: fallback pools in name order', op: 'allocate', key: 'default/a', want: ['10.0.0.0'], pool: 'default' },
  { desc: 'namespace-pinned pools first: lowest positive priority', op: 'allocate', key: 'prod/a', want: ['10.0.4.0'], pool: 'p1' },
  { desc: 'equal priority: name order (p5a before p5b)', op: 'allocate', key: 'prod/b', want: ['10.0.6.0'], pool: 'p5a' },
  { desc: 'then p5b', op: 'allocate', key: 'prod/c', want: ['10.0.5.0'], pool: 'p5b' },
  { desc: 'priority 0 comes after every positive priority', op: 'allocate', key: 'prod/d', want: ['10.0.2.0'], pool: 'p0' },
  { desc: 'p0 again', op: 'allocate', key: 'prod/e', want: ['10.0.2.1'], pool: 'p0' },
  { desc: 'p0 again', op: 'allocate', key: 'prod/f', want: ['10.0.2.2'], pool: 'p0' },
  { desc: 'p0 last', op: 'allocate', key: 'prod/g', want: ['10.0.2.3'], pool: 'p0' },
  { desc: 'pinned pools full (autoAssign=false one skipped): fallback', op: 'allocate', key: 'prod/h', want: ['10.0.0.1'], pool: 'default' },
  {
    desc: 'serviceSelectors match: pinned',
    op: 'allocate', key: 'default/web', svc: svc('default/web', { labels: { app: 'web' } }), want: ['10.0.7.0'], pool: 'web',
  },
  {
    desc: 'selector pool full: fallback',
    op: 'allocate', key: 'default/web2', svc: svc('default/web2', { labels: { app: 'web' } }), want: ['10.0.0.2'], pool: 'default',
  },
  {
    desc: 'requested IP in an autoAssign=false pool is fine',
    op: 'allocate', key: 'default/b', svc: svc('default/b', { requestedIPs: ['10.0.1.1'] }), want: ['10.0.1.1'], pool: 'manual',
  },
  {
    desc: 'address-pool annotation ignores autoAssign',
    op: 'allocate', key: 'default/c', svc: svc('default/c', { pool: 'manual' }), want: ['10.0.1.0'], pool: 'manual',
  },
  { desc: 'noauto is reachable by name', op: 'allocate', key: 'prod/n', svc: svc('prod/n', { pool: 'noauto' }), want: ['10.0.10.0'] },
  {
    desc: 'requested IP in a pool whose namespaces exclude the Service',
    op: 'allocate', key: 'default/d', svc: svc('default/d', { requestedIPs: ['10.0.2.3'] }),
    err: 'LB_POOL_NOT_ALLOWED', msg: 'pool "p0" does not allow namespace "default" (namespaces: prod)',
  },
  {
    desc: 'address-pool annotation still enforces serviceAllocation',
    op: 'allocate', key: 'default/e', svc: svc('default/e', { pool: 'p0' }),
    err: 'LB_POOL_NOT_ALLOWED', msg: 'pool "p0" does not allow namespace "default" (namespaces: prod)',
  },
  {
    desc: 'selector mismatch',
    op: 'allocate', key: 'default/f', svc: svc('default/f', { labels: { app: 'db' }, pool: 'web' }),
    err: 'LB_POOL_NOT_ALLOWED', msg: 'pool "web" does not match the Service\'s labels (serviceSelectors: app=web)',
  },
  {
    desc: 'requested IP and address-pool disagree',
    op: 'allocate', key: 'default/g', svc: svc('default/g', { requestedIPs: ['10.0.1.2'], pool: 'default' }),
    err: 'LB_POOL_MISMATCH', msg: 'requested IP 10.0.1.2 is in pool "manual", not in the requested address-pool "default"',
  },
  {
    desc: 'requested IP with an unknown address-pool',
    op: 'allocate', key: 'default/h', svc: svc('default/h', { requestedIPs: ['10.0.1.2'], pool: 'nope' }),
    err: 'LB_UNKNOWN_POOL', msg: 'unknown pool "nope" (pools: default, manual, noauto, nsless, p0, p1, p5a, p5b, web, zeta)',
  },
  {
    desc: 'unknown address-pool',
    op: 'allocate', key: 'default/h', svc: svc('default/h', { pool: 'nope' }),
    err: 'LB_UNKNOWN_POOL', msg: 'unknown pool "nope" (pools: default, manual, noauto, nsless, p0, p1, p5a, p5b, web, zeta)',
  },
  {
    desc: 'quirk: a pool whose namespaceSelectors matched nothing accepts explicit requests from any namespace',
    op: 'allocate', key: 'other/i', svc: svc('other/i', { requestedIPs: ['10.0.8.1'] }), want: ['10.0.8.1'], pool: 'nsless',
  },
  { desc: '... and the address-pool annotation', op: 'allocate', key: 'other/j', svc: svc('other/j', { pool: 'nsless' }), want: ['10.0.8.0'] },
  { desc: 'fill default', op: 'allocate', key: 'default/k', want: ['10.0.0.3'], pool: 'default' },
  { desc: 'then zeta', op: 'allocate', key: 'default/l', want: ['10.0.9.0'], pool: 'zeta' },
  { desc: 'zeta', op: 'allocate', key: 'default/m', want: ['10.0.9.1'] },
  { desc: 'zeta', op: 'allocate', key: 'default/n', want: ['10.0.9.2'] },
  { desc: 'zeta', op: 'allocate', key: 'default/o', want: ['10.0.9.3'] },
  {
    desc: 'all candidates full (nsless, with free IPs, is never a fallback)',
    op: 'allocate', key: 'default/p',
    err: 'LB_POOL_EXHAUSTED',
    msg:
      'no available IPs: pool "default" 4/4 in use, pool "zeta" 4/4 in use. Other pools: ' +
      'pool "manual" has 2 free but autoAssign is false (request it with metallb.io/address-pool: manual); ' +
      'pool "nsless" has 2 free but its namespaceSelectors match no namespace (request it with metallb.io/address-pool: nsless). ' +
      'To fix: add addresses to one of the pools "default", "zeta", or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)',
  },
  {
    desc: 'named pool full',
    op: 'allocate', key: 'default/q', svc: svc('default/q', { pool: 'default' }),
    err: 'LB_POOL_EXHAUSTED',
    msg:
      'pool "default" is exhausted: 4/4 addresses in use. Other pools: ' +
      'pool "manual" has 2 free (request it with metallb.io/address-pool: manual); ' +
      'pool "nsless" has 2 free (request it with metallb.io/address-pool: nsless). ' +
      'To fix: add addresses to pool "default", or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)',
  },
  {
    desc: 'requested IP outside every pool lists the pools as written',
    op: 'allocate', key: 'default/r', svc: svc('default/r', { requestedIPs: ['192.168.1.99'] }),
    err: 'LB_IP_NOT_IN_POOL',
    msg:
      '192.168.1.99 is not in any IPAddressPool (default: 10.0.0.0/30; manual: 10.0.1.0/30; noauto: 10.0.10.0/32; ' +
      'nsless: 10.0.8.0/30; p0: 10.0.2.0/30; p1: 10.0.4.0/32; p5a: 10.0.6.0/32; p5b: 10.0.5.0/32; web: 10.0.7.0/32; ' +
      'zeta: 10.0.9.0/30)',
  },
  { desc: 'a Service leaves', op: 'release', key: 'default/a' },
  { desc: 'its IP is the lowest again', op: 'allocate', key: 'default/t', want: ['10.0.0.0'], pool: 'default' },
];

describe('allocator story: pool choice (§3.2)', () => {
  it('follows MetalLB order row by row', () => {
    runStory(new Allocator(), rows);
  });

  it('exhausted: the message names the other pools, why they were not used, how to request them, and the remedies', () => {
    runStory(new Allocator(), [
      {
        desc: 'pools', op: 'setPools',
        pools: [
          pool('default', ['10.3.0.0/32']),
          pool('production', ['10.3.1.0/29'], { autoAssign: false }),
          pool('team', ['10.3.2.0/30'], { serviceAllocation: allocation({ namespaces: ['team'] }) }),
          pool('spare', ['10.3.3.0/32'], { autoAssign: false }),
          pool('v6', ['fc00::/126'], { autoAssign: false }),
        ],
      },
      { desc: 'the only fallback pool', op: 'allocate', key: 'a/one', want: ['10.3.0.0'], pool: 'default' },
      { desc: 'fill spare by name', op: 'allocate', key: 'a/s', svc: svc('a/s', { pool: 'spare' }), want: ['10.3.3.0'] },
      {
        desc: 'automatic: a full pool (spare) and one of another family (v6) are not offered',
        op: 'allocate', key: 'a/two',
        err: 'LB_POOL_EXHAUSTED',
        msg:
          'no available IPs: pool "default" 1/1 in use. Other pools: ' +
          'pool "production" has 8 free but autoAssign is false (request it with metallb.io/address-pool: production); ' +
          'pool "team" has 4 free but does not allow namespace "a" (namespaces: team). ' +
          'To fix: add addresses to pool "default", or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)',
      },
      {
        desc: 'named pool: only the pools the Service may request are offered',
        op: 'allocate', key: 'a/three', svc: svc('a/three', { pool: 'default' }),
        err: 'LB_POOL_EXHAUSTED',
        msg:
          'pool "default" is exhausted: 1/1 addresses in use. Other pools: ' +
          'pool "production" has 8 free (request it with metallb.io/address-pool: production). ' +
          'To fix: add addresses to pool "default", or share an IP between Services (same metallb.io/allow-shared-ip key, different ports)',
      },
      { desc: 'the hint works', op: 'allocate', key: 'a/two', svc: svc('a/two', { pool: 'production' }), want: ['10.3.1.0'] },
    ]);
  });

  it('a priority-only serviceAllocation matches every Service and comes before fallback pools', () => {
    runStory(new Allocator(), [
      {
        desc: 'pools', op: 'setPools',
        pools: [pool('all', ['10.1.0.0/32'], { serviceAllocation: allocation({ priority: 3 }) }), pool('fallback', ['10.1.1.0/32'])],
      },
      { desc: 'any namespace: the priority pool first', op: 'allocate', key: 'x/a', want: ['10.1.0.0'], pool: 'all' },
      { desc: 'then the fallback', op: 'allocate', key: 'y/b', want: ['10.1.1.0'], pool: 'fallback' },
    ]);
  });

  it('pools with a serviceAllocation are never fallback pools; the error says why each pool is out', () => {
    runStory(new Allocator(), [
      {
        desc: 'pools', op: 'setPools',
        pools: [
          pool('only-a', ['10.2.0.0/32'], { serviceAllocation: allocation({ namespaces: ['a', 'c'] }) }),
          pool('manual', ['10.2.1.0/32'], { autoAssign: false }),
          pool('nsless', ['10.2.2.0/32'], { serviceAllocation: allocation({ namespaceConstrained: true }) }),
          pool('labels', ['10.2.3.0/32'], {
            serviceAllocation: allocation({
              serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, { matchLabels: { app: 'x' } }],
            }),
          }),
        ],
      },
      {
        desc: 'namespace b fits nowhere',
        op: 'allocate', key: 'b/x',
        err: 'LB_POOL_NOT_ALLOWED',
        msg:
          'no available IPs: no IPAddressPool can be used for automatic allocation to b/x: ' +
          'pool "labels" does not match the Service\'s labels (serviceSelectors: tier in (back,front) or app=x); ' +
          'pool "manual" has autoAssign: false (request it with metallb.io/address-pool: manual); ' +
          'pool "nsless" has a serviceAllocation whose namespaceSelectors match no namespace (only explicit requests can use it); ' +
          'pool "only-a" does not allow namespace "b" (namespaces: a, c)',
      },
      { desc: 'namespace a fits only-a', op: 'allocate', key: 'a/x', want: ['10.2.0.0'], pool: 'only-a' },
      {
        desc: 'a matching label expression pins',
        op: 'allocate', key: 'b/y', svc: svc('b/y', { labels: { tier: 'back' } }), want: ['10.2.3.0'], pool: 'labels',
      },
    ]);
  });

  it('namespaces and serviceSelectors must both match', () => {
    const both = allocation({ namespaces: ['prod'], serviceSelectors: [{ matchLabels: { app: 'web' } }] });
    runStory(new Allocator(), [
      { desc: 'pools', op: 'setPools', pools: [pool('both', ['10.3.0.0/31'], { serviceAllocation: both })] },
      {
        desc: 'right namespace, wrong labels',
        op: 'allocate', key: 'prod/a', svc: svc('prod/a', { requestedIPs: ['10.3.0.0'] }),
        err: 'LB_POOL_NOT_ALLOWED', msg: 'pool "both" does not match the Service\'s labels (serviceSelectors: app=web)',
      },
      {
        desc: 'right labels, wrong namespace',
        op: 'allocate', key: 'dev/a', svc: svc('dev/a', { labels: { app: 'web' }, requestedIPs: ['10.3.0.0'] }),
        err: 'LB_POOL_NOT_ALLOWED', msg: 'pool "both" does not allow namespace "dev" (namespaces: prod)',
      },
      { desc: 'both', op: 'allocate', key: 'prod/b', svc: svc('prod/b', { labels: { app: 'web' } }), want: ['10.3.0.0'] },
    ]);
  });

  it('no pools at all', () => {
    runStory(new Allocator(), [
      { desc: 'allocate', op: 'allocate', key: 'a/b', err: 'LB_NO_POOLS', msg: 'no IPAddressPool is configured' },
      { desc: 'requested', op: 'allocate', key: 'a/b', svc: svc('a/b', { requestedIPs: ['10.0.0.1'] }), err: 'LB_NO_POOLS' },
      { desc: 'assign', op: 'assign', key: 'a/b', ips: ['10.0.0.1'], err: 'LB_NO_POOLS' },
    ]);
  });
});
