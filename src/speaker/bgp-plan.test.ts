// bgp-plan.ts: MetalLB §6.1 rules and §8.2 reasons as tables on a config built from real metallb.io objects
// (src/config buildConfig), route merging (aggregation, communities, LOCAL_PREF), the link-bandwidth community,
// ServiceBGPStatus views, diffs, and determinism under shuffled inputs (fast-check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { KubeObject } from '../api/object.ts';
import { buildConfig } from '../config/build.ts';
import { NS, bgpAd, community as communityCr, peer, pool } from '../config/test-objects.ts';
import type { Config } from '../config/types.ts';
import { community } from './bgp/wire/index.ts';
import { BgpPlanner, diffRoutes, planBgp, sameJson, type BgpPlan, type BgpWorld } from './bgp-plan.ts';
import { EXCLUDE_FROM_LB_LABEL, type EndpointView, type NodeView, type ServiceView } from './l2-plan.ts';

function config(objs: {
  pools?: KubeObject[];
  ads?: KubeObject[];
  peers?: KubeObject[];
  communities?: KubeObject[];
}): Config {
  const r = buildConfig(
    {
      pools: objs.pools ?? [POOL],
      l2Advertisements: [],
      bgpAdvertisements: objs.ads ?? [bgpAd('all')],
      bgpPeers: objs.peers ?? PEERS,
      communities: objs.communities ?? [],
      bfdProfiles: [],
      namespaces: [{ name: 'default', labels: {} }],
    },
    { namespace: NS },
  );
  assert.ok(r.config, JSON.stringify(r.problems));
  return r.config;
}

const POOL = pool('web', ['198.51.100.0/24', '2001:db8:1::/120']);
/** eBGP to every node, iBGP to every node, eBGP only from `rack: r1` nodes. */
const PEERS = [
  peer('tor-ebgp', { myASN: 64500, peerASN: 64501, peerAddress: '203.0.113.1' }),
  peer('rr-ibgp', { myASN: 64500, peerASN: 64500, peerAddress: '203.0.113.2' }),
  peer('r1-only', {
    myASN: 64500,
    peerASN: 64502,
    peerAddress: '203.0.113.3',
    nodeSelectors: [{ matchLabels: { rack: 'r1' } }],
  }),
];
const node = (name: string, labels: Record<string, string> = {}, networkUnavailable = false): NodeView => ({
  name,
  labels,
  networkUnavailable,
});
const svc = (name: string, ips: string[], extra: Partial<ServiceView> = {}): ServiceView => ({
  key: `default/${name}`,
  namespace: 'default',
  name,
  labels: {},
  ips,
  externalTrafficPolicy: 'Cluster',
  ...extra,
});
const ep = (nodeName: string, ready = true, serving = ready): EndpointView => ({ nodeName, ready, serving });
const NODES = [node('node-a', { rack: 'r1' }), node('node-b', { rack: 'r2' })];

function world(over: Partial<BgpWorld> & { eps?: Record<string, EndpointView[]> } = {}): BgpWorld {
  const services = over.services ?? [svc('s1', ['198.51.100.10'])];
  const eps = over.eps ?? Object.fromEntries(services.map((s) => [s.name, [ep('node-b')]]));
  return {
    config: over.config ?? config({}),
    nodes: over.nodes ?? NODES,
    services,
    endpoints: over.endpoints ?? new Map(Object.entries(eps).map(([k, v]) => [`default/${k}`, v])),
  };
}

describe('planBgp: sessions', () => {
  it('opens a session to every BGPPeer whose nodeSelectors match the node (none = every node)', () => {
    const w = world();
    assert.deepEqual([...planBgp(w, 'node-a').peers.keys()], ['r1-only', 'rr-ibgp', 'tor-ebgp']);
    assert.deepEqual([...planBgp(w, 'node-b').peers.keys()], ['rr-ibgp', 'tor-ebgp']);
    assert.equal(planBgp(w, 'node-a').peers.get('rr-ibgp')!.ibgp, true);
    assert.equal(planBgp(w, 'node-a').peers.get('tor-ebgp')!.ibgp, false);
  });

  it('an unknown node has no session and announces nothing (notOwner)', () => {
    const p = planBgp(world(), 'ghost');
    assert.equal(p.peers.size, 0);
    assert.deepEqual(
      p.decisions.map((d) => [d.announced, d.reason]),
      [[false, 'notOwner']],
    );
    assert.equal(p.statuses.size, 0);
  });
});

