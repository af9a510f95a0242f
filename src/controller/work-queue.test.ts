import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CONCURRENCY, WorkQueue, type WorkOutcome } from './work-queue.ts';

/** Manual timers: `fire()` runs what was scheduled. */
function manualSchedule() {
  const timers: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  return {
    timers,
    schedule: (ms: number, fn: () => void) => {
      const t = { ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    fire() {
      const due = timers.splice(0).filter((t) => !t.cancelled);
      for (const t of due) t.fn();
      return due.map((t) => t.ms);
    },
  };
}

describe('WorkQueue', () => {
  it('deduplicates queued keys and re-runs a key added while it was being processed', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(
      async (k) => {
        seen.push(k);
        if (k === 'a' && seen.filter((x) => x === 'a').length === 1) await gate;
        return { retry: false };
      },
      { concurrency: 1 },
    );
    q.add('a');
    q.add('b');
    q.add('b');
    q.add('a'); // 'a' is running: it runs again afterwards, once
    q.add('a');
    release();
    await q.idle();
    assert.deepEqual(seen, ['a', 'b', 'a']);
  });

  it('never runs the same key concurrently, and caps concurrency', async () => {
    let running = 0;
    let peak = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        return { retry: false };
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await q.idle();
    assert.equal(peak, 3);
    assert.equal(q.processed, 20);
  });

  it('retries failures with per-key exponential backoff, reset by success', async () => {
    const m = manualSchedule();
    const outcomes: WorkOutcome[] = [{ retry: true }, { retry: true }, { retry: true }, { retry: false }];
    const q = new WorkQueue(async () => outcomes.shift() ?? { retry: false }, { schedule: m.schedule, baseDelayMs: 100 });
    q.add('x');
    await q.idle();
    assert.deepEqual(m.fire(), [100]);
    await q.idle();
    assert.deepEqual(m.fire(), [200]);
    await q.idle();
    assert.deepEqual(m.fire(), [400]);
    await q.idle();
    assert.deepEqual(m.fire(), [], 'succeeded: no more retries');
  });

  it('clear() drops queued work and pending retries', async () => {
    const m = manualSchedule();
    const seen: string[] = [];
    const q = new WorkQueue(async (k) => (seen.push(k), { retry: true }), { schedule: m.schedule, concurrency: 1 });
    q.add('a');
    await q.idle();
    q.clear();
    assert.deepEqual(m.fire(), []);
    assert.deepEqual(seen, ['a']);
  });

  it('by default keeps 32 keys waiting on I/O in flight at once, so a slow API server does not queue new ones behind them', async () => {
    // Issue 12: with 8 workers and API round trips of 100-200 ms (a CPU-starved API server), new Services waited
    // seconds in the queue for a worker although the controller itself was idle.
    let inFlight = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new WorkQueue(async () => {
      inFlight++;
      await gate; // a round trip that has not come back yet
      return { retry: false };
    });
    for (let i = 0; i < 40; i++) q.add(`ns/svc-${i}`);
    assert.equal(DEFAULT_CONCURRENCY, 32);
    assert.equal(inFlight, 32, 'every worker is waiting on its round trip, none is held back by a small cap');
    assert.equal(q.length, 8);
    release();
    await q.idle();
    assert.equal(q.processed, 40);
  });
});
