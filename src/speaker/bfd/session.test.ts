import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Diag, SessionState, type ControlPacket, type SessionStateCode } from './packet.ts';
import {
  controlPacket,
  demultiplex,
  detectionTimeUs,
  jitteredMs,
  newSession,
  paramsFromProfile,
  peerKey,
  step,
  txIntervalUs,
  validateParams,
  type BfdAction,
  type BfdEvent,
  type BfdParams,
  type BfdSession,
} from './session.ts';

const { AdminDown, Down, Init, Up } = SessionState;
const fast: BfdParams = {
  transmitIntervalMs: 100,
  receiveIntervalMs: 100,
  detectMultiplier: 3,
  passive: false,
};
const env = { random: () => 0.5 };

function peer(state: SessionStateCode, over: Partial<ControlPacket> = {}): ControlPacket {
  return {
    version: 1,
    diag: 0,
    state,
    poll: false,
    final: false,
    controlPlaneIndependent: false,
    authPresent: false,
    demand: false,
    multipoint: false,
    detectMult: 3,
    myDiscriminator: 0xfeed,
    yourDiscriminator: state === Down ? 0 : 7,
    desiredMinTxInterval: state === Up ? 100_000 : 1_000_000,
    requiredMinRxInterval: 100_000,
    requiredMinEchoRxInterval: 0,
    ...over,
  };
}

function started(params: BfdParams = fast): BfdSession {
  return step(newSession({ localDiscr: 7, params }), { type: 'start' }, env).session;
}

function run(s: BfdSession, ...events: BfdEvent[]): { session: BfdSession; actions: BfdAction[] } {
  let actions: BfdAction[] = [];
  for (const e of events) ({ session: s, actions } = step(s, e, env));
  return { session: s, actions };
}

const sends = (a: BfdAction[]): ControlPacket[] => a.flatMap((x) => (x.type === 'send' ? [x.packet] : []));
const kinds = (a: BfdAction[]): string[] => a.map((x) => x.type);

/** Up session with the Poll that going Up starts already answered. */
function upSession(params: BfdParams = fast): BfdSession {
  const s = run(
    started(params),
    { type: 'receive', packet: peer(Init) },
    { type: 'receive', packet: peer(Up, { final: true }) },
  ).session;
  assert.equal(s.state, Up);
  assert.equal(s.polling, false);
  return s;
}

test('start, active role: sends a Down packet at once with 1 s slow TX and arms the TX timer (75-100 % jitter)', () => {
  const { session, actions } = step(newSession({ localDiscr: 7, params: fast }), { type: 'start' }, env);
  assert.deepEqual(kinds(actions), ['send', 'arm-tx']);
  const p = sends(actions)[0]!;
  assert.equal(p.state, Down);
  assert.equal(p.myDiscriminator, 7);
  assert.equal(p.yourDiscriminator, 0);
  assert.equal(p.desiredMinTxInterval, 1_000_000, 'RFC 5880 §6.8.3: at least 1 s while not Up');
  assert.equal(p.requiredMinRxInterval, 100_000);
  assert.equal(p.requiredMinEchoRxInterval, 0);
  assert.deepEqual(actions[1], { type: 'arm-tx', ms: 875 }); // 1 s × (0.75 + 0.25 × 0.5)
  assert.equal(session.txArmedUs, 1_000_000);
});

test('start, passive role: sends nothing until the peer has spoken, then answers', () => {
  const passive = { ...fast, passive: true };
  const s0 = step(newSession({ localDiscr: 7, params: passive }), { type: 'start' }, env);
  assert.deepEqual(s0.actions, []);
  assert.deepEqual(step(s0.session, { type: 'tx-timer' }, env).actions, []);
  const r = step(s0.session, { type: 'receive', packet: peer(Down) }, env);
  assert.equal(r.session.state, Init);
  assert.equal(sends(r.actions)[0]?.state, Init);
  assert.equal(sends(r.actions)[0]?.yourDiscriminator, 0xfeed);
  assert.ok(r.actions.some((a) => a.type === 'arm-tx'));
});

