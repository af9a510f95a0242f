// `berth status` after a layer-2 fault has been fixed (fresh-user report, h13): an IPConflict or announceFailed Event
// stays in the cluster for an hour after the fault ended, so status judges it against the later Events of the same
// node: Normal IPConflictCleared / announceResumed (the speaker writes them when the fault ends) or nodeAssigned
// "layer2". Objects recorded as the lab's API server returns them (EventSink: count, first/lastTimestamp in seconds,
// eventTime with microseconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/object.ts';
import { announceEventsOf, checkAnnouncers, currentL2Faults, type CheckInputs } from './announce-reasons.ts';
import { announcersOf } from './live.ts';
import { announcedText } from './status.ts';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NS = 'metallb-system';
const secs = (agoMs: number): string => new Date(NOW - agoMs).toISOString().replace(/\.\d+Z$/, 'Z');
const micro = (agoMs: number): string => new Date(NOW - agoMs).toISOString().replace(/Z$/, '000Z');

/** A core/v1 Event as src/kube/events.ts writes it; `agoMs` of its last occurrence, `firstAgoMs` of its first. */
const event = (o: { name: string; type: 'Normal' | 'Warning'; reason: string; node: string; agoMs: number; firstAgoMs?: number; count?: number; message: string }): KubeObject =>
  ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${o.name}.${o.reason}.${o.agoMs}`, namespace: 'shop', creationTimestamp: secs(o.firstAgoMs ?? o.agoMs) },
    involvedObject: { kind: 'Service', apiVersion: 'v1', namespace: 'shop', name: o.name },
    type: o.type,
    reason: o.reason,
    message: o.message,
    source: { component: 'berth-speaker', host: o.node },
    reportingComponent: 'berth-speaker',
    reportingInstance: o.node,
    firstTimestamp: secs(o.firstAgoMs ?? o.agoMs),
    lastTimestamp: secs(o.agoMs),
    eventTime: micro(o.firstAgoMs ?? o.agoMs),
    count: o.count ?? 1,
  }) as unknown as KubeObject;

const l2Status = (node: string, svc: string, interfaces?: string[]): KubeObject =>
  ({
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ServiceL2Status',
    metadata: { name: `l2-${node}${svc}`, namespace: NS, creationTimestamp: secs(600_000), labels: { 'metallb.io/node': node, 'metallb.io/service-name': svc, 'metallb.io/service-namespace': 'shop' } },
    status: { node, serviceName: svc, serviceNamespace: 'shop', ...(interfaces ? { interfaces: interfaces.map((name) => ({ name })) } : {}) },
  }) as unknown as KubeObject;

const conflict = (ip: string, node: string) => `IP "${ip}" is claimed by MAC 02:00:00:00:00:99 on interface eth0 (seen from node "${node}"), a host that is not a berth speaker: not announced there`;
const cleared = (ip: string, node: string) => `IP "${ip}" is no longer claimed by a host that is not a berth speaker (seen from node "${node}"): announced there again`;
const failed = (ip: string, node: string) => `the interfaces specified by LB IP "${ip}" doesn't exist in assigned node "${node}" with protocol "layer2"`;
const resumed = (ip: string, node: string) => `the interfaces specified by LB IP "${ip}" exist again in assigned node "${node}" with protocol "layer2": announcing it`;
const assigned = (node: string, protocol = 'layer2') => `announcing from node "${node}" with protocol "${protocol}"`;

const leases = ['n1', 'n2', 'n3'].map((node) => ({ node, renewMs: NOW - 2_000, durationSeconds: 15 }));
const inputs = (events: KubeObject[]): CheckInputs => ({ speakerLeases: leases, events: announceEventsOf(events), namespace: NS, nowMs: NOW });

/** ANNOUNCED-BY of shop/<svc> with the reported ServiceL2Status objects and these Events. */
function announcedBy(svc: string, statuses: KubeObject[], events: KubeObject[]): { text: string; reasons: string[] } {
  const a = announcersOf(statuses, []).get(`shop/${svc}`)!;
  const r = checkAnnouncers(`shop/${svc}`, a, inputs(events));
  return { text: announcedText({ layer2: r.l2Nodes, bgp: r.bgp }, r.unconfirmed), reasons: r.unconfirmed.map((u) => `${u.node} ${u.reason}`) };
}

test('the user report: IPConflict 120 s ago, then cleared (ip addr del): n3 announces, no fault shown', () => {
  const events = [
    event({ name: 'web', type: 'Normal', reason: 'nodeAssigned', node: 'n3', agoMs: 300_000, message: assigned('n3') }),
    event({ name: 'web', type: 'Warning', reason: 'IPConflict', node: 'n3', agoMs: 120_000, message: conflict('198.51.100.205', 'n3') }),
  ];
  assert.deepEqual(announcedBy('web', [l2Status('n3', 'web')], events), { text: 'layer2: n3 (IP conflict)', reasons: ['n3 IPConflict'] }, 'while it lasts');
  events.push(event({ name: 'web', type: 'Normal', reason: 'IPConflictCleared', node: 'n3', agoMs: 95_000, message: cleared('198.51.100.205', 'n3') }));
  assert.deepEqual(announcedBy('web', [l2Status('n3', 'web')], events), { text: 'layer2: n3', reasons: [] });
});

