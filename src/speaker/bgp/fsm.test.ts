// Table tests for the pure BGP FSM (RFC 4271 §8.2.2): every state × the events that move it, with the actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FSM_DEFAULTS,
  backoffMs,
  initialState,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
} from './fsm.ts';
import { AS_TRANS, newOpen, type OpenMessage } from './wire/index.ts';

const CONFIG: FsmConfig = {
  localAsn: 64500,
  peerAsn: 64501,
  ...FSM_DEFAULTS,
  passive: false,
  capabilities: [{ type: 'multiprotocol', afi: 1, safi: 1 }],
};

const peerOpen = (
  o: Partial<{ asn: number; holdTime: number; id: string; fourOctet: boolean }> = {},
): OpenMessage => {
  const m = newOpen({
    asn: o.asn ?? 64501,
    holdTime: o.holdTime ?? 9,
    bgpIdentifier: o.id ?? '198.51.100.1',
  });
  if (o.fourOctet === false) m.capabilities = m.capabilities.filter((c) => c.type !== 'four-octet-as');
  return m;
};

function run(s: FsmState, ...events: FsmEvent[]): { state: FsmState; actions: FsmAction[] } {
  let actions: FsmAction[] = [];
  for (const e of events) {
    const r = step(s, e);
    s = r.state;
    actions = r.actions;
  }
  return { state: s, actions };
}

const kinds = (a: FsmAction[]) =>
  a.map((x) =>
    x.type === 'send'
      ? `send:${x.message.type}`
      : x.type === 'startTimer'
        ? `start:${x.timer}:${x.ms}`
        : x.type === 'stopTimer'
          ? `stop:${x.timer}`
          : x.type === 'down'
            ? `down:${x.reason}`
            : x.type,
  );
const sent = (a: FsmAction[]) => a.find((x) => x.type === 'send')?.message;
const down = (a: FsmAction[]) => a.find((x): x is Extract<FsmAction, { type: 'down' }> => x.type === 'down');

const idle = (c: Partial<FsmConfig> = {}) => initialState({ ...CONFIG, ...c });
const TCP: FsmEvent = { type: 'TcpConnectionConfirmed', routerId: '198.51.100.2' };
const openSent = (c: Partial<FsmConfig> = {}) => run(idle(c), { type: 'ManualStart' }, TCP).state;
const openConfirm = (c: Partial<FsmConfig> = {}) =>
  run(openSent(c), { type: 'BGPOpen', message: peerOpen() }).state;
const established = (c: Partial<FsmConfig> = {}) => run(openConfirm(c), { type: 'KeepAliveMsg' }).state;

test('Idle: ManualStart dials with the connect timer (active) or waits in Active (passive); other events do nothing', () => {
  const r = step(idle(), { type: 'ManualStart' });
  assert.equal(r.state.name, 'Connect');
  assert.deepEqual(kinds(r.actions), ['stop:idleHold', 'connect', 'start:connectRetry:10000']);
  const p = step(idle({ passive: true }), { type: 'ManualStart' });
  assert.equal(p.state.name, 'Active');
  assert.deepEqual(p.actions, []);
  for (const e of [
    { type: 'KeepAliveMsg' },
    { type: 'HoldTimerExpires' },
    { type: 'IdleHoldTimerExpires' },
  ] as FsmEvent[]) {
    const x = step(idle(), e);
    assert.equal(x.state.name, 'Idle', e.type);
    assert.deepEqual(x.actions, [], e.type);
  }
  assert.deepEqual(kinds(step(idle(), TCP).actions), ['close'], 'Idle refuses connections');
});

