import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleJsonPath } from './table.ts';
import { applySchemaDefaults } from './defaults.ts';

test('printer-column JSONPath: fields, indexes, and [*] fan-out', () => {
  const o = { spec: { ip: '192.0.2.1', holders: [{ name: 'a' }, { name: 'b' }], addresses: ['x', 'y'] } };
  assert.equal(simpleJsonPath(o, '.spec.ip'), '192.0.2.1');
  assert.equal(simpleJsonPath(o, '.spec.holders[1].name'), 'b');
  assert.deepEqual(simpleJsonPath(o, '.spec.holders[*].name'), ['a', 'b']);
  assert.deepEqual(simpleJsonPath({ spec: { holders: [] } }, '.spec.holders[*].name'), []);
  assert.equal(simpleJsonPath(o, '.spec.missing'), undefined);
  assert.equal(simpleJsonPath(o, '.spec.ip junk'), undefined);
});

test('structural defaults fill absent fields only, recursing into objects and array items', () => {
  const schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: {
          autoAssign: { type: 'boolean', default: true },
          avoidBuggyIPs: { type: 'boolean', default: false },
          peers: { type: 'array', items: { type: 'object', properties: { port: { type: 'integer', default: 179 } } } },
        },
      },
    },
  };
  const obj: Record<string, unknown> = { spec: { avoidBuggyIPs: true, peers: [{}, { port: 1179 }] } };
  applySchemaDefaults(obj, schema);
  assert.deepEqual(obj, { spec: { autoAssign: true, avoidBuggyIPs: true, peers: [{ port: 179 }, { port: 1179 }] } });
  const none: Record<string, unknown> = { metadata: {} };
  applySchemaDefaults(none, schema);
  assert.deepEqual(none, { metadata: {} }, 'an absent parent object is not created');
});
