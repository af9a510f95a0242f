import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { MAX_ENDPOINTS_PER_SLICE, desiredEndpointSlices, desiredEndpointsSubsets } from './endpoints.ts';
import { POD_IP_CAPACITY, PodIpPool, podIpPair, slotOf } from './pod-ips.ts';

const svc = (spec: Record<string, unknown>, ns = 'shop'): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns, uid: 'svc-uid' }, spec });
const pod = (name: string, o: { ns?: string; labels?: Record<string, string>; ips?: string[]; ready?: boolean; node?: string; ports?: unknown[]; phase?: string; deleting?: boolean } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: o.ns ?? 'shop', uid: `uid-${name}`, labels: o.labels ?? { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: o.node ?? 'lab-node-1', containers: [{ name: 'c', ports: o.ports ?? [] }] },
  status: {
    phase: o.phase ?? 'Running',
    podIPs: (o.ips ?? []).map((ip) => ({ ip })),
    conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
  },
});

test('slices select Pods by the Service selector in its namespace, with conditions, nodeName, zone and targetRef', () => {
  const s = svc({ selector: { app: 'web' }, ipFamilies: ['IPv4'], ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] });
  const pods = [
    pod('a', { ips: ['198.51.100.1', '2001:db8:1::1'] }),
    pod('b', { ips: ['198.51.100.2'], ready: false, node: 'lab-node-2' }),
    pod('other-ns', { ns: 'elsewhere', ips: ['198.51.100.3'] }),
    pod('other-app', { labels: { app: 'db' }, ips: ['198.51.100.4'] }),
    pod('no-ip'),
    pod('done', { ips: ['198.51.100.5'], phase: 'Succeeded' }),
    pod('going', { ips: ['198.51.100.6'], deleting: true }),
  ];
  const nodes: KubeObject[] = [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'lab-node-2', labels: { 'topology.kubernetes.io/zone': 'z2' } } }];
  const slices = desiredEndpointSlices(s, pods, nodes);
  assert.equal(slices.length, 1);
  assert.deepEqual(slices[0]!.ports, [{ name: '', port: 8080, protocol: 'TCP' }]);
  assert.deepEqual(
    slices[0]!.endpoints!.map((e) => [e.targetRef.name, e.addresses[0], e.conditions, e.nodeName, e.zone]),
    [
      ['a', '198.51.100.1', { ready: true, serving: true, terminating: false }, 'lab-node-1', undefined],
      ['b', '198.51.100.2', { ready: false, serving: false, terminating: false }, 'lab-node-2', 'z2'],
      ['going', '198.51.100.6', { ready: false, serving: true, terminating: true }, 'lab-node-1', undefined],
    ],
  );
  assert.deepEqual(slices[0]!.endpoints![0]!.targetRef, { kind: 'Pod', namespace: 'shop', name: 'a', uid: 'uid-a' });
  // Endpoints: ready in addresses, others in notReadyAddresses, terminating Pods left out.
  const subsets = desiredEndpointsSubsets(s, pods);
  assert.deepEqual(subsets, [
    {
      addresses: [{ ip: '198.51.100.1', nodeName: 'lab-node-1', targetRef: { kind: 'Pod', namespace: 'shop', name: 'a', uid: 'uid-a' } }],
      notReadyAddresses: [{ ip: '198.51.100.2', nodeName: 'lab-node-2', targetRef: { kind: 'Pod', namespace: 'shop', name: 'b', uid: 'uid-b' } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    },
  ]);
});

test('one slice group per IP family and per resolved named targetPort; a family without endpoints gets a placeholder', () => {
  const s = svc({ selector: { app: 'web' }, ipFamilies: ['IPv6', 'IPv4'], ports: [{ name: 'http', port: 80, targetPort: 'web' }] });
  const pods = [
    pod('a', { ips: ['198.51.100.1', '2001:db8:1::1'], ports: [{ name: 'web', containerPort: 8080 }] }),
    pod('b', { ips: ['198.51.100.2', '2001:db8:1::2'], ports: [{ name: 'web', containerPort: 9090 }] }),
    pod('c', { ips: ['198.51.100.3'], ports: [{ name: 'web', containerPort: 8080 }] }),
  ];
  const slices = desiredEndpointSlices(s, pods);
  assert.deepEqual(
    slices.map((x) => [x.addressType, x.ports?.[0]?.port, x.endpoints?.map((e) => e.addresses[0])]),
    [
      ['IPv6', 8080, ['2001:db8:1::1']],
      ['IPv6', 9090, ['2001:db8:1::2']],
      ['IPv4', 8080, ['198.51.100.1', '198.51.100.3']],
      ['IPv4', 9090, ['198.51.100.2']],
    ],
  );
  assert.deepEqual(desiredEndpointSlices(svc({ selector: { app: 'none' }, ports: [{ port: 80 }] }), pods), [{ addressType: 'IPv4', endpoints: null }]);
  // No selector (or ExternalName): nothing managed.
  assert.deepEqual(desiredEndpointSlices(svc({ ports: [{ port: 80 }] }), pods), []);
  assert.deepEqual(desiredEndpointSlices(svc({ type: 'ExternalName', selector: { app: 'web' } }), pods), []);
});

test('publishNotReadyAddresses makes every endpoint ready; more than 100 endpoints split into slices', () => {
  const many = Array.from({ length: MAX_ENDPOINTS_PER_SLICE + 5 }, (_, i) => pod(`p${String(i).padStart(3, '0')}`, { ips: [podIpPair(i)[0]], ready: i % 2 === 0 }));
  const slices = desiredEndpointSlices(svc({ selector: { app: 'web' }, publishNotReadyAddresses: true, ports: [{ port: 80 }] }), many);
  assert.deepEqual(slices.map((x) => x.endpoints?.length), [MAX_ENDPOINTS_PER_SLICE, 5]);
  assert.ok(slices.every((x) => x.endpoints!.every((e) => e.conditions.ready && e.conditions.serving)));
});

test('pod IPs: documentation ranges, lowest free slot first, released slots reused, capacity bounded', () => {
  assert.deepEqual(podIpPair(0), ['203.0.113.1', '2001:db8:1::1']);
  assert.deepEqual(podIpPair(253), ['203.0.113.254', '2001:db8:1::fe']);
  assert.equal(slotOf('203.0.113.254'), POD_IP_CAPACITY - 1);
  assert.equal(slotOf('10.0.0.1'), undefined);
  const pool = new PodIpPool();
  pool.markUsed(['203.0.113.1']);
  assert.deepEqual(pool.allocate(), ['203.0.113.2', '2001:db8:1::2']);
  pool.release(['203.0.113.1', '2001:db8:1::1']);
  assert.deepEqual(pool.allocate(), ['203.0.113.1', '2001:db8:1::1']);
  for (let i = 2; i < POD_IP_CAPACITY; i++) assert.ok(pool.allocate());
  assert.equal(pool.allocate(), undefined);
});

test('pod-template-hash ignores key order and changes with the template', async () => {
  const { podTemplateHash } = await import('./controller.ts');
  const a = { metadata: { labels: { app: 'x', tier: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
  const b = { spec: { containers: [{ image: 'nginx', name: 'c' }] }, metadata: { labels: { tier: 'web', app: 'x' } } };
  assert.equal(podTemplateHash(a), podTemplateHash(b));
  assert.match(podTemplateHash(a), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  assert.notEqual(podTemplateHash(a), podTemplateHash({ ...a, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } }));
});
