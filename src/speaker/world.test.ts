// Kubernetes objects → the plan's views: what is read, what is skipped, hostile input never throws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bgpWanted,
  cachedServiceView,
  endpointViews,
  intern,
  memberlistKey,
  nodeInternalIP,
  nodeView,
  projectEndpointSlice,
  projectService,
  projectStatusObject,
  serviceView,
} from './world.ts';

test('nodeView: labels, NetworkUnavailable=True, --ignore-exclude-lb hides the exclude label', () => {
  const node = {
    metadata: { name: 'n1', labels: { zone: 'a', 'node.kubernetes.io/exclude-from-external-load-balancers': '' } },
    status: {
      conditions: [
        { type: 'Ready', status: 'False' },
        { type: 'NetworkUnavailable', status: 'True' },
      ],
      addresses: [
        { type: 'Hostname', address: 'n1' },
        { type: 'InternalIP', address: '2001:0db8:0:0::1' },
      ],
    },
  };
  assert.deepEqual(nodeView(node), {
    name: 'n1',
    labels: { zone: 'a', 'node.kubernetes.io/exclude-from-external-load-balancers': '' },
    networkUnavailable: true,
  });
  assert.deepEqual(nodeView(node, { ignoreExcludeLb: true })?.labels, { zone: 'a' });
  assert.equal(nodeView({ metadata: { name: 'n2' }, status: { conditions: [{ type: 'NetworkUnavailable', status: 'False' }] } })?.networkUnavailable, false);
  assert.equal(nodeInternalIP(node), '2001:db8::1');
  assert.equal(nodeView({ metadata: {} }), undefined);
  assert.equal(nodeView({ metadata: { name: 'x', labels: 'bad' as never }, status: { conditions: 7 as never } })?.labels.zone, undefined);
});

test('serviceView: LoadBalancer of our class with canonical ingress IPs; pool, ETP and sharing key', () => {
  const svc = {
    metadata: {
      namespace: 'shop',
      name: 'web',
      labels: { app: 'web' },
      annotations: { 'metallb.io/ip-allocated-from-pool': 'dev', 'metallb.universe.tf/allow-shared-ip': 'k' },
    },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { hostname: 'x.example' }, { ip: '2001:db8:0::7' }, { ip: 'junk' }] } },
  };
  assert.deepEqual(serviceView(svc), {
    key: 'shop/web',
    namespace: 'shop',
    name: 'web',
    labels: { app: 'web' },
    ips: ['198.51.100.7', '2001:db8::7'],
    pool: 'dev',
    externalTrafficPolicy: 'Local',
    sharingKey: 'k',
  });
  assert.equal(serviceView({ ...svc, spec: { type: 'ClusterIP' } }), undefined, 'not a LoadBalancer');
  assert.equal(serviceView({ ...svc, spec: { type: 'LoadBalancer', loadBalancerClass: 'other' } }), undefined, 'another class');
  assert.equal(serviceView({ ...svc, spec: { type: 'LoadBalancer', loadBalancerClass: 'other' } }, { lbClass: 'other' })?.key, 'shop/web');
  assert.equal(serviceView({ ...svc, status: {} }), undefined, 'no IP yet');
  assert.equal(serviceView({ ...svc, spec: { type: 'LoadBalancer' } })?.externalTrafficPolicy, 'Cluster');
});

test('endpointViews: per Service from the service-name label; ready nil = true, serving nil = ready', () => {
  const m = endpointViews([
    {
      metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
      endpoints: [
        { nodeName: 'n1', conditions: {} },
        { nodeName: 'n2', conditions: { ready: false, serving: true } },
        { conditions: { ready: false } },
      ],
    },
    { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, endpoints: [{ nodeName: 'n3', conditions: { ready: true } }] },
    { metadata: { namespace: 'shop', labels: {} }, endpoints: [{ nodeName: 'n9' }] },
    { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'empty' } }, endpoints: null as never },
  ]);
  assert.deepEqual(m.get('shop/web'), [
    { nodeName: 'n1', ready: true, serving: true },
    { nodeName: 'n2', ready: false, serving: true },
    { ready: false, serving: false },
    { nodeName: 'n3', ready: true, serving: true },
  ]);
  assert.deepEqual(m.get('shop/empty'), []);
  assert.equal(m.size, 2);
});

