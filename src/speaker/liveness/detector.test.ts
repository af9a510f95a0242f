import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from '../../kube/clock.ts';
import { LivenessDetector, type DetectorOptions } from './detector.ts';
import type { Heartbeat } from './heartbeat.ts';

/** The detector never sleeps: a clock whose time moves only when the test says so. */
class ManualClock implements Clock {
  t = Date.UTC(2026, 0, 1);
  now(): number {
    return this.t;
  }
  sleep(): Promise<void> {
    return Promise.reject(new Error('the detector must not sleep'));
  }
  advanceSync(ms: number): void {
    this.t += ms;
  }
}

function setup(o: Partial<DetectorOptions> = {}) {
  const clock = new ManualClock();
  const d = new LivenessDetector({ self: 'a', suspectAfterMs: 300, clock, ...o });
  let seq = 0;
  const hb = (node: string, over: Partial<Heartbeat> = {}): Heartbeat => ({
    version: 1,
    node,
    incarnation: 1000,
    seq: ++seq,
    sentAtMs: clock.now(),
    state: 'alive',
    macs: [],
    intervalMs: 100,
    lagMs: 0,
    ...over,
  });
  /** Moves the clock in 25 ms steps, calling `each` then tick() at every step (as udp.ts does); returns all deltas. */
  const run = (ms: number, each?: (t: number) => void) => {
    const removed: string[] = [];
    const added: string[] = [];
    for (let t = 0; t < ms; t += 25) {
      clock.advanceSync(25);
      each?.(t);
      const delta = d.tick();
      removed.push(...delta.removed);
      added.push(...delta.added);
    }
    return { added, removed };
  };
  return { clock, d, hb, run };
}

test('self is always alive, alone at start', () => {
  const { d, run } = setup();
  assert.deepEqual([...d.alive()], ['a']);
  run(5_000);
  assert.deepEqual([...d.alive()], ['a']);
});