test('Connect: the TCP connection sends OPEN and arms the 4-minute OpenSent hold timer', () => {
  const r = run(idle(), { type: 'ManualStart' }, TCP);
  assert.equal(r.state.name, 'OpenSent');
  assert.deepEqual(kinds(r.actions), ['stop:connectRetry', 'send:open', 'start:hold:240000']);
  const open = sent(r.actions) as OpenMessage;
  assert.equal(open.myAutonomousSystem, 64500);
  assert.equal(open.holdTime, 90);
  assert.equal(open.bgpIdentifier, '198.51.100.2');
  assert.ok(open.capabilities.some((c) => c.type === 'four-octet-as' && c.asn === 64500));
  assert.ok(open.capabilities.some((c) => c.type === 'multiprotocol'));
});

test('a 4-octet local ASN goes out as AS_TRANS with the 4-octet capability', () => {
  const r = run(idle({ localAsn: 4200000000 }), { type: 'ManualStart' }, TCP);
  const open = sent(r.actions) as OpenMessage;
  assert.equal(open.myAutonomousSystem, AS_TRANS);
  assert.ok(open.capabilities.some((c) => c.type === 'four-octet-as' && c.asn === 4200000000));
});

test('Connect: failure and timeout back off in Idle 1 s, 2 s, 4 s … capped at 2 min; IdleHold expiry dials again', () => {
  let s = run(idle(), { type: 'ManualStart' }).state;
  const waits: number[] = [];
  for (let i = 0; i < 9; i++) {
    const r = step(
      s,
      i % 2 ? { type: 'ConnectRetryTimerExpires' } : { type: 'TcpConnectionFails', error: 'ECONNREFUSED' },
    );
    assert.equal(r.state.name, 'Idle');
    const d = down(r.actions)!;
    assert.equal(d.reason, i % 2 ? 'connect-timeout' : 'connect-failed');
    assert.equal(d.wasEstablished, false);
    const t = r.actions.find((a) => a.type === 'startTimer' && a.timer === 'idleHold');
    assert.ok(t && t.type === 'startTimer');
    waits.push(t.ms);
    const again = step(r.state, { type: 'IdleHoldTimerExpires' });
    assert.equal(again.state.name, 'Connect');
    assert.ok(kinds(again.actions).includes('connect'));
    s = again.state;
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 120000, 120000]);
  assert.equal(backoffMs(CONFIG, 1000), 120000);
});

test('passive: a failed connection goes back to Active without a timer', () => {
  const s = openSent({ passive: true });
  const r = step(s, { type: 'TcpConnectionFails' });
  assert.equal(r.state.name, 'Active');
  assert.ok(!r.actions.some((a) => a.type === 'startTimer'));
});

test('OpenSent: an acceptable OPEN sends KEEPALIVE, negotiates min(hold) and keepalive = hold/3, goes OpenConfirm', () => {
  const r = step(openSent(), { type: 'BGPOpen', message: peerOpen({ holdTime: 9 }) });
  assert.equal(r.state.name, 'OpenConfirm');
  assert.deepEqual(kinds(r.actions), [
    'stop:connectRetry',
    'send:keepalive',
    'start:hold:9000',
    'start:keepalive:3000',
  ]);
  assert.equal(r.state.negotiated?.holdTime, 9);
  assert.equal(r.state.negotiated?.fourOctetAs, true);
  const ours = step(openSent({ holdTime: 30 }), { type: 'BGPOpen', message: peerOpen({ holdTime: 180 }) });
  assert.deepEqual(kinds(ours.actions).slice(2), ['start:hold:30000', 'start:keepalive:10000']);
  const cfgKa = step(openSent({ holdTime: 90, keepaliveTime: 5 }), {
    type: 'BGPOpen',
    message: peerOpen({ holdTime: 90 }),
  });
  assert.ok(
    kinds(cfgKa.actions).includes('start:keepalive:5000'),
    'a configured keepaliveTime below hold/3 wins',
  );
  const zero = step(openSent(), { type: 'BGPOpen', message: peerOpen({ holdTime: 0 }) });
  assert.deepEqual(kinds(zero.actions), [
    'stop:connectRetry',
    'send:keepalive',
    'stop:hold',
    'stop:keepalive',
  ]);
});

