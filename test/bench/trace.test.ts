import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cpuMs, memMb, PathTrace, pct, quantiles, stageTimes, startHog } from '../../bench/trace.ts';

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

  it('stages from different observers never go negative and add up to the total; reordered instants are named', () => {
    // The controller's reconcile starts (informer) 40 ms before the bench's own watch reports the Service, and the watch
    // event is read 2 ms before the create's answer: plain differences gave -40 ms and -2 ms.
    const base = 1_700_000_000_000;
    const t = { send: base, mutate: { start: base + 3, end: base + 5 }, validate: { start: base + 6, end: base + 7 }, reply: base + 20, added: base + 18, reconcile: { start: base + 10, end: base + 30 }, seen: base + 50 };
    const { stages, reordered } = stageTimes(t);
    for (const [name, ms] of stages) assert.ok(ms >= 0, `${name}: ${ms} ms`);
    assert.equal(stages.get('create answered → a watch sees it'), 0);
    assert.equal(stages.get('a watch sees it → reconcile starts'), 0);
    assert.equal(stages.get('reconcile starts → watch sees IP'), 30);
    assert.equal([...stages.values()].reduce((a, b) => a + b, 0), t.seen - t.send);
    assert.deepEqual(reordered, ['create answered → a watch sees it', 'a watch sees it → reconcile starts']);
    // Missing instants: the next stage runs from the last known one; without a validate line the reply follows mutate.
    const partial = stageTimes({ send: base, mutate: { start: base + 1, end: base + 4 }, reply: base + 9, seen: base + 12 });
    assert.deepEqual([...partial.stages], [
      ['send → mutate webhook starts', 1],
      ['mutate webhook (incl. claim create)', 3],
      ['mutate ends → create answered', 5],
      ['reconcile starts → watch sees IP', 3],
    ]);
    assert.deepEqual(partial.reordered, []);
  });

  it('the report shows no negative stage and names the reordered instants; settle waits for late reconcile lines', async () => {
    const tr = new PathTrace();
    tr.prefix = 'ns/lat-';
    const base = 1_700_000_000_000;
    for (let i = 0; i < 10; i++) {
      const k = `ns/lat-${i}`;
      tr.send(k, base);
      tr.reply(k, base + 10);
      tr.added(k, base + 30); // the bench's watch is late: the controller reconciled at +12
      tr.seen(k, base + 40);
    }
    for (let i = 0; i < 9; i++) {
      tr.controllerLine(JSON.stringify({ decision: 'reconcile', service: `ns/lat-${i}`, result: 'success', ips: ['10.0.0.1'], durationMs: 8, time: at(base + 20) }));
    }
    const late = tr.settle(5000);
    setTimeout(() => tr.controllerLine(JSON.stringify({ decision: 'reconcile', service: 'ns/lat-9', result: 'success', ips: ['10.0.0.1'], durationMs: 8, time: at(base + 20) })), 50);
    await late;
    assert.ok(tr.traces.get('ns/lat-9')?.reconcile, 'the late line was waited for');
    const report = tr.report('').join('\n');
    assert.doesNotMatch(report, /-\d/);
    assert.doesNotMatch(report, /NaN/);
    assert.match(report, /a watch sees it → reconcile starts +p50 0\.0 ms/);
    assert.match(report, /instants seen before the one preceding them \(taken as equal\): reconcile starts 10/);
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
