import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertBGPPeerV1beta1, type BGPPeerV1beta1 } from './bgp-peer-v1beta1.ts';

test('v1beta1 → v1beta2 keeps every field under the same name and leaves unset fields unset', () => {
  const old: BGPPeerV1beta1 = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'BGPPeer',
    metadata: { name: 'router-bgp', namespace: 'metallb-system', resourceVersion: '7' },
    spec: {
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '192.168.1.1',
      sourceAddress: '192.168.1.10',
      peerPort: 1179,
      holdTime: '90s',
      keepaliveTime: '30s',
      routerID: '10.0.0.1',
      nodeSelectors: [
        { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['x'] }] },
      ],
      password: 'pw',
      passwordSecret: { name: 's', namespace: 'metallb-system' },
      bfdProfile: 'fast',
      ebgpMultiHop: true,
      vrf: 'red',
    },
  };
  const before = structuredClone(old);
  assert.deepEqual(convertBGPPeerV1beta1(old), {
    apiVersion: 'metallb.io/v1beta2',
    kind: 'BGPPeer',
    metadata: { name: 'router-bgp', namespace: 'metallb-system', resourceVersion: '7' },
    spec: { ...old.spec },
  });
  assert.deepEqual(old, before, 'input not mutated');
  const min = convertBGPPeerV1beta1({
    ...old,
    spec: { myASN: 1, peerASN: 2, peerAddress: '10.0.0.1', peerPort: 0 },
  });
  assert.deepEqual(min.spec, { myASN: 1, peerASN: 2, peerAddress: '10.0.0.1' });
});