// RFC 5880 §6.8.6 step 19 (and 18): the handshake, one row per (local state, received state).
const table: Array<{
  desc: string;
  from: SessionStateCode;
  rx: SessionStateCode;
  to: SessionStateCode;
  diag: number;
  notify?: 'up' | 'down';
}> = [
  { desc: 'Down + Down → Init', from: Down, rx: Down, to: Init, diag: 0 },
  { desc: 'Down + Init → Up', from: Down, rx: Init, to: Up, diag: 0, notify: 'up' },
  { desc: 'Down + Up → stays Down', from: Down, rx: Up, to: Down, diag: 0 },
  { desc: 'Down + AdminDown → stays Down', from: Down, rx: AdminDown, to: Down, diag: 0 },
  { desc: 'Init + Down → stays Init', from: Init, rx: Down, to: Init, diag: 0 },
  { desc: 'Init + Init → Up', from: Init, rx: Init, to: Up, diag: 0, notify: 'up' },
  { desc: 'Init + Up → Up', from: Init, rx: Up, to: Up, diag: 0, notify: 'up' },
  { desc: 'Init + AdminDown → Down, diag 3', from: Init, rx: AdminDown, to: Down, diag: 3 },
  { desc: 'Up + Up → stays Up', from: Up, rx: Up, to: Up, diag: 0 },
  { desc: 'Up + Init → stays Up', from: Up, rx: Init, to: Up, diag: 0 },
  {
    desc: 'Up + Down → Down, diag 3 (Neighbor Signaled Session Down)',
    from: Up,
    rx: Down,
    to: Down,
    diag: 3,
    notify: 'down',
  },
  { desc: 'Up + AdminDown → Down, diag 3', from: Up, rx: AdminDown, to: Down, diag: 3, notify: 'down' },
  { desc: 'AdminDown + anything → discarded (step 17)', from: AdminDown, rx: Init, to: AdminDown, diag: 7 },
];

function inState(st: SessionStateCode): BfdSession {
  if (st === Down) return started();
  if (st === Init) return run(started(), { type: 'receive', packet: peer(Down) }).session;
  if (st === Up) return upSession();
  return run(started(), { type: 'admin-down' }).session;
}

for (const row of table) {
  test(`handshake: ${row.desc}`, () => {
    const s = inState(row.from);
    assert.equal(s.state, row.from);
    const { session, actions } = step(s, { type: 'receive', packet: peer(row.rx) }, env);
    assert.equal(session.state, row.to);
    assert.equal(session.localDiag, row.diag);
    assert.equal(session.remoteDiscr, 0xfeed, 'step 10: bfd.RemoteDiscr = My Discriminator');
    assert.equal(session.remoteState, row.rx);
    const notes = actions.filter((a) => a.type === 'up' || a.type === 'down');
    if (row.notify === 'up') assert.deepEqual(notes, [{ type: 'up' }]);
    else if (row.notify === 'down') assert.deepEqual(notes, [{ type: 'down', diag: row.diag }]);
    else assert.deepEqual(notes, []);
    if (row.from !== row.to) {
      assert.ok(actions.some((a) => a.type === 'state' && a.from === row.from && a.to === row.to));
      assert.equal(sends(actions)[0]?.state, row.to, 'a state change is sent at once');
    }
    if (row.from !== AdminDown) assert.ok(actions.some((a) => a.type === 'arm-detect'));
    else assert.deepEqual(actions, []);
  });
}

test('going Up starts a Poll Sequence: periodic packets carry P at the configured 100 ms until the Final', () => {
  const s = run(started(), { type: 'receive', packet: peer(Init) }).session;
  assert.equal(s.state, Up);
  assert.equal(s.polling, true);
  const tick = step(s, { type: 'tx-timer' }, env);
  const p = sends(tick.actions)[0]!;
  assert.equal(p.poll, true);
  assert.equal(p.final, false);
  assert.equal(p.desiredMinTxInterval, 100_000);
  assert.deepEqual(tick.actions[1], { type: 'arm-tx', ms: 87.5 });
  const done = step(tick.session, { type: 'receive', packet: peer(Up, { final: true }) }, env);
  assert.equal(done.session.polling, false);
  assert.equal(sends(step(done.session, { type: 'tx-timer' }, env).actions)[0]?.poll, false);
});

