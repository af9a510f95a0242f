import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient, type KubeObject } from './client.ts';
import type { EventType, ObjectRef } from './events.ts';
import { FakeTransport } from './fake-transport.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { LEGACY_REASON, watchLegacyConfigMap } from './legacy-config.ts';
import type { Resource } from './resources.ts';

function cm(rv: string): KubeObject {
  return {
    metadata: { name: 'config', namespace: 'metallb-system', uid: 'cm-1', resourceVersion: rv },
    data: { config: 'address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.168.1.200-192.168.1.210\n' },
  } as KubeObject;
}

describe('legacy MetalLB ConfigMap', () => {
  it('warns with an Event and a log line once per resourceVersion, naming berth migrate', async () => {
    const t = new FakeTransport((req) =>
      req.method === 'GET' && req.path === '/api/v1/namespaces/metallb-system/configmaps'
        ? { ok: true, value: { metadata: { resourceVersion: '5' }, items: [cm('4')] } }
        : { ok: false, error: { kind: 'NotFound', status: 404, reason: 'NotFound', message: 'nope' } },
    );
    const client = new KubeClient(t);
    const kube = {
      informer: <T extends KubeObject>(resource: Resource, o: Omit<InformerOptions<T>, 'client' | 'resource'> = {}) =>
        new Informer<T>({ ...o, client, resource }),
    };
    const events: Array<{ obj: ObjectRef; type: EventType; reason: string; message: string }> = [];
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const w = t.nextWatch();
    const inf = watchLegacyConfigMap(kube, {
      namespace: 'metallb-system',
      events: { event: (obj, type, reason, message) => events.push({ obj, type, reason, message }) },
      warn: (fields, message) => warnings.push({ fields, message }),
    });
    await inf.synced;
    const list = t.requests.find((q) => q.method === 'GET');
    assert.equal(list?.query.fieldSelector, 'metadata.name=config');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.obj, { kind: 'ConfigMap', apiVersion: 'v1', namespace: 'metallb-system', name: 'config', uid: 'cm-1', resourceVersion: '4' });
    assert.equal(events[0]!.type, 'Warning');
    assert.equal(events[0]!.reason, LEGACY_REASON);
    assert.match(events[0]!.message, /ConfigMap metallb-system\/config .*not read.*`berth migrate`/);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.fields.configMap, 'metallb-system/config');
    const watch = await w;
    watch.emit({ type: 'MODIFIED', object: cm('4') }); // same version: nothing new
    watch.emit({ type: 'MODIFIED', object: cm('6') }); // edited: warn again
    assert.equal(events.length, 2);
    assert.equal(events[1]!.obj.resourceVersion, '6');
    assert.ok(!('data' in (inf.get('config', 'metallb-system') ?? {})), 'the data is not cached');
    await inf.stop();
  });
});
