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
  run(200, (t) => t % 100 === 0 && d.heard(hb('b'), 'x'));
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
  assert.ok(deadAt - start > 700 && deadAt - start <= 750, `dead after ${deadAt - start} ms (300 + 400)`);
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

test('late heartbeats the sender did not report (lag 0: delayed after its timer) widen its window at once; forgotten after 10 s', () => {
  const { d, hb, run, clock } = setup();
  const deadAfter = (ms: number): number => {
    const start = clock.now();
    let deadAt = 0;
    run(ms, () => {
      if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
    });
    return deadAt === 0 ? Infinity : deadAt - start;
  };
  // Every 100 ms, then one heartbeat 275 ms after its predecessor (175 ms late: under the 300 ms window, no loss).
  run(1_000, (t) => t % 100 === 0 && d.heard(hb('b'), 'x'));
  run(200);
  assert.ok(d.alive().has('b'));
  d.heard(hb('b'), 'x');
  // The next delay is longer (400 ms): the window is now 300 + ~180, so the node that kept sending is not lost.
  const next = deadAfter(400);
  assert.equal(next, Infinity, 'declared dead on a delay like the one just seen: a false owner for its IPs');
  d.heard(hb('b'), 'x');
  // A real death (SIGKILL) is still noticed, within the widened window (≤ 1.5 s).
  const killed = deadAfter(2_000);
  assert.ok(killed > 400 && killed <= 750, `dead after ${killed} ms`);
  // Back after 2 s of silence (an outage no window covers): not learnt. Heartbeats on time for 10 s: forgotten.
  d.heard(hb('b'), 'x');
  run(10_025, (t) => t % 100 === 0 && d.heard(hb('b'), 'x')); // ends on a heartbeat
  const quiet = deadAfter(1_000);
  assert.ok(quiet > 300 && quiet <= 350, `dead after ${quiet} ms once the delays are 10 s old`);
});

test('recurring delays (a busy uplink every 3 s, each a little shorter than the worst) keep the window wide: one loss at most, not one per 10 s', () => {
  const { d, hb, run } = setup();
  d.heard(hb('b'), 'x');
  let losses = 0;
  // 40 s: heartbeats every 100 ms, but every 3 s the next one comes 700 ms late at first, then 650 ms late.
  for (let burst = 0; burst < 13; burst++) {
    const r = run(2_200, (t) => t % 100 === 0 && d.heard(hb('b'), 'x'));
    losses += r.removed.length;
    losses += run(burst === 0 ? 800 : 750).removed.length;
    d.heard(hb('b'), 'x');
  }
  assert.ok(losses <= 1, `${losses} losses of a node that never stopped sending`);
});

