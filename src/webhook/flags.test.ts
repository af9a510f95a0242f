import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebhookFlags } from './flags.ts';

describe('webhook flags', () => {
  it('defaults: namespace metallb-system, port 9443, JSON logs at info', () => {
    const r = parseWebhookFlags([]);
    assert.ok(r.ok);
    assert.equal(r.flags.namespace, 'metallb-system');
    assert.equal(r.flags.port, 9443);
    assert.equal(r.flags.logFormat, 'json');
    assert.equal(r.flags.logLevel, 'info');
  });

  it('--log-format text, --log-level warn; other values are refused by name', () => {
    const r = parseWebhookFlags(['--log-format', 'text', '--log-level=warn']);
    assert.ok(r.ok);
    assert.equal(r.flags.logFormat, 'text');
    assert.equal(r.flags.logLevel, 'warn');
    assert.deepEqual(parseWebhookFlags(['--log-format', 'yaml']), { ok: false, message: '--log-format: "yaml" is not json or text' });
    assert.deepEqual(parseWebhookFlags(['--log-level', 'loud']), { ok: false, message: '--log-level: "loud" is not one of debug, info, warn, error' });
    assert.deepEqual(parseWebhookFlags(['--port', '70000']), { ok: false, message: '--port must be 0-65535, not "70000"' });
  });
});
