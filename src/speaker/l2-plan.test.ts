// l2-plan.ts: MetalLB's steps 1-7 as a table on a config built from real metallb.io objects (src/config buildConfig),
// balanced mode through the berth.io/l2-balance annotation, and determinism under shuffled inputs (fast-check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { KubeObject } from '../api/object.ts';
import { buildConfig } from '../config/build.ts';
import { NS, l2, pool } from '../config/test-objects.ts';
import type { Config } from '../config/types.ts';
import { metallbOrder } from './election.ts';
import {
  EXCLUDE_FROM_LB_LABEL,
  announcementsFor,
  planLayer2,
  withdrawReasonFor,
  type EndpointView,
  type L2Decision,
  type L2World,
  type NodeView,
  type ServiceView,
} from './l2-plan.ts';

function config(pools: KubeObject[], ads: KubeObject[]): Config {
  const r = buildConfig(
    {
      pools,
      l2Advertisements: ads,
      bgpAdvertisements: [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
      namespaces: [{ name: 'default', labels: {} }],
    },
    { namespace: NS },
  );
  assert.ok(r.config, JSON.stringify(r.problems));
  return r.config;
}

const POOL = pool('web', ['198.51.100.0/24', '2001:db8:1::/120']);
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
const NODES = [
  node('node-a', { zone: 'x' }),
  node('node-b', { zone: 'y' }),
  node('node-c', { zone: 'y', edge: 'true' }),
];
const NAMES = NODES.map((n) => n.name);

function world(over: Partial<L2World> & { eps?: Record<string, EndpointView[]> } = {}): L2World {
  const services = over.services ?? [svc('s1', ['198.51.100.10'])];
  const eps = over.eps ?? Object.fromEntries(services.map((s) => [s.name, [ep('node-a')]]));
  return {
    config: over.config ?? config([POOL], [l2('all')]),
    nodes: over.nodes ?? NODES,
    services,
    endpoints: over.endpoints ?? new Map(Object.entries(eps).map(([k, v]) => [`default/${k}`, v])),
    liveSpeakers: over.liveSpeakers ?? new Set(NAMES),
  };
}

const one = (w: L2World): L2Decision => {
  const ds = planLayer2(w);
  assert.equal(ds.length, 1);
  return ds[0]!;
};
const first = (ip: string, names = NAMES): string =>
  metallbOrder(
    ip,
    names.map((name) => ({ name, score: 0 })),
  )[0]!;

describe('planLayer2: MetalLB steps 1-7', () => {
  it('elects the first of MetalLB order among every live node, on every interface', () => {
    const d = one(world());
    assert.equal(d.owner, first('198.51.100.10'));
    assert.deepEqual(d.interfaces, []);
    assert.equal(d.balanced, false);
    assert.equal(d.pool, 'web');
    assert.equal(d.reason, undefined);
    assert.deepEqual(
      d.candidates,
      metallbOrder(
        '198.51.100.10',
        NAMES.map((name) => ({ name, score: 0 })),
      ),
    );
  });

  it("MetalLB's own vector: {iris1, iris2} and 10.20.30.1 → iris2 (data only, no traffic)", () => {
    const d = one(
      world({
        config: config([pool('p', ['10.20.30.0/24'])], [l2('all')]),
        nodes: [node('iris1'), node('iris2')],
        liveSpeakers: new Set(['iris1', 'iris2']),
        services: [svc('s1', ['10.20.30.1'])],
      }),
    );
    assert.equal(d.owner, 'iris2');
  });

  const withdrawn: Array<{ desc: string; w: () => L2World; reason: string }> = [
    { desc: 'no endpoint at all', w: () => world({ eps: { s1: [] } }), reason: 'noEndpoints' },
    {
      desc: 'only unready, non-serving endpoints',
      w: () => world({ eps: { s1: [ep('node-a', false, false)] } }),
      reason: 'noEndpoints',
    },
    {
      desc: 'IP in no pool',
      w: () => world({ services: [svc('s1', ['203.0.113.5'])] }),
      reason: 'ipNotAllowed',
    },
    { desc: 'unparsable IP', w: () => world({ services: [svc('s1', ['not-an-ip'])] }), reason: 'invalidIP' },
    {
      desc: 'no L2Advertisement for the pool',
      w: () =>
        world({
          config: config([POOL, pool('other', ['203.0.113.0/24'])], [l2('o', { ipAddressPools: ['other'] })]),
        }),
      reason: 'noMatchingAdvertisement',
    },
    {
      desc: "the ad's serviceSelectors do not match",
      w: () =>
        world({
          config: config([POOL], [l2('sel', { serviceSelectors: [{ matchLabels: { app: 'db' } }] })]),
        }),
      reason: 'noMatchingAdvertisement',
    },
    {
      desc: 'shared IP and an ad with serviceSelectors',
      w: () =>
        world({
          config: config([POOL], [l2('sel', { serviceSelectors: [{ matchLabels: { app: 'web' } }] })]),
          services: [svc('s1', ['198.51.100.10'], { labels: { app: 'web' }, sharingKey: 'k' })],
        }),
      reason: 'sharedIPWithServiceSelector',
    },
    { desc: 'no live speaker', w: () => world({ liveSpeakers: new Set() }), reason: 'notOwner' },
    {
      desc: 'every node NetworkUnavailable',
      w: () => world({ nodes: NODES.map((n) => ({ ...n, networkUnavailable: true })) }),
      reason: 'nodeNetworkUnavailable',
    },
    {
      desc: 'every node labelled exclude-from-external-load-balancers (any value)',
      w: () =>
        world({ nodes: NODES.map((n) => ({ ...n, labels: { ...n.labels, [EXCLUDE_FROM_LB_LABEL]: '' } })) }),
      reason: 'nodeLabeledExcludeBalancers',
    },
    {
      desc: "the ad's nodeSelectors select no node",
      w: () =>
        world({ config: config([POOL], [l2('n', { nodeSelectors: [{ matchLabels: { zone: 'none' } }] })]) }),
      reason: 'noMatchingAdvertisement',
    },
    {
      desc: 'ETP=Local and the only endpoint is on a dead node',
      w: () =>
        world({
          services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
          liveSpeakers: new Set(['node-b', 'node-c']),
        }),
      reason: 'noLocalEndpoints',
    },
  ];
  for (const t of withdrawn) {
    it(`withdraws: ${t.desc} → ${t.reason}`, () => {
      const d = one(t.w());
      assert.equal(d.owner, undefined);
      assert.equal(d.reason, t.reason);
      assert.equal(withdrawReasonFor('node-a', d), t.reason);
    });
  }

  it('a terminating endpoint that is still serving counts (EndpointCanServe)', () => {
    assert.ok(one(world({ eps: { s1: [ep('node-b', false, true)] } })).owner);
  });

  it('the allow-shared-ip key with ads without serviceSelectors is announced', () => {
    assert.ok(one(world({ services: [svc('s1', ['198.51.100.10'], { sharingKey: 'k' })] })).owner);
  });

  it('fails over along MetalLB order when the owner dies, is NetworkUnavailable or excluded', () => {
    const order = one(world()).candidates;
    const [o1, o2, o3] = order as [string, string, string];
    assert.equal(one(world({ liveSpeakers: new Set([o2, o3]) })).owner, o2);
    const unavailable = NODES.map((n) => (n.name === o1 ? { ...n, networkUnavailable: true } : n));
    assert.equal(one(world({ nodes: unavailable })).owner, o2);
    const excluded = NODES.map((n) =>
      n.name === o1 ? { ...n, labels: { [EXCLUDE_FROM_LB_LABEL]: 'true' } } : n,
    );
    assert.equal(one(world({ nodes: excluded })).owner, o2);
    // A live speaker on a node the API does not know is never elected.
    assert.equal(one(world({ liveSpeakers: new Set(['ghost', o3]) })).owner, o3);
  });

  it('ETP=Local: only nodes with a serving local endpoint', () => {
    for (const holder of NAMES) {
      const d = one(
        world({
          services: [svc('s1', ['198.51.100.10'], { externalTrafficPolicy: 'Local' })],
          eps: {
            s1: [
              ep(holder),
              ep(
                NAMES.find((n) => n !== holder)!,
                false,
                false,
              ),
            ],
          },
        }),
      );
      assert.equal(d.owner, holder);
      assert.deepEqual(d.candidates, [holder]);
    }
  });

  it('nodeSelectors restrict the candidates; interfaces are the union over the ads selecting the owner', () => {
    const cfg = config(
      [POOL],
      [
        l2('y1', { nodeSelectors: [{ matchLabels: { zone: 'y' } }], interfaces: ['eth1'] }),
        l2('y2', { nodeSelectors: [{ matchLabels: { zone: 'y' } }], interfaces: ['bond0', 'eth1'] }),
        l2('x', { nodeSelectors: [{ matchLabels: { zone: 'x' } }], interfaces: ['eth9'] }),
      ],
    );
    const d = one(world({ config: cfg, liveSpeakers: new Set(['node-b', 'node-c']) }));
    assert.ok(d.owner === 'node-b' || d.owner === 'node-c');
    assert.deepEqual(d.interfaces, ['bond0', 'eth1']);
    const onX = one(world({ config: cfg, liveSpeakers: new Set(['node-a']) }));
    assert.equal(onX.owner, 'node-a');
    assert.deepEqual(onX.interfaces, ['eth9']);
    // An ad without interfaces selecting the owner means every interface.
    const all = config([POOL], [l2('i', { interfaces: ['eth1'] }), l2('every')]);
    assert.deepEqual(one(world({ config: all })).interfaces, []);
  });

  it('preferredNodeSelectors: the highest summed weight wins; scores are ad-scoped', () => {
    const prefer = (w: number, labels: Record<string, string>) => ({
      weight: w,
      preference: { matchLabels: labels },
    });
    // node-c (edge) preferred whatever the hash says.
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4']) {
      const cfg = config([POOL], [l2('p', { preferredNodeSelectors: [prefer(50, { edge: 'true' })] })]);
      assert.equal(one(world({ config: cfg, services: [svc('s1', [ip])] })).owner, 'node-c');
    }
    // Cumulative: zone=y (60) + edge (50) = 110 beats zone=x (100).
    const cum = config(
      [POOL],
      [
        l2('p', {
          preferredNodeSelectors: [
            prefer(100, { zone: 'x' }),
            prefer(60, { zone: 'y' }),
            prefer(50, { edge: 'true' }),
          ],
        }),
      ],
    );
    assert.equal(one(world({ config: cum })).owner, 'node-c');
    // A preference in an ad that does not select the node does not lift it (design doc, "ad-scoped").
    const scoped = config(
      [POOL],
      [
        l2('ab', { nodeSelectors: [{ matchExpressions: [{ key: 'edge', operator: 'DoesNotExist' }] }] }),
        l2('c', {
          nodeSelectors: [{ matchLabels: { edge: 'true' } }],
          preferredNodeSelectors: [prefer(100, { zone: 'x' })],
        }),
      ],
    );
    // 198.51.100.11: the hash puts node-b first and node-a second; an unscoped weight would elect node-a.
    const d = one(world({ config: scoped, services: [svc('s1', ['198.51.100.11'])] }));
    assert.deepEqual(d.candidates, ['node-b', 'node-a', 'node-c']);
  });

  it('dual stack: both IPs go to the owner of the first IP', () => {
    for (let i = 1; i <= 6; i++) {
      const ips = [`198.51.100.${i}`, `2001:db8:1::${i}`];
      const ds = planLayer2(world({ services: [svc('s1', ips)] }));
      assert.equal(ds.length, 2);
      assert.equal(ds[0]!.owner, first(ips[0]!));
      assert.equal(ds[1]!.owner, first(ips[0]!));
      assert.deepEqual(
        ds.map((d) => d.ip),
        ips,
      );
    }
  });

  it('the pool annotation names the pool when it holds the IP, else the pool holding the IP is used', () => {
    const cfg = config(
      [POOL, pool('other', ['203.0.113.0/24'])],
      [l2('o', { ipAddressPools: ['other'], interfaces: ['eth7'] }), l2('w', { ipAddressPools: ['web'] })],
    );
    const d = one(world({ config: cfg, services: [svc('s1', ['203.0.113.9'], { pool: 'web' })] }));
    assert.equal(d.pool, 'other');
    assert.deepEqual(d.interfaces, ['eth7']);
  });
});