test('a heard node is alive at once, and dead after 300 ms of silence (not before)', () => {
  const { d, hb, run, clock } = setup();
  const r = d.heard(hb('b'), '192.0.2.2');
  assert.deepEqual(r, { accepted: true, added: ['b'], removed: [] });
  assert.ok(d.alive().has('b'));
  const heardAt = clock.now();
  let deadAt = 0;
  run(1_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  // dropped by the first tick after the window (ticks every 25 ms; seen by the next step's check)
  const silence = (deadAt || clock.now()) - heardAt;
  assert.ok(!d.alive().has('b'));
  assert.ok(silence > 300 && silence <= 350, `dead after ${silence} ms`);
});

test('regular heartbeats every 100 ms keep a node alive; two lost in a row are tolerated', () => {
  const { d, hb, run } = setup();
  d.heard(hb('b'), 'x');
  const r = run(10_000, (t) => {
    const lost = t % 1000 === 100 || t % 1000 === 200; // two consecutive losses every second
    if (t % 100 === 0 && !lost) d.heard(hb('b'), 'x');
  });
  assert.deepEqual(r.removed, []);
});

test('replays: same or older (incarnation, seq) are refused; stale and self are refused', () => {
  const { d, hb, clock } = setup();
  const h5 = hb('b', { seq: 5 });
  assert.equal(d.heard(h5, 'x').accepted, true);
  assert.deepEqual(d.heard(h5, 'x'), { accepted: false, reason: 'replayed' });
  assert.deepEqual(d.heard(hb('b', { seq: 4 }), 'x'), { accepted: false, reason: 'replayed' });
  assert.deepEqual(d.heard(hb('b', { seq: 99, incarnation: 999 }), 'x'), {
    accepted: false,
    reason: 'replayed',
  });
  assert.deepEqual(d.heard(hb('b', { seq: 6, sentAtMs: clock.now() - 60_001 }), 'x'), {
    accepted: false,
    reason: 'stale',
  });
  assert.deepEqual(d.heard(hb('b', { seq: 6, sentAtMs: clock.now() + 60_001 }), 'x'), {
    accepted: false,
    reason: 'stale',
  });
  assert.deepEqual(d.heard(hb('a'), 'x'), { accepted: false, reason: 'from-self' });
  assert.equal(d.heard(hb('b', { seq: 6 }), 'x').accepted, true);
});

test("'leaving' is dead at once; a restart (new incarnation, seq from 1) is alive at once", () => {
  const { d, hb, run } = setup();
  d.heard(hb('b'), 'x');
  assert.deepEqual(d.heard(hb('b', { state: 'leaving' }), 'x'), {
    accepted: true,
    added: [],
    removed: ['b'],
  });
  assert.ok(!d.alive().has('b'));
  assert.deepEqual(run(500).added, []);
  assert.deepEqual(d.heard(hb('b', { incarnation: 2000, seq: 1 }), 'x'), {
    accepted: true,
    added: ['b'],
    removed: [],
  });
});

test('a node back after silence is alive again at its next heartbeat', () => {
  const { d, hb, run } = setup();
  d.heard(hb('b'), 'x');
  assert.deepEqual(run(1_000).removed, ['b']);
  assert.deepEqual(d.heard(hb('b'), 'x').accepted && d.alive().has('b'), true);
});

test('our own stall does not count as silence (each tick counts at most 100 ms)', () => {
  const { d, hb, run, clock } = setup();
  d.heard(hb('b'), 'x');
  run(200, (t) => t === 0 && d.heard(hb('b'), 'x'));
  clock.advanceSync(5_000); // our event loop was blocked 5 s; b's datagrams sit in the socket buffer
  d.heard(hb('b'), 'x'); // read before the tick (udp.ts ticks from setImmediate, after the poll phase)
  assert.deepEqual(d.tick().removed, []);
  // without any new heartbeat, the stall itself counted only 100 ms
  const r = run(150);
  assert.deepEqual(r.removed, []);
  assert.deepEqual(run(300).removed, ['b']);
});

test('a sender reporting lag widens its window (bounded by 1.5 s); the widening is forgotten after 10 s', () => {
  const { d, hb, run, clock } = setup();
  d.heard(hb('b', { lagMs: 400 }), 'x');
  const start = clock.now();
  let deadAt = 0;
  run(3_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  assert.ok(
    deadAt - start > 1_100 && deadAt - start <= 1_150,
    `dead after ${deadAt - start} ms (300 + 2×400)`,
  );
  d.heard(hb('b', { lagMs: 5_000 }), 'x');
  const s2 = clock.now();
  deadAt = 0;
  run(3_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  assert.ok(deadAt - s2 > 1_500 && deadAt - s2 <= 1_550, `capped: dead after ${deadAt - s2} ms`);
  run(10_000);
  d.heard(hb('b', { lagMs: 0 }), 'x');
  const s3 = clock.now();
  deadAt = 0;
  run(1_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  assert.ok(deadAt - s3 <= 350, `lag forgotten: dead after ${deadAt - s3} ms`);
});

test("a slower sender's own interval sets its window (3 intervals)", () => {
  const { d, hb, run, clock } = setup();
  d.heard(hb('b', { intervalMs: 200 }), 'x');
  const start = clock.now();
  let deadAt = 0;
  run(1_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  assert.ok(deadAt - start > 600 && deadAt - start <= 650, `dead after ${deadAt - start} ms`);
});

test('Lease path: a node never heard by UDP is alive while its Lease is fresh (40 s after its last renewal)', () => {
  const { d, run, clock } = setup();
  d.leaseSeen('c', clock.now() - 35_000); // first sight: renewTime itself, 35 s old
  assert.deepEqual(d.tick().added, ['c']);
  assert.deepEqual(run(4_900).removed, []);
  assert.deepEqual(run(200).removed, ['c']);
  d.leaseSeen('c', clock.now() + 3_600_000); // a renewTime in the future (clock skew) is clamped to now
  assert.deepEqual(d.tick().added, ['c']);
  d.leaseSeen('c', clock.now() + 3_600_000); // unchanged renewTime is not a renewal
  assert.deepEqual(run(40_100).removed, ['c']);
  d.leaseSeen('d', clock.now() - 50_000); // stale at first sight
  assert.deepEqual(d.tick().added, []);
});

test('Lease path: a node heard by UDP then silent is dead despite its fresh Lease; back after two renewals', () => {
  const { d, hb, run, clock } = setup();
  d.leaseSeen('b', clock.now());
  d.heard(hb('b'), 'x');
  run(100);
  d.leaseSeen('b', clock.now()); // one renewal raced the SIGKILL
  assert.deepEqual(run(400).removed, ['b']);
  assert.deepEqual(run(10_000).added, []);
  d.leaseSeen('b', clock.now()); // UDP blocked, the speaker keeps renewing: second change since the last heartbeat
  assert.deepEqual(d.tick().added, ['b']);
});

test("Lease path: 'leaving' is not undone by a fresh Lease; a deleted Lease stops the Lease path", () => {
  const { d, hb, run, clock } = setup();
  d.leaseSeen('b', clock.now());
  d.heard(hb('b'), 'x');
  d.heard(hb('b', { state: 'leaving' }), 'x');
  assert.deepEqual(run(1_000).added, []);
  d.leaseSeen('c', clock.now());
  assert.deepEqual(d.tick().added, ['c']);
  d.leaseGone('c');
  assert.deepEqual(d.tick().removed, ['c']);
});

test('friendly MACs: every MAC any heard node reported, dead ones included; forget() drops a node', () => {
  const { d, hb, run } = setup();
  d.heard(hb('b', { macs: ['02:00:00:00:00:0b'] }), 'x');
  d.heard(hb('c', { macs: ['02:00:00:00:00:0c', '02:00:00:00:00:cc'] }), 'y');
  run(1_000);
  assert.deepEqual([...d.friendlyMacs()].sort(), [
    '02:00:00:00:00:0b',
    '02:00:00:00:00:0c',
    '02:00:00:00:00:cc',
  ]);
  d.forget('c');
  assert.deepEqual([...d.friendlyMacs()], ['02:00:00:00:00:0b']);
  assert.deepEqual(
    d.peers().map((p) => [p.node, p.alive, p.windowMs]),
    [['b', false, 300]],
  );
});

test('bad options are refused with the value', () => {
  assert.throws(
    () => new LivenessDetector({ self: 'a', suspectAfterMs: 0, clock: new ManualClock() }),
    /suspectAfterMs 0 must be > 0/,
  );
});
