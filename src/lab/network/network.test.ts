// The network lab's start timeout ($BERTH_LAB_START_TIMEOUT, seconds): read, or refused naming the value and the rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { START_TIMEOUT_ENV, startTimeoutFromEnv } from './network.ts';

test('BERTH_LAB_START_TIMEOUT: seconds to ms; unset or empty is the default; bad values are named', () => {
  assert.equal(startTimeoutFromEnv({}), undefined);
  assert.equal(startTimeoutFromEnv({ [START_TIMEOUT_ENV]: '' }), undefined);
  assert.equal(startTimeoutFromEnv({ [START_TIMEOUT_ENV]: '120' }), 120_000);
  assert.equal(startTimeoutFromEnv({ [START_TIMEOUT_ENV]: '2.5' }), 2500);
  for (const bad of ['0', '-5', 'abc', '30s', '100000'])
    assert.throws(
      () => startTimeoutFromEnv({ [START_TIMEOUT_ENV]: bad }),
      new RegExp(`^Error: BERTH_LAB_START_TIMEOUT="${bad}": must be a number of seconds, more than 0 and at most 86400$`),
    );
});
