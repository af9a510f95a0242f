// The JSON Schemas in policies/schemas: one per served kind/version, all compile under ajv strict mode, full
// examples of every kind pass, and the validator's problems name the path and the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_KINDS } from '../api/kinds.ts';
import { newClaim } from '../api/claim.ts';
import type { KubeObject } from '../api/object.ts';
import { createSchemaValidator, SCHEMA_FILES, SCHEMAS } from './schema.ts';
import { NS } from './test-objects.ts';

const DIR = fileURLToPath(new URL('../../policies/schemas/', import.meta.url));
const v = createSchemaValidator();

test('every schema file is registered, and every registered schema is its file', () => {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.ok(files.length > 0);
  assert.deepEqual([...Object.values(SCHEMA_FILES)].sort(), files);
  for (const [key, file] of Object.entries(SCHEMA_FILES)) {
    assert.deepEqual(SCHEMAS[key], JSON.parse(readFileSync(join(DIR, file), 'utf8')), file);
  }
});

test('every served kind has a schema', () => {
  for (const k of ALL_KINDS) assert.ok(v.has(k.apiVersion, k.kind), `${k.apiVersion} ${k.kind}`);
});

test('every registered schema compiles under strict mode (compiled on first use of its kind)', () => {
  const fresh = createSchemaValidator();
  for (const key of Object.keys(SCHEMAS)) {
    const [apiVersion = '', kind = ''] = key.split(' ');
    assert.doesNotThrow(() => fresh.validate({ apiVersion, kind, metadata: { name: 'x', namespace: NS } }), key);
  }
});

const sel = {
  matchLabels: { 'kubernetes.io/hostname': 'node-1' },
  matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }],
};
const meta = (name: string) => ({
  name,
  namespace: NS,
  labels: { a: 'b' },
  annotations: {},
  uid: 'u',
  resourceVersion: '1',
  generation: 1,
  creationTimestamp: '2024-01-01T00:00:00Z',
});
const full: KubeObject[] = [
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: meta('default'),
    spec: {
      addresses: ['192.168.1.220-192.168.1.250', 'fc00::/120'],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation: {
        priority: 10,
        namespaces: ['shop'],
        namespaceSelectors: [sel],
        serviceSelectors: [sel],
      },
    },
    status: { assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 30, availableIPv6: 256 },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: meta('l2-advert'),
    spec: {
      ipAddressPools: ['default'],
      ipAddressPoolSelectors: [sel],
      nodeSelectors: [sel],
      interfaces: ['eth0'],
      serviceSelectors: [sel],
      preferredNodeSelectors: [{ weight: 100, preference: sel }],
    },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'BGPAdvertisement',
    metadata: meta('bgp-advert'),
    spec: {
      aggregationLength: 32,
      aggregationLengthV6: 128,
      localPref: 100,
      communities: ['65535:65282', 'large:1:2:3', 'alias'],
      ipAddressPools: ['default'],
      ipAddressPoolSelectors: [sel],
      nodeSelectors: [sel],
      peers: ['router-bgp'],
      serviceSelectors: [sel],
    },
  },
  {
    apiVersion: 'metallb.io/v1beta2',
    kind: 'BGPPeer',
    metadata: meta('router-bgp'),
    spec: {
      myASN: 4294967295,
      peerASN: 64501,
      peerAddress: '192.168.1.1',
      sourceAddress: '192.168.1.10',
      peerPort: 179,
      holdTime: '90s',
      keepaliveTime: '30s',
      connectTime: '10s',
      routerID: '10.0.0.1',
      nodeSelectors: [sel],
      password: 'secret',
      passwordSecret: { name: 's', namespace: NS },
      bfdProfile: 'fast',
      enableGracefulRestart: true,
      ebgpMultiHop: false,
      vrf: '',
      disableMP: false,
      dualStackAddressFamily: true,
    },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'BGPPeer',
    metadata: meta('old'),
    spec: {
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '192.168.1.1',
      peerPort: 1179,
      holdTime: '90s',
      nodeSelectors: [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['b'] }] }],
    },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'Community',
    metadata: meta('c'),
    spec: { communities: [{ name: 'no-advertise', value: '65535:65282' }] },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'BFDProfile',
    metadata: meta('fast'),
    spec: {
      receiveInterval: 10,
      transmitInterval: 60000,
      detectMultiplier: 255,
      echoInterval: 50,
      echoMode: true,
      passiveMode: true,
      minimumTtl: 254,
    },
  },
  {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'ConfigurationState',
    metadata: meta('controller'),
    status: {
      result: 'Invalid',
      errorSummary: 'parsing address pool default: pool has no prefixes defined',
      conditions: [
        {
          type: 'poolReconcilerValid',
          status: 'False',
          reason: 'ConfigurationError',
          message: 'x',
          lastTransitionTime: '2024-01-01T00:00:00Z',
          observedGeneration: 1,
        },
      ],
    },
  },
  newClaim({
    ip: '192.168.1.230',
    pool: 'default',
    sharingKey: 'my-shared-ip',
    backendKey: '',
    holders: [{ namespace: 'default', name: 'web', uid: 'u', ports: [{ protocol: 'TCP', port: 80 }] }],
  }) as unknown as KubeObject,
];

