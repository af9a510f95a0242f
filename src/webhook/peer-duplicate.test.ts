// The BGPPeer validating webhook and duplicate peers (LB_PEER_DUPLICATE, src/config/peers.ts checkDuplicatePeers):
// a CREATE or UPDATE that makes two BGPPeers peer with one router address from a common node is denied whichever
// name sorts first; disjoint nodeSelectors are admitted, and an UPDATE that drops them is denied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { decodeReview } from './review.ts';
import { ipAddressPool, memoryWorld, reviewFor } from './testing.ts';
import { validateConfigObject } from './validate-config.ts';

const NS = 'metallb-system';

function request(obj: KubeObject, opts: Parameters<typeof reviewFor>[1] = {}) {
  const d = decodeReview(reviewFor(obj, opts));
  assert.ok(d.ok);
  return d.request;
}

const peer = (name: string, rack?: string): KubeObject => ({
  apiVersion: 'metallb.io/v1beta2',
  kind: 'BGPPeer',
  metadata: { name, namespace: NS },
  spec: {
    myASN: 64500,
    peerASN: 64501,
    peerAddress: '198.51.100.1',
    ...(rack ? { nodeSelectors: [{ matchLabels: { rack } }] } : {}),
  },
});

test('a duplicate BGPPeer is denied on CREATE, naming both peers, whether its name sorts before or after', async () => {
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'p', ['192.0.2.0/28']), peer('m')] });
  try {
    for (const name of ['a', 'z']) {
      const r = await validateConfigObject(w.deps.config, 'BGPPeer', request(peer(name)));
      assert.equal(r.allowed, false, name);
      const [first, second] = [name, 'm'].sort();
      assert.equal(
        r.status?.message,
        `peer 198.51.100.1 already exists: BGPPeers ${first} and ${second} both peer with 198.51.100.1 port 179 and both apply to every node; ` +
          "duplicate BGPPeers are not supported (one BGPPeer per router address, port and node, as MetalLB's FRR mode): " +
          'give them nodeSelectors that select different nodes, or keep one',
      );
    }
  } finally {
    w.stop();
  }
});

test('disjoint nodeSelectors are admitted; an UPDATE that drops them is denied', async () => {
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'p', ['192.0.2.0/28']), peer('rack-a', 'a')] });
  try {
    const b = await validateConfigObject(w.deps.config, 'BGPPeer', request(peer('rack-b', 'b')));
    assert.equal(b.allowed, true, b.status?.message);
    w.objects.push(peer('rack-b', 'b'));
    const widened = await validateConfigObject(
      w.deps.config,
      'BGPPeer',
      request(peer('rack-b'), { operation: 'UPDATE', oldObject: peer('rack-b', 'b') }),
    );
    assert.equal(widened.allowed, false);
    assert.match(widened.status!.message, /BGPPeers rack-a and rack-b both peer with 198\.51\.100\.1 port 179 and their nodeSelectors can select the same node/);
  } finally {
    w.stop();
  }
});
