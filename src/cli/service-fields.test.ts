// The API server's Service field rules for the offline `berth plan` (Kubernetes' field error texts: path, value, rule).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceFieldErrors } from './service-fields.ts';

const lb = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = { name: 'web', namespace: 'shop' }) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata,
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }], ...spec },
});

describe('serviceFieldErrors', () => {
  it('a well-formed LoadBalancer Service (and a ClusterIP one, not checked further) has none', () => {
    assert.deepEqual(serviceFieldErrors(lb()), []);
    assert.deepEqual(
      serviceFieldErrors(
        lb({
          ports: [
            { name: 'http', port: 80, targetPort: 'http-alt', protocol: 'TCP', nodePort: 30080 },
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
            { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          ],
          externalTrafficPolicy: 'Local',
          ipFamilyPolicy: 'RequireDualStack',
          ipFamilies: ['IPv6', 'IPv4'],
          loadBalancerSourceRanges: ['192.0.2.0/24', '2001:db8::/32'],
        }, { name: 'web', annotations: { 'metallb.io/allow-shared-ip': 'k' } }),
      ),
      [],
    );
    assert.deepEqual(serviceFieldErrors({ kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 0 }] } }), []);
  });
  it('ports: range, integer, protocol, names, duplicates, nodePort, targetPort', () => {
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 0 }] })), ['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 70000 }] })), ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: '80' }] })), ['spec.ports[0].port: Invalid value: "80": must be an integer']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 80, protocol: 'HTTP' }] })), [
      'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ]);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 80 }, { name: 'b', port: 81 }] })), [
      'spec.ports[0].name: Required value: a name is required when a Service has more than one port',
    ]);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 80 }] })), [
      'spec.ports[1].name: Duplicate value: "a"',
      'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}',
    ]);
    assert.match(serviceFieldErrors(lb({ ports: [{ name: 'HTTP', port: 80 }] }))[0]!, /^spec\.ports\[0\]\.name: Invalid value: "HTTP": a lowercase RFC 1123 label/);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 80, nodePort: 65536 }] })), ['spec.ports[0].nodePort: Invalid value: 65536: must be between 1 and 65535, inclusive']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 80, targetPort: 'a--b' }] })), ['spec.ports[0].targetPort: Invalid value: "a--b": must not contain consecutive hyphens']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [{ port: 80, targetPort: 99999 }] })), ['spec.ports[0].targetPort: Invalid value: 99999: must be between 1 and 65535, inclusive']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: [] })), ['spec.ports: Required value']);
    assert.deepEqual(serviceFieldErrors(lb({ ports: 80 })), ['spec.ports: Invalid value: 80: must be a list of ports']);
  });
  it('type, metadata, policies, families, source ranges', () => {
    assert.deepEqual(serviceFieldErrors(lb({ type: 'Loadbalancer' })), [
      'spec.type: Unsupported value: "Loadbalancer": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]);
    assert.deepEqual(serviceFieldErrors(lb({}, { namespace: 'shop' })), ['metadata.name: Required value: name or generateName is required']);
    assert.match(serviceFieldErrors(lb({}, { name: '1web' }))[0]!, /^metadata\.name: Invalid value: "1web": a DNS-1035 label must .* start with an alphabetic character/);
    assert.deepEqual(serviceFieldErrors(lb({}, { name: 'x'.repeat(64) })), [`metadata.name: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`]);
    assert.match(serviceFieldErrors(lb({}, { name: 'web', namespace: 'Shop' }))[0]!, /^metadata\.namespace: Invalid value: "Shop": a lowercase RFC 1123 label/);
    assert.deepEqual(serviceFieldErrors(lb({}, { name: 'web', annotations: { 'metallb.io/allow-shared-ip': 1 } })), [
      'metadata.annotations["metallb.io/allow-shared-ip"]: Invalid value: 1: must be a string (quote it in YAML)',
    ]);
    assert.deepEqual(serviceFieldErrors(lb({ externalTrafficPolicy: 'local' })), ['spec.externalTrafficPolicy: Unsupported value: "local": supported values: "Cluster", "Local"']);
    assert.deepEqual(serviceFieldErrors(lb({ ipFamilyPolicy: 'DualStack' })), [
      'spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: "PreferDualStack", "RequireDualStack", "SingleStack"',
    ]);
    assert.deepEqual(serviceFieldErrors(lb({ ipFamilies: ['IPv4', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' })), ['spec.ipFamilies[1]: Duplicate value: "IPv4"']);
    assert.deepEqual(serviceFieldErrors(lb({ ipFamilies: ['IPv4', 'IPv6'] })), [
      `spec.ipFamilyPolicy: Invalid value: "SingleStack": must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified`,
    ]);
    assert.deepEqual(serviceFieldErrors(lb({ ipFamilies: ['ipv4'] })), ['spec.ipFamilies[0]: Unsupported value: "ipv4": supported values: "IPv4", "IPv6"']);
    assert.deepEqual(serviceFieldErrors(lb({ loadBalancerSourceRanges: ['192.0.2.0'] })), [
      'spec.loadBalancerSourceRanges[0]: Invalid value: "192.0.2.0": must be an IP range in CIDR notation, for example 192.0.2.0/24',
    ]);
  });
  it('hostile input never throws', () => {
    for (const v of [null, 5, 'x', [], { spec: null }, { spec: { type: 'LoadBalancer', ports: [null, 5, [], { port: {} }] } }, { metadata: 7, spec: { type: 'LoadBalancer', ports: [{ port: 1 }], ipFamilies: 'IPv4' } }]) {
      assert.ok(Array.isArray(serviceFieldErrors(v)));
    }
  });
});