test('a Poll from the peer is answered at once with a Final (no P), outside the TX timer', () => {
  const s = upSession();
  const { actions } = step(
    s,
    { type: 'receive', packet: peer(Up, { poll: true, desiredMinTxInterval: 50_000 }) },
    env,
  );
  const p = sends(actions);
  assert.equal(p.length, 1);
  assert.equal(p[0]!.final, true);
  assert.equal(p[0]!.poll, false);
  assert.equal(p[0]!.state, Up);
});

test('a Poll received while our own Poll runs: the Final carries no P, the next periodic packet does', () => {
  const s = run(started(), { type: 'receive', packet: peer(Init) }).session;
  assert.equal(s.polling, true);
  const r = step(s, { type: 'receive', packet: peer(Up, { poll: true }) }, env);
  const f = sends(r.actions)[0]!;
  assert.deepEqual([f.poll, f.final], [false, true]);
  assert.equal(sends(step(r.session, { type: 'tx-timer' }, env).actions)[0]?.poll, true);
});

test('a Final with no Poll outstanding changes nothing', () => {
  const s = upSession();
  const r = step(s, { type: 'receive', packet: peer(Up, { final: true }) }, env);
  assert.equal(r.session.polling, false);
  assert.equal(r.session.txDesiredInUseUs, s.txDesiredInUseUs);
});

test('timers: TX interval = max(our Desired Min TX, their Required Min RX); detection = their mult × max(our RX, their TX)', () => {
  const s = run(upSession(), {
    type: 'receive',
    packet: peer(Up, { requiredMinRxInterval: 300_000, desiredMinTxInterval: 200_000, detectMult: 5 }),
  }).session;
  assert.equal(txIntervalUs(s), 300_000);
  assert.equal(detectionTimeUs(s), 5 * 200_000);
  const r = step(
    s,
    { type: 'receive', packet: peer(Up, { desiredMinTxInterval: 50_000, detectMult: 2 }) },
    env,
  );
  assert.equal(detectionTimeUs(r.session), 2 * 100_000, 'our Required Min RX (100 ms) bounds it');
  assert.deepEqual(
    r.actions.find((a) => a.type === 'arm-detect'),
    { type: 'arm-detect', ms: 200 },
  );
});

test('while not Up the peer sees 1 s Desired Min TX, so detection and TX are slow (the FRR gotcha of recipes §4.5)', () => {
  const s = run(started(), { type: 'receive', packet: peer(Down) }).session;
  assert.equal(s.state, Init);
  assert.equal(controlPacket(s).desiredMinTxInterval, 1_000_000);
  assert.equal(txIntervalUs(s), 1_000_000);
  assert.equal(detectionTimeUs(s), 3 * 1_000_000);
});

test('detection timer: Up → Down with diag 1, RemoteDiscr cleared, a Down packet sent, slow TX re-armed', () => {
  const s = upSession();
  const { session, actions } = step(s, { type: 'detect-timer' }, env);
  assert.equal(session.state, Down);
  assert.equal(session.localDiag, Diag.ControlDetectionTimeExpired);
  assert.equal(session.remoteDiscr, 0);
  assert.deepEqual(
    actions.filter((a) => a.type === 'down'),
    [{ type: 'down', diag: 1 }],
  );
  const p = sends(actions)[0]!;
  assert.deepEqual([p.state, p.diag, p.yourDiscriminator, p.desiredMinTxInterval], [Down, 1, 0, 1_000_000]);
  assert.ok(actions.some((a) => a.type === 'arm-tx'));
});

test('detection timer in Init: Down with diag 1, no down notification (never was Up)', () => {
  const s = run(started(), { type: 'receive', packet: peer(Down) }, { type: 'detect-timer' });
  assert.equal(s.session.state, Down);
  assert.equal(s.session.localDiag, 1);
  assert.deepEqual(
    s.actions.filter((a) => a.type === 'down' || a.type === 'up'),
    [],
  );
});

