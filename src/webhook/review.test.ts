import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allow, annotationPatch, decodeReview, deny, errored, escapePointer } from './review.ts';
import { parsePolicy } from './policy.ts';

const base = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Service' }, operation: 'CREATE', object: {}, namespace: 'ns' },
};

test('decodeReview accepts a minimal v1 review and fills defaults', () => {
  const d = decodeReview(base);
  assert.ok(d.ok);
  assert.equal(d.request.uid, 'u');
  assert.equal(d.request.dryRun, false);
  assert.equal(d.request.name, '');
  assert.equal(d.request.oldObject, null);
});

const bad: Array<{ desc: string; body: unknown; uid: string; msg: RegExp }> = [
  { desc: 'not an object', body: 'x', uid: '', msg: /not a JSON object/ },
  { desc: 'wrong kind', body: { ...base, kind: 'Pod' }, uid: 'u', msg: /kind is "Pod"/ },
  { desc: 'v1beta1', body: { ...base, apiVersion: 'admission.k8s.io/v1beta1' }, uid: 'u', msg: /apiVersion/ },
  { desc: 'no request', body: { apiVersion: base.apiVersion, kind: base.kind }, uid: '', msg: /request is missing/ },
  { desc: 'no uid', body: { ...base, request: { ...base.request, uid: 7 } }, uid: '', msg: /uid/ },
  { desc: 'bad operation', body: { ...base, request: { ...base.request, operation: 'PATCH' } }, uid: 'u', msg: /operation "PATCH"/ },
  { desc: 'CREATE without object', body: { ...base, request: { ...base.request, object: null } }, uid: 'u', msg: /object is missing/ },
  { desc: 'dryRun not boolean', body: { ...base, request: { ...base.request, dryRun: 'yes' } }, uid: 'u', msg: /dryRun/ },
  { desc: 'kind not a GVK', body: { ...base, request: { ...base.request, kind: 'Service' } }, uid: 'u', msg: /request.kind/ },
  { desc: 'namespace not a string', body: { ...base, request: { ...base.request, namespace: 3 } }, uid: 'u', msg: /namespace/ },
];
for (const c of bad) {
  test(`decodeReview refuses ${c.desc}, keeping the uid when it can`, () => {
    const d = decodeReview(c.body);
    assert.equal(d.ok, false);
    assert.ok(!d.ok);
    assert.equal(d.uid, c.uid);
    assert.match(d.message, c.msg);
  });
}

test('allow omits an empty patch; a patch is base64 JSON with patchType', () => {
  assert.deepEqual(allow('u', { patch: [] }), { uid: 'u', allowed: true });
  const r = allow('u', { patch: [{ op: 'add', path: '/a', value: 1 }], warnings: ['w'.repeat(300)] });
  assert.equal(r.patchType, 'JSONPatch');
  assert.deepEqual(JSON.parse(Buffer.from(r.patch!, 'base64').toString()), [{ op: 'add', path: '/a', value: 1 }]);
  assert.equal(r.warnings![0]!.length, 256);
});

test('deny is 403 Forbidden with the message; errored carries its code', () => {
  assert.deepEqual(deny('u', 'no', { code: 'LB_IP_IN_USE' }), {
    uid: 'u',
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message: 'no' },
    auditAnnotations: { code: 'LB_IP_IN_USE' },
  });
  assert.equal(errored('u', 400, 'x').status?.reason, 'BadRequest');
  assert.equal(errored('u', 500, 'x').status?.reason, 'InternalError');
});

test('annotationPatch: whole map when absent or null, escaped keys otherwise, nothing when equal', () => {
  assert.deepEqual(annotationPatch(undefined, { 'a/b': '1' }), [{ op: 'add', path: '/metadata/annotations', value: { 'a/b': '1' } }]);
  assert.deepEqual(annotationPatch(null, { 'a/b': '1' }), [{ op: 'add', path: '/metadata/annotations', value: { 'a/b': '1' } }]);
  assert.deepEqual(annotationPatch({ x: 'y' }, { 'a/b': '1', 'c~d': '2' }), [
    { op: 'add', path: '/metadata/annotations/a~1b', value: '1' },
    { op: 'add', path: '/metadata/annotations/c~0d', value: '2' },
  ]);
  assert.deepEqual(annotationPatch({ 'a/b': '1' }, { 'a/b': '1' }), []);
  assert.equal(escapePointer('~/'), '~0~1');
});

test('admission policy: defaults, overrides and refusals', () => {
  assert.deepEqual(parsePolicy({}), { ok: true, policy: { onPoolExhausted: 'deny', onNoPools: 'pending' } });
  assert.deepEqual(parsePolicy({ onPoolExhausted: 'pending', $comment: 'x' }), {
    ok: true,
    policy: { onPoolExhausted: 'pending', onNoPools: 'pending' },
  });
  assert.equal(parsePolicy({ onPoolExhausted: 'maybe' }).ok, false);
  assert.equal(parsePolicy({ other: 'deny' }).ok, false);
  assert.equal(parsePolicy([]).ok, false);
});
