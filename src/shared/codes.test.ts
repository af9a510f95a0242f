// docs/errors.md documents every code of the catalogue, once, and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Codes } from './codes.ts';

const doc = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');
const headings = [...doc.matchAll(/^### (\S+)\s*$/gm)].map((m) => m[1]!);

test('docs/errors.md has a ### heading for every code', () => {
  const missing = Object.keys(Codes).filter((c) => !headings.includes(c));
  assert.deepEqual(missing, []);
});

test('docs/errors.md documents no code that does not exist, and none twice', () => {
  const known = new Set(Object.keys(Codes));
  assert.deepEqual(
    headings.filter((h) => !known.has(h)),
    [],
  );
  assert.deepEqual(
    headings.filter((h, i) => headings.indexOf(h) !== i),
    [],
  );
  assert.ok(headings.length > 0);
});

test('every documented code has an example message and a fix', () => {
  const sections = doc.split(/^### /m).slice(1);
  for (const s of sections) {
    const code = s.split('\n')[0]!.trim();
    assert.match(s, /\nExample: /, `${code} has no example`);
    assert.match(s, /\nFix: /, `${code} has no fix`);
  }
});

test('catalogue codes are LB_ names with a description', () => {
  for (const [code, meaning] of Object.entries(Codes)) {
    assert.match(code, /^LB_[A-Z0-9_]+$/);
    assert.ok(meaning.length > 0, code);
  }
});