test('the user report: announceFailed (interfaces: [eth9]) 48 s ago, then reverted: announceResumed → n1 announces', () => {
  const events = [
    event({ name: 'db', type: 'Warning', reason: 'announceFailed', node: 'n1', agoMs: 48_000, message: failed('198.51.100.206', 'n1') }),
    event({ name: 'db', type: 'Normal', reason: 'announceResumed', node: 'n1', agoMs: 20_000, message: resumed('198.51.100.206', 'n1') }),
  ];
  assert.deepEqual(announcedBy('db', [l2Status('n1', 'db')], events), { text: 'layer2: n1', reasons: [] });
  // Broken again later: the same Event object, count 2, lastTimestamp after the resume → marked again.
  events[0] = event({ name: 'db', type: 'Warning', reason: 'announceFailed', node: 'n1', agoMs: 5_000, firstAgoMs: 48_000, count: 2, message: failed('198.51.100.206', 'n1') });
  const again = announcedBy('db', [l2Status('n1', 'db', ['eth9'])], events);
  assert.deepEqual(again, { text: 'layer2: n1 (announce failed)', reasons: ['n1 announceFailed'] });
});

test('a fault ends only by a later Event of the same node, the matching reason and the same IP', () => {
  const web = [l2Status('n3', 'web')];
  const base = event({ name: 'web', type: 'Warning', reason: 'IPConflict', node: 'n3', agoMs: 60_000, message: conflict('198.51.100.205', 'n3') });
  const cases: Array<[string, KubeObject, string]> = [
    ['cleared on another node', event({ name: 'web', type: 'Normal', reason: 'IPConflictCleared', node: 'n1', agoMs: 10_000, message: cleared('198.51.100.205', 'n1') }), 'layer2: n3 (IP conflict)'],
    ['cleared before the conflict', event({ name: 'web', type: 'Normal', reason: 'IPConflictCleared', node: 'n3', agoMs: 90_000, message: cleared('198.51.100.205', 'n3') }), 'layer2: n3 (IP conflict)'],
    ['the other IP of a dual-stack Service cleared', event({ name: 'web', type: 'Normal', reason: 'IPConflictCleared', node: 'n3', agoMs: 10_000, message: cleared('2001:db8::205', 'n3') }), 'layer2: n3 (IP conflict)'],
    ['announceResumed does not end a conflict', event({ name: 'web', type: 'Normal', reason: 'announceResumed', node: 'n3', agoMs: 10_000, message: resumed('198.51.100.205', 'n3') }), 'layer2: n3 (IP conflict)'],
    ['nodeAssigned for BGP does not end it', event({ name: 'web', type: 'Normal', reason: 'nodeAssigned', node: 'n3', agoMs: 10_000, message: assigned('n3', 'bgp') }), 'layer2: n3 (IP conflict)'],
    ['an Event of another Service does not end it', event({ name: 'db', type: 'Normal', reason: 'IPConflictCleared', node: 'n3', agoMs: 10_000, message: cleared('198.51.100.205', 'n3') }), 'layer2: n3 (IP conflict)'],
    ['n3 took the Service anew (nodeAssigned layer2)', event({ name: 'web', type: 'Normal', reason: 'nodeAssigned', node: 'n3', agoMs: 10_000, message: assigned('n3') }), 'layer2: n3'],
  ];
  for (const [what, end, want] of cases) assert.equal(announcedBy('web', web, [base, end]).text, want, what);
});

test('the same second: sub-second eventTimes decide when both Events happened once, else the fault wins', () => {
  const f = (agoMs: number, count = 1, firstAgoMs = agoMs) =>
    event({ name: 'db', type: 'Warning', reason: 'announceFailed', node: 'n1', agoMs, firstAgoMs, count, message: failed('198.51.100.206', 'n1') });
  const r = (agoMs: number) => event({ name: 'db', type: 'Normal', reason: 'announceResumed', node: 'n1', agoMs, message: resumed('198.51.100.206', 'n1') });
  const st = [l2Status('n1', 'db')];
  // NOW - 30.7 s and NOW - 30.2 s: the same second in lastTimestamp.
  assert.equal(announcedBy('db', st, [f(30_700), r(30_200)]).text, 'layer2: n1', 'resumed 0.5 s after it failed');
  assert.equal(announcedBy('db', st, [f(30_200), r(30_700)]).text, 'layer2: n1 (announce failed)', 'failed 0.5 s after it resumed');
  assert.equal(announcedBy('db', st, [f(30_700, 3, 90_000), r(30_200)]).text, 'layer2: n1 (announce failed)', 'a repeated fault: its last time is known to the second only');
});

test('currentL2Faults: newest holding fault first; Events without times never end a fault', () => {
  const evs = announceEventsOf([
    event({ name: 'web', type: 'Warning', reason: 'announceFailed', node: 'n3', agoMs: 50_000, message: failed('198.51.100.205', 'n3') }),
    event({ name: 'web', type: 'Warning', reason: 'IPConflict', node: 'n3', agoMs: 20_000, message: conflict('198.51.100.205', 'n3') }),
  ]);
  assert.deepEqual(currentL2Faults(evs).map((e) => e.reason), ['IPConflict', 'announceFailed']);
  const untimed = { kind: 'Service', namespace: 'shop', name: 'web', type: 'Normal', reason: 'announceResumed', message: resumed('198.51.100.205', 'n3'), node: 'n3', count: 1 };
  assert.deepEqual(currentL2Faults([...evs, untimed]).map((e) => e.reason), ['IPConflict', 'announceFailed']);
});
