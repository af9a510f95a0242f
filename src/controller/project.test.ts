import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceRequestFrom } from '../config/service.ts';
import { projectService } from './project.ts';

const full = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: {
    name: 'web',
    namespace: 'shop',
    uid: 'u1',
    resourceVersion: '9',
    generation: 1,
    creationTimestamp: '2025-01-01T00:00:00Z',
    labels: { app: 'web' },
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
      'metallb.io/allow-shared-ip': 'k',
      'metallb.universe.tf/address-pool': 'default',
      'berth.io/assigned-ips': '192.168.1.230',
      'other.io/x': 'y',
    },
  },
  spec: {
    type: 'LoadBalancer',
    clusterIP: '10.96.0.3',
    clusterIPs: ['10.96.0.3'],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    externalTrafficPolicy: 'Local',
    selector: { app: 'web' },
    loadBalancerIP: '192.168.1.230',
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30000 }],
    sessionAffinity: 'None',
  },
  status: { loadBalancer: { ingress: [{ ip: '192.168.1.230', ipMode: 'VIP' }, { hostname: 'x.example' }] } },
};

describe('projectService', () => {
  it('keeps exactly what allocation reads: the ServiceRequest is the same as from the full object', () => {
    const p = projectService(structuredClone(full));
    assert.deepEqual(serviceRequestFrom(p), serviceRequestFrom(full));
    assert.deepEqual(p.metadata?.annotations, {
      'metallb.io/allow-shared-ip': 'k',
      'metallb.universe.tf/address-pool': 'default',
      'berth.io/assigned-ips': '192.168.1.230',
    });
    assert.deepEqual(p.status, { loadBalancer: { ingress: [{ ip: '192.168.1.230' }] } });
    assert.equal(JSON.stringify(p).includes('last-applied'), false);
    assert.deepEqual(p.spec?.ports, [{ protocol: 'TCP', port: 80 }], 'no nodePort, targetPort, name');
    assert.equal((p.spec as Record<string, unknown>).sessionAffinity, undefined);
    assert.equal((p.metadata as Record<string, unknown>).creationTimestamp, undefined);
  });

  it('Services with the same ports and families share one frozen list of each; the ingress list is exactly its length', () => {
    const a = projectService(structuredClone(full));
    const b = projectService(structuredClone(full));
    assert.equal(a.spec?.ports, b.spec?.ports);
    assert.equal(a.spec?.ipFamilies, b.spec?.ipFamilies);
    assert.ok(Object.isFrozen(a.spec?.ports) && Object.isFrozen(a.spec?.ports?.[0]));
    const udp = structuredClone(full);
    udp.spec.ports = [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53, nodePort: 30001 }];
    assert.deepEqual(projectService(udp).spec?.ports, [{ protocol: 'UDP', port: 53 }]);
    assert.deepEqual(a.spec?.ports, [{ protocol: 'TCP', port: 80 }], 'unchanged by another Service');
    assert.deepEqual(a.spec?.clusterIPs, ['10.96.0.3']);
    assert.equal(a.status?.loadBalancer?.ingress?.length, 1);
  });

  it('a new version keeps the previous version\'s ClusterIPs list when unchanged, and changes no value', () => {
    const old = projectService(structuredClone(full));
    const next = structuredClone(full);
    next.metadata.resourceVersion = '10';
    const p = projectService(structuredClone(next), undefined, old);
    assert.deepEqual(p, projectService(structuredClone(next)));
    assert.equal(p.spec?.clusterIPs, old.spec?.clusterIPs, 'the same list');
    const moved = structuredClone(next);
    moved.spec.clusterIP = '10.96.0.4';
    moved.spec.clusterIPs = ['10.96.0.4'];
    moved.metadata.uid = 'u2';
    moved.metadata.annotations['berth.io/assigned-ips'] = '192.168.1.231';
    const q = projectService(structuredClone(moved), undefined, old);
    assert.deepEqual(q, projectService(structuredClone(moved)));
    assert.deepEqual(q.spec?.clusterIPs, ['10.96.0.4']);
    assert.equal(q.metadata?.uid, 'u2');
  });

  it('status is read as the API server wrote it (IPs only, in order), and JSON carries it; none without ingress IPs', () => {
    const dual = structuredClone(full);
    dual.status.loadBalancer.ingress = [{ ip: '192.168.1.230', ipMode: 'VIP' }, { hostname: 'x.example' }, { ip: 'fd00::5', ipMode: 'VIP' }];
    const p = projectService(dual);
    assert.deepEqual(p.status, { loadBalancer: { ingress: [{ ip: '192.168.1.230' }, { ip: 'fd00::5' }] } });
    assert.deepEqual(JSON.parse(JSON.stringify(p)).status, { loadBalancer: { ingress: [{ ip: '192.168.1.230' }, { ip: 'fd00::5' }] } });
    assert.deepEqual(JSON.parse(JSON.stringify(p)).metadata, { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '9', labels: { app: 'web' }, annotations: p.metadata?.annotations });
    const none = structuredClone(full) as unknown as { status?: unknown };
    delete none.status;
    assert.equal(projectService(none as typeof full).status, undefined);
    assert.equal('status' in JSON.parse(JSON.stringify(projectService(none as typeof full))), false);
  });

  it('a non-LoadBalancer Service keeps only type, ClusterIPs and our annotations', () => {
    const cip = structuredClone(full);
    cip.spec.type = 'ClusterIP';
    const p = projectService(cip);
    assert.deepEqual(JSON.parse(JSON.stringify(p.spec)), { type: 'ClusterIP', clusterIP: '10.96.0.3', clusterIPs: ['10.96.0.3'] });
    assert.equal(p.metadata?.labels, undefined);
    assert.equal(p.metadata?.annotations?.['berth.io/assigned-ips'], '192.168.1.230', 'so the controller can clear it');
  });
});
