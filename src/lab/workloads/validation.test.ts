import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../types.ts';
import { validateWorkload } from './validation.ts';

const deployment = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec });
const template = (labels: Record<string, string>, containers: unknown = [{ name: 'c', image: 'nginx' }]) => ({ metadata: { labels }, spec: { containers } });
const msgs = (o: KubeObject, old?: KubeObject, key = 'apps/deployments') => validateWorkload(key, o, old).map((e) => `${e.field}: ${e.detail}`);

test('Deployments: selector required, non-empty, matching the template labels, immutable; containers; replicas', () => {
  assert.deepEqual(msgs(deployment({ selector: { matchLabels: { app: 'a' } }, template: template({ app: 'a' }) })), []);
  assert.deepEqual(msgs(deployment({ template: template({ app: 'a' }) })), ['spec.selector: Required value']);
  assert.deepEqual(msgs(deployment({ selector: {}, template: template({ app: 'a' }) })), ['spec.selector: Invalid value: {}: empty selector is invalid for deployment']);
  assert.deepEqual(msgs(deployment({ selector: { matchLabels: { app: 'a' } }, template: template({ app: 'b' }) })), [
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`',
  ]);
  assert.deepEqual(msgs(deployment({ replicas: -1, selector: { matchLabels: { app: 'a' } }, template: template({ app: 'a' }, [{ name: 'c' }]) })), [
    'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
    'spec.template.spec.containers[0].image: Required value',
  ]);
  const old = deployment({ selector: { matchLabels: { app: 'a' } }, template: template({ app: 'a', v: '1' }) });
  assert.deepEqual(msgs(deployment({ selector: { matchLabels: { app: 'a', v: '1' } }, template: template({ app: 'a', v: '1' }) }), old), [
    'spec.selector: Invalid value: {"matchLabels":{"app":"a","v":"1"}}: field is immutable',
  ]);
});

test('Pods need containers; Ingress paths need a supported pathType; other kinds are not checked', () => {
  assert.deepEqual(msgs({ apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: {} }, undefined, 'core/pods'), ['spec.containers: Required value']);
  const ing = (pathType?: string): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: {}, spec: { rules: [{ host: 'a', http: { paths: [{ path: '/', ...(pathType ? { pathType } : {}) }] } }] } });
  assert.deepEqual(msgs(ing(), undefined, 'networking.k8s.io/ingresses'), ['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']);
  assert.deepEqual(msgs(ing('Regex'), undefined, 'networking.k8s.io/ingresses'), ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']);
  assert.deepEqual(msgs(ing('Prefix'), undefined, 'networking.k8s.io/ingresses'), []);
  assert.deepEqual(msgs({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }, undefined, 'core/configmaps'), []);
});
