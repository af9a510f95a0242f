// WorkQueue.add's respectBackoff (issue 12 defect 2): the events of a key's own writes never overtake its retry
// backoff — neither when they come while the retry is scheduled, nor while the failing run is still in progress (a
// watch event read before the write's answer); after a successful run they still re-run the key (it may be a real change).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue, type WorkOutcome } from './work-queue.ts';

function manualSchedule() {
  const timers: Array<{ ms: number; fn: () => void; cancelled: boolean }> = [];
  return {
    /** Delays of the live timers. */
    pending: () => timers.filter((t) => !t.cancelled).map((t) => t.ms),
    schedule: (ms: number, fn: () => void) => {
      const t = { ms, fn, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    },
    fire() {
      for (const t of timers.splice(0).filter((x) => !x.cancelled)) t.fn();
    },
  };
}

/** A queue whose processing of 'k' answers `outcome()`, calling `during()` while it runs. */
function queue(outcome: () => WorkOutcome, during: (q: WorkQueue) => void) {
  const s = manualSchedule();
  const runs: string[] = [];
  const q: WorkQueue = new WorkQueue(
    async (k) => {
      runs.push(k);
      during(q);
      await new Promise((r) => setImmediate(r));
      return outcome();
    },
    { schedule: s.schedule },
  );
  return { q, s, runs };
}

describe('WorkQueue respectBackoff', () => {
  it('an add during a run that fails waits for the backoff (no immediate re-run); a plain add does not wait', async () => {
    const h = queue(() => ({ retry: true }), (q) => q.add('k', { respectBackoff: true }));
    h.q.add('k');
    await h.q.idle();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.runs, ['k'], 'one run: its own event did not re-run it');
    assert.deepEqual(h.s.pending(), [100]);
    h.s.fire();
    await h.q.idle();
    assert.deepEqual(h.runs, ['k', 'k']);
    assert.deepEqual(h.s.pending(), [200], 'the failure count kept doubling (the run was not doubled)');

    let once = true;
    const plain = queue(() => ({ retry: true }), (q) => (once ? ((once = false), q.add('k')) : undefined));
    plain.q.add('k');
    await plain.q.idle();
    assert.deepEqual(plain.runs, ['k', 'k'], 'an add of another cause during the run re-runs it');
    plain.q.stop();
    h.q.stop();
  });

  it('an add while the retry is scheduled is left to that retry; an add during a successful run re-runs the key', async () => {
    let fail = true;
    let addDuring = false;
    const h = queue(
      () => (fail ? { retry: true } : { retry: false }),
      (q) => (addDuring ? ((addDuring = false), q.add('k', { respectBackoff: true })) : undefined),
    );
    h.q.add('k');
    await h.q.idle();
    h.q.add('k', { respectBackoff: true });
    await h.q.idle();
    assert.deepEqual(h.runs, ['k'], 'the event waits for the scheduled retry');
    fail = false;
    addDuring = true;
    h.s.fire();
    await h.q.idle();
    await new Promise((r) => setImmediate(r));
    await h.q.idle();
    assert.deepEqual(h.runs, ['k', 'k', 'k'], 'after a success the event seen during the run is processed');
    assert.deepEqual(h.s.pending(), []);
    h.q.stop();
  });
});
