// The workload controller over an in-process lab store and REST layer (no HTTP, no kubectl): Deployments to
// Pods on Nodes, EndpointSlices following scale, Pod deletion and Node readiness, garbage collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../registry.ts';
import { Store } from '../store.ts';
import { Rest, type Admission } from '../rest.ts';
import { IpAllocator, PortAllocator } from '../service/ip-allocator.ts';
import { isFailure, type Failure } from '../status.ts';
import type { KubeObject } from '../types.ts';
import { WorkloadController } from './controller.ts';
import { bootstrapNodes } from './nodes.ts';
import { serveScale } from './scale.ts';

const admitAll: Admission = {
  mutate: async (attrs) => ({ object: attrs.object, warnings: [] }),
  validate: async () => ({ warnings: [] }),
};

async function setup() {
  const registry = new Registry();
  const store = new Store();
  const rest = new Rest(registry, store, { ips: { IPv4: new IpAllocator('10.96.0.0/12'), IPv6: new IpAllocator('fd00:10:96::/112') }, nodePorts: new PortAllocator() }, admitAll);
  const target = (group: string, plural: string, namespace: string, name = '', subresource = '') => ({ type: registry.resolve(group, 'v1', plural)!, version: 'v1', namespace, name, subresource });
  const must = async <T>(p: Promise<T | Failure>): Promise<T> => {
    const r = await p;
    if (isFailure(r)) assert.fail(r.status.message);
    return r;
  };
  await must(rest.create(target('', 'namespaces', ''), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }, { dryRun: false }));
  await bootstrapNodes(rest, store, registry, 2);
  const controller = new WorkloadController({ store, rest, registry, podStartDelayMs: 0 });
  controller.start();
  const until = async (what: string, pred: () => boolean) => {
    for (let i = 0; i < 400 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred(), `${what}: never happened`);
  };
  return { registry, store, rest, target, must, controller, until };
}

const ready = (p: KubeObject) => ((p['status'] as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const endpoints = (store: Store, svc: string) =>
  store
    .list('discovery.k8s.io/endpointslices', 'default')
    .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc && s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === 'endpointslice-controller.k8s.io')
    .flatMap((s) => ((s['endpoints'] as Array<{ targetRef: { name: string }; conditions: { ready: boolean } }> | null) ?? []).map((e) => `${e.targetRef.name}:${e.conditions.ready}`))
    .sort();

test('a Deployment gets Ready Pods on the Nodes and a Service selecting them gets endpoints that follow scale, deletion and Node readiness', async () => {
  const { store, rest, target, must, controller, until } = await setup();
  try {
    const deployment: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    };
    await must(rest.create(target('apps', 'deployments', 'default'), deployment, { dryRun: false }));
    await must(rest.create(target('', 'services', 'default'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } }, { dryRun: false }));
    const pods = () => store.list('core/pods', 'default');
    await until('2 ready pods', () => pods().length === 2 && pods().every(ready));
    assert.deepEqual(pods().map((p) => (p['spec'] as { nodeName: string }).nodeName).sort(), ['lab-node-1', 'lab-node-2']);
    await until('2 ready endpoints', () => endpoints(store, 'web').length === 2 && endpoints(store, 'web').every((e) => e.endsWith(':true')));
    await until('deployment status', () => (store.get('apps/deployments', 'default', 'web')?.['status'] as { readyReplicas?: number })?.readyReplicas === 2);

    // Scale through the scale subresource.
    const scaled = await must(serveScale(rest, target('apps', 'deployments', 'default', 'web', 'scale'), 'PATCH', 'application/merge-patch+json', { spec: { replicas: 3 } }, { dryRun: false }));
    assert.equal((scaled.body as { spec: { replicas: number } }).spec.replicas, 3);
    await until('3 ready endpoints', () => endpoints(store, 'web').filter((e) => e.endsWith(':true')).length === 3);
    const bad = await serveScale(rest, target('apps', 'deployments', 'default', 'web', 'scale'), 'PUT', '', { spec: { replicas: -1 } }, { dryRun: false });
    assert.ok(isFailure(bad) && bad.code === 422 && /spec\.replicas: Invalid value: -1: must be greater than or equal to 0/.test(bad.status.message ?? ''));

    // A deleted Pod is replaced and leaves the endpoints.
    const victim = pods()[0]!.metadata.name!;
    await must(rest.delete(target('', 'pods', 'default', victim), { dryRun: false }));
    await until('replacement', () => pods().length === 3 && pods().every(ready) && !pods().some((p) => p.metadata.name === victim));
    await until('endpoints without the victim', () => endpoints(store, 'web').length === 3 && !endpoints(store, 'web').some((e) => e.startsWith(`${victim}:`)));

    // A NotReady Node's Pods become not ready endpoints.
    const node = store.get('core/nodes', undefined, 'lab-node-1')!;
    const status = node['status'] as { conditions: Array<{ type: string; status: string }> };
    const notReady = { ...node, status: { ...status, conditions: status.conditions.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' } : c)) } };
    await must(rest.update(target('', 'nodes', '', 'lab-node-1', 'status'), notReady, { dryRun: false }));
    const onNode1 = () => pods().filter((p) => (p['spec'] as { nodeName: string }).nodeName === 'lab-node-1').map((p) => p.metadata.name);
    await until('not ready endpoints on lab-node-1', () => endpoints(store, 'web').filter((e) => e.endsWith(':false')).length === onNode1().length && onNode1().length > 0);

    // Deleting the Deployment deletes its ReplicaSets and Pods; the slice becomes a placeholder.
    await must(rest.delete(target('apps', 'deployments', 'default', 'web'), { dryRun: false }));
    await until('no pods, no replicasets', () => pods().length === 0 && store.list('apps/replicasets', 'default').length === 0);
    await until('placeholder slice', () => endpoints(store, 'web').length === 0 && store.list('discovery.k8s.io/endpointslices', 'default').length === 1);
    // Deleting the Service removes its slice and Endpoints.
    await must(rest.delete(target('', 'services', 'default', 'web'), { dryRun: false }));
    await until('slices and endpoints gone', () => store.list('discovery.k8s.io/endpointslices', 'default').length === 0 && !store.get('core/endpoints', 'default', 'web'));
  } finally {
    await controller.stop();
  }
});

test('without a schedulable Node a Pod stays Pending (Unschedulable) and starts once a Node is Ready', async () => {
  const { registry, store, rest, target, must, controller, until } = await setup();
  try {
    for (const n of ['lab-node-1', 'lab-node-2']) await must(rest.delete(target('', 'nodes', '', n), { dryRun: false }));
    await must(rest.create(target('', 'pods', 'default'), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }, { dryRun: false }));
    const cond = () => ((store.get('core/pods', 'default', 'solo')?.['status'] as { conditions?: Array<{ type: string; status: string; reason?: string }> })?.conditions ?? []).find((c) => c.type === 'PodScheduled');
    await until('unschedulable', () => cond()?.reason === 'Unschedulable');
    assert.ok(store.list('core/events', 'default').some((e) => e['reason'] === 'FailedScheduling'));
    await bootstrapNodes(rest, store, registry, 1);
    await until('running on the new node', () => ready(store.get('core/pods', 'default', 'solo')!));
  } finally {
    await controller.stop();
  }
});
