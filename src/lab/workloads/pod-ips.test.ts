// Pod IPs of the network lab never land on its segment (client, nodes, pool lab-l2); the default lab keeps its
// historical order. Uses ipaddr.js to test prefix membership.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ipaddr from 'ipaddr.js';
import { LAB_L2_RANGES } from '../network/network.ts';
import { SEGMENT } from '../network/topology.ts';
import { DEFAULT_POD_IPV4_BLOCKS, NETWORK_POD_IPV4_BLOCKS, PodIpPool, podIpPair, slotOf } from './pod-ips.ts';

const segment4 = ipaddr.parseCIDR(`${SEGMENT.ipv4Prefix}0/${SEGMENT.ipv4Length}`);
const segment6 = ipaddr.parseCIDR(`${SEGMENT.ipv6Prefix}/${SEGMENT.ipv6Length}`);

test('network lab: every Pod IP pair is outside the segment (client .1, nodes .11-.19, pool lab-l2 .200-.220)', () => {
  const pool = new PodIpPool(NETWORK_POD_IPV4_BLOCKS);
  assert.equal(pool.capacity, 254);
  const seen: string[] = [];
  for (let pair = pool.allocate(); pair; pair = pool.allocate()) seen.push(...pair);
  assert.equal(seen.length, 2 * 254);
  assert.ok(LAB_L2_RANGES[0].startsWith(SEGMENT.ipv4Prefix) && LAB_L2_RANGES[1].startsWith(SEGMENT.ipv6Prefix), 'pool lab-l2 is in the segment');
  for (const ip of seen) {
    const a = ipaddr.parse(ip);
    const inSegment = a.kind() === 'ipv4' ? a.match(segment4) : a.match(segment6);
    assert.equal(inSegment, false, `${ip} is in the network lab's segment`);
    assert.ok(a.range() === 'reserved' || ip.startsWith('203.0.113.') || ip.startsWith('2001:db8:'), `${ip}: documentation ranges only`);
  }
  assert.deepEqual(podIpPair(0, NETWORK_POD_IPV4_BLOCKS), ['203.0.113.1', '2001:db8:1::1']);
  // A Pod restored with an address of the other plan is not this pool's.
  assert.equal(slotOf('198.51.100.1', NETWORK_POD_IPV4_BLOCKS), undefined);
  assert.equal(slotOf('203.0.113.254', NETWORK_POD_IPV4_BLOCKS), 253);
  assert.equal(slotOf('2001:db8:1::ff', NETWORK_POD_IPV4_BLOCKS), undefined, 'slot 254 does not exist with one block');
});

test('default lab: 198.51.100.x then 203.0.113.x (unchanged)', () => {
  assert.deepEqual(DEFAULT_POD_IPV4_BLOCKS, ['198.51.100', '203.0.113']);
  assert.deepEqual(podIpPair(0), ['198.51.100.1', '2001:db8:1::1']);
  assert.deepEqual(podIpPair(254), ['203.0.113.1', '2001:db8:1::ff']);
});

test('bad blocks and slots are refused with the value and the rule', () => {
  assert.throws(() => new PodIpPool([]), /at least one \/24 block/);
  assert.throws(() => new PodIpPool(['203.0.113.0/24']), /pod IPv4 block "203\.0\.113\.0\/24" is not the first three octets of a \/24/);
  assert.throws(() => podIpPair(254, NETWORK_POD_IPV4_BLOCKS), /pod IP slot 254 is outside 0\.\.253/);
});