for (const o of full) {
  test(`a full ${o.apiVersion} ${o.kind} passes its schema`, () => assert.deepEqual(v.validate(o), []));
}

test('problems name the path and the value', () => {
  const o: KubeObject = {
    apiVersion: 'metallb.io/v1beta2',
    kind: 'BGPPeer',
    metadata: { name: 'p' },
    spec: {
      peerASN: 4294967296,
      dynamicASN: 'both',
      nodeSelectors: [{ matchLabels: { 'app.kubernetes.io/name': 5 } }],
      extra: 1,
    },
  };
  assert.deepEqual(
    v.validate(o).map((p) => [p.keyword, p.path, p.message]),
    [
      ['required', 'spec.myASN', 'spec.myASN: Required value'],
      ['additionalProperties', 'spec.extra', 'unknown field "spec.extra"'],
      [
        'type',
        'spec.nodeSelectors[0].matchLabels["app.kubernetes.io/name"]',
        'spec.nodeSelectors[0].matchLabels["app.kubernetes.io/name"]: Invalid value: 5: must be of type string',
      ],
      [
        'maximum',
        'spec.peerASN',
        'spec.peerASN: Invalid value: 4294967296: must be less than or equal to 4294967295',
      ],
      [
        'enum',
        'spec.dynamicASN',
        'spec.dynamicASN: Unsupported value: "both": supported values: "internal", "external"',
      ],
    ],
  );
  assert.ok(v.validate(o).every((p) => p.code === 'LB_SCHEMA' && p.object === 'BGPPeer/p'));
});

test('status counters are all required when status is present; claims need every spec field', () => {
  const pool: KubeObject = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name: 'p' },
    spec: { addresses: ['10.0.0.0/24'] },
    status: { assignedIPv4: 1 },
  };
  assert.deepEqual(
    v.validate(pool).map((p) => p.path),
    ['status.assignedIPv6', 'status.availableIPv4', 'status.availableIPv6'],
  );
  const claim: KubeObject = {
    apiVersion: 'berth.io/v1alpha1',
    kind: 'IPAddressClaim',
    metadata: { name: 'v4-10-0-0-1' },
    spec: {
      ip: '10.0.0.1',
      holders: [{ namespace: 'a', name: 'b', ports: [{ protocol: 'HTTP', port: 0 }] }],
    },
  };
  assert.deepEqual(
    v.validate(claim).map((p) => p.path),
    [
      'spec.backendKey',
      'spec.pool',
      'spec.sharingKey',
      'spec.holders[0].ports[0].port',
      'spec.holders[0].ports[0].protocol',
    ],
  );
});

test('unknown apiVersion of a served kind names the served versions', () => {
  const p = v.validate({ apiVersion: 'metallb.io/v1alpha1', kind: 'BGPPeer', metadata: { name: 'x' } });
  assert.deepEqual(
    p.map((x) => x.message),
    ['no schema for metallb.io/v1alpha1 BGPPeer; served versions: metallb.io/v1beta2, metallb.io/v1beta1'],
  );
});