test('OpenSent: OPEN checks refuse with the RFC 4271 §6.2 NOTIFICATION and close', () => {
  const cases: Array<[string, Partial<FsmConfig>, OpenMessage, string, number]> = [
    ['wrong ASN', {}, peerOpen({ asn: 64999 }), 'bad-peer-as', 2],
    ['hold time 2', {}, { ...peerOpen(), holdTime: 2 }, 'unacceptable-hold-time', 6],
    ['hold time 1', {}, { ...peerOpen(), holdTime: 1 }, 'unacceptable-hold-time', 6],
    [
      'iBGP same router ID',
      { peerAsn: 64500 },
      peerOpen({ asn: 64500, id: '198.51.100.2' }),
      'bad-bgp-identifier',
      3,
    ],
    [
      '4-octet local ASN, peer without the capability',
      { localAsn: 4200000000 },
      peerOpen({ fourOctet: false }),
      'unsupported-capability',
      7,
    ],
    [
      'AS_TRANS without the capability',
      { peerAsn: 4200000000 },
      { ...peerOpen({ asn: 4200000000, fourOctet: false }) },
      'bad-peer-as',
      2,
    ],
  ];
  for (const [name, cfg, open, reason, subcode] of cases) {
    const r = step(openSent(cfg), { type: 'BGPOpen', message: open });
    assert.equal(r.state.name, 'Idle', name);
    const n = sent(r.actions);
    assert.ok(n && n.type === 'notification', name);
    assert.equal(n.code, 2, name);
    assert.equal(n.subcode, subcode, name);
    assert.equal(down(r.actions)?.reason, reason, name);
    assert.deepEqual(
      kinds(r.actions).slice(0, 2),
      ['send:notification', 'close'],
      `${name}: NOTIFICATION before close`,
    );
  }
  // eBGP with the same router ID is allowed (RFC 6286 §2.2: ASNs differ).
  assert.equal(
    step(openSent(), { type: 'BGPOpen', message: peerOpen({ id: '198.51.100.2' }) }).state.name,
    'OpenConfirm',
  );
});

test('dynamicASN: internal accepts only the router AS, external any other AS; the refusal is Bad Peer AS', () => {
  const internal: Partial<FsmConfig> = { peerAsn: 0, dynamicAsn: 'internal' };
  const external: Partial<FsmConfig> = { peerAsn: 0, dynamicAsn: 'external' };
  const open = (cfg: Partial<FsmConfig>, asn: number) =>
    step(openSent(cfg), { type: 'BGPOpen', message: peerOpen({ asn, id: '198.51.100.1' }) });
  assert.equal(open(internal, 64500).state.name, 'OpenConfirm');
  assert.equal(open(external, 64501).state.name, 'OpenConfirm');
  assert.equal(open(external, 4200000001).state.name, 'OpenConfirm', '4-octet peer AS');
  for (const [cfg, asn, want] of [
    [internal, 64501, /peer AS 64501 is not internal: dynamicASN internal wants the local AS 64500/],
    [external, 64500, /peer AS 64500 is not external: dynamicASN external wants an AS other than 64500/],
  ] as const) {
    const r = open(cfg, asn);
    assert.equal(r.state.name, 'Idle');
    const n = sent(r.actions);
    assert.ok(n && n.type === 'notification');
    assert.deepEqual([n.code, n.subcode], [2, 2]);
    assert.equal(n.data.readUInt16BE(0), asn, 'the data carries the peer AS (RFC 4271 §6.2)');
    assert.equal(down(r.actions)?.reason, 'bad-peer-as');
    assert.match(down(r.actions)!.detail, want);
  }
  // iBGP through dynamicASN internal still refuses the peer using our own BGP identifier (RFC 6286 §2.2).
  const same = step(openSent(internal), {
    type: 'BGPOpen',
    message: peerOpen({ asn: 64500, id: '198.51.100.2' }),
  });
  assert.equal(down(same.actions)?.reason, 'bad-bgp-identifier');
});

