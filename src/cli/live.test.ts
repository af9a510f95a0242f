import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../api/object.ts';
import { announcersOf } from './live.ts';

const l2 = (node: string, ns: string, name: string, viaLabels = false): KubeObject =>
  viaLabels
    ? ({ metadata: { labels: { 'metallb.io/node': node, 'metallb.io/service-name': name, 'metallb.io/service-namespace': ns } } } as unknown as KubeObject)
    : ({ metadata: {}, status: { node, serviceName: name, serviceNamespace: ns } } as unknown as KubeObject);

describe('announcersOf (ServiceL2Status / ServiceBGPStatus → who announces a Service)', () => {
  it('groups by Service, from status fields or MetalLB labels, sorted, without duplicates', () => {
    const m = announcersOf([l2('n2', 'shop', 'web'), l2('n1', 'shop', 'web', true), l2('n2', 'shop', 'web')], [
      { metadata: {}, status: { node: 'n3', serviceName: 'db', serviceNamespace: 'shop', peers: ['r2', 'r1'] } } as unknown as KubeObject,
    ]);
    assert.deepEqual(m.get('shop/web'), { l2Nodes: ['n1', 'n2'], bgp: [] });
    assert.deepEqual(m.get('shop/db'), { l2Nodes: [], bgp: [{ node: 'n3', peers: ['r1', 'r2'] }] });
  });
  it('skips objects that name no node or no Service', () => {
    const m = announcersOf([{ metadata: {} } as unknown as KubeObject, l2('', 'shop', 'web')], []);
    assert.equal(m.size, 0);
  });
});
