import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, lineLogger, parseLogFormat, parseLogLevel, textLine } from './log.ts';

function capture(format: 'json' | 'text', level?: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  const logger = createLogger({ name: 'berth-test', format, ...(level ? { level } : {}), sink: { write: (l: string) => lines.push(l) } });
  return { logger, lines };
}

describe('process logger', () => {
  it('JSON by default: one object per line with level label, ISO time, name and the fields', () => {
    const { logger, lines } = capture('json');
    logger.info({ decision: 'reconcile', service: 'shop/web', ips: ['192.168.1.220'], pool: 'default', result: 'success', durationMs: 1.5 }, 'reconcile shop/web: success');
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('\n'));
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.level, 'info');
    assert.equal(rec.name, 'berth-test');
    assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(rec.msg, 'reconcile shop/web: success');
    assert.deepEqual(rec.ips, ['192.168.1.220']);
    assert.equal(rec.durationMs, 1.5);
  });

  it('text for people: time LEVEL message key=value, quoting values with spaces', () => {
    const { logger, lines } = capture('text');
    logger.warn({ service: 'shop/web', ips: ['192.168.1.220'], message: 'pool "x" is full', count: 2 }, 'reconcile shop/web: pending');
    assert.equal(lines.length, 1);
    assert.match(
      lines[0]!,
      /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}reconcile shop\/web: pending service=shop\/web ips=\["192\.168\.1\.220"\] message="pool \\"x\\" is full" count=2\n$/,
    );
  });

  it('levels filter; lineLogger writes plain lines at info', () => {
    const { logger, lines } = capture('json', 'warn');
    const log = lineLogger(logger);
    log('controller: ready');
    logger.warn('careful');
    assert.equal(lines.length, 1);
    const { logger: l2, lines: out2 } = capture('json');
    lineLogger(l2)('controller: ready replica=a metrics=off');
    assert.equal((JSON.parse(out2[0]!) as { msg: string; level: string }).level, 'info');
    // The ready lines spawners wait for still match inside the JSON.
    assert.match(out2[0]!, /controller: ready .* metrics=(\d+|off)/);
  });

  it('textLine passes non-JSON through; flag parsers name the bad value', () => {
    assert.equal(textLine('plain text\n'), 'plain text');
    assert.deepEqual(parseLogFormat('xml'), { ok: false, message: '--log-format: "xml" is not one of json, text' });
    assert.deepEqual(parseLogFormat(undefined), { ok: true, format: 'json' });
    assert.deepEqual(parseLogLevel('trace'), { ok: false, message: '--log-level: "trace" is not one of debug, info, warn, error' });
  });
});
