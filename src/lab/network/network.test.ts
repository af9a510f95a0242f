// The network lab's start timeout ($BERTH_LAB_START_TIMEOUT, seconds): read, or refused naming the value and the rule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPEAKER_METRICS_PORT, START_TIMEOUT_ENV, speakerMetricsLines, startTimeoutFromEnv } from './network.ts';

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

test('speakerMetricsLines: one line per node with its URL and the command that reaches it from its namespace', () => {
  assert.equal(SPEAKER_METRICS_PORT, 7472);
  assert.deepEqual(
    speakerMetricsLines([
      { name: 'n1', ns: 'berthab-n1', ipv4: '198.51.100.11' },
      { name: 'n2', ns: 'berthab-n2', ipv4: '198.51.100.12' },
    ]),
    [
      'speaker n1 metrics http://198.51.100.11:7472/metrics (ip netns exec berthab-n1 curl -s http://198.51.100.11:7472/metrics)',
      'speaker n2 metrics http://198.51.100.12:7472/metrics (ip netns exec berthab-n2 curl -s http://198.51.100.12:7472/metrics)',
    ],
  );
});
