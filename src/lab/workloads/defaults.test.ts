import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPullPolicy, defaultWorkload } from './defaults.ts';

test('imagePullPolicy defaults: Always for latest or untagged images, IfNotPresent otherwise', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('registry:5000/team/nginx'), 'Always');
  assert.equal(defaultPullPolicy('registry:5000/team/nginx:1.27'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx@sha256:abc'), 'IfNotPresent');
});

test('Deployment, Pod defaults fill absent fields only and survive malformed specs', () => {
  const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: {}, spec: { replicas: 0, template: { spec: { containers: [{ name: 'c', image: 'nginx:1', ports: [{ containerPort: 80 }] }] } } } };
  defaultWorkload('apps/deployments', d);
  assert.equal(d.spec.replicas, 0);
  assert.deepEqual((d.spec as Record<string, unknown>)['strategy'], { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  const c = d.spec.template.spec.containers[0] as Record<string, unknown>;
  assert.equal(c['imagePullPolicy'], 'IfNotPresent');
  assert.deepEqual(c['ports'], [{ containerPort: 80, protocol: 'TCP' }]);
  const p = { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: 'nope' } } as unknown as Parameters<typeof defaultWorkload>[1];
  defaultWorkload('core/pods', p);
  assert.equal((p['spec'] as Record<string, unknown>)['serviceAccountName'], 'default');
  assert.deepEqual(p['status'], { phase: 'Pending', qosClass: 'BestEffort' });
  const junk = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: {}, spec: 'x' };
  defaultWorkload('apps/deployments', junk);
  assert.equal(junk.spec, 'x');
});
