// PATCH against an object that another writer changes while admission runs: kube-apiserver re-applies a patch without a
// resourceVersion precondition to the latest object (endpoints/handlers/patch.go, maxRetryWhenPatchConflicts = 5)
// instead of answering 409; a patch that names a resourceVersion still gets the 409. (A lab 409 here made
// `kubectl annotate` fail while the controller wrote the same object: test/e2e/correctness-lockout.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from './registry.ts';
import { Rest, type Admission, type AdmissionAttributes, type Target } from './rest.ts';
import { IpAllocator, PortAllocator } from './service/ip-allocator.ts';
import { isFailure } from './status.ts';
import { Store } from './store.ts';
import type { KubeObject } from './types.ts';

/** A lab Rest whose validating admission lets `interfere` write the stored object while a request is in admission. */
function lab(): { rest: Rest; store: Store; target: Target; interfere: { left: number } } {
  const registry = new Registry();
  const store = new Store({ historyLimit: 100 });
  const interfere = { left: 0 };
  const admission: Admission = {
    mutate: async (attrs) => ({ object: attrs.object, warnings: [] }),
    validate: async (attrs: AdmissionAttributes) => {
      if (interfere.left > 0 && attrs.operation === 'UPDATE') {
        interfere.left--;
        const cur = store.get('core/configmaps', 'default', 'cm')!;
        store.put('core/configmaps', { ...cur, data: { ...(cur as { data?: Record<string, string> }).data, other: `w${interfere.left}` } } as KubeObject);
      }
      return { warnings: [] };
    },
  };
  const ipam = { ips: { IPv4: new IpAllocator('198.51.100.0/24'), IPv6: new IpAllocator('2001:db8:96::/112') }, nodePorts: new PortAllocator(30000, 32767) };
  const rest = new Rest(registry, store, ipam, admission);
  const type = registry.resolve('', 'v1', 'configmaps')!;
  return { rest, store, interfere, target: { type, version: 'v1', namespace: 'default', name: 'cm', subresource: '' } };
}

async function created(l: ReturnType<typeof lab>): Promise<void> {
  l.store.put('core/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const r = await l.rest.create({ ...l.target, name: '' }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'default' }, data: { a: '1' } }, { dryRun: false });
  assert.ok(!isFailure(r), JSON.stringify(r));
}

test('a merge patch without resourceVersion is re-applied to the object another writer changed during admission', async () => {
  const l = lab();
  await created(l);
  l.interfere.left = 2; // two concurrent writes in a row: still within the retry budget
  const r = await l.rest.patch(l.target, 'application/merge-patch+json', { metadata: { annotations: { note: 'x' } } }, { dryRun: false });
  assert.ok(!isFailure(r), `expected 200, got ${JSON.stringify(r)}`);
  const stored = l.store.get('core/configmaps', 'default', 'cm') as KubeObject & { data: Record<string, string> };
  assert.equal(stored.metadata.annotations?.['note'], 'x');
  assert.equal(stored.data['other'], 'w0', 'the concurrent write is kept, not overwritten');
});

test('a JSON patch without a resourceVersion op is retried the same way', async () => {
  const l = lab();
  await created(l);
  l.interfere.left = 1;
  const r = await l.rest.patch(l.target, 'application/json-patch+json', [{ op: 'add', path: '/data/b', value: '2' }], { dryRun: false });
  assert.ok(!isFailure(r), JSON.stringify(r));
  const stored = l.store.get('core/configmaps', 'default', 'cm') as KubeObject & { data: Record<string, string> };
  assert.deepEqual(stored.data, { a: '1', other: 'w0', b: '2' });
});

test('a patch naming a resourceVersion still gets 409 when the object changed during admission', async () => {
  const l = lab();
  await created(l);
  const rv = l.store.get('core/configmaps', 'default', 'cm')!.metadata.resourceVersion;
  l.interfere.left = 1;
  const r = await l.rest.patch(l.target, 'application/merge-patch+json', { metadata: { resourceVersion: rv, annotations: { note: 'x' } } }, { dryRun: false });
  assert.ok(isFailure(r) && r.code === 409, JSON.stringify(r));
});

test('a writer that never stops wins after the retry budget: 409, nothing lost', async () => {
  const l = lab();
  await created(l);
  l.interfere.left = 100;
  const r = await l.rest.patch(l.target, 'application/merge-patch+json', { metadata: { annotations: { note: 'x' } } }, { dryRun: false });
  assert.ok(isFailure(r) && r.code === 409, JSON.stringify(r));
  assert.equal(l.interfere.left, 94, 'one attempt plus 5 retries');
  assert.equal(l.store.get('core/configmaps', 'default', 'cm')!.metadata.annotations?.['note'], undefined);
});
