import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpAllocator, PortAllocator } from './ip-allocator.ts';
import {
  Txn,
  allocateServiceUpdate,
  defaultService,
  prepareServiceCreate,
  prepareServiceStatusUpdate,
  prepareServiceUpdate,
  releaseServiceAllocations,
  validateService,
  validateServiceUpdate,
  type ServiceIpam,
  type SvcSpec,
} from './service-strategy.ts';
import type { KubeObject } from '../types.ts';

const ipam = (): ServiceIpam => ({ ips: { IPv4: new IpAllocator('10.96.0.0/28'), IPv6: new IpAllocator('fd00:10:96::/120') }, nodePorts: new PortAllocator(30000, 30004) });

function svc(spec: SvcSpec, name = 'web'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: JSON.parse(JSON.stringify(spec)) as SvcSpec };
}
const spec = (o: KubeObject) => o['spec'] as SvcSpec;

function create(i: ServiceIpam, s: SvcSpec, name?: string): { obj: KubeObject; errs: string[] } {
  const obj = svc(s, name);
  defaultService(obj);
  const txn = new Txn();
  const errs = prepareServiceCreate(i, obj, txn).map((e) => `${e.field}: ${e.detail}`);
  if (errs.length) txn.revert();
  else txn.commit();
  return { obj, errs };
}

test('scheme defaults as kube-apiserver: type, protocol, targetPort, affinity, traffic policies, node-port allocation flag', () => {
  const o = svc({ ports: [{ port: 80 }] });
  defaultService(o);
  assert.deepEqual(o['spec'], { ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], sessionAffinity: 'None', type: 'ClusterIP', internalTrafficPolicy: 'Cluster' });
  const lb = svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 'http' }] });
  defaultService(lb);
  const s = spec(lb);
  assert.equal(s.externalTrafficPolicy, 'Cluster');
  assert.equal(s.allocateLoadBalancerNodePorts, true);
  assert.equal(s.ports?.[0]?.targetPort, 'http');
  const ca = svc({ sessionAffinity: 'ClientIP', ports: [{ port: 1 }] });
  defaultService(ca);
  assert.deepEqual(spec(ca).sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
});

test('create allocates ClusterIP(s) per family, nodePorts for LoadBalancer, and wipes status', () => {
  const i = ipam();
  const a = create(i, { type: 'LoadBalancer', ports: [{ port: 80 }] });
  assert.deepEqual(a.errs, []);
  assert.equal(spec(a.obj).clusterIP, '10.96.0.1');
  assert.deepEqual(spec(a.obj).ipFamilies, ['IPv4']);
  assert.equal(spec(a.obj).ipFamilyPolicy, 'SingleStack');
  assert.equal(spec(a.obj).ports?.[0]?.nodePort, 30000);
  assert.deepEqual(a.obj['status'], { loadBalancer: {} });
  const d = create(i, { type: 'LoadBalancer', ipFamilyPolicy: 'PreferDualStack', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }, 'dual');
  assert.deepEqual(spec(d.obj).clusterIPs, ['10.96.0.2', 'fd00:10:96::1']);
  assert.deepEqual(spec(d.obj).ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(spec(d.obj).ports?.[0]?.nodePort, undefined);
  const v6 = create(i, { ipFamilies: ['IPv6'], ports: [{ port: 80 }] }, 'v6');
  assert.deepEqual(spec(v6.obj).clusterIPs, ['fd00:10:96::2']);
  const h = create(i, { clusterIP: 'None', ports: [{ port: 80 }] }, 'headless');
  assert.deepEqual(spec(h.obj).clusterIPs, ['None']);
  assert.equal(spec(h.obj).ipFamilyPolicy, 'RequireDualStack');
  const taken = create(i, { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }, 'dup');
  assert.match(taken.errs[0]!, /spec.clusterIPs: Invalid value: \[\]string\{"10.96.0.1"\}: failed to allocate IP 10.96.0.1: provided IP is already allocated/);
  const out = create(i, { clusterIP: '10.0.0.1', ports: [{ port: 80 }] }, 'out');
  assert.match(out.errs[0]!, /not in the valid range. The range of valid IPs is 10.96.0.0\/28/);
  const np = create(i, { type: 'NodePort', ports: [{ port: 80, nodePort: 30000 }] }, 'np');
  assert.match(np.errs[0]!, /spec.ports\[0\].nodePort: Invalid value: 30000: provided port is already allocated/);
  const multi = create(i, { ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 80 }] }, 'multi');
  assert.match(multi.errs[0]!, /spec.ipFamilyPolicy: .*must be RequireDualStack or PreferDualStack/);
  // A failed create gave back what it took: releasing and re-creating reuses the freed IP.
  releaseServiceAllocations(i, a.obj);
  const again = create(i, { type: 'LoadBalancer', ports: [{ port: 80 }] }, 'again');
  assert.deepEqual(again.errs, []);
  assert.notEqual(spec(again.obj).ports?.[0]?.nodePort, undefined);
});

