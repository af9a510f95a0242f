import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetState } from './eviction.ts';
import type { KubeObject } from '../types.ts';

const pod = (name: string, phase: string, ready: boolean, deleting = false): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const pdb = (spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'b' }, spec });
const four = [pod('a', 'Running', true), pod('b', 'Running', true), pod('c', 'Running', false), pod('d', 'Succeeded', false), pod('e', 'Running', true, true)];

test('budgetState: healthy = Running, Ready, not deleting; expected = not terminated', () => {
  assert.deepEqual(budgetState(pdb({ minAvailable: 2 }), four), { desiredHealthy: 2, currentHealthy: 2 });
  // 50% of the 4 not-terminated Pods, rounded up.
  assert.deepEqual(budgetState(pdb({ minAvailable: '50%' }), four), { desiredHealthy: 2, currentHealthy: 2 });
  assert.deepEqual(budgetState(pdb({ maxUnavailable: 1 }), four), { desiredHealthy: 3, currentHealthy: 2 });
  assert.deepEqual(budgetState(pdb({ maxUnavailable: '30%' }), four), { desiredHealthy: 2, currentHealthy: 2 });
  assert.deepEqual(budgetState(pdb({}), four), { desiredHealthy: 0, currentHealthy: 2 });
});

test('budgetState: a malformed budget is an error naming the field and the value', () => {
  assert.equal(budgetState(pdb({ minAvailable: 'half' }), four), 'spec.minAvailable: "half" is not a non-negative integer or a percentage like "50%"');
  assert.equal(budgetState(pdb({ maxUnavailable: -1 }), four), 'spec.maxUnavailable: -1 is not a non-negative integer or a percentage like "50%"');
});
