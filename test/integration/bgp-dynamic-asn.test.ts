// BGPPeer dynamicASN and localASN against FRR 8 (root, network namespaces; bgp-peer-options-lab.ts). berth's
// BgpSession runs with the options bgp-speaker.ts sessionSpecFor derives from the BGPPeer:
// - router AS 4200000001 (4-octet: AS_TRANS in the OPEN's My AS, RFC 6793), three node addresses: dynamicASN external
//   (myASN 64500) is established and FRR sees AS_PATH "64500"; localASN 64510 (myASN 64500) is established with FRR's
//   `remote-as 64510` and FRR sees AS_PATH "64510" only (replace-as); dynamicASN internal is refused by berth with
//   Bad Peer AS (data: the OPEN's 2-octet My AS, 23456), and FRR logs that NOTIFICATION.
// - router AS 64500: dynamicASN internal is established as iBGP, FRR sees an empty AS_PATH and LOCAL_PREF 300.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  eventually,
  peerLabSkipReason,
  ROUTER_ADDRESS,
  startPeerOptionsLab,
} from './bgp-peer-options-lab.ts';

const skip = peerLabSkipReason('frr');
if (skip) console.log(`# skipping bgp-dynamic-asn: ${skip}`);

const base = { peerAddress: ROUTER_ADDRESS, holdTime: 9, backoffMs: 300, nodeName: 'n1' };
const state = (n: Record<string, unknown> | undefined) => n?.bgpState as string | undefined;

test(
  'FRR AS 4200000001: dynamicASN external and localASN establish with the right AS_PATH; dynamicASN internal is refused with Bad Peer AS',
  { skip, timeout: 90_000 },
  async (t) => {
    const lab = await startPeerOptionsLab({
      routerAsn: 4200000001,
      extraNodeAddresses: ['198.51.100.3', '198.51.100.4'],
      neighbors: [
        { address: '198.51.100.2', remoteAs: 64500 },
        { address: '198.51.100.3', remoteAs: 64510 },
        { address: '198.51.100.4', remoteAs: 64500 },
      ],
    });
    t.after(() => lab.close());
    const external = lab.agent({
      ...base,
      localAddress: '198.51.100.2',
      localAsn: 64500,
      peerAsn: 0,
      dynamicAsn: 'external',
    });
    const local = lab.agent({
      ...base,
      localAddress: '198.51.100.3',
      localAsn: 64510,
      routerAsn: 64500,
      peerAsn: 4200000001,
    });
    const internal = lab.agent({
      ...base,
      localAddress: '198.51.100.4',
      localAsn: 64500,
      peerAsn: 0,
      dynamicAsn: 'internal',
    });
    await external.waitFor((e) => e.event === 'established', 'dynamicASN external established');
    await local.waitFor((e) => e.event === 'established', 'localASN established');
    const refused = await internal.waitFor(
      (e) => e.event === 'down' && e.reason === 'bad-peer-as',
      'dynamicASN internal refused',
    );
    assert.match(String(refused.text), /peer AS 4200000001 is not internal/);
    assert.equal(state(lab.neighbor('198.51.100.2')), 'Established');
    assert.equal(state(lab.neighbor('198.51.100.3')), 'Established');
    assert.notEqual(state(lab.neighbor('198.51.100.4')), 'Established');
    // FRR logs the NOTIFICATION it received from berth: OPEN Message Error / Bad Peer AS, data = AS_TRANS (0x5ba0).
    await eventually(
      () =>
        /NOTIFICATION: received from neighbor 198\.51\.100\.4 2\/2 \(OPEN Message Error\/Bad Peer AS\) 2 bytes 5b a0/.test(
          lab.log(),
        ),
      'FRR to log the Bad Peer AS NOTIFICATION from 198.51.100.4',
    );

    external.send({ cmd: 'announce', prefix: '203.0.113.10/32' });
    local.send({ cmd: 'announce', prefix: '203.0.113.11/32' });
    const p10 = await eventually(() => lab.paths('203.0.113.10/32')[0], 'FRR to learn 203.0.113.10/32');
    const p11 = await eventually(() => lab.paths('203.0.113.11/32')[0], 'FRR to learn 203.0.113.11/32');
    assert.equal((p10.aspath as { string: string }).string, '64500');
    assert.equal(
      (p11.aspath as { string: string }).string,
      '64510',
      'localASN replaces myASN: 64500 never appears',
    );
  },
);

test(
  'FRR AS 64500: dynamicASN internal is established as iBGP (empty AS_PATH, LOCAL_PREF sent)',
  { skip, timeout: 60_000 },
  async (t) => {
    const lab = await startPeerOptionsLab({
      routerAsn: 64500,
      neighbors: [{ address: '198.51.100.2', remoteAs: 64500 }],
    });
    t.after(() => lab.close());
    const a = lab.agent({
      ...base,
      localAddress: '198.51.100.2',
      localAsn: 64500,
      peerAsn: 0,
      dynamicAsn: 'internal',
      routerId: '198.51.100.2',
    });
    await a.waitFor((e) => e.event === 'established', 'dynamicASN internal established');
    const n = lab.neighbor('198.51.100.2');
    assert.equal(state(n), 'Established');
    assert.equal(n?.nbrInternalLink, true, JSON.stringify(n).slice(0, 400));
    a.send({ cmd: 'announce', prefix: '203.0.113.20/32', localPref: 300 });
    const p = await eventually(() => lab.paths('203.0.113.20/32')[0], 'FRR to learn 203.0.113.20/32');
    assert.equal((p.aspath as { length: number }).length, 0, JSON.stringify(p.aspath));
    assert.equal(p.locPrf, 300);
  },
);