describe('planBgp: MetalLB §6.1 rules and §8.2 reasons', () => {
  it('ETP=Cluster, one serving endpoint anywhere: every node announces the /32 to each of its peers', () => {
    for (const n of ['node-a', 'node-b']) {
      const p = planBgp(world(), n);
      const d = p.decisions[0]!;
      assert.equal(d.announced, true);
      assert.equal(d.reason, undefined);
      assert.equal(d.pool, 'web');
      assert.deepEqual(d.prefixes, ['198.51.100.10/32']);
      assert.deepEqual(
        d.peers,
        n === 'node-a' ? ['r1-only', 'rr-ibgp', 'tor-ebgp'] : ['rr-ibgp', 'tor-ebgp'],
      );
      const ebgp = p.peers.get('tor-ebgp')!.routes.get('198.51.100.10/32')!;
      assert.equal(ebgp.localPref, undefined, 'no LOCAL_PREF towards an eBGP peer');
      assert.deepEqual(ebgp.communities, []);
      assert.deepEqual(ebgp.extendedCommunities, []);
      assert.deepEqual(ebgp.services, ['default/s1']);
      assert.equal(
        p.peers.get('rr-ibgp')!.routes.get('198.51.100.10/32')!.localPref,
        0,
        'LOCAL_PREF on iBGP',
      );
    }
  });

  it('IPv6: masked to aggregationLengthV6, canonical text', () => {
    const w = world({
      config: config({ ads: [bgpAd('v6', { aggregationLengthV6: 120 })] }),
      services: [svc('s1', ['2001:DB8:1:0::7'])],
    });
    const d = planBgp(w, 'node-b').decisions[0]!;
    assert.equal(d.ip, '2001:db8:1::7');
    assert.deepEqual(d.prefixes, ['2001:db8:1::/120']);
  });

  const withdrawn: Array<{ desc: string; w: () => BgpWorld; node?: string; reason: string }> = [
    { desc: 'unparsable IP', w: () => world({ services: [svc('s1', ['nope'])] }), reason: 'invalidIP' },
    {
      desc: 'IP in no pool',
      w: () => world({ services: [svc('s1', ['192.0.2.9'])] }),
      reason: 'ipNotAllowed',
    },
    {
      desc: 'no BGPAdvertisement for the pool',
      w: () =>
        world({
          config: config({
            pools: [POOL, pool('other', ['192.0.2.0/24'])],
            ads: [bgpAd('o', { ipAddressPools: ['other'] })],
          }),
        }),
      reason: 'noMatchingAdvertisement',
    },
    {
      desc: 'the advertisements of the pool do not select this node',
      w: () =>
        world({
          config: config({ ads: [bgpAd('r2', { nodeSelectors: [{ matchLabels: { rack: 'r2' } }] })] }),
        }),
      node: 'node-a',
      reason: 'notOwner',
    },
    {
      desc: "no advertisement selecting the node matches the Service's labels",
      w: () =>
        world({
          config: config({ ads: [bgpAd('gold', { serviceSelectors: [{ matchLabels: { tier: 'gold' } }] })] }),
        }),
      reason: 'noMatchingAdvertisement',
    },
    {
      desc: 'a shared IP with a serviceSelectors advertisement',
      w: () =>
        world({
          config: config({ ads: [bgpAd('gold', { serviceSelectors: [{ matchLabels: { tier: 'gold' } }] })] }),
          services: [svc('s1', ['198.51.100.10'], { labels: { tier: 'gold' }, sharingKey: 'k' })],
        }),
      reason: 'sharedIPWithServiceSelector',
    },
    {
      desc: 'node NetworkUnavailable',
      w: () => world({ nodes: [node('node-a', {}, true), node('node-b')] }),
      node: 'node-a',
      reason: 'nodeNetworkUnavailable',
    },
    {
      desc: 'node labelled exclude-from-external-load-balancers',
      w: () => world({ nodes: [node('node-a', { [EXCLUDE_FROM_LB_LABEL]: '' }), node('node-b')] }),
      node: 'node-a',
      reason: 'nodeLabeledExcludeBalancers',
    },
    { desc: 'ETP=Cluster without endpoints', w: () => world({ eps: { s1: [] } }), reason: 'noEndpoints' },
    {
      desc: 'ETP=Cluster with only unready, non-serving endpoints',
      w: () => world({ eps: { s1: [ep('node-a', false, false)] } }),
      reason: 'noEndpoints',
    },
    {
      desc: 'ETP=Local without any endpoint',
      w: () =>
        world({
          services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
          eps: { s1: [] },
        }),
      reason: 'noEndpoints',
    },
    {
      desc: 'ETP=Local, endpoints only on another node',
      w: () => world({ services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })] }),
      node: 'node-a',
      reason: 'noLocalEndpoints',
    },
    {
      desc: 'two matching advertisements, same prefix and peer, different localPref',
      w: () =>
        world({
          config: config({
            ads: [
              bgpAd('a', { localPref: 100, serviceSelectors: [{ matchLabels: { app: 'x' } }] }),
              bgpAd('b', { localPref: 200, serviceSelectors: [{ matchLabels: { tier: 'gold' } }] }),
            ],
          }),
          services: [svc('s1', ['198.51.100.10'], { labels: { app: 'x', tier: 'gold' } })],
        }),
      reason: 'conflictingAdvertisements',
    },
  ];
  for (const c of withdrawn) {
    it(`withdraws: ${c.desc} → ${c.reason}`, () => {
      const p = planBgp(c.w(), c.node ?? 'node-b');
      assert.equal(p.decisions.length, 1);
      const d = p.decisions[0]!;
      assert.equal(d.announced, false);
      assert.equal(d.reason, c.reason);
      assert.deepEqual(d.peers, []);
      for (const pp of p.peers.values()) assert.equal(pp.routes.size, 0);
      assert.equal(p.statuses.size, 0, 'no ServiceBGPStatus when nothing is announced');
    });
  }

  it('ETP=Local: only the nodes with a local serving (even terminating) endpoint announce', () => {
    const w = world({
      services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
      eps: { s1: [ep('node-a', false, true)] },
    });
    assert.equal(planBgp(w, 'node-a').decisions[0]!.announced, true);
    assert.equal(planBgp(w, 'node-b').decisions[0]!.reason, 'noLocalEndpoints');
  });

  it('different localPrefs are fine when the peers are disjoint', () => {
    const w = world({
      config: config({
        ads: [
          bgpAd('a', {
            localPref: 100,
            peers: ['rr-ibgp'],
            serviceSelectors: [{ matchLabels: { app: 'x' } }],
          }),
          bgpAd('b', {
            localPref: 200,
            peers: ['tor-ebgp'],
            serviceSelectors: [{ matchLabels: { app: 'x' } }],
          }),
        ],
      }),
      services: [svc('s1', ['198.51.100.10'], { labels: { app: 'x' } })],
    });
    const p = planBgp(w, 'node-a');
    assert.deepEqual(p.decisions[0]!.peers, ['rr-ibgp', 'tor-ebgp']);
    assert.equal(p.peers.get('rr-ibgp')!.routes.get('198.51.100.10/32')!.localPref, 100);
    assert.equal(p.peers.get('r1-only')!.routes.size, 0);
  });

  it('`peers` restricts an advertisement to the named BGPPeers of this node; unknown names are ignored', () => {
    const w = world({ config: config({ ads: [bgpAd('a', { peers: ['r1-only', 'nobody'] })] }) });
    assert.deepEqual(planBgp(w, 'node-a').decisions[0]!.peers, ['r1-only']);
    // node-b has no session with r1-only: announced (eligible) but to no peer, so no ServiceBGPStatus.
    const b = planBgp(w, 'node-b');
    assert.equal(b.decisions[0]!.announced, true);
    assert.deepEqual(b.decisions[0]!.peers, []);
    assert.equal(b.statuses.size, 0);
  });

  it('the named pool (ip-allocated-from-pool) is the one used when it holds the IP', () => {
    const w = world({
      config: config({ pools: [POOL], ads: [bgpAd('a')] }),
      services: [svc('s1', ['198.51.100.10'], { pool: 'gone' })],
    });
    assert.equal(planBgp(w, 'node-a').decisions[0]!.pool, 'web');
  });
});