test('memberlistKey: data.secretkey base64 → bytes; absent or empty → undefined', () => {
  assert.deepEqual(memberlistKey({ data: { secretkey: Buffer.from('s3cret').toString('base64') } }), Buffer.from('s3cret'));
  assert.equal(memberlistKey({ data: {} }), undefined);
  assert.deepEqual(memberlistKey({ stringData: { secretkey: 's3cret' } }), Buffer.from('s3cret'));
  assert.equal(memberlistKey(undefined), undefined);
});

test('projections keep exactly what the views read', () => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'u1',
      resourceVersion: '7',
      labels: { app: 'web' },
      annotations: { 'metallb.io/allow-shared-ip': 'k', 'kubectl.kubernetes.io/last-applied-configuration': '{…}', note: 'x' },
      managedFields: [{}],
    },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }], selector: { app: 'web' }, clusterIP: '10.96.0.9' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }, { hostname: 'h' }] } },
  };
  const p = projectService(svc);
  assert.deepEqual(serviceView(p), serviceView(svc));
  assert.deepEqual(p.metadata.annotations, { 'metallb.io/allow-shared-ip': 'k' });
  assert.deepEqual(p.status, { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } });
  assert.equal((p.spec as Record<string, unknown>).ports, undefined);
  const slice = {
    metadata: { name: 'web-1', namespace: 'shop', resourceVersion: '3', labels: { 'kubernetes.io/service-name': 'web', other: 'x' } },
    endpoints: [
      { addresses: ['203.0.113.5'], nodeName: 'n1', conditions: { ready: false, serving: true, terminating: true }, targetRef: { kind: 'Pod' } },
      { addresses: ['203.0.113.6'], conditions: {} },
    ],
    ports: [{ port: 8080 }],
  };
  assert.deepEqual(endpointViews([projectEndpointSlice(slice)]), endpointViews([slice]));
});

test('bgpWanted: a BGPPeer without nodeSelectors or with one matching the node; never for an unknown node', () => {
  const peer = (nodeSelectors: Array<{ matchLabels?: Record<string, string> }>) => ({ nodeSelectors }) as never;
  const n1 = { labels: { zone: 'a' } };
  assert.equal(bgpWanted({ peers: [] }, n1), false);
  assert.equal(bgpWanted({ peers: [peer([])] }, n1), true);
  assert.equal(bgpWanted({ peers: [peer([{ matchLabels: { zone: 'b' } }])] }, n1), false);
  assert.equal(bgpWanted({ peers: [peer([{ matchLabels: { zone: 'b' } }]), peer([{ matchLabels: { zone: 'a' } }])] }, n1), true);
  assert.equal(bgpWanted({ peers: [peer([])] }, undefined), false);
});

test('intern: one copy per value; non-strings as they are', () => {
  const a = JSON.parse('["LoadBalancer-x","LoadBalancer-x"]') as string[];
  assert.equal(intern(a[0]), intern(a[1]));
  assert.equal(intern(undefined), undefined);
  assert.equal(intern(7), 7);
  // Many distinct values never grow the table without bound (it starts over); values stay equal.
  for (let i = 0; i < 10_000; i++) assert.equal(intern(`v${i}`), `v${i}`);
});

test('projectStatusObject keeps name, namespace, resourceVersion, labels and status only (no uid)', () => {
  const o = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ServiceL2Status',
    metadata: {
      name: 'l2-abc',
      generateName: 'l2-',
      namespace: 'metallb-system',
      uid: 'u',
      resourceVersion: '9',
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: { 'metallb.io/node': 'n1' },
      ownerReferences: [{ kind: 'Pod' }],
      managedFields: [{}],
    },
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop' },
  };
  assert.deepEqual(projectStatusObject(o), {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ServiceL2Status',
    metadata: { name: 'l2-abc', namespace: 'metallb-system', resourceVersion: '9', labels: { 'metallb.io/node': 'n1' } },
    status: { node: 'n1', serviceName: 'web', serviceNamespace: 'shop' },
  });
  assert.deepEqual(projectStatusObject({ metadata: { name: 'x' } }), { apiVersion: undefined, kind: undefined, metadata: { name: 'x', namespace: undefined, resourceVersion: undefined } });
});

