// Valid configurations: the seeds' manifests, what berth accepts beyond MetalLB's native mode, and the Config shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { buildConfig, validateObjects } from './build.ts';
import { unadvertisedPools } from './advertised.ts';
import { describePoolAddresses, poolSpecsFrom } from './describe.ts';
import { legacyConfigProblems, readLegacyConfigMap } from './legacy.ts';
import {
  bfd,
  bgpAd,
  community,
  l2,
  namespace,
  node,
  NS,
  peerV1beta1,
  pool,
  routerBgp,
} from './test-objects.ts';

const ok = (objs: KubeObject[], extra: { deferTransient?: boolean } = {}) => {
  const r = validateObjects(objs, { namespace: NS, ...extra });
  assert.deepEqual(r.problems, [], JSON.stringify(r.problems, null, 1));
  assert.ok(r.config, 'config loads');
  return { config: r.config, warnings: r.warnings };
};

test("seeds: dev pool 'default' 192.168.1.220-192.168.1.250 with L2Advertisement l2-advert", () => {
  const { config, warnings } = ok([
    pool('default', ['192.168.1.220-192.168.1.250']),
    l2('l2-advert', { ipAddressPools: ['default'] }),
  ]);
  assert.deepEqual(config.pools, [
    { name: 'default', addresses: ['192.168.1.220-192.168.1.250'], autoAssign: true, avoidBuggyIPs: false },
  ]);
  assert.deepEqual(config.l2Advertisements, [
    {
      name: 'l2-advert',
      pools: ['default'],
      nodeSelectors: [],
      interfaces: [],
      serviceSelectors: [],
      preferredNodeSelectors: [],
    },
  ]);
  assert.deepEqual(warnings, []);
  assert.equal(describePoolAddresses(config.pools[0]!), 'default: 192.168.1.220-192.168.1.250');
});

test("seeds: prod pool 'default' 192.168.1.240-192.168.1.250", () => {
  const { config } = ok([
    pool('default', ['192.168.1.240-192.168.1.250']),
    l2('l2-advert', { ipAddressPools: ['default'] }),
  ]);
  assert.deepEqual(poolSpecsFrom(config).map(describePoolAddresses), [
    'default: 192.168.1.240-192.168.1.250',
  ]);
});

test('seeds: BGP mode, router-bgp and bgp-advert', () => {
  const { config } = ok([
    pool('default', ['192.168.1.220-192.168.1.250']),
    routerBgp(),
    bgpAd('bgp-advert', { ipAddressPools: ['default'] }),
  ]);
  assert.deepEqual(config.peers, [
    {
      name: 'router-bgp',
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '192.168.1.1',
      peerPort: 179,
      nodeSelectors: [],
      enableGracefulRestart: false,
      ebgpMultiHop: false,
      dualStackAddressFamily: false,
    },
  ]);
  assert.deepEqual(config.bgpAdvertisements, [
    {
      name: 'bgp-advert',
      pools: ['default'],
      aggregationLength: 32,
      aggregationLengthV6: 128,
      localPref: 0,
      communities: [],
      peers: [],
      nodeSelectors: [],
      serviceSelectors: [],
    },
  ]);
});

test('seeds: multiple pools production (autoAssign false) and development, sorted by name', () => {
  const { config } = ok([
    pool('production', ['192.168.1.240-192.168.1.245'], { autoAssign: false }),
    pool('development', ['192.168.1.220-192.168.1.230'], { autoAssign: true }),
  ]);
  assert.deepEqual(
    config.pools.map((p) => [p.name, p.autoAssign]),
    [
      ['development', true],
      ['production', false],
    ],
  );
});

test('a CIDR with host bits is accepted (MetalLB normalises it)', () => {
  ok([pool('p', ['10.20.30.40/24', 'fc00::1/120', ' 10.21.0.1 - 10.21.0.9 '])]);
});

