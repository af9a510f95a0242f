// berth status when the ServiceL2Status / ServiceBGPStatus CRDs are not installed (their list answers 404, recorded by
// live.ts as missingKinds): one notice naming the CRD and how to install it, ANNOUNCED-BY `?` instead of a
// speakerNotRunning that blames the speakers; a withdraw reason the plans give (noEndpoints) still shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { recordingIO } from './io.ts';
import type { LiveSnapshot } from './live.ts';
import { missingCrdsNotice, printStatus, statusOf } from './status.ts';

const NS = 'metallb-system';
const NOW = Date.parse('2026-12-01T09:00:00Z');

const pool = { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'lab', namespace: NS }, spec: { addresses: ['198.51.100.200-198.51.100.220'] } };
const l2ad = { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: { ipAddressPools: ['lab'] } };
const bgpad = { apiVersion: 'metallb.io/v1beta1', kind: 'BGPAdvertisement', metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['lab'] } };

function service(name: string, ip: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop', annotations: { 'metallb.io/ip-allocated-from-pool': 'lab' } },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
    status: { loadBalancer: { ingress: [{ ip }] } },
  } as unknown as KubeObject;
}

function claim(ip: string, svc: string): KubeObject {
  return {
    apiVersion: 'berth.io/v1alpha1',
    kind: 'IPAddressClaim',
    metadata: { name: `v4-${ip.replaceAll('.', '-')}` },
    spec: { ip, pool: 'lab', sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name: svc, ports: [{ protocol: 'TCP', port: 80 }] }] },
  } as unknown as KubeObject;
}

/** Two Services with an IP: `web` has a ready endpoint on n1 (some node should announce it), `idle` has none. */
function snapshot(o: { missingKinds?: string[]; bgp?: boolean; l2Status?: boolean }): LiveSnapshot {
  return {
    namespace: NS,
    config: {
      pools: [pool as unknown as KubeObject],
      l2Advertisements: [l2ad as unknown as KubeObject],
      bgpAdvertisements: o.bgp ? [bgpad as unknown as KubeObject] : [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
    },
    namespaces: [{ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } }],
    nodes: [{ name: 'n1', labels: {} }],
    services: [service('web', '198.51.100.200'), service('idle', '198.51.100.201')] as LiveSnapshot['services'],
    claims: [claim('198.51.100.200', 'web'), claim('198.51.100.201', 'idle')] as unknown as LiveSnapshot['claims'],
    announcers: new Map(o.l2Status ? [['shop/web', { l2Nodes: ['n1'], bgp: [] }]] : []),
    nodeViews: [{ name: 'n1', labels: {}, networkUnavailable: false }],
    endpoints: new Map([['shop/web', [{ nodeName: 'n1', ready: true, serving: true }]]]),
    speakerLeases: [],
    ...(o.missingKinds ? { missingKinds: o.missingKinds } : {}),
  };
}

test('both status CRDs installed, no speaker reports: speakerNotRunning, as before (the control case)', () => {
  const r = statusOf(snapshot({}), { nowMs: NOW });
  const web = r.services.find((s) => s.name === 'web')!;
  assert.equal(web.notAnnounced?.reason, 'speakerNotRunning');
  assert.equal(web.announcedByUnknown, undefined);
  assert.equal(r.missingStatusCrds, undefined);
});

test('status CRDs not installed: said once on stderr with the CRD names and the install command; ANNOUNCED-BY ? without a misleading reason', () => {
  const r = statusOf(snapshot({ missingKinds: ['ServiceL2Status', 'ServiceBGPStatus'] }), { nowMs: NOW });
  assert.deepEqual(r.missingStatusCrds, [
    { kind: 'ServiceL2Status', crd: 'servicel2statuses.metallb.io' },
    { kind: 'ServiceBGPStatus', crd: 'servicebgpstatuses.metallb.io' },
  ]);
  const web = r.services.find((s) => s.name === 'web')!;
  assert.equal(web.announcedByUnknown, true);
  assert.equal(web.notAnnounced, undefined, 'no speakerNotRunning: nothing could have been reported');
  // A withdraw reason of the speakers' own plans does not depend on the reports.
  const idle = r.services.find((s) => s.name === 'idle')!;
  assert.equal(idle.notAnnounced?.reason, 'noEndpoints');
  assert.equal(idle.announcedByUnknown, undefined);

  const io = recordingIO();
  printStatus(r, io);
  const notices = io.stderr.filter((l) => /not installed/.test(l));
  assert.equal(notices.length, 1, io.stderr.join('\n'));
  assert.match(notices[0]!, /the ServiceL2Status and ServiceBGPStatus CRDs \(servicel2statuses\.metallb\.io, servicebgpstatuses\.metallb\.io\) are not installed/);
  assert.match(notices[0]!, /kubectl apply -k gitops\/base\/crds/);
  const out = io.stdout.join('\n');
  assert.match(out, /^shop\s+web\s+198\.51\.100\.200\s+lab\s+\?\s*$/m);
  assert.match(out, /^shop\s+idle\s+198\.51\.100\.201\s+lab\s+-\s+noEndpoints: /m);
  assert.doesNotMatch(out, /speakerNotRunning|no speaker reports/);
});

test('only ServiceBGPStatus missing with no BGPAdvertisement: layer 2 reports still decide (speakerNotRunning stays), the notice names that CRD', () => {
  const r = statusOf(snapshot({ missingKinds: ['ServiceBGPStatus'] }), { nowMs: NOW });
  assert.equal(r.services.find((s) => s.name === 'web')!.notAnnounced?.reason, 'speakerNotRunning');
  assert.match(missingCrdsNotice(r.missingStatusCrds)!, /^the ServiceBGPStatus CRD \(servicebgpstatuses\.metallb\.io\) is not installed: .* by BGP/);
});

test('only ServiceBGPStatus missing with a BGPAdvertisement: an unreported Service is ?, a layer-2 reported one is listed', () => {
  const r = statusOf(snapshot({ missingKinds: ['ServiceBGPStatus'], bgp: true, l2Status: true }), { nowMs: NOW });
  const web = r.services.find((s) => s.name === 'web')!;
  assert.deepEqual(web.announcedBy.layer2, ['n1']);
  assert.equal(web.announcedByUnknown, undefined);
  const r2 = statusOf(snapshot({ missingKinds: ['ServiceBGPStatus'], bgp: true }), { nowMs: NOW });
  assert.equal(r2.services.find((s) => s.name === 'web')!.announcedByUnknown, true);
});