test('validation messages name the field and the value', () => {
  const msgs = (s: SvcSpec, name = 'web') => {
    const o = svc(s, name);
    defaultService(o);
    return validateService(o).map((e) => `${e.field}: ${e.detail}`);
  };
  assert.deepEqual(msgs({ type: 'ClusterIP' }), ['spec.ports: Required value']);
  assert.match(msgs({ ports: [{ port: 80 }] }, 'Web')[0]!, /^metadata.name: Invalid value: "Web": a DNS-1035 label must consist of lower case/);
  assert.deepEqual(msgs({ type: 'Bogus', ports: [{ port: 80 }] }), ['spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']);
  assert.deepEqual(msgs({ ports: [{ port: 0 }] }), ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']);
  assert.deepEqual(msgs({ loadBalancerClass: 'x.io/y', ports: [{ port: 80 }] }), ["spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"]);
  assert.deepEqual(msgs({ ports: [{ port: 80 }, { port: 81 }] }), ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']);
});

test('update keeps status and allocations, clusterIP and loadBalancerClass are immutable, type change releases', () => {
  const i = ipam();
  const { obj: old0 } = create(i, { type: 'LoadBalancer', loadBalancerClass: 'berth.io/lb', ports: [{ port: 80 }] });
  const old: KubeObject = { ...old0, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] } } };
  // A PUT without clusterIP/nodePort/status keeps them.
  const next = svc({ type: 'LoadBalancer', loadBalancerClass: 'berth.io/lb', ports: [{ port: 80 }] });
  next['status'] = { loadBalancer: { ingress: [{ ip: '6.6.6.6' }] } };
  defaultService(next);
  prepareServiceUpdate(next, old);
  assert.equal(spec(next).clusterIP, spec(old).clusterIP);
  assert.equal(spec(next).ports?.[0]?.nodePort, spec(old).ports?.[0]?.nodePort);
  assert.deepEqual(next['status'], old['status']);
  assert.deepEqual(validateServiceUpdate(next, old), []);
  const cls = svc({ type: 'LoadBalancer', loadBalancerClass: 'other.io/lb', ports: [{ port: 80 }] });
  defaultService(cls);
  prepareServiceUpdate(cls, old);
  assert.deepEqual(
    validateServiceUpdate(cls, old).map((e) => `${e.field}: ${e.detail}`),
    ['spec.loadBalancerClass: Invalid value: "other.io/lb": may not change once set'],
  );
  const ip = svc({ type: 'LoadBalancer', loadBalancerClass: 'berth.io/lb', clusterIP: '10.96.0.9', ports: [{ port: 80 }] });
  prepareServiceUpdate(ip, old);
  assert.match(validateServiceUpdate(ip, old)[0]!.detail, /may not change once set/);
  // LoadBalancer → ClusterIP: class dropped, status.loadBalancer cleared, node port released on commit.
  const toCip = svc({ type: 'ClusterIP', loadBalancerClass: 'berth.io/lb', ports: [{ port: 80 }] });
  defaultService(toCip);
  prepareServiceUpdate(toCip, old);
  const txn = new Txn();
  assert.deepEqual(allocateServiceUpdate(i, toCip, old, txn), []);
  txn.commit();
  assert.equal(spec(toCip).loadBalancerClass, undefined);
  assert.deepEqual(toCip['status'], { loadBalancer: {} });
  assert.equal(i.nodePorts.isUsed(spec(old).ports![0]!.nodePort!), false);
  // services/status keeps the stored spec and defaults ipMode.
  const st = prepareServiceStatusUpdate({ ...svc({ type: 'ClusterIP' }), status: { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } } }, old);
  assert.deepEqual(st['spec'], old['spec']);
  assert.deepEqual(st['status'], { loadBalancer: { ingress: [{ ip: '192.0.2.7', ipMode: 'VIP' }] } });
});
