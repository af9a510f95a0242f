import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuMs, memMb, PathTrace, pct, quantiles, startHog } from '../../bench/trace.ts';

const at = (ms: number) => new Date(ms).toISOString();

describe('bench trace helpers', () => {
  it('pct and quantiles use the nearest rank (floor), NaN when empty', () => {
    assert.equal(pct([1, 2, 3, 4], 0.5), 2);
    assert.equal(pct([1, 2, 3, 4], 1), 4);
    assert.ok(Number.isNaN(pct([], 0.5)));
    assert.match(quantiles([3, 1, 2]), /^p50 2\.0 ms {2}p90 2\.0 ms {2}p99 2\.0 ms {2}max 3\.0 ms$/);
  });

  it('follows a Service through the webhook and controller decision lines, ignoring other Services', () => {
    const t = new PathTrace();
    t.prefix = 'ns/lat-';
    const base = 1_700_000_000_000;
    t.send('ns/lat-1', base);
    t.webhookLine(JSON.stringify({ decision: 'admission', webhook: 'mutate-service', operation: 'CREATE', service: 'ns/lat-1', durationMs: 2, time: at(base + 5) }));
    t.webhookLine(JSON.stringify({ decision: 'admission', webhook: 'validate-service', operation: 'CREATE', service: 'ns/lat-1', durationMs: 1, time: at(base + 8) }));
    t.reply('ns/lat-1', base + 10);
    t.added('ns/lat-1', base + 11);
    // A reconcile without IPs (not the one that published the IP), then the one that did.
    t.controllerLine(JSON.stringify({ decision: 'reconcile', service: 'ns/lat-1', result: 'success', ips: [], durationMs: 1, time: at(base + 12) }));
    t.controllerLine(JSON.stringify({ decision: 'reconcile', service: 'ns/lat-1', result: 'success', ips: ['10.0.0.1'], durationMs: 6, time: at(base + 20) }));
    t.controllerLine(JSON.stringify({ decision: 'reconcile', service: 'ns/other', result: 'success', ips: ['10.0.0.2'], durationMs: 1, time: at(base + 20) }));
    t.controllerLine('not json {"service":"ns/lat-1"');
    t.seen('ns/lat-1', base + 17);
    const tr = t.traces.get('ns/lat-1');
    assert.deepEqual(tr?.mutate, { start: base + 3, end: base + 5 });
    assert.deepEqual(tr?.validate, { start: base + 7, end: base + 8 });
    assert.deepEqual(tr?.reconcile, { start: base + 14, end: base + 20 });
    assert.equal(t.traces.has('ns/other'), false);
    const report = t.report('').join('\n');
    assert.match(report, /send → mutate webhook starts +p50 3\.0 ms/);
    assert.match(report, /a watch sees it → reconcile starts +p50 3\.0 ms/);
    assert.match(report, /reconcile starts → watch sees IP +p50 3\.0 ms/);
    assert.match(report, /total \(send → watch sees IP\) +p50 17\.0 ms/);
  });

  it('a hog spins one core until killed by pid; its CPU time and memory are readable from /proc', async () => {
    const hog = startHog(30_000);
    let used = 0;
    for (let i = 0; i < 200 && !(used > 0); i++) {
      await new Promise((r) => setTimeout(r, 50));
      used = cpuMs(hog.pid);
    }
    assert.ok(used > 0, `hog used ${used} ms of CPU`);
    assert.ok(memMb(hog.pid) > 0);
    await hog.stop();
    assert.ok(Number.isNaN(cpuMs(hog.pid)), 'gone after stop()');
  });
});