describe('planBgp: routes', () => {
  it('aggregates Services into one prefix per peer, communities merged and literal/alias/large converted', () => {
    const cfg = config({
      ads: [
        bgpAd('agg', {
          aggregationLength: 24,
          communities: ['65000:1', 'no-export-alias', 'large:64500:1:2'],
        }),
        bgpAd('host', { communities: ['65000:2'], peers: ['tor-ebgp'] }),
      ],
      communities: [communityCr('aliases', [{ name: 'no-export-alias', value: '65535:65281' }])],
    });
    const w = world({ config: cfg, services: [svc('s2', ['198.51.100.20']), svc('s1', ['198.51.100.10'])] });
    const p = planBgp(w, 'node-b');
    const tor = p.peers.get('tor-ebgp')!;
    assert.deepEqual([...tor.routes.keys()], ['198.51.100.0/24', '198.51.100.10/32', '198.51.100.20/32']);
    const agg = tor.routes.get('198.51.100.0/24')!;
    assert.deepEqual(agg.services, ['default/s1', 'default/s2']);
    assert.deepEqual(agg.communities, [community(65000, 1), community(65535, 65281)]);
    assert.deepEqual(agg.largeCommunities, [{ globalAdministrator: 64500, localData1: 1, localData2: 2 }]);
    assert.deepEqual(tor.routes.get('198.51.100.10/32')!.communities, [community(65000, 2)]);
    assert.deepEqual([...p.peers.get('rr-ibgp')!.routes.keys()], ['198.51.100.0/24']);
    assert.deepEqual(
      p.decisions.map((d) => d.prefixes),
      [
        ['198.51.100.0/24', '198.51.100.10/32'],
        ['198.51.100.0/24', '198.51.100.20/32'],
      ],
    );
  });

  it('IPv4 prefixes before IPv6, in address order', () => {
    const w = world({
      services: [svc('s1', ['2001:db8:1::2', '198.51.100.9']), svc('s2', ['198.51.100.10', '2001:db8:1::1'])],
    });
    assert.deepEqual(
      [...planBgp(w, 'node-b').peers.get('tor-ebgp')!.routes.keys()],
      ['198.51.100.9/32', '198.51.100.10/32', '2001:db8:1::1/128', '2001:db8:1::2/128'],
    );
  });

  it('iBGP: Services asking different LOCAL_PREFs for one prefix → withdrawn from that peer only (conflicts)', () => {
    // The config validator refuses such ads; a hand-made Config reaches the speaker's own check.
    const base = config({ ads: [bgpAd('a', { aggregationLength: 24 })] });
    const cfg: Config = {
      ...base,
      bgpAdvertisements: [
        {
          ...base.bgpAdvertisements[0]!,
          name: 'a',
          localPref: 100,
          serviceSelectors: [{ matchLabels: { app: 'a' } }],
        },
        {
          ...base.bgpAdvertisements[0]!,
          name: 'b',
          localPref: 200,
          serviceSelectors: [{ matchLabels: { app: 'b' } }],
        },
      ],
    };
    const w = world({
      config: cfg,
      services: [
        svc('s1', ['198.51.100.10'], { labels: { app: 'a' } }),
        svc('s2', ['198.51.100.20'], { labels: { app: 'b' } }),
      ],
    });
    const p = planBgp(w, 'node-b');
    assert.deepEqual(p.conflicts, [
      {
        peer: 'rr-ibgp',
        prefix: '198.51.100.0/24',
        localPrefs: [
          { localPref: 100, services: ['default/s1'] },
          { localPref: 200, services: ['default/s2'] },
        ],
      },
    ]);
    assert.equal(p.peers.get('rr-ibgp')!.routes.size, 0);
    assert.equal(
      p.peers.get('tor-ebgp')!.routes.get('198.51.100.0/24')!.services.length,
      2,
      'eBGP: no LOCAL_PREF sent',
    );
    assert.deepEqual(
      p.decisions.map((d) => [d.announced, d.peers]),
      [
        [true, ['tor-ebgp']],
        [true, ['tor-ebgp']],
      ],
    );
    // With only the iBGP peer left, the Services are withdrawn as conflictingAdvertisements.
    const only = planBgp(
      { ...w, config: { ...cfg, peers: cfg.peers.filter((x) => x.name === 'rr-ibgp') } },
      'node-b',
    );
    assert.deepEqual(
      only.decisions.map((d) => d.reason),
      ['conflictingAdvertisements', 'conflictingAdvertisements'],
    );
  });
});

