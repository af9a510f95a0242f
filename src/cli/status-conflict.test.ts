// `berth status` when a foreign host answers for a Service IP (the speaker's Warning IPConflict, src/speaker
// speaker.ts ipConflictMessage, docs/layer2.md "IP conflicts"): the row says so in plain words naming the IP and the
// MAC instead of showing the IP as announced. Objects recorded as the lab's API server returns them: the Events as
// src/kube/events.ts writes them (the messages built by the speaker's own functions), ServiceL2Status, Leases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { ipConflictClearedMessage, ipConflictMessage } from '../speaker/speaker.ts';
import { announceEventsOf } from './announce-reasons.ts';
import { recordingIO } from './io.ts';
import { announcersOf, type LiveSnapshot } from './live.ts';
import { conflictText, ipConflictsOf, printStatus, runStatus, selectServices, serviceDetail, statusOf } from './status.ts';

const NS = 'metallb-system';
const NOW = Date.parse('2026-12-01T09:00:00Z');
const IP = '198.51.100.205';
const MAC = '02:00:00:51:00:08';
const secs = (agoS: number): string => new Date(NOW - agoS * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

const event = (o: { svc?: string; type: 'Normal' | 'Warning'; reason: string; node: string; agoS: number; message: string }): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${o.svc ?? 'web'}.${o.reason}.${o.agoS}`, namespace: 'shop', creationTimestamp: secs(o.agoS) },
    involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: 'shop', name: o.svc ?? 'web' },
    type: o.type,
    reason: o.reason,
    message: o.message,
    source: { component: 'berth-speaker', host: o.node },
    reportingComponent: 'berth-speaker',
    reportingInstance: o.node,
    firstTimestamp: secs(o.agoS),
    lastTimestamp: secs(o.agoS),
    eventTime: new Date(NOW - o.agoS * 1000).toISOString().replace(/Z$/, '000Z'),
    count: 1,
  }) as unknown as KubeObject;

const l2Status = (node: string): KubeObject =>
  ({
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ServiceL2Status',
    metadata: { name: `l2-${node}-web`, namespace: NS, labels: { 'metallb.io/node': node, 'metallb.io/service-name': 'web', 'metallb.io/service-namespace': 'shop' } },
    status: { node, serviceName: 'web', serviceNamespace: 'shop', interfaces: [{ name: 'eth0' }] },
  }) as unknown as KubeObject;

const probeConflict = (agoS = 12, node = 'n1'): KubeObject =>
  event({ type: 'Warning', reason: 'IPConflict', node, agoS, message: ipConflictMessage(IP, MAC, 'eth0', node, false) });

/** Service shop/web holding IP from pool lab, a ready endpoint on n1, the reported ServiceL2Status and these Events. */
function snapshot(o: { statuses: KubeObject[]; events: KubeObject[]; leaseAgoS?: number }): LiveSnapshot {
  return {
    namespace: NS,
    config: {
      pools: [{ apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'lab', namespace: NS }, spec: { addresses: ['198.51.100.200-198.51.100.220'] } }],
      l2Advertisements: [{ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: { ipAddressPools: ['lab'] } }],
      bgpAdvertisements: [],
      bgpPeers: [],
      communities: [],
      bfdProfiles: [],
    } as unknown as LiveSnapshot['config'],
    namespaces: [{ name: 'shop', labels: {} }],
    nodes: [{ name: 'n1', labels: {} }],
    services: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'shop', annotations: { 'metallb.io/ip-allocated-from-pool': 'lab' } },
        spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] },
        status: { loadBalancer: { ingress: [{ ip: IP }] } },
      },
    ] as unknown as LiveSnapshot['services'],
    claims: [
      {
        apiVersion: 'berth.io/v1alpha1',
        kind: 'IPAddressClaim',
        metadata: { name: 'v4-198-51-100-205' },
        spec: { ip: IP, pool: 'lab', sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name: 'web', ports: [{ protocol: 'TCP', port: 80 }] }] },
      },
    ] as unknown as LiveSnapshot['claims'],
    announcers: announcersOf(o.statuses, []),
    nodeViews: [{ name: 'n1', labels: {}, networkUnavailable: false }],
    endpoints: new Map([['shop/web', [{ nodeName: 'n1', ready: true, serving: true }]]]),
    speakerLeases: [{ node: 'n1', renewMs: NOW - (o.leaseAgoS ?? 2) * 1000, durationSeconds: 40 }],
    announceEvents: announceEventsOf(o.events),
  };
}

/** The text output's Service row of shop/web. */
function textRow(snap: LiveSnapshot): string {
  const io = recordingIO();
  printStatus(statusOf(snap, { nowMs: NOW }), io);
  const row = io.stdout.join('\n').split('\n').find((l) => /^shop\s+web\s/.test(l));
  assert.ok(row, io.stdout.join('\n'));
  return row;
}

test('a foreign host answered the probe: the row names the IP and the MAC in plain words, and the node is not shown as announcing', () => {
  const snap = snapshot({ statuses: [l2Status('n1')], events: [probeConflict()] });
  const web = statusOf(snap, { nowMs: NOW }).services[0]!;
  assert.deepEqual(web.announcedBy.layer2, []);
  assert.deepEqual(web.conflicts, [{ node: 'n1', ip: IP, mac: MAC, interface: 'eth0', announced: false, agoS: 12, message: ipConflictMessage(IP, MAC, 'eth0', 'n1') }]);
  assert.equal(web.notAnnounced?.reason, 'IPConflict');
  const row = textRow(snap);
  assert.match(row, /\blayer2: n1 \(IP conflict\)\s+IPConflict: /);
  assert.ok(
    row.includes(
      `IPConflict: ${IP} is already used by another host, MAC ${MAC} (not a berth speaker; reported 12 s ago by the speaker of node n1 on eth0), so n1 does not announce it: remove the address from that host`,
    ),
    row,
  );
  assert.doesNotMatch(row, /layer2: n1\s{2,}/, 'n1 not listed as announcing without the mark');
  assert.doesNotMatch(row, /IPConflict: layer2 from n1: IPConflict/, 'the plain text, not the Event dump');
});

test('a foreign host that started answering later: both answer, said so (the speaker still announces and defends it)', () => {
  const late = event({ type: 'Warning', reason: 'IPConflict', node: 'n1', agoS: 4, message: ipConflictMessage(IP, MAC, 'eth0', 'n1', true) });
  const row = textRow(snapshot({ statuses: [l2Status('n1')], events: [late] }));
  assert.ok(row.includes(`IPConflict: ${IP} is also answered by another host, MAC ${MAC} (not a berth speaker; reported 4 s ago by the speaker of node n1 on eth0): n1 still announces and defends it, but clients may reach either host`), row);
});

test('a conflict that cleared is not shown: the node announces again', () => {
  const cleared = event({ type: 'Normal', reason: 'IPConflictCleared', node: 'n1', agoS: 3, message: ipConflictClearedMessage(IP, 'n1') });
  const snap = snapshot({ statuses: [l2Status('n1')], events: [probeConflict(40), cleared] });
  const web = statusOf(snap, { nowMs: NOW }).services[0]!;
  assert.deepEqual(web.announcedBy.layer2, ['n1']);
  assert.equal(web.conflicts, undefined);
  assert.match(textRow(snap), /layer2: n1\s*$/);
});

test('nobody reports announcing it but its node saw a conflict: IPConflict with the IP and MAC, not speakerNotRunning', () => {
  const snap = snapshot({ statuses: [], events: [probeConflict()] });
  const web = statusOf(snap, { nowMs: NOW }).services[0]!;
  assert.equal(web.notAnnounced?.reason, 'IPConflict');
  assert.equal(web.conflicts?.[0]?.mac, MAC);
  const row = textRow(snap);
  assert.match(row, /\s-\s+IPConflict: 198\.51\.100\.205 is already used by another host, MAC 02:00:00:51:00:08 /);
  assert.doesNotMatch(row, /speakerNotRunning/);
  // The control case: the same snapshot without the Event blames the speaker.
  assert.equal(statusOf(snapshot({ statuses: [], events: [] }), { nowMs: NOW }).services[0]!.notAnnounced?.reason, 'speakerNotRunning');
  // A conflict seen by a speaker whose Lease expired long ago says nothing about now.
  assert.equal(statusOf(snapshot({ statuses: [], events: [probeConflict(120)], leaseAgoS: 100 }), { nowMs: NOW }).services[0]!.notAnnounced?.reason, 'speakerNotRunning');
});

test('ipConflictsOf / conflictText: only that Service and node, newest first; a message not of berth still names the node', () => {
  const events = announceEventsOf([
    probeConflict(30, 'n1'),
    event({ svc: 'db', type: 'Warning', reason: 'IPConflict', node: 'n1', agoS: 5, message: ipConflictMessage('198.51.100.206', '02:00:00:51:00:09', 'eth0', 'n1') }),
    event({ type: 'Warning', reason: 'IPConflict', node: 'n2', agoS: 8, message: 'address already in use' }),
  ]);
  assert.deepEqual(ipConflictsOf('shop/web', events, NOW).map((c) => [c.node, c.ip, c.mac]), [
    ['n1', IP, MAC],
    ['n2', undefined, undefined],
  ]);
  assert.deepEqual(ipConflictsOf('shop/web', events, NOW, ['n2']).map((c) => c.node), ['n2']);
  const odd = ipConflictsOf('shop/web', events, NOW, ['n2'])[0]!;
  assert.equal(conflictText(odd), 'IP conflict reported 8 s ago by the speaker of node n2: address already in use');
});

test('berth status NAME: the Service alone, one fact a line; the conflict says IP and MAC, the node is not said to announce', () => {
  const report = statusOf(snapshot({ statuses: [l2Status('n1')], events: [probeConflict()] }), { nowMs: NOW });
  assert.deepEqual(selectServices(report, 'web').map((r) => r.name), ['web']);
  assert.deepEqual(selectServices(report, 'shop/web').map((r) => r.name), ['web']);
  assert.deepEqual(selectServices(report, 'default/web'), []);
  assert.deepEqual(serviceDetail(selectServices(report, 'web')[0]!), [
    'Service shop/web',
    '  EXTERNAL-IP:   198.51.100.205',
    '  pool:          lab',
    '  announced by:  nobody',
    `  IP conflict:   ${IP} is already used by another host, MAC ${MAC} (not a berth speaker; reported 12 s ago by the speaker of node n1 on eth0), so n1 does not announce it: remove the address from that host (or the pool range from its DHCP server); the speaker checks again every 5 s and announces it once that host has been silent for 15 s`,
  ]);
  // Cleared: announced by n1, no fault line.
  const cleared = event({ type: 'Normal', reason: 'IPConflictCleared', node: 'n1', agoS: 3, message: ipConflictClearedMessage(IP, 'n1') });
  const ok = statusOf(snapshot({ statuses: [l2Status('n1')], events: [probeConflict(40), cleared] }), { nowMs: NOW }).services[0]!;
  assert.deepEqual(serviceDetail(ok).slice(3), ['  announced by:  layer2: n1']);
  // Nobody reports and no conflict: the speakers' reason on its own line.
  const none = statusOf(snapshot({ statuses: [], events: [] }), { nowMs: NOW }).services[0]!;
  assert.match(serviceDetail(none).at(-1)!, /^ {2}not announced: speakerNotRunning: /);
});

test('berth status with a bad Service argument: refused naming it, before reading the cluster', async () => {
  const io = recordingIO();
  assert.equal(await runStatus(['Web_1'], io), 2);
  assert.match(io.stderr.join('\n'), /"Web_1" is not a Service name: \[NAMESPACE\/\]NAME/);
  const two = recordingIO();
  assert.equal(await runStatus(['a', 'b'], two), 2);
  assert.match(two.stderr.join('\n'), /at most one Service, \[NAMESPACE\/\]NAME \(got "a b"\)/);
});
