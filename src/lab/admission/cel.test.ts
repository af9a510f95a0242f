import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalCel, evalCondition } from './cel.ts';

const svc = { metadata: { name: 'web', labels: { app: 'web' } }, spec: { type: 'LoadBalancer', loadBalancerClass: 'berth.io/lb', ports: [{ port: 80 }, { port: 443 }] } };
const vars = { object: svc, oldObject: null, request: { operation: 'CREATE', namespace: 'shop' } };

test('the CEL subset evaluates what berth matchConditions use', () => {
  const t: Array<[string, unknown]> = [
    ["object.spec.type == 'LoadBalancer'", true],
    ['object.spec.type != "LoadBalancer"', false],
    ['has(object.spec.loadBalancerClass)', true],
    ['!has(object.spec.externalName)', true],
    ["has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == 'berth.io/lb'", true],
    ["(object.spec.type == 'NodePort' || object.spec.type == 'LoadBalancer') && request.operation in ['CREATE', 'UPDATE']", true],
    ['oldObject == null', true],
    ['object == null', false],
    ["request.namespace in ['kube-system', 'berth-system']", false],
    ["'app' in object.metadata.labels", true],
    ['size(object.spec.ports) == 2 && object.spec.ports.size() >= 2', true],
    ['object.spec.ports.exists(p, p.port == 443)', true],
    ['object.spec.ports.all(p, p.port > 100)', false],
    ["object.metadata.name.startsWith('we') && !object.metadata.name.endsWith('x')", true],
    ["object.spec.ports[1].port - 400 == 43", true],
    ["object.spec.type == 'LoadBalancer' ? 1 : 2", 1],
    ['true || object.spec.nope', true],
    ['object.spec.nope && false', false],
  ];
  for (const [src, want] of t) assert.deepEqual(evalCel(src, vars), { ok: true, value: want }, src);
});

test('outside the subset or missing fields: evaluation errors (failurePolicy decides)', () => {
  for (const src of ['object.spec.nope == 1', 'authorizer.group("").check("x")', "object.spec.type == 'LoadBalancer' &&", 'oldObject.spec.type == "x"', 'object.spec.ports[5].port == 1', '1 < "a"', 'unknownFn(1)', '#']) {
    assert.equal(evalCel(src, vars).ok, false, src);
  }
  assert.equal(evalCondition('1 + 1', vars).ok, false, 'a condition must be a bool');
  assert.deepEqual(evalCondition("request.operation == 'DELETE'", vars), { ok: true, value: false });
});

test('an expression parsed once answers every evaluation from its own variables; a parse error stays an error', () => {
  const src = "object.metadata.name == 'web'";
  assert.deepEqual(evalCel(src, vars), { ok: true, value: true });
  assert.deepEqual(evalCel(src, { ...vars, object: { metadata: { name: 'db' } } }), { ok: true, value: false });
  assert.equal(evalCel(src, { ...vars, object: {} }).ok, false, 'a missing field is an error, not a cached answer');
  for (let i = 0; i < 2; i++) {
    const r = evalCel('object.spec.(', vars);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /Syntax error/);
  }
});
