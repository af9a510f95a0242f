// `berth speaker` flags: defaults, env fallbacks (MetalLB's chart variables), errors that name the flag and value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpeakerFlags } from './flags.ts';

test('defaults, and the node name from --node-name, $METALLB_NODE_NAME or $NODE_NAME', () => {
  const r = parseSpeakerFlags(['--node-name', 'n1'], {});
  assert.ok(r.ok);
  assert.equal(r.flags.nodeName, 'n1');
  assert.equal(r.flags.namespace, 'metallb-system');
  assert.equal(r.flags.metricsPort, 7472);
  assert.equal(r.flags.memberlistPort, 7946);
  assert.equal(r.flags.memberlistBind, undefined);
  assert.equal(r.flags.memberlistSecretName, 'memberlist');
  assert.equal(r.flags.dryRunLink, false);
  assert.equal(r.flags.layer2AnswerPriority, 0);
  assert.equal(r.flags.heartbeatIntervalMs, 100);
  assert.equal(r.flags.suspectAfterMs, 300);
  const env = parseSpeakerFlags([], { METALLB_NODE_NAME: 'a', NODE_NAME: 'b', METALLB_ML_BIND_ADDR: '198.51.100.2' });
  assert.ok(env.ok);
  assert.equal(env.flags.nodeName, 'a');
  assert.equal(env.flags.memberlistBind, '198.51.100.2');
  const env2 = parseSpeakerFlags(['--metrics-port', 'auto', '--dry-run-link', '--ignore-exclude-lb'], { NODE_NAME: 'b' });
  assert.ok(env2.ok);
  assert.equal(env2.flags.nodeName, 'b');
  assert.equal(env2.flags.metricsPort, 'auto');
  assert.equal(env2.flags.dryRunLink, true);
  assert.equal(env2.flags.ignoreExcludeLb, true);
});

test('--layer2-answer-priority: 0 (off) or a SCHED_FIFO priority 1..99', () => {
  for (const [text, want] of [['0', 0], ['1', 1], ['99', 99], ['007', 7]] as const) {
    const r = parseSpeakerFlags(['--node-name', 'n1', '--layer2-answer-priority', text], {});
    assert.ok(r.ok, text);
    assert.equal(r.flags.layer2AnswerPriority, want);
  }
});

test('bad input: a message naming the flag, the value and the rule', () => {
  const bad = (argv: string[], re: RegExp) => {
    const r = parseSpeakerFlags(argv, {});
    assert.ok(!r.ok);
    assert.match(r.message, re);
  };
  bad([], /--node-name is required/);
  bad(['--node-name', 'n1', '--metrics-port', '70000'], /--metrics-port: "70000" is not a port number, 0 or auto/);
  bad(['--node-name', 'n1', '--memberlist-port', 'x'], /--memberlist-port: "x" is not a port number/);
  bad(['--node-name', 'n1', '--suspect-after', '50ms'], /--suspect-after \(50 ms\) must be longer than --heartbeat-interval \(100 ms\)/);
  for (const p of ['100', '-1', '1.5', 'fifo', ' 1'])
    bad(['--node-name', 'n1', `--layer2-answer-priority=${p}`], /--layer2-answer-priority: ".*" is not 0 \(off\) or a SCHED_FIFO priority 1\.\.99/);
  bad(['--node-name', 'n1', '--log-format', 'xml'], /--log-format: "xml" is not json or text/);
  bad(['--node-name', 'n1', '--debounce', 'soon'], /--debounce:/);
  bad(['--node-name', 'n1', '--what'], /Unknown option '--what'/);
});
