// Duplicate BGPPeers (MetalLB internal/config/validation.go DiscardNativeOnly: "peer <address> already exists, FRR mode
// doesn't support duplicate BGPPeers"): one router address (or unnumbered interface), vrf and port may have one
// BGPPeer per node. Disjoint nodeSelectors make two such peers legal; unknown Nodes are judged from the selectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObjects } from './build.ts';
import { satisfiable } from './peers.ts';
import { NS, node, routerBgp } from './test-objects.ts';

const sel = (labels: Record<string, string>) => [{ matchLabels: labels }];
const dup = (objs: Parameters<typeof validateObjects>[0]) =>
  validateObjects(objs, { namespace: NS }).problems.filter((p) => p.code === 'LB_PEER_DUPLICATE');

test('two BGPPeers with one peerAddress on every node: refused, naming both objects, the address and the rule', () => {
  const r = validateObjects([routerBgp({}, 'a'), routerBgp({}, 'b')], { namespace: NS });
  assert.equal(r.config, undefined);
  assert.deepEqual(r.problems, [
    {
      code: 'LB_PEER_DUPLICATE',
      object: 'BGPPeer/b',
      path: 'spec.peerAddress',
      message:
        'peer 192.168.1.1 already exists: BGPPeers a and b both peer with 192.168.1.1 port 179 and both apply to ' +
        'every node; duplicate BGPPeers are not supported (one BGPPeer per router address, port and node, as ' +
        "MetalLB's FRR mode): give them nodeSelectors that select different nodes, or keep one",
    },
  ]);
});

test('the address is compared canonically, and ASNs or timers do not make two peers different', () => {
  const ps = dup([
    routerBgp({ peerAddress: '2001:db8:0::1', peerASN: 64501 }, 'a'),
    routerBgp({ peerAddress: '2001:DB8::1', peerASN: 64502, holdTime: '30s' }, 'b'),
  ]);
  assert.equal(ps.length, 1);
  assert.match(ps[0]!.message, /^peer 2001:db8::1 already exists: BGPPeers a and b /);
});

test('different address or port: both admitted', () => {
  assert.deepEqual(dup([routerBgp({}, 'a'), routerBgp({ peerAddress: '192.168.1.2' }, 'b')]), []);
  assert.deepEqual(dup([routerBgp({}, 'a'), routerBgp({ peerPort: 1179 }, 'b')]), []);
});

test('disjoint nodeSelectors (Nodes unknown): admitted; overlapping or one without selectors: refused', () => {
  assert.deepEqual(
    dup([routerBgp({ nodeSelectors: sel({ rack: 'a' }) }, 'a'), routerBgp({ nodeSelectors: sel({ rack: 'b' }) }, 'b')]),
    [],
  );
  const overlap = dup([
    routerBgp({ nodeSelectors: sel({ rack: 'a' }) }, 'a'),
    routerBgp({ nodeSelectors: sel({ zone: 'x' }) }, 'b'),
  ]);
  assert.equal(overlap.length, 1);
  assert.match(overlap[0]!.message, /their nodeSelectors can select the same node/);
  assert.equal(dup([routerBgp({}, 'a'), routerBgp({ nodeSelectors: sel({ rack: 'b' }) }, 'b')]).length, 1);
});

test('Nodes known: refused only when some Node is selected by both, and that Node is named', () => {
  const peers = [
    routerBgp({ nodeSelectors: sel({ rack: 'a' }) }, 'a'),
    routerBgp({ nodeSelectors: sel({ zone: 'x' }) }, 'b'),
  ];
  assert.deepEqual(dup([...peers, node('n1', { rack: 'a' }), node('n2', { zone: 'x' })]), []);
  const ps = dup([...peers, node('n1', { rack: 'a' }), node('n2', { rack: 'a', zone: 'x' })]);
  assert.equal(ps.length, 1);
  assert.match(ps[0]!.message, /both select node n2;/);
});

test('unnumbered peers on one interface are duplicates too (spec.interface)', () => {
  const ps = dup([
    routerBgp({ peerAddress: undefined, interface: 'eth1' }, 'a'),
    routerBgp({ peerAddress: undefined, interface: 'eth1' }, 'b'),
  ]);
  assert.equal(ps.length, 1);
  assert.equal(ps[0]!.path, 'spec.interface');
  assert.match(ps[0]!.message, /^peer interface eth1 already exists: BGPPeers a and b /);
});

test('three peers at one address: each later one is reported once', () => {
  const ps = dup([routerBgp({}, 'a'), routerBgp({}, 'b'), routerBgp({}, 'c')]);
  assert.deepEqual(
    ps.map((p) => [p.object, p.message.split(':')[1]]),
    [
      ['BGPPeer/b', ' BGPPeers a and b both peer with 192.168.1.1 port 179 and both apply to every node; duplicate BGPPeers are not supported (one BGPPeer per router address, port and node, as MetalLB\'s FRR mode)'],
      ['BGPPeer/c', ' BGPPeers a and c both peer with 192.168.1.1 port 179 and both apply to every node; duplicate BGPPeers are not supported (one BGPPeer per router address, port and node, as MetalLB\'s FRR mode)'],
    ],
  );
});

test('satisfiable: the conjunction of label selectors', () => {
  const In = (key: string, ...values: string[]) => ({ key, operator: 'In', values });
  const NotIn = (key: string, ...values: string[]) => ({ key, operator: 'NotIn', values });
  assert.equal(satisfiable([{}, {}]), true);
  assert.equal(satisfiable([{ matchLabels: { a: '1' } }, { matchLabels: { a: '2' } }]), false);
  assert.equal(satisfiable([{ matchLabels: { a: '1' } }, { matchLabels: { b: '2' } }]), true);
  assert.equal(satisfiable([{ matchExpressions: [In('a', '1', '2')] }, { matchExpressions: [In('a', '2', '3')] }]), true);
  assert.equal(satisfiable([{ matchExpressions: [In('a', '1', '2')] }, { matchExpressions: [NotIn('a', '1', '2')] }]), false);
  assert.equal(satisfiable([{ matchLabels: { a: '1' } }, { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }]), false);
  assert.equal(
    satisfiable([{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }]),
    false,
  );
  assert.equal(satisfiable([{ matchExpressions: [NotIn('a', '1')] }, { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }]), true);
});
