// berth status's check of the reported announcers (fresh-user problem 2): recorded ServiceL2Status/ServiceBGPStatus,
// speaker Leases and Events as the lab's API server returns them; ANNOUNCED-BY lists only what really announces and
// marks the rest (speaker down, IP conflict, announce failed, session down, not established).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { announceEventsOf, checkAnnouncers, type CheckInputs } from './announce-reasons.ts';
import { announcersOf } from './live.ts';
import { announcedText } from './status.ts';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NS = 'metallb-system';
const iso = (agoS: number): string => new Date(NOW - agoS * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

const event = (o: { kind: string; ns: string; name: string; type: string; reason: string; node: string; agoS: number; message?: string }): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${o.name}.${o.reason}.${o.agoS}`, namespace: o.ns },
    involvedObject: { kind: o.kind, namespace: o.ns, name: o.name },
    type: o.type,
    reason: o.reason,
    message: o.message ?? `node "${o.node}": ${o.reason}`,
    reportingComponent: 'berth-speaker',
    reportingInstance: o.node,
    lastTimestamp: iso(o.agoS),
    count: 1,
  }) as unknown as KubeObject;

const bgpStatus = (node: string, svc: string, peers: string[]): KubeObject =>
  ({
    metadata: { name: `bgp-${node}-${svc}`, namespace: NS, labels: { 'metallb.io/node': node, 'metallb.io/service-name': svc, 'metallb.io/service-namespace': 'shop' } },
    status: { node, serviceName: svc, serviceNamespace: 'shop', peers },
  }) as unknown as KubeObject;
const l2Status = (node: string, svc: string): KubeObject =>
  ({
    metadata: { name: `l2-${node}-${svc}`, namespace: NS, labels: { 'metallb.io/node': node, 'metallb.io/service-name': svc, 'metallb.io/service-namespace': 'shop' } },
    status: { node, serviceName: svc, serviceNamespace: 'shop' },
  }) as unknown as KubeObject;

const leases = [
  { node: 'n1', renewMs: NOW - 2_000, durationSeconds: 40 },
  { node: 'n2', renewMs: NOW - 95_000, durationSeconds: 40 },
  { node: 'n3', renewMs: NOW - 1_000, durationSeconds: 40 },
];

function inputs(events: KubeObject[] | undefined): CheckInputs {
  return { speakerLeases: leases, ...(events ? { events: announceEventsOf(events) } : {}), namespace: NS, nowMs: NOW };
}

test('BGP: peers whose last session Event from that node is a Warning are marked (down / never up); Up or no Event (expired) is announced', () => {
  const announcers = announcersOf([], [bgpStatus('n1', 'web', ['router-bad', 'router-bgp', 'router-flap', 'router-refused'])]);
  const events = [
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Normal', reason: 'BGPSessionUp', node: 'n1', agoS: 300 }),
    // n3's session to router-bad is up; n1's never was (only n1 counts).
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bad', type: 'Normal', reason: 'BGPSessionUp', node: 'n3', agoS: 60 }),
    event({ kind: 'BGPPeer', ns: NS, name: 'router-flap', type: 'Normal', reason: 'BGPSessionUp', node: 'n1', agoS: 120 }),
    event({ kind: 'BGPPeer', ns: NS, name: 'router-refused', type: 'Warning', reason: 'BGPSessionConnectFailed', node: 'n1', agoS: 3, message: 'node "n1": connect ECONNREFUSED' }),
    event({ kind: 'BGPPeer', ns: NS, name: 'router-flap', type: 'Warning', reason: 'BGPSessionDown', node: 'n1', agoS: 30, message: 'node "n1": BGP session to 192.0.2.9:179 down: hold timer expired' }),
  ];
  const r = checkAnnouncers('shop/web', announcers.get('shop/web')!, inputs(events));
  // router-bad: no Event from n1 (n3's does not count): Events expire, so absence is not taken as a failure.
  assert.deepEqual(r.bgp, [{ node: 'n1', peers: ['router-bad', 'router-bgp'] }]);
  assert.deepEqual(
    r.unconfirmed.map((u) => [u.node, u.peer, u.reason]),
    [
      ['n1', 'router-flap', 'sessionDown'],
      ['n1', 'router-refused', 'sessionNotEstablished'],
    ],
  );
  assert.match(r.unconfirmed[0]!.message, /BGPSessionDown 30 s ago: .*hold timer expired/);
  assert.match(r.unconfirmed[1]!.message, /not Established: BGPSessionConnectFailed 3 s ago: .*ECONNREFUSED/);
  assert.equal(
    announcedText({ layer2: r.l2Nodes, bgp: r.bgp }, r.unconfirmed),
    'bgp: n1 → router-bad,router-bgp,router-flap (session down),router-refused (not established)',
  );
});

test('BGP: a session that comes back up after a down is announced again; same-second Up and Down counts as down', () => {
  const a = announcersOf([], [bgpStatus('n1', 'web', ['router-bgp'])]).get('shop/web')!;
  const back = [
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Warning', reason: 'BGPSessionDown', node: 'n1', agoS: 60 }),
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Normal', reason: 'BGPSessionUp', node: 'n1', agoS: 10 }),
  ];
  assert.deepEqual(checkAnnouncers('shop/web', a, inputs(back)).bgp, [{ node: 'n1', peers: ['router-bgp'] }]);
  const tie = [
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Normal', reason: 'BGPSessionUp', node: 'n1', agoS: 10 }),
    event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Warning', reason: 'BGPSessionDown', node: 'n1', agoS: 10 }),
  ];
  const r = checkAnnouncers('shop/web', a, inputs(tie));
  assert.deepEqual(r.bgp, []);
  assert.equal(r.unconfirmed[0]?.reason, 'sessionDown');
});

test('BGP: Events not readable → the reported peers are kept (nothing is claimed either way)', () => {
  const a = announcersOf([], [bgpStatus('n1', 'web', ['router-bgp'])]).get('shop/web')!;
  const r = checkAnnouncers('shop/web', a, inputs(undefined));
  assert.deepEqual(r.bgp, [{ node: 'n1', peers: ['router-bgp'] }]);
  assert.deepEqual(r.unconfirmed, []);
});

test('a speaker whose Lease is stale (kill -9) is marked speaker down, in both modes', () => {
  const a = announcersOf([l2Status('n2', 'web')], [bgpStatus('n2', 'web', ['router-bgp']), bgpStatus('n1', 'web', ['router-bgp'])]).get('shop/web')!;
  const events = ['n1', 'n2'].map((node) => event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Normal', reason: 'BGPSessionUp', node, agoS: 200 }));
  const r = checkAnnouncers('shop/web', a, inputs(events));
  assert.deepEqual(r.l2Nodes, []);
  assert.deepEqual(r.bgp, [{ node: 'n1', peers: ['router-bgp'] }]);
  assert.deepEqual(r.unconfirmed.map((u) => [u.mode, u.node, u.reason]), [
    ['layer2', 'n2', 'speakerDown'],
    ['bgp', 'n2', 'speakerDown'],
  ]);
  assert.match(r.unconfirmed[0]!.message, /metallb-speaker-n2 was last renewed 95 s ago \(lease 40 s\)/);
  assert.equal(announcedText({ layer2: r.l2Nodes, bgp: r.bgp }, r.unconfirmed), 'layer2: n2 (speaker down); bgp: n1 → router-bgp; bgp: n2 (speaker down)');
});

test('layer 2: IPConflict and announceFailed Events from the reported node mark it; the same Events from another node do not', () => {
  const a = announcersOf([l2Status('n3', 'web'), l2Status('n1', 'db')], []);
  const events = [
    event({ kind: 'Service', ns: 'shop', name: 'web', type: 'Warning', reason: 'IPConflict', node: 'n3', agoS: 40, message: 'IP "198.51.100.200" is claimed by MAC 02:00:00:00:00:99 on interface eth0 (seen from node "n3"), a host that is not a berth speaker: not announced there' }),
    event({ kind: 'Service', ns: 'shop', name: 'db', type: 'Warning', reason: 'announceFailed', node: 'n1', agoS: 5, message: 'the interfaces specified by LB IP "198.51.100.201" doesn\'t exist in assigned node "n1" with protocol "layer2"' }),
    event({ kind: 'Service', ns: 'shop', name: 'db', type: 'Warning', reason: 'IPConflict', node: 'n3', agoS: 5 }),
  ];
  const web = checkAnnouncers('shop/web', a.get('shop/web')!, inputs(events));
  assert.deepEqual(web.l2Nodes, []);
  assert.equal(web.unconfirmed[0]?.reason, 'IPConflict');
  assert.match(web.unconfirmed[0]!.message, /^layer2 from n3: IPConflict 40 s ago: .*not announced there/);
  assert.equal(announcedText({ layer2: web.l2Nodes, bgp: web.bgp }, web.unconfirmed), 'layer2: n3 (IP conflict)');
  const db = checkAnnouncers('shop/db', a.get('shop/db')!, inputs(events));
  assert.deepEqual(db.unconfirmed.map((u) => [u.node, u.reason]), [['n1', 'announceFailed']]);
  // Without such Events, the reported node announces.
  const clean = checkAnnouncers('shop/web', a.get('shop/web')!, inputs([]));
  assert.deepEqual(clean.l2Nodes, ['n3']);
});

test('announceEventsOf keeps Service IPConflict/announceFailed and BGPPeer events, finds the node in the message when reportingInstance is empty, drops junk', () => {
  const e = event({ kind: 'BGPPeer', ns: NS, name: 'p', type: 'Warning', reason: 'BGPSessionDown', node: 'n7', agoS: 1 }) as unknown as Record<string, unknown>;
  e.reportingInstance = '';
  const got = announceEventsOf([
    e as unknown as KubeObject,
    event({ kind: 'Service', ns: 'shop', name: 'x', type: 'Normal', reason: 'nodeAssigned', node: 'n1', agoS: 1 }),
    {} as KubeObject,
    { involvedObject: 7, reason: null } as unknown as KubeObject,
  ]);
  assert.deepEqual(got.map((g) => [g.kind, g.name, g.node, g.lastMs]), [['BGPPeer', 'p', 'n7', NOW - 1000]]);
});

test('BGP: a peer with no session Event from that node (expired after an hour Established) stays listed, a later Warning marks it', () => {
  const a = announcersOf([], [bgpStatus('n1', 'web', ['router-bgp'])]).get('shop/web')!;
  assert.deepEqual(checkAnnouncers('shop/web', a, inputs([])).bgp, [{ node: 'n1', peers: ['router-bgp'] }]);
  const down = [event({ kind: 'BGPPeer', ns: NS, name: 'router-bgp', type: 'Warning', reason: 'BGPSessionDown', node: 'n1', agoS: 5, message: 'node "n1": down' })];
  const r = checkAnnouncers('shop/web', a, inputs(down));
  assert.deepEqual(r.bgp, []);
  assert.deepEqual(r.unconfirmed.map((u) => [u.node, u.peer, u.reason]), [['n1', 'router-bgp', 'sessionDown']]);
});