test('localASN: the session speaks localAsn; dynamicASN compares with the router AS and refuses a peer in localAsn', () => {
  // BGPPeer myASN 64500 (routerAsn), localASN 64510: OPEN carries 64510.
  const cfg: Partial<FsmConfig> = { localAsn: 64510, routerAsn: 64500, peerAsn: 0, dynamicAsn: 'external' };
  const s = openSent(cfg);
  assert.equal(s.localOpen?.myAutonomousSystem, 64510);
  const asn = (m: number) =>
    step(openSent(cfg), { type: 'BGPOpen', message: peerOpen({ asn: m }) }).state.name;
  assert.equal(asn(64501), 'OpenConfirm');
  assert.equal(asn(64500), 'Idle', 'the router AS is not external');
  assert.equal(asn(64510), 'Idle', 'a peer in our session AS would be iBGP on the wire');
  const r = step(openSent(cfg), { type: 'BGPOpen', message: peerOpen({ asn: 64510 }) });
  assert.match(
    down(r.actions)!.detail,
    /peer AS 64510 is not external: it is this session's local AS \(localASN 64510\)/,
  );
  const fixed = step(openSent({ localAsn: 64510, routerAsn: 64500, peerAsn: 64501 }), {
    type: 'BGPOpen',
    message: peerOpen({ asn: 64501 }),
  });
  assert.equal(fixed.state.name, 'OpenConfirm');
});

test('OpenSent/OpenConfirm/Established: hold timer expiry sends Hold Timer Expired; NOTIFICATION received closes', () => {
  for (const s of [openSent(), openConfirm(), established()]) {
    const h = step(s, { type: 'HoldTimerExpires' });
    const n = sent(h.actions);
    assert.ok(n?.type === 'notification' && n.code === 4, s.name);
    assert.equal(down(h.actions)?.reason, 'hold-timer-expired');
    assert.equal(down(h.actions)?.wasEstablished, s.name === 'Established');
    const notif = { type: 'notification' as const, code: 6, subcode: 2, data: Buffer.alloc(0) };
    const r = step(s, { type: 'NotifMsg', message: notif });
    assert.equal(r.state.name, 'Idle');
    assert.equal(sent(r.actions), undefined, 'no NOTIFICATION answers a NOTIFICATION');
    const d = down(r.actions)!;
    assert.equal(d.reason, 'notification-received');
    assert.equal(d.notification?.direction, 'received');
    const c = step(s, { type: 'TcpConnectionFails' });
    assert.equal(down(c.actions)?.reason, 'connection-closed');
  }
});

test('unexpected messages reset with an RFC 6608 FSM error subcode per state', () => {
  const cases: Array<[FsmState, FsmEvent, number]> = [
    [openSent(), { type: 'KeepAliveMsg' }, 1],
    [
      openSent(),
      { type: 'UpdateMsg', message: { type: 'update', withdrawnRoutes: [], attributes: [], nlri: [] } },
      1,
    ],
    [openConfirm(), { type: 'BGPOpen', message: peerOpen() }, 2],
    [established(), { type: 'BGPOpen', message: peerOpen() }, 3],
  ];
  for (const [s, e, subcode] of cases) {
    const r = step(s, e);
    const n = sent(r.actions);
    assert.ok(n?.type === 'notification' && n.code === 5 && n.subcode === subcode, `${s.name} ${e.type}`);
    assert.equal(down(r.actions)?.reason, 'fsm-error');
  }
});