describe('planBgp: link bandwidth (berth.io/bgp-link-bandwidth)', () => {
  const annotated = (value: string, spec: Record<string, unknown> = {}): KubeObject => {
    const o = bgpAd('lbw', spec);
    return { ...o, metadata: { ...o.metadata, annotations: { 'berth.io/bgp-link-bandwidth': value } } };
  };
  const lbwOf = (p: BgpPlan, prefix: string, peerName = 'tor-ebgp'): unknown =>
    p.peers.get(peerName)!.routes.get(prefix)!.extendedCommunities;

  it('ETP=Local: ready local endpoints × 1 Gbit/s, in bytes/s, non-transitive, our ASN', () => {
    const w = world({
      config: config({ ads: [annotated('per-endpoint')] }),
      services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
      eps: { s1: [ep('node-a'), ep('node-a'), ep('node-a', false, true), ep('node-b')] },
    });
    assert.deepEqual(lbwOf(planBgp(w, 'node-a'), '198.51.100.10/32'), [
      { kind: 'link-bandwidth', asn: 64500, bandwidth: 2 * 125_000_000, transitive: false },
    ]);
    assert.deepEqual(lbwOf(planBgp(w, 'node-b'), '198.51.100.10/32'), [
      { kind: 'link-bandwidth', asn: 64500, bandwidth: 125_000_000, transitive: false },
    ]);
  });

  it('a node whose local endpoints are all terminating still announces, with bandwidth 0', () => {
    const w = world({
      config: config({ ads: [annotated('per-endpoint')] }),
      services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
      eps: { s1: [ep('node-a', false, true)] },
    });
    assert.deepEqual(lbwOf(planBgp(w, 'node-a'), '198.51.100.10/32'), [
      { kind: 'link-bandwidth', asn: 64500, bandwidth: 0, transitive: false },
    ]);
  });

  it('Services sharing an aggregated prefix add up, each with its rate; ETP=Cluster counts every endpoint', () => {
    const w = world({
      config: config({ ads: [annotated('per-endpoint:10Gbps', { aggregationLength: 24 })] }),
      services: [
        svc('local', ['198.51.100.10'], { externalTrafficPolicy: 'Local' }),
        svc('cluster', ['198.51.100.20']),
      ],
      eps: { local: [ep('node-a'), ep('node-b')], cluster: [ep('node-b'), ep('node-b'), ep('node-b')] },
    });
    // node-a: 1 local endpoint of `local` + 3 endpoints of `cluster` = 4 × 10 Gbit/s = 5e9 bytes/s.
    assert.deepEqual(lbwOf(planBgp(w, 'node-a'), '198.51.100.0/24'), [
      { kind: 'link-bandwidth', asn: 64500, bandwidth: 5e9, transitive: false },
    ]);
  });

  it('an ASN above 65535 is carried as AS_TRANS (the community has a 2-octet AS)', () => {
    const w = world({
      config: config({
        ads: [annotated('per-endpoint')],
        peers: [peer('big', { myASN: 4200000000, peerASN: 64501, peerAddress: '203.0.113.9' })],
      }),
    });
    assert.deepEqual(lbwOf(planBgp(w, 'node-a'), '198.51.100.10/32', 'big'), [
      { kind: 'link-bandwidth', asn: 23456, bandwidth: 125_000_000, transitive: false },
    ]);
  });

  it('without the annotation no extended community is sent', () => {
    assert.deepEqual(lbwOf(planBgp(world(), 'node-a'), '198.51.100.10/32'), []);
  });

  it('a bad annotation value is refused by the config with a message naming it', () => {
    const r = buildConfig(
      {
        pools: [POOL],
        l2Advertisements: [],
        bgpAdvertisements: [annotated('10G')],
        bgpPeers: PEERS,
        communities: [],
        bfdProfiles: [],
        namespaces: [],
      },
      { namespace: NS },
    );
    assert.equal(r.config, undefined);
    assert.equal(r.problems[0]!.code, 'LB_BAD_LINK_BANDWIDTH');
    assert.match(r.problems[0]!.message, /invalid link bandwidth "10G": expected "per-endpoint"/);
  });
});

