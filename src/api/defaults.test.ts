// CRD defaults (metallb-compat.md §1) applied by the withXDefaults functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withBFDProfileDefaults } from './bfd-profile.ts';
import { withBGPAdvertisementDefaults } from './bgp-advertisement.ts';
import { withBGPPeerDefaults } from './bgp-peer.ts';
import { withIPAddressPoolDefaults } from './ip-address-pool.ts';
import { withL2AdvertisementDefaults } from './l2-advertisement.ts';
import { withCommunityDefaults } from './community.ts';
import { withConfigurationStateDefaults } from './configuration-state.ts';

test('IPAddressPool: autoAssign true, avoidBuggyIPs false; set values win', () => {
  assert.deepEqual(withIPAddressPoolDefaults({ addresses: ['10.0.0.0/24'] }), {
    addresses: ['10.0.0.0/24'],
    autoAssign: true,
    avoidBuggyIPs: false,
  });
  assert.equal(withIPAddressPoolDefaults({ addresses: [], autoAssign: false }).autoAssign, false);
});

test('BGPAdvertisement: aggregation 32/128, localPref 0, empty lists', () => {
  assert.deepEqual(withBGPAdvertisementDefaults(undefined), {
    aggregationLength: 32,
    aggregationLengthV6: 128,
    localPref: 0,
    communities: [],
    ipAddressPools: [],
    ipAddressPoolSelectors: [],
    nodeSelectors: [],
    peers: [],
    serviceSelectors: [],
  });
  assert.equal(withBGPAdvertisementDefaults({ aggregationLength: 24 }).aggregationLength, 24);
});

test('BGPPeer: port 179, flags false, no hold time invented', () => {
  const d = withBGPPeerDefaults({ myASN: 64500, peerASN: 64501, peerAddress: '192.168.1.1' });
  assert.equal(d.peerPort, 179);
  assert.equal(d.enableGracefulRestart, false);
  assert.equal(d.ebgpMultiHop, false);
  assert.equal(d.disableMP, false);
  assert.equal(d.dualStackAddressFamily, false);
  assert.deepEqual(d.nodeSelectors, []);
  assert.equal(d.holdTime, undefined);
});

test('BFDProfile: FRR defaults', () => {
  assert.deepEqual(withBFDProfileDefaults({ echoMode: true }), {
    receiveInterval: 300,
    transmitInterval: 300,
    detectMultiplier: 3,
    echoInterval: 50,
    echoMode: true,
    passiveMode: false,
    minimumTtl: 254,
  });
});

test('L2Advertisement, Community, ConfigurationState: empty lists and Unknown result', () => {
  assert.deepEqual(withL2AdvertisementDefaults({ interfaces: ['eth0'] }), {
    ipAddressPools: [],
    ipAddressPoolSelectors: [],
    nodeSelectors: [],
    interfaces: ['eth0'],
    serviceSelectors: [],
    preferredNodeSelectors: [],
  });
  assert.deepEqual(withCommunityDefaults(undefined), { communities: [] });
  assert.deepEqual(withConfigurationStateDefaults(undefined), {
    result: 'Unknown',
    errorSummary: '',
    conditions: [],
  });
});