test('detection timer in passive mode stops transmission until the peer speaks again', () => {
  const passive = { ...fast, passive: true };
  const s = run(started(passive), { type: 'receive', packet: peer(Down) }, { type: 'detect-timer' });
  assert.equal(s.session.remoteDiscr, 0);
  assert.ok(s.actions.some((a) => a.type === 'cancel-tx'));
  assert.deepEqual(
    step(s.session, { type: 'tx-timer' }, env).actions.filter((a) => a.type === 'send'),
    [],
  );
});

test('admin-down: AdminDown with diag 7, peer told at once, detection cancelled; admin-up returns to Down', () => {
  const s = upSession();
  const d = step(s, { type: 'admin-down' }, env);
  assert.equal(d.session.state, AdminDown);
  assert.deepEqual(
    d.actions.filter((a) => a.type === 'down'),
    [{ type: 'down', diag: 7 }],
  );
  assert.ok(d.actions.some((a) => a.type === 'cancel-detect'));
  assert.deepEqual([sends(d.actions)[0]?.state, sends(d.actions)[0]?.diag], [AdminDown, 7]);
  const u = step(d.session, { type: 'admin-up' }, env);
  assert.equal(u.session.state, Down);
  assert.equal(u.session.localDiag, 0);
  assert.equal(sends(u.actions)[0]?.state, Down);
});

test('set-params while Up: Poll Sequence; a TX increase waits for the Final, an RX decrease too', () => {
  const s = upSession();
  const slower = { ...fast, transmitIntervalMs: 300, receiveIntervalMs: 50 };
  const r = step(s, { type: 'set-params', params: slower }, env);
  assert.equal(r.session.polling, true);
  const p = sends(r.actions)[0]!;
  assert.deepEqual([p.poll, p.desiredMinTxInterval, p.requiredMinRxInterval], [true, 300_000, 50_000]);
  assert.equal(r.session.txDesiredInUseUs, 100_000, 'TX increase not used before the Final (§6.8.3)');
  assert.equal(r.session.rxRequiredInUseUs, 100_000, 'RX decrease not used before the Final (§6.8.3)');
  const f = step(r.session, { type: 'receive', packet: peer(Up, { final: true }) }, env);
  assert.equal(f.session.polling, false);
  assert.equal(f.session.txDesiredInUseUs, 300_000);
  assert.equal(f.session.rxRequiredInUseUs, 50_000);
});

test('set-params while Up: a TX decrease and an RX increase apply at once', () => {
  const s = upSession();
  const r = step(
    s,
    { type: 'set-params', params: { ...fast, transmitIntervalMs: 50, receiveIntervalMs: 200 } },
    env,
  );
  assert.equal(r.session.txDesiredInUseUs, 50_000);
  assert.equal(r.session.rxRequiredInUseUs, 200_000);
  assert.equal(r.session.polling, true);
});

test('set-params while Down: applied without a Poll (going Up polls anyway)', () => {
  const r = step(started(), { type: 'set-params', params: { ...fast, receiveIntervalMs: 300 } }, env);
  assert.equal(r.session.polling, false);
  assert.equal(r.session.rxRequiredInUseUs, 300_000);
  assert.equal(sends(r.actions)[0]?.requiredMinRxInterval, 300_000);
});

test('set-params with a bad value throws, naming it', () => {
  assert.throws(
    () => step(started(), { type: 'set-params', params: { ...fast, detectMultiplier: 0 } }, env),
    /detectMultiplier 0/,
  );
  assert.throws(() => validateParams({ ...fast, transmitIntervalMs: Number.NaN }), /transmitIntervalMs NaN/);
  assert.throws(() => newSession({ localDiscr: 0, params: fast }), /local discriminator 0/);
});

test('a peer asking for Required Min RX 0 gets no periodic packets (§6.8.7)', () => {
  const s = upSession();
  const r = step(s, { type: 'receive', packet: peer(Up, { requiredMinRxInterval: 0 }) }, env);
  assert.ok(r.actions.some((a) => a.type === 'cancel-tx'));
  assert.deepEqual(sends(step(r.session, { type: 'tx-timer' }, env).actions), []);
});

