import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergePatch } from './merge-patch.ts';
import { applyJsonPatch, parsePointer } from './json-patch.ts';
import { strategicMergePatch } from './strategic-merge.ts';
import { applyPatch } from './apply-patch.ts';

test('merge patch follows RFC 7386 appendix A', () => {
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) assert.deepEqual(mergePatch(target, patch), want, JSON.stringify({ target, patch }));
});

test('json patch: RFC 6902 operations, pointer escapes, test, and failures as values', () => {
  assert.deepEqual(parsePointer('/a~1b/c~0d/0'), ['a/b', 'c~d', '0']);
  const doc = { metadata: { annotations: { x: '1' } }, list: [1, 2] };
  const r = applyJsonPatch(doc, [
    { op: 'add', path: '/metadata/annotations/metallb.io~1pool', value: 'p' },
    { op: 'replace', path: '/metadata/annotations/x', value: '2' },
    { op: 'add', path: '/list/-', value: 3 },
    { op: 'add', path: '/list/0', value: 0 },
    { op: 'remove', path: '/list/1' },
    { op: 'copy', from: '/list/0', path: '/first' },
    { op: 'move', from: '/first', path: '/moved' },
    { op: 'test', path: '/moved', value: 0 },
  ]);
  assert.deepEqual(r, { ok: true, value: { metadata: { annotations: { x: '2', 'metallb.io/pool': 'p' } }, list: [0, 2, 3], moved: 0 } });
  assert.deepEqual(doc, { metadata: { annotations: { x: '1' } }, list: [1, 2] }, 'input untouched');
  assert.equal(applyJsonPatch(doc, [{ op: 'test', path: '/list/0', value: 9 }]).ok, false);
  // Adding under a missing parent fails: the webhook must create /metadata/annotations first.
  assert.equal(applyJsonPatch({ metadata: {} }, [{ op: 'add', path: '/metadata/annotations/a', value: 'b' }]).ok, false);
  assert.equal(applyJsonPatch(doc, [{ op: 'remove', path: '/nope' }]).ok, false);
  assert.equal(applyJsonPatch(doc, [{ op: 'replace', path: '/nope', value: 1 }]).ok, false);
  assert.equal(applyJsonPatch(doc, [{ op: 'add', path: '/list/7', value: 1 }]).ok, false);
  assert.equal(applyJsonPatch(doc, [{ op: 'frobnicate', path: '/a' }]).ok, false);
  assert.equal(applyJsonPatch(doc, { op: 'add' }).ok, false);
});

const svc = () => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', annotations: { keep: 'me', drop: 'me' }, finalizers: ['a', 'b'] },
  spec: {
    type: 'LoadBalancer',
    ports: [
      { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30001 },
      { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP', nodePort: 30002 },
    ],
    selector: { app: 'web', tier: 'fe' },
  },
});

test("strategic merge: what kubectl apply sends for a Service (ports by port, $patch delete, $setElementOrder)", () => {
  const patch = {
    metadata: { annotations: { drop: null, add: 'x' } },
    spec: {
      '$setElementOrder/ports': [{ port: 8081 }, { port: 80 }],
      ports: [{ port: 80, targetPort: 9090 }, { $patch: 'delete', port: 443 }, { port: 8081, name: 'alt' }],
      selector: { tier: null },
    },
  };
  const r = strategicMergePatch('Service', svc(), patch);
  assert.ok(r.ok);
  const v = r.value as ReturnType<typeof svc>;
  assert.deepEqual(v.metadata.annotations, { keep: 'me', add: 'x' });
  assert.deepEqual(v.spec.ports, [
    { port: 8081, name: 'alt' },
    { name: 'http', port: 80, targetPort: 9090, protocol: 'TCP', nodePort: 30001 },
  ]);
  assert.deepEqual(v.spec.selector, { app: 'web' });
  assert.ok(!JSON.stringify(v).includes('$'), 'no directive survives');
});

test('strategic merge: $retainKeys, $deleteFromPrimitiveList, list replace, merge of primitives, atomic lists', () => {
  const base = { metadata: { finalizers: ['a', 'b'] }, spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } }, template: { spec: { containers: [{ name: 'c', image: 'i:1', env: [{ name: 'A', value: '1' }] }] } } } };
  const r = strategicMergePatch('Deployment', base, {
    metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] },
    spec: {
      strategy: { $retainKeys: ['type'], type: 'Recreate' },
      template: { spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '2' }] }] } },
    },
  });
  assert.ok(r.ok);
  assert.deepEqual(r.value, {
    metadata: { finalizers: ['b', 'c'] },
    spec: { strategy: { type: 'Recreate' }, template: { spec: { containers: [{ name: 'c', image: 'i:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] } } },
  });
  // Unknown lists are atomic: replaced, not merged.
  const r2 = strategicMergePatch('Service', svc(), { spec: { externalIPs: ['1.2.3.4'] } });
  assert.ok(r2.ok);
  const r3 = strategicMergePatch('Service', r2.value, { spec: { externalIPs: ['5.6.7.8'] } });
  assert.ok(r3.ok);
  assert.deepEqual((r3.value as { spec: { externalIPs: string[] } }).spec.externalIPs, ['5.6.7.8']);
  // A list-level replace directive.
  const r4 = strategicMergePatch('Service', svc(), { spec: { ports: [{ $patch: 'replace' }, { port: 1 }] } });
  assert.ok(r4.ok);
  assert.deepEqual((r4.value as ReturnType<typeof svc>).spec.ports, [{ port: 1 }]);
  // Map-level replace and delete.
  const r5 = strategicMergePatch('Service', svc(), { spec: { selector: { $patch: 'replace', only: 'this' } }, metadata: { annotations: { $patch: 'delete' } } });
  assert.ok(r5.ok);
  assert.deepEqual((r5.value as ReturnType<typeof svc>).spec.selector, { only: 'this' });
  assert.equal((r5.value as { metadata: { annotations?: unknown } }).metadata.annotations, undefined);
  // Errors are values.
  assert.equal(strategicMergePatch('Service', svc(), { spec: { ports: [{ name: 'no-key' }] } }).ok, false);
  assert.equal(strategicMergePatch('Service', svc(), { spec: { $patch: 'explode' } }).ok, false);
  assert.equal(strategicMergePatch('Service', svc(), [1]).ok, false);
});

test('server-side apply (approximation): merges the applied config, lists with merge keys by key', () => {
  const live = svc();
  const out = applyPatch('Service', live as never, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', labels: { a: 'b' } }, spec: { ports: [{ port: 80, targetPort: 7070 }] } }, true);
  const o = out as unknown as ReturnType<typeof svc> & { metadata: { labels: Record<string, string> } };
  assert.equal(o.spec.ports.length, 2);
  assert.equal(o.spec.ports[0]!.targetPort, 7070);
  assert.deepEqual(o.metadata.labels, { a: 'b' });
  assert.equal(o.spec.type, 'LoadBalancer');
});