test("berth accepts what MetalLB's native mode refuses: IPv6, BFD, graceful restart, timers, large communities", () => {
  const { config, warnings } = ok([
    pool('dual', ['192.168.10.0/24', 'fc00:10::/120']),
    bfd('fast', { receiveInterval: 100, echoMode: true }),
    community('aliases', [{ name: 'no-advertise', value: '65535:65282' }]),
    routerBgp({
      holdTime: '9s',
      keepaliveTime: '3s',
      connectTime: '10s',
      enableGracefulRestart: true,
      dualStackAddressFamily: true,
      bfdProfile: 'fast',
      routerID: '10.0.0.1',
      sourceAddress: '192.168.1.10',
    }),
    bgpAd('v4', {
      ipAddressPools: ['dual'],
      communities: ['no-advertise', 'large:64500:1:2', '65000:0100'],
      peers: ['other'],
    }),
    bgpAd('v6', {
      ipAddressPools: ['dual'],
      localPref: 50,
      aggregationLength: 24,
      aggregationLengthV6: 120,
      peers: ['other'],
    }),
  ]);
  assert.deepEqual(warnings, []);
  const p = config.peers[0]!;
  assert.equal(p.holdTimeMs, 9000);
  assert.equal(p.keepaliveTimeMs, 3000);
  assert.equal(p.connectTimeMs, 10000);
  assert.equal(p.enableGracefulRestart, true);
  assert.equal(p.bfdProfile, 'fast');
  assert.deepEqual(config.bgpAdvertisements[0]!.communities, ['65535:65282', 'large:64500:1:2', '65000:100']);
  assert.deepEqual(config.communities, { 'no-advertise': '65535:65282' });
  assert.deepEqual(config.bfdProfiles, [
    {
      name: 'fast',
      receiveInterval: 100,
      transmitInterval: 300,
      detectMultiplier: 3,
      echoInterval: 50,
      echoMode: true,
      passiveMode: false,
      minimumTtl: 254,
    },
  ]);
});

test('BFD echo mode is fine when the peer only gets IPv4 prefixes', () => {
  ok([
    pool('v4', ['10.0.0.0/24']),
    pool('v6', ['fc00::/120']),
    bgpAd('a', { ipAddressPools: ['v4'] }),
    bgpAd('b', { ipAddressPools: ['v6'], peers: ['other'] }),
    bfd('echo', { echoMode: true }),
    routerBgp({ bfdProfile: 'echo' }),
  ]);
});

test('timers: only holdTime gives keepalive holdTime/3; holdTime rounds down to whole seconds; 0 is allowed', () => {
  const { config } = ok([
    routerBgp({ holdTime: '10.5s' }, 'a'),
    routerBgp({ keepaliveTime: '20s', peerAddress: '192.168.1.2' }, 'b'),
    routerBgp({ holdTime: '0s', peerAddress: '192.168.1.3' }, 'c'),
  ]);
  assert.deepEqual(
    config.peers.map((p) => [p.name, p.holdTimeMs, p.keepaliveTimeMs]),
    [
      ['a', 10000, 3500],
      ['b', 60000, 20000],
      ['c', 0, 0],
    ],
  );
});

test('disableMP is accepted with MetalLB’s deprecation warning', () => {
  const { warnings } = ok([routerBgp({ disableMP: true })]);
  assert.deepEqual(warnings, [
    "BGPPeer router-bgp: disable mp is deprecated and has no effect since it's the default behavior now",
  ]);
});

test('an advertisement naming a missing pool loads (MetalLB ignores the name) with a warning', () => {
  const { config, warnings } = ok([
    pool('default', ['10.0.0.0/24']),
    l2('l2-advert', { ipAddressPools: ['defualt'] }),
  ]);
  assert.deepEqual(config.l2Advertisements[0]!.pools, []);
  assert.deepEqual(warnings, [
    'L2Advertisement l2-advert: ipAddressPools names pool "defualt", which does not exist (ignored)',
  ]);
});

test('deferTransient: missing BFD profile and community alias are left for load time (MetalLB webhooks)', () => {
  const objs = [
    pool('p', ['10.0.0.0/24']),
    routerBgp({ bfdProfile: 'later' }),
    bgpAd('a', { communities: ['later-alias', '65000:1'] }),
  ];
  const { config } = ok(objs, { deferTransient: true });
  assert.deepEqual(config.bgpAdvertisements[0]!.communities, ['65000:1']);
  assert.deepEqual(
    validateObjects(objs, { namespace: NS }).problems.map((p) => p.code),
    ['LB_BFD_MISSING', 'LB_BAD_COMMUNITY'],
  );
});

test('pool selection: by name, by label selector, and every pool when both are empty', () => {
  const { config } = ok([
    pool('a', ['10.0.0.0/24'], {}, { labels: { env: 'dev' } }),
    pool('b', ['10.0.1.0/24'], {}, { labels: { env: 'prod' } }),
    pool('c', ['10.0.2.0/24']),
    l2('all'),
    l2('byname', { ipAddressPools: ['c'] }),
    l2('bylabel', { ipAddressPoolSelectors: [{ matchLabels: { env: 'prod' } }], ipAddressPools: ['a'] }),
    l2('nomatch', { ipAddressPoolSelectors: [{ matchLabels: { env: 'qa' } }] }),
  ]);
  assert.deepEqual(
    config.l2Advertisements.map((a) => [a.name, a.pools]),
    [
      ['all', ['a', 'b', 'c']],
      ['bylabel', ['a', 'b']],
      ['byname', ['c']],
      ['nomatch', []],
    ],
  );
});

