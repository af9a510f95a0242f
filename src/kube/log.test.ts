import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { bufferedSink, createLogger, lineLogger, parseLogFormat, parseLogLevel, textLine } from './log.ts';

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

describe('bufferedSink', () => {
  it('gathers the lines of one event-loop turn into one write, in order, written before the next turn handles I/O', async () => {
    const writes: string[] = [];
    const sink = bufferedSink({ write: (s: string) => writes.push(s) }, { onExit: () => {} });
    sink.write('{"level":"info","msg":"a"}\n');
    sink.write('{"level":"info","msg":"b"}\n');
    assert.equal(writes.length, 0, 'nothing written within the turn');
    // A timer due now runs in the next turn's timers phase, after this turn's check phase (setImmediate).
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(writes, ['{"level":"info","msg":"a"}\n{"level":"info","msg":"b"}\n']);
    sink.write('{"level":"info","msg":"c"}\n');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes.slice(1), ['{"level":"info","msg":"c"}\n']);
  });

  it('writes at once (with what is buffered before it) for a warning or an error, JSON or text, and when full', () => {
    const writes: string[] = [];
    const sink = bufferedSink({ write: (s: string) => writes.push(s) }, { maxChars: 100, onExit: () => {} });
    sink.write('{"level":"info","msg":"a"}\n');
    sink.write('{"level":"warn","msg":"w"}\n');
    assert.deepEqual(writes, ['{"level":"info","msg":"a"}\n{"level":"warn","msg":"w"}\n']);
    sink.write('2026-01-02T03:04:05.678Z ERROR boom\n');
    assert.equal(writes.length, 2);
    sink.write('x'.repeat(60));
    assert.equal(writes.length, 2);
    sink.write('y'.repeat(60));
    assert.equal(writes.length, 3, 'maxChars reached');
    sink.flush();
    assert.equal(writes.length, 3, 'flush with nothing buffered writes nothing');
  });

  it("a process's last info line reaches stdout when it exits (process.exit right after logging)", () => {
    const code =
      "import { createLogger } from './src/kube/log.ts'; const l = createLogger({ name: 't' }); " +
      "l.info('last words'); process.exit(3);";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: new URL('../../', import.meta.url), encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stdout, /"msg":"last words"/);
  });
});
