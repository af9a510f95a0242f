// BGPPeer dynamicASN / localASN, which berth runs natively (MetalLB: FRR modes only): what is accepted and how it
// reaches PeerConfig and the session, and the refusals with MetalLB's messages (internal/config/config.go peerFromCR)
// or, where MetalLB leaves it to FRR to refuse silently, berth's message naming the value and the rule. vrf stays
// refused (LB_PEER_UNSUPPORTED); interface (BGP unnumbered) is accepted without what its session does not do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionSpecFor } from '../speaker/bgp-speaker.ts';
import { validateObjects } from './build.ts';
import { NS, routerBgp } from './test-objects.ts';

const parse = (spec: Record<string, unknown>) => validateObjects([routerBgp(spec)], { namespace: NS });
const problems = (spec: Record<string, unknown>) =>
  parse(spec).problems.map((p) => [p.code, p.path, p.message]);

test('dynamicASN internal / external is accepted without peerASN and reaches PeerConfig', () => {
  for (const mode of ['internal', 'external'] as const) {
    const r = parse({ peerASN: undefined, dynamicASN: mode });
    assert.deepEqual(r.problems, [], mode);
    const p = r.config!.peers[0]!;
    assert.equal(p.dynamicASN, mode);
    assert.equal(p.peerASN, 0);
  }
});

test('dynamicASN: an unknown mode is refused with MetalLB text; neither peerASN nor dynamicASN is refused', () => {
  assert.deepEqual(problems({ peerASN: undefined, dynamicASN: 'both' }), [
    ['LB_PEER_INVALID', 'spec.dynamicASN', 'parsing peer router-bgp: invalid dynamicASN both'],
    [
      'LB_SCHEMA',
      'spec.dynamicASN',
      'spec.dynamicASN: Unsupported value: "both": supported values: "internal", "external"',
    ],
  ]);
  assert.deepEqual(problems({ peerASN: undefined }), [
    ['LB_PEER_INVALID', 'spec.peerASN', 'parsing peer router-bgp: missing peer ASN and dynamicASN'],
  ]);
});

test('localASN is accepted on an eBGP peer (fixed or dynamic external) and reaches PeerConfig', () => {
  assert.equal(parse({ localASN: 64510 }).config!.peers[0]!.localASN, 64510);
  const d = parse({ peerASN: undefined, dynamicASN: 'external', localASN: 4200000000 });
  assert.deepEqual(d.problems, []);
  assert.equal(d.config!.peers[0]!.localASN, 4200000000);
  assert.deepEqual(problems({ localASN: 0 }), [
    ['LB_SCHEMA', 'spec.localASN', 'spec.localASN: Invalid value: 0: must be greater than or equal to 1'],
  ]);
});

test('localASN: refused where FRR refuses local-as (iBGP, same as myASN); the schema bounds it 1-4294967295', () => {
  assert.deepEqual(problems({ peerASN: 64500, localASN: 64510 }), [
    [
      'LB_PEER_INVALID',
      'spec.localASN',
      'parsing peer router-bgp: localASN 64510 is allowed only for eBGP peers, and this peer is iBGP (peerASN 64500 = myASN)',
    ],
  ]);
  assert.deepEqual(problems({ peerASN: undefined, dynamicASN: 'internal', localASN: 64510 }), [
    [
      'LB_PEER_INVALID',
      'spec.localASN',
      'parsing peer router-bgp: localASN 64510 is allowed only for eBGP peers, and this peer is iBGP (dynamicASN internal)',
    ],
  ]);
  assert.ok(problems({ localASN: 4294967296 }).some((p) => p[1] === 'spec.localASN'));
});

test('vrf stays refused: VRF peering is not proven against FRR here (no CONFIG_NET_VRF in the lab kernel)', () => {
  assert.deepEqual(problems({ vrf: 'vrf-blue' }), [
    [
      'LB_PEER_UNSUPPORTED',
      'spec.vrf',
      "peer router-bgp: vrf is not supported by berth's native BGP (FRR-only in MetalLB)",
    ],
  ]);
  assert.deepEqual(problems({ vrf: '' }), [], 'empty = the default VRF');
});

test('interface (BGP unnumbered): accepted alone; refused with what the unnumbered session does not do', () => {
  assert.deepEqual(problems({ peerAddress: undefined, interface: 'eth1' }), []);
  const peer = parse({ peerAddress: undefined, interface: 'eth1' }).config!.peers[0]!;
  assert.deepEqual([peer.interface, peer.peerAddress], ['eth1', '']);
  const s = sessionSpecFor(peer, 'node-a');
  assert.deepEqual([s.interface, s.peerAddress, s.families], ['eth1', '', ['ipv4', 'ipv6']]);
  // BFD (single hop over the link-locals) and TCP MD5 run on unnumbered sessions (bgp-unnumbered-options.test.ts).
  assert.deepEqual(
    problems({ peerAddress: undefined, interface: 'eth1', bfdProfile: 'fast', password: 'k' }).map(
      (p) => p[0],
    ),
    ['LB_BFD_MISSING'],
    'only the missing BFDProfile',
  );
  assert.deepEqual(problems({ peerAddress: undefined, interface: 'eth1', ebgpMultiHop: true }), [
    [
      'LB_PEER_INVALID',
      'spec.ebgpMultiHop',
      'parsing peer router-bgp: ebgpMultiHop is not supported with interface eth1 (BGP unnumbered): an unnumbered peer is directly connected',
    ],
  ]);
  assert.ok(problems({ peerAddress: undefined, interface: 'a/b' }).some((p) => p[1] === 'spec.interface'));
  assert.ok(problems({ interface: 'eth1' }).some((p) => /both Address and Interface/.test(p[2]!)));
});

test('BGPPeer → session: localASN is the session AS (myASN kept as routerAsn), dynamicASN carried; PeerConfig vrf → device', () => {
  const spec = (s: Record<string, unknown>) => sessionSpecFor(parse(s).config!.peers[0]!, 'node-a');
  const plain = spec({});
  assert.deepEqual(
    [plain.localAsn, plain.peerAsn, plain.routerAsn, plain.dynamicAsn, plain.device],
    [64500, 64501, undefined, undefined, undefined],
  );
  const all = spec({ peerASN: undefined, dynamicASN: 'external', localASN: 64510 });
  assert.deepEqual(
    [all.localAsn, all.peerAsn, all.routerAsn, all.dynamicAsn, all.device],
    [64510, 0, 64500, 'external', undefined],
  );
  const peer = parse({}).config!.peers[0]!;
  assert.equal(sessionSpecFor({ ...peer, vrf: 'vrf-blue' }, 'node-a').device, 'vrf-blue');
});