test('cachedServiceView: computed once per object and class, equal to serviceView', () => {
  const svc = {
    metadata: { name: 'web', namespace: 'shop' },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'c' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } },
  };
  const v = cachedServiceView(svc, { lbClass: 'c' });
  assert.deepEqual(v, serviceView(svc, { lbClass: 'c' }));
  assert.equal(cachedServiceView(svc, { lbClass: 'c' }), v, 'the same object the second time');
  assert.equal(cachedServiceView(svc), undefined, 'another class: not ours');
  assert.equal(cachedServiceView(svc), undefined, 'undefined is cached too');
  const next = { ...svc, status: { loadBalancer: { ingress: [{ ip: '198.51.100.8' }] } } };
  assert.deepEqual(cachedServiceView(next, { lbClass: 'c' })?.ips, ['198.51.100.8']);
});

test('endpointViews share read-only lists and views: one list per slice object, a second slice never edits the first', () => {
  const a = { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, endpoints: [{ nodeName: 'n1', conditions: { ready: true } }] };
  const b = { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } }, endpoints: [{ nodeName: 'n2', conditions: {} }] };
  const c = { metadata: { namespace: 'shop', labels: { 'kubernetes.io/service-name': 'db' } }, endpoints: [{ nodeName: 'n1', conditions: {} }] };
  const first = endpointViews([a, c]);
  assert.equal(endpointViews([a, c]).get('shop/web'), first.get('shop/web'), 'an unchanged slice gives the same list');
  assert.equal(first.get('shop/web')![0], first.get('shop/db')![0], 'equal endpoints are one (frozen) view');
  assert.ok(Object.isFrozen(first.get('shop/web')![0]));
  for (let i = 0; i < 3; i++) {
    const both = endpointViews([a, b, b]);
    assert.deepEqual(both.get('shop/web'), [
      { nodeName: 'n1', ready: true, serving: true },
      { nodeName: 'n2', ready: true, serving: true },
      { nodeName: 'n2', ready: true, serving: true },
    ]);
  }
  assert.deepEqual(endpointViews([a]).get('shop/web'), [{ nodeName: 'n1', ready: true, serving: true }], "a's list was never edited");
});

test('projections share identical annotations, specs and endpoints (frozen); the ingress list is exact', () => {
  const mk = (name: string) => ({
    metadata: { name, namespace: 'shop', annotations: { 'metallb.io/ip-allocated-from-pool': 'dev' } },
    spec: { type: 'LoadBalancer' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { hostname: 'h' }] } },
  });
  const [p, q] = [projectService(mk('a')), projectService(mk('b'))];
  assert.equal(p.metadata.annotations, q.metadata.annotations);
  assert.equal(p.spec, q.spec);
  assert.ok(Object.isFrozen(p.metadata.annotations) && Object.isFrozen(p.spec));
  assert.deepEqual(p.status, { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } });
  assert.deepEqual(serviceView(p)?.ips, ['198.51.100.7']);
  // Two IPs, no IP (hostnames only), no ingress list: the same status values as the input's IPs.
  const dual = projectService({ ...mk('d'), status: { loadBalancer: { ingress: [{ ip: '198.51.100.8' }, { hostname: 'h' }, { ip: '2001:db8::8' }] } } });
  assert.deepEqual(dual.status, { loadBalancer: { ingress: [{ ip: '198.51.100.8' }, { ip: '2001:db8::8' }] } });
  assert.deepEqual(serviceView(dual)?.ips, ['198.51.100.8', '2001:db8::8']);
  assert.deepEqual(projectService({ ...mk('h'), status: { loadBalancer: { ingress: [{ hostname: 'h' }] } } }).status, { loadBalancer: { ingress: [] } });
  assert.deepEqual(projectService({ ...mk('n'), status: { loadBalancer: {} } }).status, { loadBalancer: {} });
  const s = (name: string) => projectEndpointSlice({ metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } }, endpoints: [{ nodeName: 'n1', conditions: { ready: true } }] });
  assert.equal(s('x').endpoints[0], s('y').endpoints[0]);
  assert.deepEqual(s('x').endpoints, [{ nodeName: 'n1', conditions: { ready: true, serving: null } }]);
  assert.deepEqual(projectEndpointSlice({ metadata: { name: 'e' }, endpoints: undefined }).endpoints, []);
});

