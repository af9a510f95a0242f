import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignedIPs,
  ingressIPs,
  isOurClass,
  serviceFamilies,
  serviceKey,
  serviceRequestFrom,
  type ServiceLike,
} from './service.ts';

const svc = (over: ServiceLike = {}): ServiceLike => ({
  metadata: { name: 'web', namespace: 'shop', ...over.metadata },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...over.spec },
  ...(over.status ? { status: over.status } : {}),
});

test('a plain LoadBalancer Service becomes an IPv4 single-stack request with TCP/80', () => {
  const r = serviceRequestFrom(svc());
  assert.ok(r.ok);
  assert.deepEqual(r.req, {
    namespace: 'shop',
    name: 'web',
    labels: {},
    ports: [{ protocol: 'TCP', port: 80 }],
    sharingKey: '',
    backendKey: '',
    families: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    requestedIPs: [],
  });
  assert.deepEqual(r.warnings, []);
});

test('deprecated metallb.universe.tf keys are read, with a warning each', () => {
  const r = serviceRequestFrom(
    svc({
      metadata: {
        annotations: {
          'metallb.universe.tf/allow-shared-ip': 'my-shared-ip',
          'metallb.universe.tf/address-pool': 'default',
        },
      },
      spec: { loadBalancerIP: '192.168.1.230' },
    }),
  );
  assert.ok(r.ok);
  assert.equal(r.req.sharingKey, 'my-shared-ip');
  assert.equal(r.req.pool, 'default');
  assert.deepEqual(r.req.requestedIPs, ['192.168.1.230']);
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0]!, /metallb.universe.tf\/address-pool is deprecated; use metallb.io\/address-pool/);
});

test('the metallb.io key wins over the deprecated one', () => {
  const r = serviceRequestFrom(
    svc({
      metadata: {
        annotations: { 'metallb.io/address-pool': 'new', 'metallb.universe.tf/address-pool': 'old' },
      },
    }),
  );
  assert.ok(r.ok);
  assert.equal(r.req.pool, 'new');
});

test('loadBalancerIP and the loadBalancerIPs annotation together are refused, naming both values', () => {
  const r = serviceRequestFrom(
    svc({
      metadata: { annotations: { 'metallb.io/loadBalancerIPs': '192.168.1.226' } },
      spec: { loadBalancerIP: '192.168.1.225' },
    }),
  );
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.code, 'LB_BOTH_IP_FIELDS');
  assert.match(r.message, /192\.168\.1\.225/);
  assert.match(r.message, /192\.168\.1\.226/);
});

test('requested IPs: bad syntax, three IPs, two of one family are refused', () => {
  const cases: Array<[string, RegExp]> = [
    ['192.168.1.300', /"192.168.1.300" in metallb.io\/loadBalancerIPs is not a valid IP address/],
    ['192.0.2.1, 2001:db8::1, 192.0.2.2', /requests 3 IPs/],
    ['192.0.2.1,192.0.2.2', /one IPv4 and one IPv6/],
  ];
  for (const [value, re] of cases) {
    const r = serviceRequestFrom(svc({ metadata: { annotations: { 'metallb.io/loadBalancerIPs': value } } }));
    assert.ok(!r.ok, value);
    assert.equal(r.code, 'LB_BAD_REQUESTED_IP');
    assert.match(r.message, re);
  }
});

test('dual-stack annotation is trimmed and canonicalised', () => {
  const r = serviceRequestFrom(
    svc({
      metadata: { annotations: { 'metallb.io/loadBalancerIPs': ' 192.0.2.10 , 2001:0db8::0:1 ' } },
      spec: { ipFamilyPolicy: 'RequireDualStack' },
    }),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.req.requestedIPs, ['192.0.2.10', '2001:db8::1']);
  assert.deepEqual(r.req.families, ['IPv4', 'IPv6']);
});

test('families come from ipFamilies, then clusterIPs, then the policy and the cluster', () => {
  assert.deepEqual(serviceFamilies(svc({ spec: { ipFamilies: ['IPv6'] } })), ['IPv6']);
  assert.deepEqual(serviceFamilies(svc({ spec: { clusterIPs: ['10.96.0.1', 'fd00::1'], ipFamilyPolicy: 'PreferDualStack' } })), [
    'IPv4',
    'IPv6',
  ]);
  assert.deepEqual(serviceFamilies(svc({ spec: { clusterIPs: ['10.96.0.1', 'fd00::1'] } })), ['IPv4']);
  assert.deepEqual(serviceFamilies(svc({ spec: { ipFamilyPolicy: 'PreferDualStack' } })), ['IPv4']);
  assert.deepEqual(
    serviceFamilies(svc({ spec: { ipFamilyPolicy: 'PreferDualStack' } }), { clusterFamilies: ['IPv6', 'IPv4'] }),
    ['IPv6', 'IPv4'],
  );
  assert.deepEqual(serviceFamilies(svc({ spec: { ipFamilyPolicy: 'RequireDualStack' } })), ['IPv4', 'IPv6']);
});

test('externalTrafficPolicy Local gives the canonical selector as backend key', () => {
  const r = serviceRequestFrom(svc({ spec: { externalTrafficPolicy: 'Local', selector: { b: '2', a: '1' } } }));
  assert.ok(r.ok);
  assert.equal(r.req.backendKey, 'a=1,b=2');
});

test('ports default to TCP, unknown protocols and missing numbers are skipped', () => {
  const r = serviceRequestFrom(
    svc({ spec: { ports: [{ port: 53, protocol: 'UDP' }, { port: 53 }, { protocol: 'ICMP', port: 1 }, { name: 'x' }] } }),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.req.ports, [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ]);
});

test('hostile input never throws', () => {
  const inputs: unknown[] = [
    {},
    { metadata: null },
    { spec: { ports: [null, 7, 'x'] } },
    { spec: { ipFamilies: [1] } },
    { spec: { ports: 5, ipFamilies: 4, clusterIPs: 3, selector: 2 }, metadata: { labels: 'x', annotations: 7 } },
    { spec: { clusterIPs: [null, 1] }, status: { loadBalancer: { ingress: 9 } } },
  ];
  for (const i of inputs) {
    assert.doesNotThrow(() => serviceRequestFrom(i as ServiceLike), JSON.stringify(i));
    assert.doesNotThrow(() => ingressIPs(i as ServiceLike), JSON.stringify(i));
  }
});

test('class filter, key, ingress and assigned IPs', () => {
  assert.equal(isOurClass(svc()), true);
  assert.equal(isOurClass(svc({ spec: { loadBalancerClass: 'x' } })), false);
  assert.equal(isOurClass(svc({ spec: { loadBalancerClass: 'x' } }), 'x'), true);
  assert.equal(isOurClass(svc(), 'x'), false);
  assert.equal(serviceKey({ metadata: { name: 'a' } }), 'default/a');
  assert.deepEqual(
    ingressIPs(svc({ status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { hostname: 'h' }] } } })),
    ['192.0.2.1'],
  );
  assert.deepEqual(assignedIPs(svc({ metadata: { annotations: { 'berth.io/assigned-ips': '192.0.2.1, 2001:db8::1' } } })), [
    '192.0.2.1',
    '2001:db8::1',
  ]);
});