test('a shorter negotiated interval re-arms the TX timer at once', () => {
  const s = upSession({ ...fast, transmitIntervalMs: 10 });
  const r = step(s, { type: 'receive', packet: peer(Up, { requiredMinRxInterval: 20_000 }) }, env);
  assert.ok(r.actions.some((a) => a.type === 'arm-tx'));
  assert.equal(r.session.txArmedUs, 20_000);
});

test('jitter: 75-100 % of the interval, 75-90 % when DetectMult is 1 (§6.8.7)', () => {
  assert.equal(jitteredMs(100_000, 3, 0), 75);
  assert.ok(jitteredMs(100_000, 3, 0.999999) < 100);
  assert.ok(jitteredMs(100_000, 3, 0.999999) > 99.99);
  assert.equal(jitteredMs(100_000, 1, 0), 75);
  assert.ok(jitteredMs(100_000, 1, 0.999999) < 90);
});

test('P and F are never both set', () => {
  const s = run(started(), { type: 'receive', packet: peer(Init) }).session;
  const p = controlPacket(s, { final: true, poll: true });
  assert.deepEqual([p.poll, p.final], [false, true]);
});

test('paramsFromProfile: FRR defaults 300 ms × 3, profile values used as given', () => {
  assert.deepEqual(paramsFromProfile(undefined), {
    transmitIntervalMs: 300,
    receiveIntervalMs: 300,
    detectMultiplier: 3,
    passive: false,
  });
  assert.deepEqual(
    paramsFromProfile({
      transmitInterval: 100,
      receiveInterval: 100,
      detectMultiplier: 3,
      passiveMode: true,
    }),
    {
      ...fast,
      passive: true,
    },
  );
});

test('demultiplex: by Your Discriminator, else only Down/AdminDown by source address (and interface)', () => {
  const byDiscr = new Map([[7, 'a']]);
  const byPeer = new Map([
    [peerKey('198.51.100.1'), 'a'],
    [peerKey('2001:db8::1', 'eth0'), 'b'],
  ]);
  assert.deepEqual(
    demultiplex(peer(Up, { yourDiscriminator: 7 }), { address: '203.0.113.9' }, byDiscr, byPeer),
    { ok: true, session: 'a' },
  );
  assert.deepEqual(
    demultiplex(peer(Up, { yourDiscriminator: 8 }), { address: '198.51.100.1' }, byDiscr, byPeer),
    {
      ok: false,
      reason: 'unknown-discriminator',
    },
  );
  assert.deepEqual(
    demultiplex(peer(Init, { yourDiscriminator: 0 }), { address: '198.51.100.1' }, byDiscr, byPeer),
    {
      ok: false,
      reason: 'your-discriminator-zero',
    },
  );
  assert.deepEqual(demultiplex(peer(Down), { address: '198.51.100.1' }, byDiscr, byPeer), {
    ok: true,
    session: 'a',
  });
  assert.deepEqual(demultiplex(peer(Down), { address: '2001:db8::1', ifname: 'eth0' }, byDiscr, byPeer), {
    ok: true,
    session: 'b',
  });
  assert.deepEqual(demultiplex(peer(Down), { address: '2001:db8::1' }, byDiscr, byPeer), {
    ok: false,
    reason: 'no-session',
  });
});