test('OpenConfirm: KEEPALIVE establishes (hold restarted, established action with the peer OPEN), counter reset', () => {
  const failedOnce = run(
    idle(),
    { type: 'ManualStart' },
    { type: 'TcpConnectionFails' },
    { type: 'IdleHoldTimerExpires' },
    TCP,
    {
      type: 'BGPOpen',
      message: peerOpen(),
    },
  ).state;
  assert.equal(failedOnce.connectRetryCounter, 1);
  const r = step(failedOnce, { type: 'KeepAliveMsg' });
  assert.equal(r.state.name, 'Established');
  assert.equal(r.state.connectRetryCounter, 0);
  assert.deepEqual(kinds(r.actions), ['start:hold:9000', 'established']);
  const e = r.actions[1];
  assert.ok(
    e?.type === 'established' && e.peerOpen.bgpIdentifier === '198.51.100.1' && e.negotiated.holdTime === 9,
  );
  const k = step(openConfirm(), { type: 'KeepaliveTimerExpires' });
  assert.deepEqual(kinds(k.actions), ['send:keepalive', 'start:keepalive:3000']);
});

test('Established: KEEPALIVE/UPDATE restart the hold timer; UPDATE and ROUTE-REFRESH are handed to the session', () => {
  const s = established();
  assert.deepEqual(kinds(step(s, { type: 'KeepAliveMsg' }).actions), ['start:hold:9000']);
  const u = { type: 'update' as const, withdrawnRoutes: [], attributes: [], nlri: [] };
  assert.deepEqual(kinds(step(s, { type: 'UpdateMsg', message: u }).actions), ['start:hold:9000', 'update']);
  const rr = { type: 'route-refresh' as const, afi: 1, safi: 1, subtype: 0 };
  assert.deepEqual(kinds(step(s, { type: 'RouteRefreshMsg', message: rr }).actions), [
    'start:hold:9000',
    'refresh',
  ]);
  assert.deepEqual(kinds(step(s, { type: 'KeepaliveTimerExpires' }).actions), [
    'send:keepalive',
    'start:keepalive:3000',
  ]);
  assert.equal(step(s, { type: 'KeepAliveMsg' }).state.name, 'Established');
});

test('Established: a session-reset decode error sends its NOTIFICATION (code, subcode, data) and backs off', () => {
  const r = step(established(), {
    type: 'DecodeError',
    error: { code: 3, subcode: 11, data: Buffer.from([2, 1]), message: 'malformed AS_PATH' },
  });
  const n = sent(r.actions);
  assert.ok(n?.type === 'notification');
  assert.deepEqual([n.code, n.subcode, [...n.data]], [3, 11, [2, 1]]);
  const d = down(r.actions)!;
  assert.equal(d.reason, 'decode-error');
  assert.equal(d.wasEstablished, true);
  assert.equal(r.state.name, 'Idle');
  assert.ok(kinds(r.actions).includes('start:idleHold:1000'));
});

test('ManualStop: Cease/Administrative Shutdown with the RFC 9003 text when connected; Idle, not restarted', () => {
  const r = step(established(), { type: 'ManualStop', text: 'node drained' });
  const n = sent(r.actions);
  assert.ok(n?.type === 'notification' && n.code === 6 && n.subcode === 2);
  assert.equal(n.data.subarray(1).toString(), 'node drained');
  assert.equal(r.state.name, 'Idle');
  assert.equal(r.state.started, false);
  assert.ok(!kinds(r.actions).some((k) => k.startsWith('start:')), 'no retry after a manual stop');
  assert.equal(step(r.state, { type: 'IdleHoldTimerExpires' }).state.name, 'Idle');
  const bfd = step(established(), { type: 'ManualStop', text: 'ignored', subcode: 10 });
  const b = sent(bfd.actions);
  assert.ok(
    b?.type === 'notification' && b.code === 6 && b.subcode === 10 && b.data.length === 0,
    'Cease/BFD Down',
  );
  assert.match(down(bfd.actions)!.detail, /Cease\/BfdDown/);
  const c = step(run(idle(), { type: 'ManualStart' }).state, { type: 'ManualStop' });
  assert.deepEqual(kinds(c.actions).slice(0, 1), ['close']);
  assert.equal(c.state.name, 'Idle');
});