describe('planBgp: ServiceBGPStatus and diffs', () => {
  it('one status per announced Service with the peers it is meant for', () => {
    const w = world({
      services: [svc('s1', ['198.51.100.10', '2001:db8:1::1']), svc('s2', ['198.51.100.11'])],
      eps: { s1: [ep('node-b')], s2: [] },
    });
    const p = planBgp(w, 'node-a');
    assert.deepEqual(Object.fromEntries(p.statuses), {
      'default/s1': {
        node: 'node-a',
        serviceName: 's1',
        serviceNamespace: 'default',
        peers: ['r1-only', 'rr-ibgp', 'tor-ebgp'],
      },
    });
  });

  it('diffRoutes: new or changed routes to announce, missing prefixes to withdraw', () => {
    const before = planBgp(
      world({ services: [svc('s1', ['198.51.100.10']), svc('s2', ['198.51.100.11'])] }),
      'node-a',
    );
    const after = planBgp(
      world({
        config: config({ ads: [bgpAd('a', { communities: ['65000:7'] })] }),
        services: [svc('s1', ['198.51.100.10']), svc('s3', ['198.51.100.12'])],
      }),
      'node-a',
    );
    const d = diffRoutes(before.peers.get('tor-ebgp')!.routes, after.peers.get('tor-ebgp')!.routes);
    assert.deepEqual(
      d.announce.map((r) => r.prefix),
      ['198.51.100.10/32', '198.51.100.12/32'],
    );
    assert.deepEqual(d.withdraw, ['198.51.100.11/32']);
    const same = diffRoutes(after.peers.get('tor-ebgp')!.routes, after.peers.get('tor-ebgp')!.routes);
    assert.deepEqual(same, { announce: [], withdraw: [] });
    assert.deepEqual(diffRoutes(undefined, undefined), { announce: [], withdraw: [] });
  });
});