test('projectStatusObject shares the peers lists and the Service name string; values unchanged', () => {
  const mk = (svc: string) =>
    JSON.parse(
      JSON.stringify({
        apiVersion: 'metallb.io/v1beta1',
        kind: 'ServiceBGPStatus',
        metadata: { name: `bgp-${svc}`, namespace: 'metallb-system', labels: { 'metallb.io/node': 'n1', 'metallb.io/service-name': svc, 'metallb.io/service-namespace': 'shop' } },
        status: { node: 'n1', serviceName: svc, serviceNamespace: 'shop', peers: ['r1', 'r2'] },
      }),
    ) as { metadata: Record<string, unknown>; status: { peers: string[] } };
  const [a, b] = [projectStatusObject(mk('web')), projectStatusObject(mk('db'))];
  assert.equal(a.status.peers, b.status.peers, 'one shared list');
  assert.ok(Object.isFrozen(a.status.peers));
  assert.deepEqual(a, { ...mk('web'), metadata: { ...mk('web').metadata, resourceVersion: undefined } });
  assert.deepEqual(projectStatusObject({ metadata: { name: 'x' }, status: 'odd' } as never), { apiVersion: undefined, kind: undefined, metadata: { name: 'x', namespace: undefined, resourceVersion: undefined }, status: 'odd' });
});

test('slices with the same endpoints share one frozen list (and its views); keys and views keep their values', () => {
  const s = (name: string, nodes: string[]) =>
    projectEndpointSlice({
      metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': name } },
      endpoints: nodes.map((nodeName) => ({ nodeName, conditions: { ready: true } })),
    });
  const [x, y, z] = [s('x', ['n1', 'n2']), s('y', ['n1', 'n2']), s('z', ['n2', 'n1'])];
  assert.equal(x.endpoints, y.endpoints, 'one list for equal endpoints');
  assert.ok(Object.isFrozen(x.endpoints));
  assert.notEqual(x.endpoints, z.endpoints, 'another order is another list');
  assert.deepEqual(z.endpoints.map((e) => e.nodeName), ['n2', 'n1']);
  const views = endpointViews([x, y, z]);
  assert.equal(views.get('shop/x'), views.get('shop/y'), 'the views of one shared list are one list');
  assert.deepEqual(views.get('shop/z'), [
    { nodeName: 'n2', ready: true, serving: true },
    { nodeName: 'n1', ready: true, serving: true },
  ]);
  // Views as one literal per shape: the same values as before, with or without pool / sharing key.
  const svc = (annotations: Record<string, string>) => ({
    metadata: { namespace: 'shop', name: 'web', annotations },
    spec: { type: 'LoadBalancer' },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } },
  });
  const base = { key: 'shop/web', namespace: 'shop', name: 'web', labels: {}, ips: ['198.51.100.7'], externalTrafficPolicy: 'Cluster' };
  assert.deepEqual(serviceView(svc({})), base);
  assert.deepEqual(serviceView(svc({ 'metallb.io/ip-allocated-from-pool': 'dev' })), { ...base, pool: 'dev' });
  assert.deepEqual(serviceView(svc({ 'metallb.io/allow-shared-ip': 'k' })), { ...base, sharingKey: 'k' });
  assert.equal(serviceView({ ...svc({}), metadata: { name: 'web' } })?.key, 'default/web');
});
