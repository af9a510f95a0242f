import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { k8sName, migrateLegacyConfig, migratedYaml } from './migrate.ts';

const ns = { namespace: 'metallb-system' };
const names = (r: ReturnType<typeof migrateLegacyConfig>) => r.objects.map((o) => `${o.kind}/${o.metadata?.name}`);
const specOf = (r: ReturnType<typeof migrateLegacyConfig>, id: string) =>
  r.objects.find((o) => `${o.kind}/${o.metadata?.name}` === id)?.spec;

test('layer2 pools → IPAddressPools then one L2Advertisement each, named as configmaptocrs names them', () => {
  const r = migrateLegacyConfig(
    parse(`address-pools:
- {name: production, protocol: layer2, addresses: [192.168.1.200-192.168.1.205], auto-assign: false}
- {name: development, protocol: layer2, addresses: [192.168.1.206-192.168.1.210], avoid-buggy-ips: false}
`),
    ns,
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(names(r), [
    'IPAddressPool/production',
    'IPAddressPool/development',
    'L2Advertisement/l2advertisement1',
    'L2Advertisement/l2advertisement2',
  ]);
  // auto-assign is written when set (false included); avoid-buggy-ips only when true (Go's omitempty on a bool).
  assert.deepEqual(specOf(r, 'IPAddressPool/production'), { addresses: ['192.168.1.200-192.168.1.205'], autoAssign: false });
  assert.deepEqual(specOf(r, 'IPAddressPool/development'), { addresses: ['192.168.1.206-192.168.1.210'] });
  assert.deepEqual(specOf(r, 'L2Advertisement/l2advertisement2'), { ipAddressPools: ['development'] });
  assert.ok(r.objects.every((o) => o.metadata?.namespace === 'metallb-system'));
});

test('bgp pools: one BGPAdvertisement per bgp-advertisements entry, numbered across pools; an empty one when none', () => {
  const r = migrateLegacyConfig(
    parse(`address-pools:
- name: a
  protocol: bgp
  addresses: [10.0.0.0/24]
  bgp-advertisements:
  - {aggregation-length: 24, localpref: 100, communities: ["64512:1"]}
  - {}
- {name: b, protocol: bgp, addresses: [10.0.1.0/24]}
- {name: c, protocol: layer2, addresses: [10.0.2.0/24]}
`),
    { namespace: 'lb' },
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(names(r), [
    'IPAddressPool/a',
    'IPAddressPool/b',
    'IPAddressPool/c',
    'BGPAdvertisement/bgpadvertisement1',
    'BGPAdvertisement/bgpadvertisement2',
    'BGPAdvertisement/bgpadvertisement3',
    'L2Advertisement/l2advertisement1',
  ]);
  assert.deepEqual(specOf(r, 'BGPAdvertisement/bgpadvertisement1'), {
    aggregationLength: 24,
    communities: ['64512:1'],
    ipAddressPools: ['a'],
    localPref: 100,
  });
  assert.deepEqual(specOf(r, 'BGPAdvertisement/bgpadvertisement2'), { ipAddressPools: ['a'] });
  assert.deepEqual(specOf(r, 'BGPAdvertisement/bgpadvertisement3'), { ipAddressPools: ['b'] });
  assert.ok(r.objects.every((o) => o.metadata?.namespace === 'lb'));
});

test('peers → BGPPeer peerN (v1beta2): hold time 90s by default, Go durations rounded to seconds, keepalive only when set', () => {
  const r = migrateLegacyConfig(
    parse(`peers:
- {peer-address: 10.0.0.1, peer-asn: 64501, my-asn: 64500}
- {peer-address: 10.0.0.2, peer-asn: 64501, my-asn: 64500, hold-time: 3m0.9s, keepalive-time: 1m1.5s, ebgp-multihop: true, bfd-profile: Fast_BFD}
bfd-profiles:
- {name: Fast_BFD, receive-interval: 100}
address-pools:
- {name: p, protocol: bgp, addresses: [10.1.0.0/24]}
`),
    ns,
  );
  assert.deepEqual(r.problems, []);
  assert.equal(r.objects[0]?.apiVersion, 'metallb.io/v1beta2');
  assert.deepEqual(specOf(r, 'BGPPeer/peer1'), { holdTime: '1m30s', myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.1' });
  assert.deepEqual(specOf(r, 'BGPPeer/peer2'), {
    bfdProfile: 'fast-bfd',
    ebgpMultiHop: true,
    holdTime: '3m0s',
    keepaliveTime: '1m1s',
    myASN: 64500,
    peerASN: 64501,
    peerAddress: '10.0.0.2',
  });
  // The BFD profile is renamed like its reference; echo/passive mode are always written.
  assert.deepEqual(specOf(r, 'BFDProfile/fast-bfd'), { echoMode: false, passiveMode: false, receiveInterval: 100 });
  assert.deepEqual(r.renames, [{ kind: 'BFDProfile', from: 'Fast_BFD', to: 'fast-bfd' }]);
});

test('bgp-communities → one Community "communities", aliases sorted by name', () => {
  const r = migrateLegacyConfig(
    parse(`bgp-communities: {zeta: "65000:2", alpha: "65000:1"}
address-pools:
- name: p
  protocol: bgp
  addresses: [10.1.0.0/24]
  bgp-advertisements: [{communities: [alpha, zeta]}]
`),
    ns,
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(specOf(r, 'Community/communities'), {
    communities: [
      { name: 'alpha', value: '65000:1' },
      { name: 'zeta', value: '65000:2' },
    ],
  });
});

test("k8sName: configmaptocrs' conversion (63 chars, lower case, _ → -, from the first letter); undefined when it still is no name", () => {
  assert.equal(k8sName('default'), 'default');
  assert.equal(k8sName('01-numbered-addresspool'), 'numbered-addresspool');
  assert.equal(k8sName('Capitalized-AddressPool'), 'capitalized-addresspool');
  assert.equal(k8sName('underscored_bfd_profile'), 'underscored-bfd-profile');
  assert.equal(
    k8sName('tooLongBFDProfileName01-tooLongBFDProfileName02-tooLongBFDProfileName03-tooLongBFDProfileName04'),
    'toolongbfdprofilename01-toolongbfdprofilename02-toolongbfdprofi',
  );
  assert.equal(k8sName('123'), undefined);
  assert.equal(k8sName('my.pool'), undefined);
  assert.equal(k8sName('pool-'), undefined);
});

test("YAML 1.1 boolean words (MetalLB's go-yaml v2 read `auto-assign: no` as false) are booleans", () => {
  const r = migrateLegacyConfig(
    parse('address-pools: [{name: a, protocol: bgp, addresses: [10.0.0.0/24], auto-assign: no, avoid-buggy-ips: yes}]'),
    ns,
  );
  assert.deepEqual(r.problems, []);
  assert.deepEqual(specOf(r, 'IPAddressPool/a'), { addresses: ['10.0.0.0/24'], autoAssign: false, avoidBuggyIPs: true });
});

test('renamed pools are renamed in their advertisements too, and reported', () => {
  const r = migrateLegacyConfig(parse('address-pools: [{name: My_Pool, protocol: layer2, addresses: [10.0.0.0/24]}]'), ns);
  assert.deepEqual(names(r), ['IPAddressPool/my-pool', 'L2Advertisement/l2advertisement1']);
  assert.deepEqual(specOf(r, 'L2Advertisement/l2advertisement1'), { ipAddressPools: ['my-pool'] });
  assert.deepEqual(r.renames, [{ kind: 'IPAddressPool', from: 'My_Pool', to: 'my-pool' }]);
});

test('what MetalLB v0.12 refused is a problem naming the legacy field, and nothing is converted', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['address-pools: [{name: a, protocol: l2, addresses: [10.0.0.0/24]}]', 'address-pools[0].protocol', /unknown protocol "l2"/],
    ['address-pools: [{name: a, addresses: [10.0.0.0/24]}]', 'address-pools[0].protocol', /missing the protocol field/],
    ['address-pools: [{protocol: bgp, addresses: [10.0.0.0/24]}]', 'address-pools[0].name', /missing pool name/],
    ['address-pools: [{name: a, protocol: bgp}]', 'address-pools[0].addresses', /pool has no prefixes defined/],
    ['address-pools: [{name: a, protocol: bgp, cidr: [10.0.0.0/24]}]', 'address-pools[0].cidr', /unknown field "cidr"/],
    ['address-pools: [{name: a, protocol: layer2, addresses: [10.0.0.0/24], bgp-advertisements: [{}]}]', 'address-pools[0].bgp-advertisements', /layer2 address pool/],
    ['address-pools: [{name: a, protocol: bgp, addresses: [10.0.0.0/24], auto-assign: 0}]', 'address-pools[0].auto-assign', /must be true or false, not 0/],
    ['address-pools: [{name: a, protocol: bgp, addresses: [10.0.0.0/24]}, {name: A, protocol: bgp, addresses: [10.0.1.0/24]}]', 'address-pools[1].name', /duplicate definition of pool "a" \(also address-pools\[0\]\)/],
    ['peers: [{peer-address: 10.0.0.1, my-asn: 1}]', 'peers[0].peer-asn', /missing peer ASN/],
    ['peers: [{peer-address: 10.0.0.1, my-asn: 1, peer-asn: 2, hold-time: 1s}]', 'peers[0].hold-time', /invalid hold time "1s": must be 0 or >=3s/],
    ['peers: [{peer-address: 10.0.0.1, my-asn: 1, peer-asn: 2, keepalive-time: soon}]', 'peers[0].keepalive-time', /invalid duration "soon"/],
    ['peers: [{peer-address: 10.0.0.1, my-asn: 1, peer-asn: 4294967296}]', 'peers[0].peer-asn', /integer from 0 to 4294967295, not 4294967296/],
    ['bfd-profiles: [{name: x, echo: true}]', 'bfd-profiles[0].echo', /unknown field "echo"/],
    ['peer-autodiscovery: {}\naddress-pools: []', 'peer-autodiscovery', /unknown field "peer-autodiscovery"/],
  ];
  for (const [text, path, message] of cases) {
    const r = migrateLegacyConfig(parse(text), { ...ns, object: 'ConfigMap/config' });
    assert.deepEqual(r.objects, [], text);
    const p = r.problems.find((x) => x.path === path);
    assert.ok(p, `${text}: no problem at ${path}: ${JSON.stringify(r.problems)}`);
    assert.equal(p.code, 'LB_MIGRATE_UNCONVERTIBLE');
    assert.equal(p.object, 'ConfigMap/config');
    assert.match(p.message, message);
    assert.ok(p.message.startsWith(`${path}: `), p.message);
  }
});

test("the converted objects are validated as berth validate does; problems point at the legacy field they come from", () => {
  const r = migrateLegacyConfig(
    parse(`address-pools:
- {name: a, protocol: bgp, addresses: [10.0.0.0/24, 192.168.1.300/24]}
- name: b
  protocol: bgp
  addresses: [10.0.1.0/24]
  bgp-advertisements: [{aggregation-length: 33}]
`),
    ns,
  );
  assert.deepEqual(r.objects, []);
  const byPath = new Map(r.problems.map((p) => [p.path, p.message]));
  assert.match(byPath.get('address-pools[0].addresses[1]') ?? '', /converted to IPAddressPool\/a spec\.addresses\[1\]: .*invalid CIDR "192\.168\.1\.300\/24"/);
  assert.match(byPath.get('address-pools[1].bgp-advertisements[0].aggregation-length') ?? '', /invalid aggregation length 33/);
});

test('migratedYaml: a header, --- between objects, sorted spec keys, YAML 1.1-ambiguous strings quoted', () => {
  const r = migrateLegacyConfig(
    parse('address-pools: [{name: p, protocol: bgp, addresses: [10.0.0.0/24], bgp-advertisements: [{localpref: 5, communities: ["64512:1"]}]}]'),
    ns,
  );
  const text = migratedYaml(r.objects);
  assert.match(text, /^# Converted from MetalLB's legacy ConfigMap by `berth migrate`/);
  assert.equal(text.split('\n---\n').length, 2);
  assert.match(text, /spec:\n {2}communities:\n {2}- "64512:1"\n {2}ipAddressPools:\n {2}- p\n {2}localPref: 5\n/);
});