test('serviceAllocation: namespaceSelectors resolve to sorted names; priority-only matches every Service', () => {
  const { config } = ok([
    namespace('shop', { team: 'web' }),
    namespace('blog', { team: 'web' }),
    namespace('ops'),
    pool('web', ['10.0.0.0/24'], {
      serviceAllocation: {
        priority: 1,
        namespaces: ['zeta'],
        namespaceSelectors: [{ matchLabels: { team: 'web' } }],
      },
    }),
    pool('prio', ['10.0.1.0/24'], { serviceAllocation: { priority: 5 } }),
    pool('nobody', ['10.0.2.0/24'], {
      serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: 'none' } }] },
    }),
    pool('byname', ['10.0.3.0/24'], {
      serviceAllocation: { namespaceSelectors: [{ matchLabels: { 'kubernetes.io/metadata.name': 'ops' } }] },
    }),
  ]);
  const sa = Object.fromEntries(config.pools.map((p) => [p.name, p.serviceAllocation]));
  assert.deepEqual(sa.web, {
    priority: 1,
    namespaces: ['blog', 'shop', 'zeta'],
    namespaceConstrained: true,
    serviceSelectors: [],
  });
  assert.deepEqual(sa.prio, {
    priority: 5,
    namespaces: [],
    namespaceConstrained: false,
    serviceSelectors: [{}],
  });
  assert.deepEqual(sa.nobody, {
    priority: 0,
    namespaces: [],
    namespaceConstrained: true,
    serviceSelectors: [],
  });
  assert.deepEqual(sa.byname?.namespaces, ['ops']);
});

test('nodes: advertisements and peers carry the nodes they select when nodes are known', () => {
  const { config } = ok([
    node('n1', { zone: 'a' }),
    node('n2', { zone: 'b' }),
    pool('p', ['10.0.0.0/24']),
    l2('l2', { nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
    routerBgp(),
  ]);
  assert.deepEqual(config.l2Advertisements[0]!.nodes, ['n1']);
  assert.deepEqual(config.peers[0]!.nodes, ['n1', 'n2']);
});

test('LOCAL_PREF may differ when aggregation, peers or nodes keep the updates apart', () => {
  ok([
    pool('p', ['10.0.0.0/24']),
    bgpAd('a', { localPref: 100 }),
    bgpAd('b', { localPref: 200, aggregationLength: 24 }),
  ]);
  ok([
    pool('p', ['10.0.0.0/24']),
    routerBgp({}, 'r1'),
    routerBgp({ peerAddress: '192.168.1.2' }, 'r2'),
    bgpAd('a', { localPref: 100, peers: ['r1'] }),
    bgpAd('b', { localPref: 200, peers: ['r2'] }),
  ]);
  ok([
    node('n1', { zone: 'a' }),
    node('n2', { zone: 'b' }),
    pool('p', ['10.0.0.0/24']),
    bgpAd('a', { localPref: 100, nodeSelectors: [{ matchLabels: { zone: 'a' } }] }),
    bgpAd('b', { localPref: 200, nodeSelectors: [{ matchLabels: { zone: 'b' } }] }),
  ]);
  ok([
    pool('p', ['10.0.0.0/24']),
    bgpAd('a', { localPref: 100, serviceSelectors: [{ matchLabels: { app: 'x' } }] }),
    bgpAd('b', { localPref: 200 }),
  ]);
  // an IPv4-only pool: different IPv6 aggregation does not separate the updates
  const r = validateObjects(
    [
      pool('p', ['10.0.0.0/24']),
      bgpAd('a', { localPref: 100 }),
      bgpAd('b', { localPref: 200, aggregationLengthV6: 64 }),
    ],
    { namespace: NS },
  );
  assert.deepEqual(
    r.problems.map((p) => p.code),
    ['LB_LOCALPREF_CONFLICT'],
  );
});

test('v1beta1 BGPPeer objects are read and converted', () => {
  const { config } = ok([
    peerV1beta1('old', {
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '10.0.0.1',
      holdTime: '30s',
      nodeSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
    }),
  ]);
  const p = config.peers[0]!;
  assert.equal(p.peerPort, 179);
  assert.equal(p.holdTimeMs, 30000);
  assert.deepEqual(p.nodeSelectors, [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }]);
});

test('objects without a namespace are taken to be in the load balancer namespace', () => {
  const o = pool('default', ['10.0.0.0/24']);
  delete o.metadata.namespace;
  ok([o]);
});

test('validateObjects ignores other kinds and metallb.io status kinds', () => {
  ok([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'default' },
      spec: { type: 'LoadBalancer' },
    },
    { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', metadata: { name: 'l2-x', namespace: NS } },
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'ConfigurationState',
      metadata: { name: 'controller', namespace: NS },
    },
    { apiVersion: 'berth.io/v1alpha1', kind: 'IPAddressClaim', metadata: { name: 'v4-10-0-0-1' } },
    pool('default', ['10.0.0.0/24']),
  ]);
});

