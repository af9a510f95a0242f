// Story: IPv6 and dual stack (spec §2.2 ipFamilyPolicy, §3.2 "within the candidate list", §3.3), requested-IP
// parsing and family checks.
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { allocation, pool, runStory, svc, type Row } from './testing.ts';
import type { Family, IpFamilyPolicy, ServiceRequest } from './types.ts';

const v6 = (key: string, extra: Partial<ServiceRequest> = {}) => svc(key, { families: ['IPv6'], ...extra });
const ds = (key: string, policy: IpFamilyPolicy, families: Family[] = ['IPv4', 'IPv6'], extra: Partial<ServiceRequest> = {}) =>
  svc(key, { families, ipFamilyPolicy: policy, ...extra });

describe('allocator story: IPv6 and dual stack', () => {
  it('single and dual stack in one story', () => {
    const rows: Row[] = [
      { desc: 'pools', op: 'setPools', pools: [pool('six', ['fd00::/126']), pool('dual', ['10.0.0.0/31', 'fd01::/127'])] },
      { desc: 'IPv6 from the network address, pools in name order', op: 'allocate', key: 'a/a', svc: v6('a/a'), want: ['fd01::'], pool: 'dual' },
      { desc: 'upward', op: 'allocate', key: 'a/b', svc: v6('a/b'), want: ['fd01::1'], pool: 'dual' },
      { desc: 'dual full for v6: six', op: 'allocate', key: 'a/c', svc: v6('a/c'), want: ['fd00::'], pool: 'six' },
      { desc: 'release', op: 'release', key: 'a/a' },
      { desc: 'release', op: 'release', key: 'a/b' },
      {
        desc: 'RequireDualStack: both families from one pool, v4 first even when IPv6 is primary',
        op: 'allocate', key: 'a/d', svc: ds('a/d', 'RequireDualStack', ['IPv6', 'IPv4']), want: ['10.0.0.0', 'fd01::'], pool: 'dual',
      },
      {
        desc: 'requested dual IPs, written v6 first and non-canonical',
        op: 'allocate', key: 'a/e', svc: ds('a/e', 'RequireDualStack', ['IPv4', 'IPv6'], { requestedIPs: ['FD01:0::1', '10.0.0.1'] }),
        want: ['10.0.0.1', 'fd01::1'], pool: 'dual',
      },
      {
        desc: 'dual pool exhausted',
        op: 'allocate', key: 'a/f', svc: ds('a/f', 'RequireDualStack'),
        err: 'LB_POOL_EXHAUSTED', msg: /^no available IPs: pool "dual" IPv4 2\/2, IPv6 2\/2 in use, pool "six" has no IPv4 addresses\. To fix: add addresses to /,
      },
      {
        desc: 'requested IPv6 for an IPv4 Service',
        op: 'allocate', key: 'a/g', svc: svc('a/g', { requestedIPs: ['2001:db8::1'] }),
        err: 'LB_FAMILY_MISMATCH', msg: 'requested IP 2001:db8::1 is IPv6 but the Service is IPv4-only',
      },
      {
        desc: 'one requested IP for a dual-stack Service',
        op: 'allocate', key: 'a/h', svc: ds('a/h', 'PreferDualStack', ['IPv4', 'IPv6'], { requestedIPs: ['10.0.0.1'] }),
        err: 'LB_FAMILY_MISMATCH',
        msg: 'requested IP 10.0.0.1 is IPv4 but the Service is dual-stack (IPv4, IPv6; PreferDualStack); it needs one IPv4 and one IPv6 address',
      },
      {
        desc: 'two requested IPs for a single-stack Service',
        op: 'allocate', key: 'a/i', svc: svc('a/i', { requestedIPs: ['10.0.0.1', 'fd01::1'] }),
        err: 'LB_FAMILY_MISMATCH', msg: 'requested IPs 10.0.0.1, fd01::1 are dual-stack but the Service is IPv4-only',
      },
      {
        desc: 'two requested IPs of one family',
        op: 'allocate', key: 'a/j', svc: ds('a/j', 'RequireDualStack', ['IPv4', 'IPv6'], { requestedIPs: ['10.0.0.1', '10.0.0.0'] }),
        err: 'LB_BAD_REQUESTED_IP', msg: 'requested IPs 10.0.0.1, 10.0.0.0 are both IPv4; two IPs must be one IPv4 and one IPv6',
      },
      {
        desc: 'three requested IPs',
        op: 'allocate', key: 'a/k', svc: svc('a/k', { requestedIPs: ['10.0.0.1', 'fd01::1', '10.0.0.0'] }),
        err: 'LB_BAD_REQUESTED_IP', msg: /^3 requested IPs \(10\.0\.0\.1, fd01::1, 10\.0\.0\.0\); at most 2/,
      },
      {
        desc: 'garbage',
        op: 'allocate', key: 'a/l', svc: svc('a/l', { requestedIPs: ['10.0.0.256'] }),
        err: 'LB_BAD_REQUESTED_IP', msg: 'requested IP "10.0.0.256" is not a valid IP address',
      },
      {
        desc: 'requested dual IPs from two pools',
        op: 'allocate', key: 'a/m', svc: ds('a/m', 'RequireDualStack', ['IPv4', 'IPv6'], { requestedIPs: ['10.0.0.1', 'fd00::3'] }),
        err: 'LB_BAD_REQUESTED_IP',
        msg: 'requested IPs 10.0.0.1 (pool "dual") and fd00::3 (pool "six") are in different IPAddressPools; both IPs of a Service must come from one pool',
      },
      {
        desc: 'RequireDualStack with one family',
        op: 'allocate', key: 'a/n', svc: svc('a/n', { ipFamilyPolicy: 'RequireDualStack' }),
        err: 'LB_FAMILY_MISMATCH', msg: /requires dual-stack \(ipFamilyPolicy: RequireDualStack\) but has only IPv4/,
      },
      { desc: 'no family', op: 'allocate', key: 'a/o', svc: svc('a/o', { families: [] }), err: 'LB_FAMILY_MISMATCH' },
    ];
    runStory(new Allocator(), rows);
  });

  it('PreferDualStack falls back to the preferred family, then the other; RequireDualStack does not', () => {
    runStory(new Allocator(), [
      { desc: 'pools', op: 'setPools', pools: [pool('four', ['10.3.0.0/32']), pool('six', ['fd03::/128'])] },
      {
        desc: 'Require: no pool has both',
        op: 'allocate', key: 'a/a', svc: ds('a/a', 'RequireDualStack'),
        err: 'LB_FAMILY_MISMATCH',
        msg: 'no available IPs: the Service is dual-stack (IPv4, IPv6; RequireDualStack) but pool "four" has no IPv6 addresses, pool "six" has no IPv4 addresses',
      },
      { desc: 'Prefer, IPv6 primary', op: 'allocate', key: 'a/b', svc: ds('a/b', 'PreferDualStack', ['IPv6', 'IPv4']), want: ['fd03::'], pool: 'six' },
      { desc: 'Prefer, IPv6 primary but v6 full: the other family', op: 'allocate', key: 'a/c', svc: ds('a/c', 'PreferDualStack', ['IPv6', 'IPv4']), want: ['10.3.0.0'], pool: 'four' },
      { desc: 'release', op: 'release', key: 'a/c' },
      { desc: 'Prefer, IPv4 primary', op: 'allocate', key: 'a/d', svc: ds('a/d', 'PreferDualStack', ['IPv4', 'IPv6']), want: ['10.3.0.0'], pool: 'four' },
      {
        desc: 'IPv4-only Service with only IPv6 left',
        op: 'allocate', key: 'a/e',
        err: 'LB_POOL_EXHAUSTED', msg: /^no available IPs: pool "four" 1\/1 in use, pool "six" has no IPv4 addresses\. To fix: add addresses to /,
      },
      {
        desc: 'named pool without the family',
        op: 'allocate', key: 'a/f', svc: svc('a/f', { pool: 'six' }),
        err: 'LB_FAMILY_MISMATCH', msg: 'pool "six" has no IPv4 addresses (the Service is IPv4-only)',
      },
    ]);
  });

  it('PreferDualStack takes what one named pool has', () => {
    runStory(new Allocator(), [
      { desc: 'pools', op: 'setPools', pools: [pool('mixed', ['10.4.0.0/32', 'fd04::/128'])] },
      { desc: 'v6 taken', op: 'allocate', key: 'a/a', svc: v6('a/a'), want: ['fd04::'] },
      { desc: 'Prefer gets v4 only', op: 'allocate', key: 'a/b', svc: ds('a/b', 'PreferDualStack', ['IPv6', 'IPv4'], { pool: 'mixed' }), want: ['10.4.0.0'] },
      {
        desc: 'Require fails, naming both families',
        op: 'allocate', key: 'a/c', svc: ds('a/c', 'RequireDualStack', ['IPv4', 'IPv6'], { pool: 'mixed' }),
        err: 'LB_POOL_EXHAUSTED', msg: /^pool "mixed" is exhausted: IPv4 1\/1, IPv6 1\/1 addresses in use\. To fix: add addresses to /,
      },
    ]);
  });

  it('a pinned tier wins for PreferDualStack even when a fallback pool has both families', () => {
    runStory(new Allocator(), [
      {
        desc: 'pools', op: 'setPools',
        pools: [pool('pin4', ['10.5.0.0/32'], { serviceAllocation: allocation({ namespaces: ['x'] }) }), pool('fb', ['10.5.1.0/32', 'fd05::/128'])],
      },
      { desc: 'pinned v4 only', op: 'allocate', key: 'x/a', svc: ds('x/a', 'PreferDualStack'), want: ['10.5.0.0'], pool: 'pin4' },
      { desc: 'next one: pinned full, fallback has both', op: 'allocate', key: 'x/b', svc: ds('x/b', 'PreferDualStack'), want: ['10.5.1.0', 'fd05::'], pool: 'fb' },
    ]);
  });
});
