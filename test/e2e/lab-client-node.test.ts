// The lab through @kubernetes/client-node 1.4.0: typed list/create/patch, an informer (makeInformer) that sees
// ADDED/MODIFIED/DELETED, optimistic concurrency, and a watch from a resourceVersion older than the window → 410.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { withLab } from '../../src/lab/testing.ts';

function clients(kubeconfigPath: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi), coord: kc.makeApiClient(k8s.CoordinationV1Api) };
}

/** Resolves when `pred` holds, polling an in-memory condition (no wall-clock assertions). */
async function until(pred: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const svc = (name: string): k8s.V1Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, labels: { app: 'informer-test' } },
  spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
});

test('client-node: informer sees ADDED, MODIFIED and DELETED; status patch and 409 Conflict', async () => {
  await withLab(async ({ lab }) => {
    const { kc, core } = clients(lab.kubeconfigPath);
    await core.createNamespace({ body: { metadata: { name: 'inf' } } });
    const events: string[] = [];
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/inf/services', () => core.listNamespacedService({ namespace: 'inf' }));
    informer.on('add', (o) => events.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => events.push(`update ${o.metadata?.name} ${JSON.stringify(o.status?.loadBalancer?.ingress ?? [])}`));
    informer.on('delete', (o) => events.push(`delete ${o.metadata?.name}`));
    await informer.start();
    try {
      const created = await core.createNamespacedService({ namespace: 'inf', body: svc('a') });
      assert.equal(created.spec?.type, 'LoadBalancer');
      assert.ok(created.spec?.clusterIP);
      assert.ok(created.metadata?.uid);
      await until(() => events.includes('add a'), 'ADDED');

      await core.patchNamespacedServiceStatus(
        { name: 'a', namespace: 'inf', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      await until(() => events.some((e) => e.startsWith('update a') && e.includes('192.0.2.1')), 'MODIFIED');

      // Optimistic concurrency: a replace with a stale resourceVersion is 409 Conflict.
      const stale = { ...created, spec: { ...created.spec, ports: [{ port: 81 }] } };
      await assert.rejects(
        () => core.replaceNamespacedService({ name: 'a', namespace: 'inf', body: stale }),
        (e: unknown) => (e as k8s.ApiException<unknown>).code === 409 && String((e as k8s.ApiException<unknown>).body).includes('the object has been modified'),
      );

      await core.deleteNamespacedService({ name: 'a', namespace: 'inf' });
      await until(() => events.includes('delete a'), 'DELETED');
      assert.deepEqual(
        events.map((e) => e.split(' ')[0]),
        ['add', 'update', 'delete'],
      );
      assert.equal(informer.list('inf').length, 0);
    } finally {
      await informer.stop();
    }
  });
});

test('client-node: label-selected list and a watch from a too-old resourceVersion gets 410 Gone', async () => {
  await withLab(
    async ({ lab }) => {
      const { kc, core } = clients(lab.kubeconfigPath);
      const first = await core.listNamespacedConfigMap({ namespace: 'default' });
      const oldRv = first.metadata?.resourceVersion ?? '';
      for (let i = 0; i < 12; i++) {
        await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `cm-${i}`, labels: { n: String(i % 2) } }, data: { i: String(i) } } });
      }
      const odd = await core.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'n=1' });
      assert.deepEqual(
        odd.items.map((c) => c.metadata?.name),
        ['cm-1', 'cm-11', 'cm-3', 'cm-5', 'cm-7', 'cm-9'],
      );
      const byName = await core.listNamespacedConfigMap({ namespace: 'default', fieldSelector: 'metadata.name=cm-4' });
      assert.equal(byName.items.length, 1);

      const seen: Array<{ type: string; obj: { code?: number; reason?: string } }> = [];
      let doneErr: unknown = 'not called';
      const w = new k8s.Watch(kc);
      await new Promise<void>((resolve) => {
        void w.watch(
          '/api/v1/namespaces/default/configmaps',
          { resourceVersion: oldRv },
          (type, obj) => seen.push({ type, obj: obj as { code?: number; reason?: string } }),
          (err) => {
            doneErr = err;
            resolve();
          },
        );
      });
      assert.equal(doneErr, null);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.type, 'ERROR');
      assert.equal(seen[0]!.obj.code, 410);
      assert.equal(seen[0]!.obj.reason, 'Expired');

      // A watch from a recent resourceVersion replays what came after it.
      const now = await core.listNamespacedConfigMap({ namespace: 'default' });
      const rv = now.metadata?.resourceVersion ?? '';
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'late' } } });
      const replay: string[] = [];
      const ctl = await w.watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: rv },
        (type, obj) => replay.push(`${type} ${(obj as k8s.V1ConfigMap).metadata?.name}`),
        () => undefined,
      );
      await until(() => replay.length > 0, 'replayed event');
      ctl.abort();
      assert.deepEqual(replay, ['ADDED late']);
    },
    { watchHistory: 5 },
  );
});

test('client-node: custom resources through CustomObjectsApi, leases with optimistic concurrency', async () => {
  await withLab(async ({ lab }) => {
    const { kc, custom, coord } = clients(lab.kubeconfigPath);
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    await ext.createCustomResourceDefinition({
      body: {
        metadata: { name: 'gadgets.lab.berth.io' },
        spec: {
          group: 'lab.berth.io',
          scope: 'Cluster',
          names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
          versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} }, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
        },
      },
    });
    const g = (await custom.createClusterCustomObject({
      group: 'lab.berth.io',
      version: 'v1alpha1',
      plural: 'gadgets',
      body: { apiVersion: 'lab.berth.io/v1alpha1', kind: 'Gadget', metadata: { name: 'g1' }, spec: { a: 1 }, status: { ignored: true } },
    })) as { metadata: { resourceVersion: string; generation: number }; status?: unknown };
    assert.equal(g.status, undefined, 'status is dropped on create when the status subresource is on');
    assert.equal(g.metadata.generation, 1);
    // Creating the same name again: 409 AlreadyExists (the IPAddressClaim pattern).
    await assert.rejects(
      () => custom.createClusterCustomObject({ group: 'lab.berth.io', version: 'v1alpha1', plural: 'gadgets', body: { apiVersion: 'lab.berth.io/v1alpha1', kind: 'Gadget', metadata: { name: 'g1' } } }),
      (e: unknown) => (e as k8s.ApiException<unknown>).code === 409 && String((e as k8s.ApiException<unknown>).body).includes('AlreadyExists'),
    );
    const patched = (await custom.patchClusterCustomObject(
      { group: 'lab.berth.io', version: 'v1alpha1', plural: 'gadgets', name: 'g1', body: { spec: { a: 2 } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )) as { metadata: { generation: number }; spec: { a: number } };
    assert.equal(patched.spec.a, 2);
    assert.equal(patched.metadata.generation, 2);

    const lease = await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    lease.spec!.holderIdentity = 'b';
    await coord.replaceNamespacedLease({ name: 'leader', namespace: 'default', body: lease });
    lease.spec!.holderIdentity = 'c';
    await assert.rejects(
      () => coord.replaceNamespacedLease({ name: 'leader', namespace: 'default', body: lease }),
      (e: unknown) => (e as k8s.ApiException<unknown>).code === 409,
    );
    // Deleting the CRD deletes its objects.
    await ext.deleteCustomResourceDefinition({ name: 'gadgets.lab.berth.io' });
    await assert.rejects(
      () => custom.getClusterCustomObject({ group: 'lab.berth.io', version: 'v1alpha1', plural: 'gadgets', name: 'g1' }),
      (e: unknown) => (e as k8s.ApiException<unknown>).code === 404,
    );
  });
});
