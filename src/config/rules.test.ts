// One row per configuration rule of metallb-compat.md §4.3 (MetalLB internal/config/config.go, validation.go), plus
// berth's own rejections. Each row: the objects, then the one problem expected (code, object, path, exact message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import type { Code } from '../shared/codes.ts';
import { validateObjects } from './build.ts';
import { bfd, bgpAd, community, l2, NS, pool, routerBgp } from './test-objects.ts';

interface Row {
  desc: string;
  objs: KubeObject[];
  code: Code;
  object: string;
  path: string;
  message: string;
}

const dev = pool('default', ['192.168.1.220-192.168.1.250']);
const sel = (matchLabels: Record<string, string>) => ({ matchLabels });

const rows: Row[] = [
  // --- IPAddressPool ---
  {
    desc: 'pool without a name',
    objs: [pool('', ['10.0.0.0/24'])],
    code: 'LB_POOL_NO_NAME',
    object: 'IPAddressPool/',
    path: 'metadata.name',
    message: 'missing pool name',
  },
  {
    desc: 'pool with an empty address list',
    objs: [pool('p', [])],
    code: 'LB_POOL_NO_ADDRESSES',
    object: 'IPAddressPool/p',
    path: 'spec.addresses',
    message: 'parsing address pool p: pool has no prefixes defined',
  },
  {
    desc: 'pool without addresses (schema twin shadowed)',
    objs: [pool('p', undefined)],
    code: 'LB_POOL_NO_ADDRESSES',
    object: 'IPAddressPool/p',
    path: 'spec.addresses',
    message: 'parsing address pool p: pool has no prefixes defined',
  },
  {
    desc: 'CIDR with an invalid IP',
    objs: [pool('default', ['100.200.300.400/24'])],
    code: 'LB_BAD_CIDR',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "100.200.300.400/24" in pool "default": invalid CIDR "100.200.300.400/24"',
  },
  {
    desc: 'CIDR with prefix /33',
    objs: [pool('default', ['192.168.1.0/24', '192.168.2.0/33'])],
    code: 'LB_BAD_CIDR',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[1]',
    message:
      'parsing address pool default: invalid CIDR "192.168.2.0/33" in pool "default": invalid CIDR "192.168.2.0/33"',
  },
  {
    desc: 'single IP without prefix is not a CIDR',
    objs: [pool('default', ['192.168.1.5'])],
    code: 'LB_BAD_CIDR',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "192.168.1.5" in pool "default": invalid CIDR "192.168.1.5"',
  },
  {
    desc: 'range with an invalid start IP',
    objs: [pool('default', ['192.168.1.300-192.168.1.250'])],
    code: 'LB_BAD_RANGE',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "192.168.1.300-192.168.1.250" in pool "default": invalid IP range "192.168.1.300-192.168.1.250": invalid start IP "192.168.1.300"',
  },
  {
    desc: 'range with an invalid end IP',
    objs: [pool('default', ['192.168.1.220-192.168.1'])],
    code: 'LB_BAD_RANGE',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "192.168.1.220-192.168.1" in pool "default": invalid IP range "192.168.1.220-192.168.1": invalid end IP "192.168.1"',
  },
  {
    desc: 'range whose start is after its end',
    objs: [pool('default', ['192.168.1.250-192.168.1.220'])],
    code: 'LB_BAD_RANGE',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "192.168.1.250-192.168.1.220" in pool "default": invalid IP range "192.168.1.250-192.168.1.220": start IP "192.168.1.250" is after the end IP "192.168.1.220"',
  },
  {
    desc: 'range mixing IPv4 and IPv6 (berth)',
    objs: [pool('default', ['192.168.1.1-fc00::1'])],
    code: 'LB_BAD_RANGE',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[0]',
    message:
      'parsing address pool default: invalid CIDR "192.168.1.1-fc00::1" in pool "default": invalid IP range "192.168.1.1-fc00::1": start IP "192.168.1.1" and end IP "fc00::1" are not of the same IP family',
  },
  {
    desc: 'dev pool and an overlapping range in another pool',
    objs: [dev, pool('prod', ['192.168.1.240-192.168.1.250'])],
    code: 'LB_POOL_OVERLAP',
    object: 'IPAddressPool/prod',
    path: 'spec.addresses[0]',
    message:
      'CIDR "192.168.1.240/29" in pool "prod" overlaps with already defined CIDR "192.168.1.240/29" (IPAddressPool "default", spec.addresses[0] "192.168.1.220-192.168.1.250")',
  },
  {
    desc: 'overlap within one pool',
    objs: [pool('default', ['10.0.0.0/24', '10.0.0.128/25'])],
    code: 'LB_POOL_OVERLAP',
    object: 'IPAddressPool/default',
    path: 'spec.addresses[1]',
    message:
      'CIDR "10.0.0.128/25" in pool "default" overlaps with already defined CIDR "10.0.0.0/24" (the same pool\'s spec.addresses[0])',
  },
  {
    desc: 'the same CIDR in two pools',
    objs: [pool('a', ['10.0.0.0/24']), pool('b', ['10.0.0.0/24'])],
    code: 'LB_POOL_OVERLAP',
    object: 'IPAddressPool/b',
    path: 'spec.addresses[0]',
    message: 'CIDR "10.0.0.0/24" in pool "b" overlaps with already defined CIDR "10.0.0.0/24" (IPAddressPool "a", spec.addresses[0])',
  },
  {
    desc: 'IPv6 overlap; host bits normalised',
    objs: [pool('a', ['fc00::/120']), pool('b', ['fc00::10/124'])],
    code: 'LB_POOL_OVERLAP',
    object: 'IPAddressPool/b',
    path: 'spec.addresses[0]',
    message: 'CIDR "fc00::10/124" in pool "b" overlaps with already defined CIDR "fc00::/120" (IPAddressPool "a", spec.addresses[0])',
  },
  {
    desc: 'two pools with one name',
    objs: [pool('default', ['10.0.0.0/24']), pool('default', ['10.0.1.0/24'])],
    code: 'LB_DUPLICATE_POOL',
    object: 'IPAddressPool/default',
    path: 'metadata.name',
    message: 'duplicate definition of pool "default"',
  },
  {
    desc: 'serviceAllocation namespaces listed twice',
    objs: [pool('p', ['10.0.0.0/24'], { serviceAllocation: { namespaces: ['a', 'a'] } })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'IPAddressPool/p',
    path: 'spec.serviceAllocation.namespaces[1]',
    message: 'parsing address pool p: duplicate definition in namespaces field "a"',
  },
  {
    desc: 'serviceAllocation namespaceSelectors listed twice',
    objs: [
      pool('p', ['10.0.0.0/24'], {
        serviceAllocation: { namespaceSelectors: [sel({ team: 'a' }), sel({ team: 'a' })] },
      }),
    ],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'IPAddressPool/p',
    path: 'spec.serviceAllocation.namespaceSelectors[1]',
    message: 'parsing address pool p: duplicate definition of namespaceSelectors "team=a"',
  },
  {
    desc: 'serviceAllocation serviceSelectors listed twice',
    objs: [
      pool('p', ['10.0.0.0/24'], {
        serviceAllocation: { serviceSelectors: [sel({ app: 'web' }), sel({ app: 'web' })] },
      }),
    ],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'IPAddressPool/p',
    path: 'spec.serviceAllocation.serviceSelectors[1]',
    message: 'parsing address pool p: duplicate definition of serviceSelectors "app=web"',
  },
  {
    desc: 'invalid namespace selector operator',
    objs: [
      pool('p', ['10.0.0.0/24'], {
        serviceAllocation: { namespaceSelectors: [{ matchExpressions: [{ key: 'team', operator: 'Foo' }] }] },
      }),
    ],
    code: 'LB_BAD_SELECTOR',
    object: 'IPAddressPool/p',
    path: 'spec.serviceAllocation.namespaceSelectors[0]',
    message:
      'parsing address pool p: invalid namespace label selector {"matchExpressions":[{"key":"team","operator":"Foo"}]} in ip pool p: "Foo" is not a valid label selector operator',
  },
  {
    desc: 'invalid service selector: In without values',
    objs: [
      pool('p', ['10.0.0.0/24'], {
        serviceAllocation: {
          serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }],
        },
      }),
    ],
    code: 'LB_BAD_SELECTOR',
    object: 'IPAddressPool/p',
    path: 'spec.serviceAllocation.serviceSelectors[0]',
    message: `parsing address pool p: invalid service label selector {"matchExpressions":[{"key":"app","operator":"In","values":[]}]} in ip pool p: values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty`,
  },
  // --- selectors (all CRs) ---
  {
    desc: 'duplicate match expressions in one selector',
    objs: [
      dev,
      l2('l2', {
        nodeSelectors: [
          {
            matchExpressions: [
              { key: 'a', operator: 'Exists' },
              { key: 'a', operator: 'Exists' },
            ],
          },
        ],
      }),
    ],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2',
    path: 'spec.nodeSelectors[0].matchExpressions[1]',
    message:
      'parsing l2 advertisement l2: duplicate definition of match expressions "a" in label selector "a,a"',
  },
  {
    desc: 'duplicate values in one match expression',
    objs: [
      dev,
      l2('l2', {
        nodeSelectors: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'a'] }] }],
      }),
    ],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2',
    path: 'spec.nodeSelectors[0].matchExpressions[0].values[1]',
    message:
      'parsing l2 advertisement l2: duplicate definition of match expression value in label selector "a"',
  },
  {
    desc: 'invalid label key',
    objs: [dev, l2('l2', { nodeSelectors: [sel({ 'bad key': 'x' })] })],
    code: 'LB_BAD_SELECTOR',
    object: 'L2Advertisement/l2',
    path: 'spec.nodeSelectors[0]',
    message: `parsing l2 advertisement l2: invalid node label selector {"matchLabels":{"bad key":"x"}}: key: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
  },
  // --- L2Advertisement ---
  {
    desc: 'L2 ipAddressPools listed twice',
    objs: [dev, l2('l2-advert', { ipAddressPools: ['default', 'default'] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2-advert',
    path: 'spec.ipAddressPools[1]',
    message: 'parsing l2 advertisement l2-advert: duplicate definition of ipAddressPools "default"',
  },
  {
    desc: 'L2 nodeSelectors listed twice',
    objs: [dev, l2('l2-advert', { nodeSelectors: [sel({ zone: 'a' }), sel({ zone: 'a' })] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2-advert',
    path: 'spec.nodeSelectors[1]',
    message: 'parsing l2 advertisement l2-advert: duplicate definition of nodeSelectors "zone=a"',
  },
  {
    desc: 'L2 ipAddressPoolSelectors listed twice',
    objs: [dev, l2('l2-advert', { ipAddressPoolSelectors: [sel({ env: 'dev' }), sel({ env: 'dev' })] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2-advert',
    path: 'spec.ipAddressPoolSelectors[1]',
    message: 'parsing l2 advertisement l2-advert: duplicate definition of ipAddressPoolSelectors "env=dev"',
  },
  {
    desc: 'L2 interfaces listed twice',
    objs: [dev, l2('l2-advert', { interfaces: ['eth0', 'eth0'] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'L2Advertisement/l2-advert',
    path: 'spec.interfaces[1]',
    message: 'parsing l2 advertisement l2-advert: duplicate definition of interfaces "eth0"',
  },
  // --- BGPAdvertisement ---
  {
    desc: 'BGP ipAddressPools listed twice',
    objs: [dev, bgpAd('bgp-advert', { ipAddressPools: ['default', 'default'] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'BGPAdvertisement/bgp-advert',
    path: 'spec.ipAddressPools[1]',
    message: 'parsing bgp advertisement bgp-advert: duplicate definition of ipAddressPools "default"',
  },
  {
    desc: 'BGP communities listed twice',
    objs: [dev, bgpAd('bgp-advert', { communities: ['65000:1', '65000:1'] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'BGPAdvertisement/bgp-advert',
    path: 'spec.communities[1]',
    message: 'parsing bgp advertisement bgp-advert: duplicate definition of community "65000:1"',
  },
  {
    desc: 'BGP peers listed twice',
    objs: [dev, routerBgp(), bgpAd('bgp-advert', { peers: ['router-bgp', 'router-bgp'] })],
    code: 'LB_DUPLICATE_ENTRY',
    object: 'BGPAdvertisement/bgp-advert',
    path: 'spec.peers[1]',
    message: 'parsing bgp advertisement bgp-advert: duplicate definition of peers "router-bgp"',
  },
  {
    desc: 'serviceSelectors with a non-default aggregationLength',
    objs: [
      pool('p', ['10.0.0.0/24']),
      bgpAd('a', { aggregationLength: 24, serviceSelectors: [sel({ app: 'web' })] }),
    ],
    code: 'LB_AGGREGATION_SELECTORS',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLength',
    message:
      'parsing bgp advertisement a: serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in a',
  },
  {
    desc: 'serviceSelectors with a non-default aggregationLengthV6',
    objs: [
      pool('p', ['fc00::/64']),
      bgpAd('a', { aggregationLengthV6: 64, serviceSelectors: [sel({ app: 'web' })] }),
    ],
    code: 'LB_AGGREGATION_SELECTORS',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLengthV6',
    message:
      'parsing bgp advertisement a: serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in a',
  },
  {
    desc: 'aggregationLength above 32 (number printed, not a Go rune)',
    objs: [dev, bgpAd('a', { aggregationLength: 33 })],
    code: 'LB_BAD_AGGREGATION',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLength',
    message: 'parsing bgp advertisement a: invalid aggregation length 33 for IPv4',
  },
  {
    desc: 'aggregationLengthV6 above 128',
    objs: [dev, bgpAd('a', { aggregationLengthV6: 129 })],
    code: 'LB_BAD_AGGREGATION',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLengthV6',
    message: 'parsing bgp advertisement a: invalid aggregation length 129 for IPv6',
  },
  {
    desc: 'aggregation shorter than a pool block (MetalLB e2e message)',
    objs: [pool('p', ['1.1.1.0/28']), bgpAd('a', { ipAddressPools: ['p'], aggregationLength: 26 })],
    code: 'LB_BAD_AGGREGATION',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLength',
    message:
      'parsing bgp advertisement a: invalid aggregation length 26: prefix 28 in this pool is more specific than the aggregation length for addresses 1.1.1.0/28 (pool p)',
  },
  {
    desc: 'IPv6 aggregation shorter than a pool block',
    objs: [pool('p', ['fc00::/120']), bgpAd('a', { aggregationLengthV6: 112 })],
    code: 'LB_BAD_AGGREGATION',
    object: 'BGPAdvertisement/a',
    path: 'spec.aggregationLengthV6',
    message:
      'parsing bgp advertisement a: invalid aggregation length 112: prefix 120 in this pool is more specific than the aggregation length for addresses fc00::/120 (pool p)',
  },
  {
    desc: 'two advertisements of one pool with different localPref',
    objs: [dev, bgpAd('a', { localPref: 100 }), bgpAd('b', { localPref: 200 })],
    code: 'LB_LOCALPREF_CONFLICT',
    object: 'BGPAdvertisement/b',
    path: 'spec.localPref',
    message:
      'invalid local preference 200: local preference 100 was already set for the same type of BGP update. Check existing BGP advertisements with common pools and aggregation lengths (pool default, advertisement a)',
  },
  {
    desc: 'standard community section out of range',
    objs: [dev, bgpAd('a', { communities: ['70000:1'] })],
    code: 'LB_BAD_COMMUNITY',
    object: 'BGPAdvertisement/a',
    path: 'spec.communities[0]',
    message:
      'parsing bgp advertisement a: invalid community "70000:1" in BGP advertisement: invalid community value: invalid section "70000" of community "70000:1", err: strconv.ParseUint: parsing "70000": value out of range',
  },
  {
    desc: 'four-part community without the large marker',
    objs: [dev, bgpAd('a', { communities: ['big:1:2:3'] })],
    code: 'LB_BAD_COMMUNITY',
    object: 'BGPAdvertisement/a',
    path: 'spec.communities[0]',
    message:
      'parsing bgp advertisement a: invalid community "big:1:2:3" in BGP advertisement: invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got "big:1:2:3" instead',
  },
  {
    desc: 'unknown community alias',
    objs: [dev, bgpAd('a', { communities: ['no-export-please'] })],
    code: 'LB_BAD_COMMUNITY',
    object: 'BGPAdvertisement/a',
    path: 'spec.communities[0]',
    message:
      'parsing bgp advertisement a: invalid community "no-export-please" in BGP advertisement: invalid community format: no-export-please',
  },
  {
    desc: 'two identical advertisements',
    objs: [dev, bgpAd('a', { ipAddressPools: ['default'] }), bgpAd('b', { ipAddressPools: ['default'] })],
    code: 'LB_DUPLICATE_ADVERTISEMENT',
    object: 'BGPAdvertisement/b',
    path: 'spec',
    message: 'duplicate definition of bgpadvertisements. advertisement 0 and 1 are equal (a, b)',
  },
  // --- Community ---
  {
    desc: 'community alias with an invalid value',
    objs: [community('c', [{ name: 'no-advertise', value: '65535:65536' }])],
    code: 'LB_BAD_COMMUNITY',
    object: 'Community/c',
    path: 'spec.communities[0].value',
    message:
      'parsing community "no-advertise": invalid community value: invalid section "65536" of community "65535:65536", err: strconv.ParseUint: parsing "65536": value out of range',
  },
  {
    desc: 'one alias in two Community objects',
    objs: [
      community('a', [{ name: 'no-advertise', value: '65535:65282' }]),
      community('b', [{ name: 'no-advertise', value: '65535:65281' }]),
    ],
    code: 'LB_DUPLICATE_COMMUNITY',
    object: 'Community/b',
    path: 'spec.communities[0].name',
    message: 'duplicate definition of community "no-advertise"',
  },
  // --- BGPPeer ---
  {
    desc: 'myASN 0',
    objs: [routerBgp({ myASN: 0 })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.myASN',
    message: 'parsing peer router-bgp: missing local ASN',
  },
  {
    desc: 'no peerASN',
    objs: [routerBgp({ peerASN: undefined })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.peerASN',
    message: 'parsing peer router-bgp: missing peer ASN and dynamicASN',
  },
  {
    desc: 'ebgpMultiHop on an iBGP peer',
    objs: [routerBgp({ peerASN: 64500, ebgpMultiHop: true })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.ebgpMultiHop',
    message: 'parsing peer router-bgp: invalid ebgp-multihop parameter set for an ibgp peer',
  },
  {
    desc: 'no peer address',
    objs: [routerBgp({ peerAddress: undefined })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.peerAddress',
    message: 'parsing peer router-bgp: peer has no Address or Interface specified',
  },
  {
    desc: 'invalid peer address',
    objs: [routerBgp({ peerAddress: '192.168.1.256' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.peerAddress',
    message: 'parsing peer router-bgp: invalid BGPPeer address "192.168.1.256"',
  },
  {
    desc: 'invalid router ID',
    objs: [routerBgp({ routerID: 'router-1' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.routerID',
    message: 'parsing peer router-bgp: invalid router ID "router-1"',
  },
  {
    desc: 'IPv6 router ID (berth: BGP identifier is 32 bits)',
    objs: [routerBgp({ routerID: 'fc00::1' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.routerID',
    message:
      'parsing peer router-bgp: invalid router ID "fc00::1": the BGP identifier must be an IPv4 address (RFC 6286)',
  },
  {
    desc: 'invalid source address',
    objs: [routerBgp({ sourceAddress: '10.0.0' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.sourceAddress',
    message: 'parsing peer router-bgp: invalid source IP "10.0.0"',
  },
  {
    desc: 'hold time under 3s',
    objs: [routerBgp({ holdTime: '2s' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.holdTime',
    message: 'parsing peer router-bgp: invalid BGPPeer timers: invalid hold time "2s": must be 0 or >=3s',
  },
  {
    desc: 'hold time derived from keepalive under 3s',
    objs: [routerBgp({ keepaliveTime: '500ms' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.holdTime',
    message: 'parsing peer router-bgp: invalid BGPPeer timers: invalid hold time "1.5s": must be 0 or >=3s',
  },
  {
    desc: 'keepalive above hold time',
    objs: [routerBgp({ holdTime: '1m30s', keepaliveTime: '120s' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.keepaliveTime',
    message:
      'parsing peer router-bgp: invalid BGPPeer timers: invalid keepaliveTime "2m0s", must be lower than holdTime "1m30s"',
  },
  {
    desc: 'hold time that is not a Go duration',
    objs: [routerBgp({ holdTime: '90' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.holdTime',
    message: 'parsing peer router-bgp: invalid holdTime "90": time: missing unit in duration "90"',
  },
  {
    desc: 'password and passwordSecret together',
    objs: [routerBgp({ password: 'x', passwordSecret: { name: 's', namespace: NS } })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.passwordSecret',
    message:
      'parsing peer router-bgp: can not have both password and secret ref set in peer config "metallb-system"/"router-bgp"',
  },
  {
    desc: 'connectTime not whole seconds',
    objs: [routerBgp({ connectTime: '1500ms' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.connectTime',
    message: 'parsing peer router-bgp: connect time should contain a whole number of seconds',
  },
  {
    desc: 'connectTime above 65535s',
    objs: [routerBgp({ connectTime: '20h' })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.connectTime',
    message: 'parsing peer router-bgp: connect time should be between 1 seconds to 65535',
  },
  {
    desc: 'peer referencing a missing BFD profile',
    objs: [routerBgp({ bfdProfile: 'fast' })],
    code: 'LB_BFD_MISSING',
    object: 'BGPPeer/router-bgp',
    path: 'spec.bfdProfile',
    message: 'peer router-bgp referencing non existing bfd profile fast',
  },
  {
    desc: 'two peers with one name',
    objs: [routerBgp(), routerBgp()],
    code: 'LB_PEER_DUPLICATE',
    object: 'BGPPeer/router-bgp',
    path: 'metadata.name',
    message: 'peer router-bgp already exists',
  },
  {
    desc: 'BFD echo mode on a peer IPv6 prefixes are announced to',
    objs: [
      pool('v6', ['fc00::/120']),
      bgpAd('a'),
      bfd('echo', { echoMode: true }),
      routerBgp({ bfdProfile: 'echo' }),
    ],
    code: 'LB_BFD_ECHO_IPV6',
    object: 'BGPPeer/router-bgp',
    path: 'spec.bfdProfile',
    message:
      'pool v6 has bgpadvertisement a which references peer router-bgp which has bfd echo enabled, which is not possible',
  },
  // berth: vrf is refused; localASN is native (src/config/peers.test.ts), refused where FRR refuses local-as
  {
    desc: 'vrf (FRR-only)',
    objs: [routerBgp({ vrf: 'red' })],
    code: 'LB_PEER_UNSUPPORTED',
    object: 'BGPPeer/router-bgp',
    path: 'spec.vrf',
    message: "peer router-bgp: vrf is not supported by berth's native BGP (FRR-only in MetalLB)",
  },
  {
    desc: 'localASN equal to myASN',
    objs: [routerBgp({ localASN: 64500 })],
    code: 'LB_PEER_INVALID',
    object: 'BGPPeer/router-bgp',
    path: 'spec.localASN',
    message:
      'parsing peer router-bgp: localASN 64500 is the same as myASN (FRR: cannot have local-as same as BGP AS number)',
  },
  // --- BFDProfile ---
  {
    desc: 'BFD receiveInterval below range (schema twin shadowed)',
    objs: [bfd('fast', { receiveInterval: 5 })],
    code: 'LB_BFD_INVALID',
    object: 'BFDProfile/fast',
    path: 'spec.receiveInterval',
    message:
      'parsing bfd profile fast: invalid receiveInterval value: invalid value 5, must be in 10-60000 range',
  },
  {
    desc: 'BFD detectMultiplier above range',
    objs: [bfd('fast', { detectMultiplier: 256 })],
    code: 'LB_BFD_INVALID',
    object: 'BFDProfile/fast',
    path: 'spec.detectMultiplier',
    message:
      'parsing bfd profile fast: invalid detectMultiplier value: invalid value 256, must be in 2-255 range',
  },
  {
    desc: 'two BFD profiles with one name',
    objs: [bfd('fast'), bfd('fast')],
    code: 'LB_BFD_DUPLICATE',
    object: 'BFDProfile/fast',
    path: 'metadata.name',
    message: 'found duplicate bfd profile name fast',
  },
  // --- namespace and schema ---
  {
    desc: 'pool outside the load balancer namespace',
    objs: [pool('default', ['192.168.1.220-192.168.1.250'], {}, { namespace: 'default' })],
    code: 'LB_WRONG_NAMESPACE',
    object: 'IPAddressPool/default',
    path: 'metadata.namespace',
    message: 'resource must be created in metallb-system namespace',
  },
  {
    desc: 'misspelt field (strict field validation)',
    objs: [pool('default', ['192.168.1.220-192.168.1.250'], { autoassign: false })],
    code: 'LB_SCHEMA',
    object: 'IPAddressPool/default',
    path: 'spec.autoassign',
    message: 'unknown field "spec.autoassign"',
  },
  {
    desc: 'value of the wrong type',
    objs: [pool('default', ['192.168.1.220-192.168.1.250'], { autoAssign: 'no' })],
    code: 'LB_SCHEMA',
    object: 'IPAddressPool/default',
    path: 'spec.autoAssign',
    message: 'spec.autoAssign: Invalid value: "no": must be of type boolean',
  },
  {
    desc: 'peerPort out of the schema range',
    objs: [routerBgp({ peerPort: 20000 })],
    code: 'LB_SCHEMA',
    object: 'BGPPeer/router-bgp',
    path: 'spec.peerPort',
    message: 'spec.peerPort: Invalid value: 20000: must be less than or equal to 16384',
  },
  {
    desc: 'metallb.io kind berth does not serve (pre-v0.13 AddressPool)',
    objs: [
      {
        apiVersion: 'metallb.io/v1beta1',
        kind: 'AddressPool',
        metadata: { name: 'old', namespace: NS },
        spec: {},
      },
    ],
    code: 'LB_SCHEMA',
    object: 'AddressPool/old',
    path: 'apiVersion',
    message: 'no schema for metallb.io/v1beta1 AddressPool',
  },
];

for (const row of rows) {
  test(`rejects: ${row.desc}`, () => {
    const r = validateObjects(row.objs, { namespace: NS });
    assert.equal(r.config, undefined, 'config must not load');
    assert.deepEqual(
      r.problems,
      [{ code: row.code, object: row.object, path: row.path, message: row.message }],
      JSON.stringify(r.problems, null, 1),
    );
  });
}

test('rejects: both peerASN and dynamicASN', () => {
  const r = validateObjects([routerBgp({ dynamicASN: 'external' })], { namespace: NS });
  assert.equal(r.config, undefined);
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.path, p.message]),
    [
      [
        'LB_PEER_INVALID',
        'spec.dynamicASN',
        'parsing peer router-bgp: both peer ASN and dynamicASN specified',
      ],
    ],
  );
});

test('unnumbered peer (interface): accepted alone (native BGP unnumbered), rejected with an address too', () => {
  const only = validateObjects([routerBgp({ peerAddress: undefined, interface: 'eth1' })], { namespace: NS });
  assert.deepEqual(only.problems, []);
  const both = validateObjects([routerBgp({ interface: 'eth1' })], { namespace: NS });
  assert.deepEqual(
    both.problems.map((p) => p.message),
    ['parsing peer router-bgp: peer has both Address and Interface specified'],
  );
});

test('every problem of a bad pool is reported, not only the first', () => {
  const r = validateObjects(
    [pool('a', ['100.200.300.400/24', '10.0.0.0/33', '10.2.0.0/24']), pool('b', ['10.2.0.128-10.2.0.140'])],
    { namespace: NS },
  );
  assert.deepEqual(
    r.problems.map((p) => [p.object, p.code, p.path]),
    [
      ['IPAddressPool/a', 'LB_BAD_CIDR', 'spec.addresses[0]'],
      ['IPAddressPool/a', 'LB_BAD_CIDR', 'spec.addresses[1]'],
      ['IPAddressPool/b', 'LB_POOL_OVERLAP', 'spec.addresses[0]'],
    ],
  );
  assert.equal(
    r.problems[2]!.message,
    'CIDR "10.2.0.128/29" in pool "b" overlaps with already defined CIDR "10.2.0.0/24" (IPAddressPool "a", spec.addresses[2])',
  );
});

test('a range overlapping several blocks is reported once per addresses entry', () => {
  const r = validateObjects([pool('a', ['10.0.0.0/24']), pool('b', ['10.0.0.1-10.0.0.200', '10.0.1.0/24'])], {
    namespace: NS,
  });
  assert.deepEqual(
    r.problems.map((p) => p.path),
    ['spec.addresses[0]'],
  );
});

test('two overlays validated together: the second "default" pool is a duplicate and overlaps', () => {
  const r = validateObjects(
    [pool('default', ['192.168.1.220-192.168.1.250']), pool('default', ['192.168.1.240-192.168.1.250'])],
    { namespace: NS },
  );
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.message]),
    [
      ['LB_DUPLICATE_POOL', 'duplicate definition of pool "default"'],
      [
        'LB_POOL_OVERLAP',
        'CIDR "192.168.1.240/29" in pool "default" overlaps with already defined CIDR "192.168.1.240/29" (IPAddressPool "default", spec.addresses[0] "192.168.1.220-192.168.1.250")',
      ],
    ],
  );
});
