// whyNotAnnounced: the reasons `berth status` gives for a Service with an IP that nobody announces, from the speakers'
// own plans (layer 2 and BGP). The lab end-to-end test (test/e2e/cli-status-reasons.test.ts) covers the layer-2
// reasons with real objects; these cover BGP, both modes together and the Leases' wording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig } from '../config/index.ts';
import type { Config } from '../config/types.ts';
import { bgpAd, l2, NS, peer, pool } from '../config/test-objects.ts';
import type { KubeObject } from '../api/object.ts';
import type { EndpointView, NodeView, ServiceView } from '../speaker/l2-plan.ts';
import { whyNotAnnounced, type AnnounceInputs } from './announce-reasons.ts';

const NODES: NodeView[] = ['n1', 'n2'].map((name) => ({ name, labels: { 'kubernetes.io/hostname': name }, networkUnavailable: false }));

function config(objects: { pools?: KubeObject[]; l2?: KubeObject[]; bgp?: KubeObject[]; peers?: KubeObject[] }): Config {
  const r = buildConfig(
    {
      pools: objects.pools ?? [pool('p', ['192.0.2.0/28'])],
      l2Advertisements: objects.l2 ?? [],
      bgpAdvertisements: objects.bgp ?? [],
      bgpPeers: objects.peers ?? [],
      communities: [],
      bfdProfiles: [],
      namespaces: [{ name: NS, labels: {} }],
      nodes: NODES.map((n) => ({ name: n.name, labels: n.labels })),
    },
    { namespace: NS },
  );
  assert.ok(r.config, JSON.stringify(r.problems));
  return r.config;
}

const service = (name: string, ip: string, o: Partial<ServiceView> = {}): ServiceView => ({
  key: `shop/${name}`,
  namespace: 'shop',
  name,
  labels: {},
  ips: [ip],
  pool: 'p',
  externalTrafficPolicy: 'Cluster',
  ...o,
});

const ready = (nodeName: string): EndpointView => ({ nodeName, ready: true, serving: true });

function inputs(cfg: Config, endpoints: Record<string, EndpointView[]>, extra: Partial<AnnounceInputs> = {}): AnnounceInputs {
  return { config: cfg, nodes: NODES, endpoints: new Map(Object.entries(endpoints)), namespace: NS, nowMs: Date.parse('2026-12-01T09:00:00Z'), ...extra };
}