test('story: full handshake against a mirror session reaches Up on both sides with 100 ms timers', () => {
  let a = started();
  let b = step(newSession({ localDiscr: 9, params: fast }), { type: 'start' }, env).session;
  // Deliver every packet each side sends to the other, as a lossless wire would, a bounded number of rounds.
  let inflightA: ControlPacket[] = [controlPacket(a)];
  let inflightB: ControlPacket[] = [controlPacket(b)];
  for (let round = 0; round < 6; round++) {
    const toB = inflightA;
    const toA = inflightB;
    inflightA = [];
    inflightB = [];
    for (const p of toB) {
      const r = step(b, { type: 'receive', packet: p }, env);
      b = r.session;
      inflightB.push(...sends(r.actions));
    }
    for (const p of toA) {
      const r = step(a, { type: 'receive', packet: p }, env);
      a = r.session;
      inflightA.push(...sends(r.actions));
    }
    if (inflightA.length === 0) inflightA.push(...sends(step(a, { type: 'tx-timer' }, env).actions));
    if (inflightB.length === 0) inflightB.push(...sends(step(b, { type: 'tx-timer' }, env).actions));
  }
  assert.deepEqual([a.state, b.state], [Up, Up]);
  assert.deepEqual([a.polling, b.polling], [false, false]);
  assert.deepEqual([txIntervalUs(a), txIntervalUs(b)], [100_000, 100_000]);
  assert.deepEqual([detectionTimeUs(a), detectionTimeUs(b)], [300_000, 300_000]);
  assert.deepEqual([a.remoteDiscr, b.remoteDiscr], [9, 7]);
});

test('property: random event sequences keep the RFC 5880 invariants', () => {
  const arbPacket = fc.record({
    state: fc.constantFrom(AdminDown, Down, Init, Up),
    poll: fc.boolean(),
    final: fc.boolean(),
    yourDiscriminator: fc.constantFrom(0, 7),
    desiredMinTxInterval: fc.integer({ min: 1, max: 2_000_000 }),
    requiredMinRxInterval: fc.integer({ min: 0, max: 2_000_000 }),
    detectMult: fc.integer({ min: 1, max: 10 }),
  });
  const arbParams = fc.record({
    transmitIntervalMs: fc.integer({ min: 10, max: 2000 }),
    receiveIntervalMs: fc.integer({ min: 10, max: 2000 }),
    detectMultiplier: fc.integer({ min: 1, max: 10 }),
    passive: fc.boolean(),
  });
  const arbEvent: fc.Arbitrary<BfdEvent> = fc.oneof(
    arbPacket.map((p) => ({ type: 'receive' as const, packet: peer(p.state, { ...p }) })),
    fc.constant({ type: 'tx-timer' as const }),
    fc.constant({ type: 'detect-timer' as const }),
    fc.constant({ type: 'admin-down' as const }),
    fc.constant({ type: 'admin-up' as const }),
    arbParams.map((params) => ({ type: 'set-params' as const, params: { ...params } })),
  );
  fc.assert(
    fc.property(
      arbParams,
      fc.array(arbEvent, { maxLength: 40 }),
      fc.double({ min: 0, max: 0.999, noNaN: true }),
      (p0, events, r) => {
        let s = step(
          newSession({ localDiscr: 7, params: { ...p0 } }),
          { type: 'start' },
          { random: () => r },
        ).session;
        for (const e of events) {
          const before = s;
          const { session, actions } = step(s, e, { random: () => r });
          s = session;
          for (const a of actions) {
            if (a.type === 'send') {
              assert.ok(!(a.packet.poll && a.packet.final), 'P and F both set');
              assert.equal(a.packet.myDiscriminator, 7);
              assert.equal(a.packet.detectMult, s.params.detectMultiplier);
              assert.equal(a.packet.state, s.state);
              if (s.state !== Up)
                assert.ok(a.packet.desiredMinTxInterval >= 1_000_000, 'slow TX while not Up');
              if (e.type === 'tx-timer')
                assert.ok(!(s.params.passive && s.remoteDiscr === 0), 'passive spoke first');
            }
            if (a.type === 'arm-tx') {
              const iv = txIntervalUs(s) / 1000;
              assert.ok(a.ms >= 0.75 * iv - 1e-9 && a.ms <= iv, `jitter ${a.ms} of ${iv}`);
            }
            if (a.type === 'up') assert.equal(s.state, Up);
            if (a.type === 'down') assert.equal(before.state, Up);
          }
          if (s.state === Up) assert.notEqual(s.remoteDiscr, 0, 'Up without a remote discriminator');
          if (s.state === AdminDown) assert.ok(!actions.some((a) => a.type === 'up'));
        }
      },
    ),
    { numRuns: 400, seed: 5880 },
  );
});
