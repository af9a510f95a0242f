import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';

test('label selectors: =, ==, !=, in, notin, exists, !key', () => {
  const labels = { app: 'web', tier: 'fe', 'metallb.io/pool': 'a' };
  const yes = ['', 'app=web', 'app==web', 'app!=db', 'tier in (fe,be)', 'tier notin (be)', 'app', '!missing', 'metallb.io/pool=a', 'app=web, tier in ( fe )', 'missing!=x'];
  const no = ['app=db', 'app!=web', 'tier in (be)', 'tier notin (fe,x)', 'missing', '!app', 'missing in (a)'];
  for (const s of yes) {
    const p = parseLabelSelector(s);
    assert.ok(p.ok, s);
    assert.equal(matchLabels(p.value, labels), true, s);
  }
  for (const s of no) {
    const p = parseLabelSelector(s);
    assert.ok(p.ok, s);
    assert.equal(matchLabels(p.value, labels), false, s);
  }
  for (const bad of ['a in (', 'a in ()', '=x', 'a b', 'a=b,,', '!']) assert.equal(parseLabelSelector(bad).ok, false, bad);
});

test('field selectors: =, ==, != on dotted paths; absent fields read as empty', () => {
  const ev = { metadata: { name: 'e1', namespace: 'ns' }, involvedObject: { kind: 'Service', name: 'web' } };
  const m = (s: string) => {
    const p = parseFieldSelector(s);
    assert.ok(p.ok, s);
    return matchFields(p.value, ev);
  };
  assert.equal(m('involvedObject.name=web,involvedObject.kind==Service'), true);
  assert.equal(m('metadata.namespace!=ns'), false);
  assert.equal(m('involvedObject.uid='), true);
  assert.equal(m('involvedObject.uid!='), false);
  assert.equal(parseFieldSelector('nonsense').ok, false);
});