const peerTo = (name: string, node?: string) =>
  peer(name, {
    myASN: 64500,
    peerASN: 64501,
    peerAddress: '198.51.100.1',
    ...(node ? { nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': node } }] } : {}),
  });

test('BGP: a node with a session should announce it and reports nothing → speakerNotRunning, with its Lease expired', () => {
  const cfg = config({ bgp: [bgpAd('all')], peers: [peerTo('r1', 'n1')] });
  const why = whyNotAnnounced([service('web', '192.0.2.1')], inputs(cfg, { 'shop/web': [ready('n2')] }, {
    speakerLeases: [{ node: 'n1', renewMs: Date.parse('2026-12-01T08:58:20Z'), durationSeconds: 40 }],
  }));
  const w = why.get('shop/web');
  assert.equal(w?.reason, 'speakerNotRunning');
  assert.match(w!.message, /^BGP from n1, but no speaker reports announcing it/);
  assert.match(w!.message, /speaker Leases: n1 renewed 100 s ago \(expired: metallb-speaker-n1\)/);
});

test('BGP: an advertisement but no BGPPeer → every node says no peer takes it', () => {
  const cfg = config({ bgp: [bgpAd('all')] });
  const w = whyNotAnnounced([service('web', '192.0.2.1')], inputs(cfg, { 'shop/web': [ready('n1')] })).get('shop/web');
  assert.equal(w?.reason, 'noPeer');
  assert.match(w!.message, /^no BGPPeer of the node takes it .*\(every node; pool "p"\)$/);
});

test('BGP: ETP=Local with the endpoint on a node without a session → per node reasons', () => {
  const cfg = config({ bgp: [bgpAd('all')], peers: [peerTo('r1', 'n1')] });
  const w = whyNotAnnounced(
    [service('web', '192.0.2.1', { externalTrafficPolicy: 'Local' })],
    inputs(cfg, { 'shop/web': [ready('n2')] }),
  ).get('shop/web');
  assert.equal(w?.reason, 'noLocalEndpoints');
  assert.match(w!.message, /^n1: externalTrafficPolicy is Local and no ready endpoint is on the node \(ready endpoints on n2 \(eligible\)\); n2: no BGPPeer of the node takes it/);
});

test('layer 2 and BGP both configured for the pool: each mode says why, named', () => {
  const cfg = config({ l2: [l2('l2', { ipAddressPools: ['p'] })], bgp: [bgpAd('b', { ipAddressPools: ['p'] })], peers: [peerTo('r1')] });
  const w = whyNotAnnounced([service('web', '192.0.2.1')], inputs(cfg, {})).get('shop/web');
  assert.equal(w?.reason, 'noEndpoints');
  assert.match(w!.message, /^layer2: no ready endpoint .*; bgp: no ready endpoint \(every node; pool "p"\)$/);
});

test('no advertisement for the pool, an IP in no pool, and a layer-2 owner without a speaker', () => {
  const cfg = config({ pools: [pool('p', ['192.0.2.0/28']), pool('q', ['198.51.100.0/28'])], l2: [l2('l2', { ipAddressPools: ['q'] })] });
  const why = whyNotAnnounced(
    [
      service('a', '192.0.2.1'),
      service('b', '203.0.113.9'),
      service('c', '198.51.100.1', { pool: 'q' }),
    ],
    inputs(cfg, { 'shop/a': [ready('n1')], 'shop/c': [ready('n1')] }),
  );
  assert.equal(why.get('shop/a')?.reason, 'noMatchingAdvertisement');
  assert.match(why.get('shop/a')!.message, /no L2Advertisement or BGPAdvertisement selects pool "p"/);
  assert.deepEqual(why.get('shop/b'), { reason: 'ipNotAllowed', message: 'IP 203.0.113.9 is in no IPAddressPool: no speaker announces it' });
  assert.equal(why.get('shop/c')?.reason, 'speakerNotRunning');
  // Both nodes are candidates, in MetalLB's failover order for the IP; no Leases read: nothing said about them.
  assert.match(why.get('shop/c')!.message, /^layer2 may be announced from n[12], n[12] \(failover order\)/);
  assert.doesNotMatch(why.get('shop/c')!.message, /Leases/);
});

test('layer 2: the advertisement selects Services by label and not this one', () => {
  const cfg = config({ l2: [l2('web-only', { ipAddressPools: ['p'], serviceSelectors: [{ matchLabels: { tier: 'web' } }] })] });
  const w = whyNotAnnounced([service('db', '192.0.2.1', { labels: { tier: 'db' } })], inputs(cfg, { 'shop/db': [ready('n1')] })).get('shop/db');
  assert.equal(w?.reason, 'noMatchingAdvertisement');
  assert.match(w!.message, /L2Advertisements of pool "p" \(web-only\) select Services by label and not this one/);
});

test('no speaker reports anything in the cluster (the lab without --network): said so instead of "is it running there?"', () => {
  const cfg = config({ l2: [l2('l2', { ipAddressPools: ['p'] })] });
  const args = (anyAnnouncer: boolean) => inputs(cfg, { 'shop/web': [ready('n1')] }, { anyAnnouncer, speakerLeases: [] });
  const none = whyNotAnnounced([service('web', '192.0.2.1')], args(false)).get('shop/web');
  assert.equal(none?.reason, 'speakerNotRunning');
  assert.match(none!.message, /no speaker reports anything in this cluster \(no ServiceL2Status, ServiceBGPStatus or speaker Lease\): is the speaker DaemonSet deployed\?/);
  const some = whyNotAnnounced([service('web', '192.0.2.1')], args(true)).get('shop/web');
  assert.match(some!.message, /is the speaker running there\? \(speaker Leases: n[12] none, n[12] none; kubectl get pods/);
});