describe('planBgp: robustness and determinism', () => {
  it('never throws on hostile input; duplicate names are taken once', () => {
    const w = world({
      nodes: [...NODES, node('node-a', { rack: 'r9' }), { name: '' } as NodeView],
      services: [
        svc('s1', ['198.51.100.10']),
        svc('s1', ['198.51.100.99']),
        { ...svc('bad', []), ips: 'x' as unknown as string[] },
        svc('weird', [42 as unknown as string, '::ffff:198.51.100.1']),
      ],
    });
    const p = planBgp(w, 'node-a');
    assert.deepEqual(
      [...p.peers.keys()],
      ['r1-only', 'rr-ibgp', 'tor-ebgp'],
      'node-a once, its first labels',
    );
    assert.deepEqual(
      p.decisions.map((d) => [d.service, d.ip, d.reason]),
      [
        ['default/s1', '198.51.100.10', undefined],
        ['default/weird', '42', 'invalidIP'],
        ['default/weird', '::ffff:c633:6401', 'ipNotAllowed'],
      ],
    );
  });

  it('property: the same world in any order gives the same plan (including map order)', () => {
    const cfg = config({
      pools: [POOL, pool('other', ['192.0.2.0/24'])],
      ads: [
        bgpAd('agg', { ipAddressPools: ['web'], aggregationLength: 28, communities: ['65000:1'] }),
        {
          ...bgpAd('other', { ipAddressPools: ['other'], peers: ['rr-ibgp', 'r1-only'], localPref: 50 }),
          metadata: {
            name: 'other',
            namespace: NS,
            annotations: { 'berth.io/bgp-link-bandwidth': 'per-endpoint' },
          },
        },
      ],
    });
    const nodes = [...NODES, node('node-c', { rack: 'r1' }), node('node-d', {}, true)];
    const servicesArb = fc.uniqueArray(
      fc.record({
        id: fc.integer({ min: 0, max: 60 }),
        v6: fc.boolean(),
        pool: fc.constantFrom('web', 'other'),
        local: fc.boolean(),
        epNodes: fc.subarray(['node-a', 'node-b', 'node-c', 'node-d']),
      }),
      { selector: (s) => s.id, maxLength: 20 },
    );
    const plain = (p: BgpPlan): unknown => ({
      ...p,
      peers: [...p.peers].map(([k, v]) => [k, v.name, [...v.routes]]),
      statuses: [...p.statuses],
    });
    fc.assert(
      fc.property(
        servicesArb,
        fc.constantFrom('node-a', 'node-b', 'node-c', 'node-d'),
        fc.nat(),
        (specs, n, seed) => {
          const services = specs.map((s) => {
            const v4 = s.pool === 'web' ? `198.51.100.${s.id}` : `192.0.2.${s.id}`;
            return svc(`s${s.id}`, s.v6 && s.pool === 'web' ? [v4, `2001:db8:1::${s.id}`] : [v4], {
              externalTrafficPolicy: s.local ? 'Local' : 'Cluster',
            });
          });
          const eps = Object.fromEntries(specs.map((s) => [`s${s.id}`, s.epNodes.map((x) => ep(x))]));
          const shuffle = <T>(xs: readonly T[]): T[] =>
            xs
              .map((x, i) => ({ x, k: (i * 7919 + seed) % 1013 }))
              .sort((a, b) => a.k - b.k)
              .map((e) => e.x);
          const a = planBgp(world({ config: cfg, nodes, services, eps }), n);
          const b = planBgp(
            world({
              config: {
                ...cfg,
                peers: shuffle(cfg.peers),
                bgpAdvertisements: shuffle(cfg.bgpAdvertisements),
              },
              nodes: shuffle(nodes),
              services: shuffle(services),
              endpoints: new Map(shuffle(Object.entries(eps)).map(([k, v]) => [`default/${k}`, v])),
            }),
            n,
          );
          assert.deepEqual(plain(a), plain(b));
          // Every route of every peer is backed by an announced decision to that peer.
          for (const [peerName, pp] of a.peers) {
            for (const r of pp.routes.values()) {
              for (const s of r.services) {
                assert.ok(
                  a.decisions.some((d) => d.service === s && d.announced && d.peers.includes(peerName)),
                );
              }
            }
          }
        },
      ),
      { seed: 11, numRuns: 80 },
    );
  });
});

describe('BgpPlanner memory layout (issue 9: 10,000 Services × 3 peers)', () => {
  it('peers that get the same routes share one routes map; a change for one peer only gives it its own', () => {
    const planner = new BgpPlanner();
    const s1 = svc('s1', ['198.51.100.10']);
    const s2 = svc('s2', ['198.51.100.11']);
    let p = planner.plan(world({ services: [s1] }), 'node-a');
    const ebgp = p.peers.get('tor-ebgp')!.routes;
    assert.equal(p.peers.get('r1-only')!.routes, ebgp, 'two eBGP peers, same routes: one map');
    assert.notEqual(p.peers.get('rr-ibgp')!.routes, ebgp, 'iBGP routes carry LOCAL_PREF: a map of its own');
    assert.deepEqual([...ebgp.keys()], ['198.51.100.10/32']);
    p = planner.plan(world({ services: [s1, s2] }), 'node-a');
    assert.equal(p.peers.get('r1-only')!.routes, p.peers.get('tor-ebgp')!.routes);
    assert.deepEqual([...p.peers.get('r1-only')!.routes.keys()], ['198.51.100.10/32', '198.51.100.11/32']);
    assert.deepEqual([...ebgp.keys()], ['198.51.100.10/32'], 'a map handed out is never edited');
    // An ad naming one peer: that peer's routes differ, the other keeps its own map; values equal a full plan.
    const cfg = config({ pools: [POOL, pool('other', ['192.0.2.0/24'])], ads: [bgpAd('all', { ipAddressPools: ['web'] }), bgpAd('one', { ipAddressPools: ['other'], peers: ['tor-ebgp'] })] });
    const full = (x: BgpWorld) => [...planBgp(x, 'node-a').peers].map(([k, v]) => [k, [...v.routes]]);
    const w = world({ config: cfg, services: [s1, s2, svc('s3', ['192.0.2.5'])] });
    p = planner.plan(w, 'node-a');
    const w4 = { ...w, services: [...w.services, svc('s4', ['192.0.2.6'])], endpoints: new Map([...w.endpoints, ['default/s4', [ep('node-b')]]]) };
    p = planner.plan(w4, 'node-a');
    assert.deepEqual([...p.peers].map(([k, v]) => [k, [...v.routes]]), full(w4));
    assert.notEqual(p.peers.get('r1-only')!.routes, p.peers.get('tor-ebgp')!.routes);
    assert.deepEqual([...p.peers.get('tor-ebgp')!.routes.keys()], ['192.0.2.5/32', '192.0.2.6/32', '198.51.100.10/32', '198.51.100.11/32']);
    assert.deepEqual([...p.peers.get('r1-only')!.routes.keys()], ['198.51.100.10/32', '198.51.100.11/32']);
  });

  it('withdrawn decisions and routes without link bandwidth share frozen empty lists; one-IP lists are exact', () => {
    const p = planBgp(world({ services: [svc('s1', ['198.51.100.10']), svc('gone', ['192.0.2.1'])] }), 'node-a');
    const gone = p.decisions.find((d) => d.service === 'default/gone')!;
    assert.equal(gone.reason, 'ipNotAllowed');
    assert.ok(Object.isFrozen(gone.peers) && Object.isFrozen(gone.prefixes), 'read-only, shared');
    const r = p.peers.get('tor-ebgp')!.routes.get('198.51.100.10/32')!;
    assert.deepEqual(r.extendedCommunities, []);
    assert.ok(Object.isFrozen(r.extendedCommunities));
    assert.equal('localPref' in r, false, 'eBGP: no LOCAL_PREF member');
    assert.equal(p.peers.get('rr-ibgp')!.routes.get('198.51.100.10/32')!.localPref, 0);
  });
});

