import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateNameSuffix, labelValueProblems, nameProblems, qualifiedNameProblems } from './names.ts';

test('object names: DNS-1123 subdomain/label and DNS-1035 label', () => {
  assert.deepEqual(nameProblems('web-1.example', 'dns1123-subdomain'), []);
  assert.equal(nameProblems('Web', 'dns1123-subdomain').length, 1);
  assert.deepEqual(nameProblems('1web', 'dns1123-label'), []);
  assert.equal(nameProblems('1web', 'dns1035-label').length, 1);
  assert.equal(nameProblems('a'.repeat(64), 'dns1123-label')[0], 'must be no more than 63 characters');
  assert.deepEqual(nameProblems('system:masters', 'path-segment'), []);
  assert.equal(nameProblems('a/b', 'path-segment').length, 1);
});

test('label keys and values', () => {
  assert.deepEqual(qualifiedNameProblems('metallb.io/address-pool'), []);
  assert.equal(qualifiedNameProblems('a/b/c').length, 1);
  assert.equal(qualifiedNameProblems('Bad_Prefix/x').length, 1);
  assert.deepEqual(labelValueProblems(''), []);
  assert.equal(labelValueProblems('-x').length, 1);
});

test('generateName suffixes use the apimachinery alphabet', () => {
  let n = 0;
  const s = generateNameSuffix(() => (n++ % 10) / 10);
  assert.match(s, /^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});
