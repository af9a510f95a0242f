import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { annotationOps, escapePointer, pointer } from './patch.ts';

describe('JSON patch helpers', () => {
  it('escapes JSON-pointer segments (RFC 6901)', () => {
    assert.equal(escapePointer('metallb.io/address-pool'), 'metallb.io~1address-pool');
    assert.equal(escapePointer('a~b/c'), 'a~0b~1c');
    assert.equal(pointer('metadata', 'annotations', 'berth.io/assigned-ips'), '/metadata/annotations/berth.io~1assigned-ips');
  });

  it('creates the annotations map when the object has none (a JSON patch cannot add into a missing parent)', () => {
    assert.deepEqual(annotationOps(undefined, { 'berth.io/assigned-ips': '1.2.3.4', gone: null }), [
      { op: 'add', path: '/metadata/annotations', value: { 'berth.io/assigned-ips': '1.2.3.4' } },
    ]);
    assert.deepEqual(annotationOps(undefined, { gone: null }), []);
  });

  it('sets changed keys and removes only keys that exist', () => {
    assert.deepEqual(annotationOps({ same: 'x', old: 'y', 'a/b': '1' }, { same: 'x', 'a/b': '2', old: null, absent: null }), [
      { op: 'add', path: '/metadata/annotations/a~1b', value: '2' },
      { op: 'remove', path: '/metadata/annotations/old' },
    ]);
  });
});