describe('BgpPlanner (incremental planBgp)', () => {
  /** Everything a plan says, with map orders. */
  const plain = (p: BgpPlan): unknown => ({
    ...p,
    peers: [...p.peers].map(([k, v]) => [k, v.name, v.ibgp, v.peer, [...v.routes]]),
    statuses: [...p.statuses],
  });
  const lbwAd = bgpAd('weighted', {
    ipAddressPools: ['other'],
    peers: ['rr-ibgp', 'r1-only'],
    localPref: 50,
  });
  const cfgA = config({
    pools: [POOL, pool('aggp', ['203.0.113.0/24']), pool('other', ['192.0.2.0/24'])],
    ads: [
      // Services sharing an IP (no sharing key: the planner must still agree) selected by ads with different
      // LOCAL_PREFs: a conflict on the iBGP peer, dropped there; a tier-b Service has no other route, so its decision
      // turns to conflictingAdvertisements because of another Service.
      bgpAd('tier-a', {
        ipAddressPools: ['web'],
        localPref: 100,
        communities: ['65000:1'],
        serviceSelectors: [{ matchLabels: { tier: 'a' } }],
      }),
      bgpAd('tier-b', {
        ipAddressPools: ['web'],
        localPref: 200,
        peers: ['rr-ibgp'],
        serviceSelectors: [{ matchLabels: { tier: 'b' } }],
      }),
      bgpAd('agg', { ipAddressPools: ['aggp'], aggregationLength: 28, communities: ['65000:2'] }),
      {
        ...lbwAd,
        metadata: { ...lbwAd.metadata, annotations: { 'berth.io/bgp-link-bandwidth': 'per-endpoint' } },
      },
    ],
  });
  const cfgB = config({
    pools: [POOL, pool('aggp', ['203.0.113.0/24']), pool('other', ['192.0.2.0/24'])],
    ads: [bgpAd('all', { localPref: 7 })],
  });
  const nodes = [...NODES, node('node-c', { rack: 'r1' }), node('node-d', {}, true)];
  const specArb = fc.record({
    v6: fc.boolean(),
    pool: fc.constantFrom('web', 'aggp', 'other'),
    tier: fc.constantFrom('a', 'b', 'none'),
    local: fc.boolean(),
    epNodes: fc.subarray(['node-a', 'node-b', 'node-c', 'node-d']),
  });
  type Spec = typeof specArb extends fc.Arbitrary<infer T> ? T : never;
  const stepArb = fc.record({
    // id → new spec (a copy of the old one when `same`), or removed (null).
    edits: fc.array(
      fc.record({ id: fc.integer({ min: 0, max: 24 }), spec: fc.option(specArb), same: fc.boolean() }),
      {
        maxLength: 5,
      },
    ),
    config: fc.constantFrom(cfgA, cfgA, cfgA, cfgB),
    node: fc.constantFrom('node-a', 'node-a', 'node-a', 'node-c', 'node-d'),
  });

  it('property: over random change sequences every plan equals planBgp of the same world (values and orders)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.integer({ min: 0, max: 24 }), spec: specArb }), { maxLength: 16 }),
        fc.array(stepArb, { minLength: 1, maxLength: 8 }),
        (initial, steps) => {
          const planner = new BgpPlanner();
          const specs = new Map<number, Spec>(initial.map((x) => [x.id, x.spec]));
          const built = new Map<number, { s: ServiceView; e: EndpointView[] }>();
          const make = (id: number, sp: Spec) => {
            // IPs shared by several Services (id % 10): routes merged from several Services, and conflicts.
            const v4 =
              sp.pool === 'web'
                ? `198.51.100.${(id % 10) * 3}`
                : sp.pool === 'aggp'
                  ? `203.0.113.${(id % 10) * 3}`
                  : `192.0.2.${id % 10}`;
            return {
              s: svc(`s${id}`, sp.v6 && sp.pool === 'web' ? [v4, `2001:db8:1::${id % 10}`] : [v4], {
                externalTrafficPolicy: sp.local ? 'Local' : 'Cluster',
                labels: sp.tier === 'none' ? {} : { tier: sp.tier },
              }),
              e: sp.epNodes.map((x) => ep(x)),
            };
          };
          for (const [id, sp] of specs) built.set(id, make(id, sp));
          let prev: BgpPlan | undefined;
          let prevConfig: Config | undefined;
          for (const step of [{ edits: [], config: cfgA, node: 'node-a' }, ...steps]) {
            for (const e of step.edits) {
              const old = specs.get(e.id);
              const sp = e.same && old ? { ...old } : e.spec;
              if (sp === null) {
                specs.delete(e.id);
                built.delete(e.id);
              } else {
                specs.set(e.id, sp);
                built.set(e.id, make(e.id, sp)); // new objects, maybe the same content
              }
            }
            const w: BgpWorld = {
              config: step.config,
              nodes,
              services: [...built.values()].map((b) => b.s),
              endpoints: new Map([...built.values()].map((b) => [b.s.key, b.e])),
            };
            const got = planner.plan(w, step.node);
            assert.deepEqual(plain(got), plain(planBgp(w, step.node)));
            // Unchanged routes keep their objects (BgpSpeaker.sync compares them by identity first).
            if (prev && prev.node === got.node && prevConfig === step.config)
              for (const [name, pp] of got.peers)
                for (const [prefix, r] of pp.routes) {
                  const before = prev.peers.get(name)?.routes.get(prefix);
                  if (before && before !== r) assert.notDeepEqual(before, r);
                }
            prev = got;
            prevConfig = step.config;
          }
        },
      ),
      { seed: 17, numRuns: 150 },
    );
  });

  it('reuses the previous routes map of a peer whose routes did not change', () => {
    const planner = new BgpPlanner();
    const cfg = config({});
    const w1 = world({ config: cfg, services: [svc('s1', ['198.51.100.10']), svc('s2', ['198.51.100.11'])] });
    const a = planner.plan(w1, 'node-a');
    const b = planner.plan({ ...w1, services: w1.services.map((s) => ({ ...s })) }, 'node-a');
    for (const [name, pp] of a.peers) assert.equal(b.peers.get(name)!.routes, pp.routes, name);
    const c = planner.plan({ ...w1, services: [w1.services[0]!] }, 'node-a');
    assert.deepEqual([...c.peers.get('tor-ebgp')!.routes.keys()], ['198.51.100.10/32']);
    assert.equal(
      c.peers.get('tor-ebgp')!.routes.get('198.51.100.10/32'),
      a.peers.get('tor-ebgp')!.routes.get('198.51.100.10/32'),
    );
    assert.deepEqual(plain(c), plain(planBgp({ ...w1, services: [w1.services[0]!] }, 'node-a')));
  });

  it('sameJson: equal when the JSON is (key order and undefined members aside), unequal otherwise', () => {
    assert.ok(sameJson({ a: 1, b: [1, { c: 'x' }], d: undefined }, { b: [1, { c: 'x' }], a: 1 }));
    assert.ok(sameJson([], []));
    assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
    assert.ok(!sameJson({ a: 1, b: 2 }, { a: 1, c: 2 }));
    assert.ok(!sameJson([1, 2], [2, 1]));
    assert.ok(!sameJson({ a: [] }, { a: {} }));
    assert.ok(!sameJson({ a: null }, { a: 0 }));
    assert.ok(!sameJson({ labels: { x: 'y' } }, { labels: { x: 'z' } }));
  });

  it('a Service view rebuilt with other endpoints is replanned; one rebuilt the same is not', () => {
    const planner = new BgpPlanner();
    const cfg = config({});
    const s1 = svc('s1', ['198.51.100.10']);
    const w = world({ config: cfg, services: [s1] });
    const a = planner.plan(w, 'node-a');
    const same = planner.plan(
      {
        ...w,
        services: [{ ...s1, labels: { ...s1.labels } }],
        endpoints: new Map([...w.endpoints].map(([k, v]) => [k, v.map((e) => ({ ...e }))])),
      },
      'node-a',
    );
    assert.equal(same.decisions[0], a.decisions[0]);
    const none = planner.plan({ ...w, endpoints: new Map() }, 'node-a');
    assert.equal(none.decisions[0]!.reason, 'noEndpoints');
    assert.deepEqual(plain(none), plain(planBgp({ ...w, endpoints: new Map() }, 'node-a')));
  });
});