describe('planLayer2: balanced mode (berth.io/l2-balance)', () => {
  const balancedAd = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
    ...l2(name, spec),
    metadata: { name, namespace: NS, annotations: { 'berth.io/l2-balance': 'true' } },
  });
  const many = (n: number): ServiceView[] =>
    Array.from({ length: n }, (_, i) => svc(`s${String(i).padStart(3, '0')}`, [`198.51.100.${i + 1}`]));

  it('spreads the IPs of balanced ads within one per node', () => {
    const services = many(31);
    const ds = planLayer2(world({ config: config([POOL], [balancedAd('b')]), services }));
    assert.ok(ds.every((d) => d.balanced && d.owner));
    const per = NAMES.map((n) => ds.filter((d) => d.owner === n).length);
    assert.ok(Math.max(...per) - Math.min(...per) <= 1, JSON.stringify(per));
    assert.equal(
      per.reduce((a, b) => a + b, 0),
      31,
    );
    for (const n of NAMES)
      assert.equal(announcementsFor(n, ds).length, ds.filter((d) => d.owner === n).length);
  });

  it('needs every applicable ad to carry the annotation; without it MetalLB election applies', () => {
    const ds = planLayer2(
      world({ config: config([POOL], [balancedAd('b'), l2('plain')]), services: many(10) }),
    );
    assert.ok(ds.every((d) => !d.balanced && d.owner === first(d.ip)));
  });

  it('balances among the most preferred nodes and fails over to the others', () => {
    const cfg = config(
      [POOL],
      [
        balancedAd('b', {
          preferredNodeSelectors: [{ weight: 10, preference: { matchLabels: { zone: 'y' } } }],
        }),
      ],
    );
    const ds = planLayer2(world({ config: cfg, services: many(20) }));
    const per = ['node-b', 'node-c'].map((n) => ds.filter((d) => d.owner === n).length);
    assert.deepEqual(per, [10, 10]);
    const down = planLayer2(world({ config: cfg, services: many(20), liveSpeakers: new Set(['node-a']) }));
    assert.ok(down.every((d) => d.owner === 'node-a'));
  });

  it('dual-stack Services stay on one node', () => {
    const services = Array.from({ length: 9 }, (_, i) =>
      svc(`d${i}`, [`198.51.100.${i + 1}`, `2001:db8:1::${i + 1}`]),
    );
    const ds = planLayer2(world({ config: config([POOL], [balancedAd('b')]), services }));
    for (const s of services) {
      const owners = new Set(ds.filter((d) => d.service === s.key).map((d) => d.owner));
      assert.equal(owners.size, 1);
    }
    const per = NAMES.map((n) => ds.filter((d) => d.owner === n && d.ip.includes('.')).length);
    assert.deepEqual(per, [3, 3, 3]);
  });
});