test('a receiver-seen gap counts only within the incarnation: a restart (new incarnation) widens nothing', () => {
  const { d, hb, run, clock } = setup();
  d.heard(hb('b', { incarnation: 1000 }), 'x');
  run(250);
  d.heard(hb('b', { incarnation: 2000, seq: 1 }), 'x');
  const start = clock.now();
  let deadAt = 0;
  run(1_000, () => {
    if (!deadAt && !d.alive().has('b')) deadAt = clock.now();
  });
  assert.ok(deadAt - start > 300 && deadAt - start <= 350, `dead after ${deadAt - start} ms`);
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

test('bad start-up bounds are refused with the values', () => {
  assert.throws(
    () =>
      new LivenessDetector({
        self: 'a',
        suspectAfterMs: 300,
        clock: new ManualClock(),
        startup: { settleMs: 500, boundMs: 100 },
      }),
    /startup settleMs 500 \/ boundMs 100 must be finite with 0 ≤ settleMs ≤ boundMs/,
  );
});

// --- rule 8: start-up ---

const STARTUP = { settleMs: 300, boundMs: 2_000 };

test('start-up: self counts as alive only once its heartbeats have gone out for settleMs', () => {
  const { d, run } = setup({ startup: STARTUP });
  assert.deepEqual([...d.alive()], []);
  assert.deepEqual(run(1_000).added, [], 'not sending yet: never alive');
  d.sending();
  assert.deepEqual(run(275).added, []);
  assert.deepEqual(run(25).added, ['a']);
});

test('start-up: settle is widened by the worst lag a live peer reports (it hands our IPs over that late); then latched', () => {
  const { d, hb, run } = setup({ startup: STARTUP });
  d.sending();
  // Peer b, busy: its timers run 400 ms late. Heard every 100 ms, so it stays alive.
  const beat = (ms: number): string[] => {
    const added: string[] = [];
    for (let t = 0; t < ms; t += 100) {
      const h = d.heard(hb('b', { lagMs: 400 }), 'x');
      if ('added' in h && h.added) added.push(...h.added);
      added.push(...run(100).added);
    }
    return added;
  };
  assert.deepEqual(beat(300), ['b'], 'settleMs alone is not enough with a busy peer');
  assert.deepEqual(beat(300), []);
  assert.deepEqual(beat(200), ['a'], 'settle 300 + lag 400 = 700 ms');
  // Latched: a worse lag later never takes self out again.
  d.heard(hb('b', { lagMs: 1_000 }), 'x');
  assert.deepEqual(run(50).removed, []);
  assert.ok(d.alive().has('a'));
});

test('start-up: a never-heard expected peer is undecided (alive) until the bound, then dead without a Lease', () => {
  const { d, run } = setup({ startup: STARTUP });
  d.expect(['a', 'b', 'c']);
  assert.deepEqual(d.tick().added.sort(), ['b', 'c'], 'before sending(): every expected peer is undecided');
  assert.deepEqual([...d.undecided()].sort(), ['b', 'c']);
  run(3_000);
  assert.deepEqual([...d.alive()].sort(), ['b', 'c'], 'the bound counts from sending()');
  d.sending();
  const r = run(2_000);
  assert.deepEqual(r.added, ['a']);
  assert.deepEqual(r.removed.sort(), ['b', 'c']);
  assert.deepEqual([...d.undecided()], []);
});

test('start-up: heard → decided at once (a silent one dies by rule 4 inside the bound); a stale Lease ends it, a fresh one decides it alive', () => {
  const { d, hb, run, clock } = setup({ startup: STARTUP });
  d.expect(['b', 'c', 'e', 'f']);
  d.sending();
  d.tick();
  assert.deepEqual([...d.undecided()].sort(), ['b', 'c', 'e', 'f']);
  assert.deepEqual(d.heard(hb('b'), 'x'), { accepted: true, added: [], removed: [], decided: ['b'] });
  d.leaseSeen('c', clock.now());
  d.leaseSeen('e', clock.now() - 50_000);
  assert.deepEqual(d.tick(), { added: [], removed: ['e'], decided: ['c'] }, 'e: stale Lease; c: alive by its Lease (rule 6)');
  assert.deepEqual([...d.undecided()], ['f']);
  assert.deepEqual(run(400).removed, ['b'], 'b silent after its heartbeat');
  assert.deepEqual(run(2_000).removed, ['f']);
  assert.deepEqual([...d.alive()].sort(), ['a', 'c']);
});

test("start-up: an undecided peer's 'leaving' is dead at once; a node no longer expected is not undecided", () => {
  const { d, hb } = setup({ startup: STARTUP });
  d.expect(['b', 'c']);
  d.tick();
  assert.deepEqual(d.heard(hb('b', { state: 'leaving' }), 'x'), { accepted: true, added: [], removed: ['b'] });
  d.expect(['b']);
  assert.deepEqual(d.tick().removed, ['c']);
});

/** mulberry32: a small seeded PRNG, so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Two speakers a and b start with random skews (as two processes under load do): `bindAt` (key read, socket bound,
 * detector created), `sendAt` ≥ bindAt (sender worker running), `leaseAt` (its Lease visible to the other). Heartbeats
 * every 100 ms, delivered after 0-20 ms to a bound receiver. Two IPs, one per election order. A speaker announces an
 * IP when it is alive in its own view and first among its alive nodes. `mode` 'rule8' is the speaker as built (before
 * its detector exists it counts every Node but itself: pending); 'grace' is the previous one (every Node, itself
 * included, until 2 × 300 + 100 ms after its detector started; then the detector without rule 8).
 * Returns the number of 5 ms steps with two owners for one IP, and whether each IP has exactly one owner at the end.
 */
function simulate(seed: number, mode: 'rule8' | 'grace'): { doubled: number; agreedAtEnd: boolean } {
  const rnd = prng(seed);
  const clock = new ManualClock();
  const t0 = clock.now();
  const nodes = ['a', 'b'];
  const spec = new Map(
    nodes.map((n) => {
      const ms = (max: number) => 5 * Math.floor((rnd() * max) / 5); // the simulation steps 5 ms at a time
      const bindAt = ms(1_500);
      return [n, { bindAt, sendAt: bindAt + ms(900), leaseAt: bindAt + ms(1_500) }];
    }),
  );
  const det = new Map<string, LivenessDetector>();
  const seqs = new Map(nodes.map((n) => [n, 0]));
  const inFlight: { at: number; to: string; hb: Heartbeat }[] = [];
  const leaseShown = new Set<string>();
  const orders = [
    ['a', 'b'],
    ['b', 'a'],
  ];
  const view = (n: string, t: number): ReadonlySet<string> => {
    const d = det.get(n);
    if (mode === 'grace') {
      if (!d || t < spec.get(n)!.bindAt + 700) return new Set(nodes);
      return d.alive();
    }
    return d ? d.alive() : new Set(nodes.filter((x) => x !== n));
  };
  const owns = (n: string, order: string[], t: number): boolean => {
    const alive = view(n, t);
    return alive.has(n) && order.find((x) => alive.has(x)) === n;
  };
  let doubled = 0;
  for (let t = 0; t <= 6_000; t += 5) {
    clock.t = t0 + t;
    for (const n of nodes) {
      const s = spec.get(n)!;
      if (t === s.bindAt) {
        const d = new LivenessDetector({
          self: n,
          suspectAfterMs: 300,
          clock,
          ...(mode === 'rule8' ? { startup: STARTUP } : {}),
        });
        d.expect(nodes);
        det.set(n, d);
      }
      if (t === s.sendAt) det.get(n)?.sending();
      if (t >= s.sendAt && (t - s.sendAt) % 100 === 0) {
        const seq = seqs.get(n)! + 1;
        seqs.set(n, seq);
        for (const to of nodes.filter((x) => x !== n)) {
          const hb: Heartbeat = {
            version: 1,
            node: n,
            incarnation: t0,
            seq,
            sentAtMs: clock.now(),
            state: 'alive',
            macs: [],
            intervalMs: 100,
            lagMs: 0,
          };
          inFlight.push({ at: t + 5 * Math.floor(rnd() * 5), to, hb });
        }
      }
    }
    for (const m of inFlight.filter((x) => x.at <= t)) {
      inFlight.splice(inFlight.indexOf(m), 1);
      det.get(m.to)?.heard(m.hb, 'x'); // a receiver not bound yet loses it
    }
    for (const n of nodes) {
      const d = det.get(n);
      if (!d) continue;
      for (const o of nodes.filter((x) => x !== n)) {
        const s = spec.get(o)!;
        if (t >= s.leaseAt && !leaseShown.has(`${n}>${o}`)) {
          leaseShown.add(`${n}>${o}`);
          d.leaseSeen(o, t0 + s.leaseAt);
        }
      }
      if (t % 25 === 0) d.tick();
    }
    for (const order of orders) if (nodes.every((n) => owns(n, order, t))) doubled++;
  }
  const agreedAtEnd = orders.every((o) => nodes.filter((n) => owns(n, o, 6_000)).length === 1);
  return { doubled, agreedAtEnd };
}

test('start-up skew (property, 300 seeds): never two owners for one IP, and one owner once both run', () => {
  const bad: string[] = [];
  for (let seed = 1; seed <= 300; seed++) {
    const r = simulate(seed, 'rule8');
    if (r.doubled > 0 || !r.agreedAtEnd) bad.push(`seed ${seed}: ${r.doubled} steps with two owners, agreed ${r.agreedAtEnd}`);
  }
  assert.deepEqual(bad, []);
});

test('start-up skew: the previous fixed 700 ms grace does give two owners (the simulation can fail)', () => {
  let doubledRuns = 0;
  for (let seed = 1; seed <= 300; seed++) if (simulate(seed, 'grace').doubled > 0) doubledRuns++;
  assert.ok(doubledRuns > 0, 'the grace-only speaker never doubled: the simulation does not model the race');
});
