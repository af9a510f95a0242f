import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store, type StoreEvent } from './store.ts';
import type { KubeObject } from './types.ts';

const cm = (name: string, ns = 'default', data = '1'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { d: data } });

test('one global resourceVersion counter, immutable stored objects, ordered lists', () => {
  const s = new Store();
  const a = s.put('core/configmaps', cm('b'));
  const b = s.put('core/secrets', { ...cm('x'), kind: 'Secret' });
  const c = s.put('core/configmaps', cm('a', 'other'));
  assert.deepEqual([a, b, c].map((o) => o.metadata.resourceVersion), ['1', '2', '3']);
  const input = cm('z');
  s.put('core/configmaps', input);
  assert.equal(input.metadata.resourceVersion, undefined, 'the caller object is not modified');
  assert.deepEqual(s.list('core/configmaps').map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ['default/b', 'default/z', 'other/a']);
  assert.deepEqual(s.list('core/configmaps', 'other').map((o) => o.metadata.name), ['a']);
  const gone = s.remove('core/configmaps', 'default', 'b');
  assert.equal(gone?.metadata.resourceVersion, '5', 'DELETED carries the deletion revision');
  assert.equal(s.get('core/configmaps', 'default', 'b'), undefined);
  assert.equal(s.resourceVersion, 5);
});

test('watch history is bounded: replay after a revision, gone when older than the window', () => {
  const s = new Store({ historyLimit: 3 });
  for (let i = 0; i < 5; i++) s.put('core/configmaps', cm(`c${i}`));
  // Revisions 1..5 written; only the last 3 events (3, 4, 5) are kept.
  assert.equal(s.eventsSince('core/configmaps', 1), 'gone');
  const evs = s.eventsSince('core/configmaps', 2);
  assert.notEqual(evs, 'gone');
  assert.deepEqual((evs as StoreEvent[]).map((e) => e.rv), [3, 4, 5]);
  assert.deepEqual(s.eventsSince('core/configmaps', 5), []);
  assert.deepEqual(s.eventsSince('core/secrets', 2), []);
});

test('watchers get events of their bucket and namespace, synchronously, with the old object', () => {
  const s = new Store();
  const got: string[] = [];
  const off = s.addWatcher({ storeKey: 'core/configmaps', namespace: 'default', deliver: (e) => got.push(`${e.type} ${e.object.metadata.name} ${e.old ? 'old' : ''}`.trim()) });
  s.put('core/configmaps', cm('a'));
  s.put('core/configmaps', cm('a', 'default', '2'));
  s.put('core/configmaps', cm('b', 'elsewhere'));
  s.put('core/secrets', cm('s'));
  s.remove('core/configmaps', 'default', 'a');
  off();
  s.put('core/configmaps', cm('late'));
  assert.deepEqual(got, ['ADDED a', 'MODIFIED a old', 'DELETED a old']);
});

test('snapshot and restore keep objects and the counter; history does not survive', () => {
  const s = new Store();
  s.put('core/configmaps', cm('a'));
  s.put('core/configmaps', cm('b'));
  const snap = JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<Store['snapshot']>;
  const t = new Store();
  t.restore(snap);
  assert.equal(t.resourceVersion, 2);
  assert.equal(t.get('core/configmaps', 'default', 'b')?.metadata.resourceVersion, '2');
  assert.equal(t.eventsSince('core/configmaps', 1), 'gone');
  assert.equal(t.put('core/configmaps', cm('c')).metadata.resourceVersion, '3');
});