test('buildConfig takes the lists directly and returns an empty config for no objects', () => {
  const r = buildConfig(
    {
      pools: [],
      l2Advertisements: [],
      bgpAdvertisements: [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
      namespaces: [],
    },
    { namespace: NS },
  );
  assert.deepEqual(r, {
    config: {
      pools: [],
      l2Advertisements: [],
      bgpAdvertisements: [],
      peers: [],
      communities: {},
      bfdProfiles: [],
    },
    problems: [],
    warnings: [],
  });
});

test('inputs are not mutated', () => {
  const objs = [
    pool('p', ['10.0.0.0/24'], { serviceAllocation: { priority: 1 } }),
    bgpAd('a'),
    routerBgp({ holdTime: '9s' }),
  ];
  const before = structuredClone(objs);
  validateObjects(objs, { namespace: NS });
  assert.deepEqual(objs, before);
});

test('null fields count as absent, as the API server prunes them (YAML `spec:` with nothing under it)', () => {
  const { config } = ok([
    pool('default', ['10.0.0.0/24'], { autoAssign: null }),
    { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: null },
  ]);
  assert.equal(config.pools[0]!.autoAssign, true);
  assert.deepEqual(config.l2Advertisements[0]!.pools, ['default']);
});

test('unadvertisedPools: pools selected by no L2 or BGP advertisement, by name, by label, or all when both lists are empty', () => {
  const pools = [pool('a', ['10.0.0.0/24'], {}, { labels: { tier: 'web' } }), pool('b', ['10.0.1.0/24']), pool('c', ['10.0.2.0/24'])];
  const names = (objs: KubeObject[]) => {
    const r = validateObjects(objs, { namespace: NS });
    assert.ok(r.config, JSON.stringify(r.problems));
    return unadvertisedPools(r.config).map((p) => [p.code, p.object, p.path]);
  };
  assert.deepEqual(names(pools), [
    ['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/a', 'metadata.name'],
    ['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/b', 'metadata.name'],
    ['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/c', 'metadata.name'],
  ]);
  const selectors = [l2('by-label', { ipAddressPoolSelectors: [{ matchLabels: { tier: 'web' } }] }), bgpAd('by-name', { ipAddressPools: ['b'] })];
  assert.deepEqual(names([...pools, ...selectors]), [['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/c', 'metadata.name']]);
  assert.deepEqual(names([...pools, l2('all')]), []);
  assert.deepEqual(names([bgpAd('all')]), []);
  const msg = unadvertisedPools(validateObjects([...pools, bgpAd('by-name', { ipAddressPools: ['b'] })], { namespace: NS }).config!)[0]!.message;
  assert.match(msg, /^pool "a" is not announced: no L2Advertisement or BGPAdvertisement selects it, so its IPs would be assigned/);
});

test('readLegacyConfigMap: the pre-v0.13 ConfigMap (data.config with address-pools / peers), nothing else', () => {
  const cm = (data: unknown, name = 'config'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data });
  const legacy = cm({
    config: 'peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n  my-asn: 64500\naddress-pools:\n- name: default\n  protocol: bgp\n  addresses: [192.168.10.0/24]\n- protocol: layer2\n',
  });
  assert.deepEqual(readLegacyConfigMap(legacy), { ref: 'metallb-system/config', pools: ['default', '?'], peers: 1 });
  const [p] = legacyConfigProblems([legacy, pool('x', ['10.0.0.0/24'])]);
  assert.equal(p?.code, 'LB_LEGACY_CONFIGMAP');
  assert.equal(p?.object, 'ConfigMap/config');
  assert.equal(p?.path, 'data.config');
  assert.equal(
    p?.message,
    "ConfigMap metallb-system/config holds MetalLB's legacy configuration (address-pools: default, ?; 1 BGP peer(s)) in " +
      'data.config; berth does not read it (nor does MetalLB since v0.13): convert it to IPAddressPool and ' +
      'L2Advertisement/BGPAdvertisement objects with `berth migrate <file>` (docs/migrating.md)',
  );
  // Any name (Helm releases name it otherwise); not other ConfigMaps, not bad YAML, not other kinds.
  assert.ok(readLegacyConfigMap(cm({ config: 'address-pools: []' }, 'metallb-config')));
  assert.equal(readLegacyConfigMap(cm({ config: 'log-level: debug' })), undefined);
  assert.equal(readLegacyConfigMap(cm({ config: 'address-pools: [' })), undefined);
  assert.equal(readLegacyConfigMap(cm({ other: 'address-pools: []' })), undefined);
  assert.equal(readLegacyConfigMap(cm(undefined)), undefined);
  assert.equal(readLegacyConfigMap({ ...cm({ config: 'address-pools: []' }), kind: 'Secret' }), undefined);
});