describe('announcementsFor / withdrawReasonFor', () => {
  it("returns the node's IPs sorted, with the Service and interfaces; others get notOwner", () => {
    const services = [svc('b', ['198.51.100.20']), svc('a', ['198.51.100.7']), svc('c', ['203.0.113.1'])];
    const ds = planLayer2(world({ services }));
    const owned = ds.filter((d) => d.owner !== undefined);
    assert.equal(owned.length, 2);
    const all = NAMES.flatMap((n) => announcementsFor(n, ds));
    assert.deepEqual(all.map((a) => a.ip).sort(), ['198.51.100.20', '198.51.100.7']);
    for (const d of owned) {
      assert.deepEqual(
        announcementsFor(d.owner!, ds).find((a) => a.ip === d.ip),
        { ip: d.ip, service: d.service, interfaces: [] },
      );
      const other = NAMES.find((n) => n !== d.owner)!;
      assert.equal(withdrawReasonFor(other, d), 'notOwner');
      assert.equal(withdrawReasonFor(d.owner!, d), undefined);
    }
  });
});

describe('planLayer2: determinism', () => {
  it('property: the same world in any order gives the same decisions', () => {
    const cfg = config(
      [POOL, pool('other', ['203.0.113.0/24'])],
      [
        l2('web', {
          ipAddressPools: ['web'],
          preferredNodeSelectors: [{ weight: 5, preference: { matchLabels: { zone: 'y' } } }],
        }),
        {
          ...l2('other', { ipAddressPools: ['other'] }),
          metadata: { name: 'other', namespace: NS, annotations: { 'berth.io/l2-balance': 'true' } },
        },
      ],
    );
    const nodes = [...NODES, node('node-d', { zone: 'x' }), node('node-e', {}, true)];
    const servicesArb = fc.uniqueArray(
      fc.record({
        id: fc.integer({ min: 0, max: 40 }),
        v6: fc.boolean(),
        pool: fc.constantFrom('web', 'other'),
        local: fc.boolean(),
        epNode: fc.constantFrom('node-a', 'node-b', 'node-c', 'node-d', 'node-e'),
      }),
      { selector: (s) => s.id, maxLength: 25 },
    );
    fc.assert(
      fc.property(servicesArb, fc.subarray(nodes.map((n) => n.name)), fc.nat(), (specs, live, seed) => {
        const services = specs.map((s) => {
          const v4 = s.pool === 'web' ? `198.51.100.${s.id}` : `203.0.113.${s.id}`;
          const ips = s.v6 && s.pool === 'web' ? [v4, `2001:db8:1::${s.id}`] : [v4];
          return svc(`s${s.id}`, ips, { externalTrafficPolicy: s.local ? 'Local' : 'Cluster' });
        });
        const eps = Object.fromEntries(specs.map((s) => [`s${s.id}`, [ep(s.epNode)]]));
        const shuffle = <T>(xs: readonly T[]): T[] =>
          xs
            .map((x, i) => ({ x, k: (i * 7919 + seed) % 1013 }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
        const a = planLayer2(world({ config: cfg, nodes, services, eps, liveSpeakers: new Set(live) }));
        const b = planLayer2(
          world({
            config: cfg,
            nodes: shuffle(nodes),
            services: shuffle(services),
            eps,
            liveSpeakers: new Set(shuffle(live)),
          }),
        );
        assert.deepEqual(a, b);
        for (const d of a) if (d.owner) assert.ok(live.includes(d.owner) && d.owner !== 'node-e');
      }),
      { seed: 12, numRuns: 80 },
    );
  });
});