test('initialState refuses bad configuration with the value and the rule', () => {
  assert.throws(() => initialState({ ...CONFIG, holdTime: 2 }), /holdTime 2 must be 0 or 3-65535/);
  assert.throws(() => initialState({ ...CONFIG, peerAsn: 0 }), /peerAsn 0 must be an integer 1-4294967295/);
  assert.throws(() => initialState({ ...CONFIG, connectRetryMs: 0 }), /connectRetryMs 0/);
  assert.throws(
    () => initialState({ ...CONFIG, dynamicAsn: 'internal' }),
    /peerAsn 64501 and dynamicAsn "internal" are mutually exclusive: peerAsn must be 0/,
  );
  assert.throws(
    () => initialState({ ...CONFIG, peerAsn: 0, dynamicAsn: 'both' as 'internal' }),
    /dynamicAsn "both" must be "internal" or "external"/,
  );
  assert.throws(
    () => initialState({ ...CONFIG, routerAsn: 0 }),
    /routerAsn 0 must be an integer 1-4294967295/,
  );
  assert.equal(initialState({ ...CONFIG, peerAsn: 0, dynamicAsn: 'external' }).name, 'Idle');
});

test('random event sequences: step never throws, Established only from OpenConfirm, every down leaves the connection', () => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const update = { type: 'update' as const, withdrawnRoutes: [], attributes: [], nlri: [] };
  const events: FsmEvent[] = [
    { type: 'ManualStart' },
    { type: 'ManualStop' },
    { type: 'ConnectRetryTimerExpires' },
    { type: 'HoldTimerExpires' },
    { type: 'KeepaliveTimerExpires' },
    { type: 'IdleHoldTimerExpires' },
    TCP,
    { type: 'TcpConnectionFails' },
    { type: 'BGPOpen', message: peerOpen() },
    { type: 'BGPOpen', message: peerOpen({ asn: 1 }) },
    { type: 'KeepAliveMsg' },
    { type: 'UpdateMsg', message: update },
    { type: 'RouteRefreshMsg', message: { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 } },
    { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: Buffer.alloc(0) } },
    { type: 'DecodeError', error: { code: 1, subcode: 1, message: 'x' } },
  ];
  for (const passive of [false, true]) {
    let s = idle({ passive });
    for (let i = 0; i < 20_000; i++) {
      const e = events[rand(events.length)]!;
      const before = s.name;
      const r = step(s, e);
      if (r.state.name === 'Established' && before !== 'Established') assert.equal(before, 'OpenConfirm');
      const d = down(r.actions);
      if (d) {
        assert.ok(['Idle', 'Active'].includes(r.state.name), `down → ${r.state.name}`);
        assert.ok(kinds(r.actions).includes('close'));
        assert.equal(d.wasEstablished, before === 'Established');
      }
      if (!r.state.started) assert.equal(r.state.name, 'Idle', 'stopped sessions stay Idle');
      if (r.actions.some((a) => a.type === 'send' && a.message.type === 'open'))
        assert.equal(r.state.name, 'OpenSent');
      s = r.state;
    }
  }
});

test('ManualStop notify: false (graceful restart): the connection is closed without a NOTIFICATION; Idle, not restarted', () => {
  const r = step(established(), { type: 'ManualStop', notify: false });
  assert.equal(sent(r.actions), undefined, 'no NOTIFICATION');
  assert.ok(kinds(r.actions).includes('close'));
  assert.equal(down(r.actions)?.reason, 'manual-stop');
  assert.equal(down(r.actions)?.wasEstablished, true);
  assert.equal(r.state.name, 'Idle');
  assert.equal(r.state.started, false);
  assert.ok(!kinds(r.actions).some((k) => k.startsWith('start:')), 'no retry after a manual stop');
});
