// events.k8s.io/v1 Event ⇄ core/v1 Event: one storage, two views, as in kube-apiserver
// (k8s.io/kubernetes/pkg/apis/events/v1/conversion.go), so `kubectl describe` sees events recorded via events.k8s.io.
import type { KubeObject } from './types.ts';

const pairs: Array<[string, string]> = [
  // [events.k8s.io/v1 field, core/v1 field]
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];
const same = ['eventTime', 'series', 'action', 'reason', 'related', 'type', 'reportingInstance'];

function copy(from: KubeObject, apiVersion: string, map: Array<[string, string]>): KubeObject {
  const out: KubeObject = { apiVersion, kind: 'Event', metadata: from.metadata };
  for (const k of same) if (from[k] !== undefined) out[k] = from[k];
  for (const [src, dst] of map) if (from[src] !== undefined) out[dst] = from[src];
  return out;
}

export function coreEventFromEventsV1(o: KubeObject): KubeObject {
  return copy(o, 'v1', pairs);
}

export function eventsV1FromCoreEvent(o: KubeObject): KubeObject {
  return copy(
    o,
    'events.k8s.io/v1',
    pairs.map(([a, b]) => [b, a]),
  );
}
