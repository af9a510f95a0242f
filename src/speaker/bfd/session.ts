// BFD session state machine (RFC 5880 §6.2, §6.5, §6.8; RFC 5881 single hop), asynchronous mode, no authentication,
// no Demand mode, no Echo function. Pure: `step(session, event, env)` returns the next session and the actions for the
// I/O edge (udp.ts) to carry out. No sockets, no timers, no clock: randomness (jitter) comes in through `env`.
//
// Units: every interval held in the session is in MICROSECONDS (the wire unit); timer actions carry milliseconds.
import { withBFDProfileDefaults, type BFDProfileSpec } from '../../api/bfd-profile.ts';
import {
  Diag,
  SessionState,
  type BfdDropReason,
  type ControlPacket,
  type SessionStateCode,
} from './packet.ts';

/** RFC 5880 §6.8.3: while not Up, Desired Min TX is at least one second. */
export const SLOW_TX_US = 1_000_000;

/** Local parameters of one session, in the BFDProfile's units (milliseconds). */
export interface BfdParams {
  /** BFDProfile transmitInterval: bfd.DesiredMinTxInterval once Up. */
  transmitIntervalMs: number;
  /** BFDProfile receiveInterval: bfd.RequiredMinRxInterval. */
  receiveIntervalMs: number;
  /** BFDProfile detectMultiplier: bfd.DetectMult. */
  detectMultiplier: number;
  /** BFDProfile passiveMode: RFC 5880 §6.1 Passive role (send nothing until the peer has spoken). */
  passive: boolean;
}

/**
 * BFDProfile spec (metallb-compat.md §1.6, FRR defaults for unset fields) → session parameters.
 * echoMode/echoInterval are not implemented (Required Min Echo RX is always 0, RFC 5880 §6.4); minimumTtl only concerns
 * multi-hop sessions, which berth does not run (single hop requires TTL 255, RFC 5881 §5).
 */
export function paramsFromProfile(spec: BFDProfileSpec | undefined): BfdParams {
  const d = withBFDProfileDefaults(spec);
  return {
    transmitIntervalMs: d.transmitInterval,
    receiveIntervalMs: d.receiveInterval,
    detectMultiplier: d.detectMultiplier,
    passive: d.passiveMode,
  };
}

/** Throws RangeError naming the field, the value and the rule (the BFDProfile ranges, plus detectMultiplier 1 for tests). */
export function validateParams(p: BfdParams): void {
  for (const k of ['transmitIntervalMs', 'receiveIntervalMs'] as const) {
    const v = p[k];
    if (!Number.isFinite(v) || v < 1 || v > 4294967) {
      throw new RangeError(`bfd: ${k} ${v} is not a number of milliseconds in 1-4294967`);
    }
  }
  if (!Number.isInteger(p.detectMultiplier) || p.detectMultiplier < 1 || p.detectMultiplier > 255) {
    throw new RangeError(`bfd: detectMultiplier ${p.detectMultiplier} is not an integer in 1-255`);
  }
}

/** The RFC 5880 §6.8.1 state variables of one session, plus what the Poll Sequence (§6.5, §6.8.3) needs. */
export interface BfdSession {
  readonly params: BfdParams;
  /** bfd.SessionState */
  readonly state: SessionStateCode;
  /** bfd.RemoteSessionState */
  readonly remoteState: SessionStateCode;
  /** bfd.LocalDiscr: nonzero, unique on this system (chosen by the edge). */
  readonly localDiscr: number;
  /** bfd.RemoteDiscr: 0 until the peer is heard, and again after a Detection Time of silence. */
  readonly remoteDiscr: number;
  /** bfd.LocalDiag */
  readonly localDiag: number;
  /** bfd.RemoteMinRxInterval (µs), initialized to 1. 0 = the peer wants no periodic packets. */
  readonly remoteMinRxUs: number;
  /** Desired Min TX Interval last received (µs); 0 before any. */
  readonly remoteDesiredMinTxUs: number;
  /** Detect Mult last received; 0 before any. */
  readonly remoteDetectMult: number;
  /** A Poll Sequence is being transmitted (periodic packets carry P until a Final comes back). */
  readonly polling: boolean;
  /** Desired Min TX used for the transmit interval: an increase only takes effect when the Poll terminates. */
  readonly txDesiredInUseUs: number;
  /** Required Min RX used for the Detection Time: a decrease only takes effect when the Poll terminates. */
  readonly rxRequiredInUseUs: number;
  /** Un-jittered interval the transmit timer was last armed with (µs); 0 = not transmitting periodically. */
  readonly txArmedUs: number;
  /** The session was started (active role transmits from then on). */
  readonly started: boolean;
}

export type BfdEvent =
  /** Begin (active role: transmit at once). */
  | { type: 'start' }
  /** A packet that passed `checkControlPacket` and was demultiplexed to this session. */
  | { type: 'receive'; packet: ControlPacket }
  /** The transmit timer armed by the last 'arm-tx' fired. */
  | { type: 'tx-timer' }
  /** The detection timer armed by the last 'arm-detect' fired: a Detection Time without a valid packet. */
  | { type: 'detect-timer' }
  | { type: 'admin-down' }
  | { type: 'admin-up' }
  /** Local parameters changed (BFDProfile edit): a Poll Sequence when Up. */
  | { type: 'set-params'; params: BfdParams };

export type BfdAction =
  /** Send this packet now (periodic, state change, Poll with P, or Final with F). */
  | { type: 'send'; packet: ControlPacket }
  /** (Re)arm the transmit timer: fire 'tx-timer' after `ms` (already jittered, RFC 5880 §6.8.7). Replaces any earlier one. */
  | { type: 'arm-tx'; ms: number }
  | { type: 'cancel-tx' }
  /** (Re)arm the detection timer: fire 'detect-timer' after `ms` (the Detection Time, §6.8.4). Replaces any earlier one. */
  | { type: 'arm-detect'; ms: number }
  | { type: 'cancel-detect' }
  /** bfd.SessionState changed; `diag` is bfd.LocalDiag after the change. */
  | { type: 'state'; from: SessionStateCode; to: SessionStateCode; diag: number }
  /** The session came Up. */
  | { type: 'up' }
  /** The session left Up; `diag` says why (1 Control Detection Time Expired, 3 Neighbor Signaled Session Down, 7 AdminDown). */
  | { type: 'down'; diag: number };

export interface StepEnv {
  /** Uniform in [0, 1): jitter source. */
  random(): number;
}

export interface StepResult {
  session: BfdSession;
  actions: BfdAction[];
}

const us = (ms: number): number => Math.round(ms * 1000);

/** Desired Min TX to advertise and use in `state`: the configured one when Up, at least 1 s otherwise (§6.8.3). */
function effectiveDesiredTxUs(params: BfdParams, state: SessionStateCode): number {
  const c = us(params.transmitIntervalMs);
  return state === SessionState.Up ? c : Math.max(c, SLOW_TX_US);
}

/** A new session in Down (or AdminDown) state. `localDiscr` must be nonzero and unique on this system. */
export function newSession(o: { localDiscr: number; params: BfdParams; adminDown?: boolean }): BfdSession {
  validateParams(o.params);
  if (!Number.isInteger(o.localDiscr) || o.localDiscr < 1 || o.localDiscr > 0xffffffff) {
    throw new RangeError(`bfd: local discriminator ${o.localDiscr} is not in 1-4294967295`);
  }
  const state = o.adminDown ? SessionState.AdminDown : SessionState.Down;
  return {
    params: { ...o.params },
    state,
    remoteState: SessionState.Down,
    localDiscr: o.localDiscr,
    remoteDiscr: 0,
    localDiag: o.adminDown ? Diag.AdministrativelyDown : Diag.NoDiagnostic,
    remoteMinRxUs: 1,
    remoteDesiredMinTxUs: 0,
    remoteDetectMult: 0,
    polling: false,
    txDesiredInUseUs: effectiveDesiredTxUs(o.params, state),
    rxRequiredInUseUs: us(o.params.receiveIntervalMs),
    txArmedUs: 0,
    started: false,
  };
}

/** RFC 5880 §6.8.2/§6.8.7: the negotiated transmit interval, max(Desired Min TX in use, bfd.RemoteMinRxInterval), µs. */
export function txIntervalUs(s: BfdSession): number {
  return Math.max(s.txDesiredInUseUs, s.remoteMinRxUs);
}

/**
 * RFC 5880 §6.8.4 Detection Time (asynchronous mode), µs: the remote Detect Mult × max(bfd.RequiredMinRxInterval in
 * use, the last received Desired Min TX Interval). 0 before the peer was heard.
 */
export function detectionTimeUs(s: BfdSession): number {
  return s.remoteDetectMult * Math.max(s.rxRequiredInUseUs, s.remoteDesiredMinTxUs);
}

/**
 * RFC 5880 §6.8.7 jitter: the interval reduced by a random 0-25 % (75-100 %), or to 75-90 % when bfd.DetectMult is 1.
 * `r` in [0, 1). Returns ms.
 */
export function jitteredMs(intervalUs: number, detectMult: number, r: number): number {
  const f = detectMult === 1 ? 0.75 + 0.15 * r : 0.75 + 0.25 * r;
  return (intervalUs * f) / 1000;
}

/** The Control packet this session sends now (§6.8.7 contents). P and F are never both set. */
export function controlPacket(s: BfdSession, flags: { poll?: boolean; final?: boolean } = {}): ControlPacket {
  const final = flags.final === true;
  return {
    version: 1,
    diag: s.localDiag,
    state: s.state,
    poll: !final && (flags.poll ?? s.polling),
    final,
    controlPlaneIndependent: false,
    authPresent: false,
    demand: false,
    multipoint: false,
    detectMult: s.params.detectMultiplier,
    myDiscriminator: s.localDiscr,
    yourDiscriminator: s.remoteDiscr,
    desiredMinTxInterval: effectiveDesiredTxUs(s.params, s.state),
    requiredMinRxInterval: us(s.params.receiveIntervalMs),
    requiredMinEchoRxInterval: 0,
  };
}

/** RFC 5880 §6.8.7: may this session transmit periodically now? */
function mayTransmit(s: BfdSession): boolean {
  if (!s.started) return false;
  if (s.params.passive && s.remoteDiscr === 0) return false;
  return s.remoteMinRxUs !== 0;
}

function armTx(s: BfdSession, env: StepEnv, actions: BfdAction[]): BfdSession {
  if (!mayTransmit(s)) {
    if (s.txArmedUs !== 0) actions.push({ type: 'cancel-tx' });
    return { ...s, txArmedUs: 0 };
  }
  const iv = txIntervalUs(s);
  actions.push({ type: 'arm-tx', ms: jitteredMs(iv, s.params.detectMultiplier, env.random()) });
  return { ...s, txArmedUs: iv };
}

/** Moves to `to` with `diag`, returning the notifications; adjusts the Poll/timer bookkeeping of §6.8.3. */
function transition(s: BfdSession, to: SessionStateCode, diag: number, actions: BfdAction[]): BfdSession {
  const from = s.state;
  let n: BfdSession = { ...s, state: to, localDiag: diag };
  if (to === SessionState.Up) {
    // The advertised Desired Min TX drops from the 1 s slow rate to the configured one: verify it with a Poll (§6.8.3).
    // A decrease takes effect at once; the peer's Required Min RX still bounds the interval.
    n = { ...n, polling: true, txDesiredInUseUs: effectiveDesiredTxUs(n.params, to) };
  } else {
    n = {
      ...n,
      polling: false,
      txDesiredInUseUs: effectiveDesiredTxUs(n.params, to),
      rxRequiredInUseUs: us(n.params.receiveIntervalMs),
    };
  }
  actions.push({ type: 'state', from, to, diag });
  if (to === SessionState.Up) actions.push({ type: 'up' });
  else if (from === SessionState.Up) actions.push({ type: 'down', diag });
  return n;
}

/**
 * The transition function: the session after `event`, and the actions to perform, in order. Never throws for
 * packets (they were checked by `checkControlPacket`); throws RangeError for invalid 'set-params'.
 */
export function step(s: BfdSession, event: BfdEvent, env: StepEnv): StepResult {
  const actions: BfdAction[] = [];
  switch (event.type) {
    case 'start': {
      if (s.started) return { session: s, actions };
      let n: BfdSession = { ...s, started: true };
      if (mayTransmit(n)) {
        actions.push({ type: 'send', packet: controlPacket(n) });
        n = armTx(n, env, actions);
      }
      return { session: n, actions };
    }
    case 'receive':
      return receive(s, event.packet, env);
    case 'tx-timer': {
      if (!mayTransmit(s)) return { session: armTx(s, env, actions), actions };
      actions.push({ type: 'send', packet: controlPacket(s) });
      return { session: armTx(s, env, actions), actions };
    }
    case 'detect-timer': {
      // §6.8.4: Init/Up go Down with diag 1; §6.8.1: bfd.RemoteDiscr back to zero.
      let n: BfdSession = { ...s, remoteDiscr: 0, remoteState: SessionState.Down };
      if (s.state === SessionState.Init || s.state === SessionState.Up) {
        n = transition(n, SessionState.Down, Diag.ControlDetectionTimeExpired, actions);
      }
      if (mayTransmit(n)) {
        if (n.state !== s.state) actions.push({ type: 'send', packet: controlPacket(n) });
        n = armTx(n, env, actions);
      } else if (n.txArmedUs !== 0) {
        actions.push({ type: 'cancel-tx' });
        n = { ...n, txArmedUs: 0 };
      }
      return { session: n, actions };
    }
    case 'admin-down': {
      if (s.state === SessionState.AdminDown) return { session: s, actions };
      // §6.8.16: AdminDown with diag 7, keep telling the peer (it goes Down with diag 3), no detection.
      let n = transition(s, SessionState.AdminDown, Diag.AdministrativelyDown, actions);
      actions.push({ type: 'cancel-detect' });
      if (mayTransmit(n)) {
        actions.push({ type: 'send', packet: controlPacket(n) });
        n = armTx(n, env, actions);
      }
      return { session: n, actions };
    }
    case 'admin-up': {
      if (s.state !== SessionState.AdminDown) return { session: s, actions };
      let n = transition(s, SessionState.Down, Diag.NoDiagnostic, actions);
      if (mayTransmit(n)) {
        actions.push({ type: 'send', packet: controlPacket(n) });
        n = armTx(n, env, actions);
      }
      return { session: n, actions };
    }
    case 'set-params':
      return setParams(s, event.params, env);
  }
}

function setParams(s: BfdSession, params: BfdParams, env: StepEnv): StepResult {
  validateParams(params);
  const actions: BfdAction[] = [];
  const before = controlPacket(s);
  let n: BfdSession = { ...s, params: { ...params } };
  const after = controlPacket(n);
  const newTx = effectiveDesiredTxUs(params, n.state);
  const newRx = us(params.receiveIntervalMs);
  const timersChanged =
    before.desiredMinTxInterval !== after.desiredMinTxInterval ||
    before.requiredMinRxInterval !== after.requiredMinRxInterval;
  if (n.state === SessionState.Up && timersChanged) {
    // §6.8.3: a Poll Sequence; a TX increase and an RX decrease wait for the Final, the other directions apply now.
    n = {
      ...n,
      polling: true,
      txDesiredInUseUs: newTx < n.txDesiredInUseUs ? newTx : n.txDesiredInUseUs,
      rxRequiredInUseUs: newRx > n.rxRequiredInUseUs ? newRx : n.rxRequiredInUseUs,
    };
  } else {
    n = { ...n, txDesiredInUseUs: newTx, rxRequiredInUseUs: newRx };
  }
  if (
    n.started &&
    (timersChanged || before.detectMult !== after.detectMult || s.params.passive !== params.passive)
  ) {
    if (mayTransmit(n)) {
      actions.push({ type: 'send', packet: controlPacket(n) });
      n = armTx(n, env, actions);
    } else if (n.txArmedUs !== 0) {
      actions.push({ type: 'cancel-tx' });
      n = { ...n, txArmedUs: 0 };
    }
  }
  if (
    n.remoteDetectMult !== 0 &&
    n.state !== SessionState.AdminDown &&
    detectionTimeUs(n) !== detectionTimeUs(s)
  ) {
    actions.push({ type: 'arm-detect', ms: detectionTimeUs(n) / 1000 });
  }
  return { session: n, actions };
}

/** RFC 5880 §6.8.6 steps 10-21 for a packet already checked (1-6, 9) and demultiplexed (7-8). */
function receive(s: BfdSession, p: ControlPacket, env: StepEnv): StepResult {
  const actions: BfdAction[] = [];
  const wasTransmitting = mayTransmit(s);
  // 10-13 (and the values §6.8.4 needs).
  let n: BfdSession = {
    ...s,
    remoteDiscr: p.myDiscriminator,
    remoteState: p.state,
    remoteMinRxUs: p.requiredMinRxInterval,
    remoteDesiredMinTxUs: p.desiredMinTxInterval,
    remoteDetectMult: p.detectMult,
  };
  // 15: a Final ends our Poll Sequence; the parameters it carried now apply in full.
  if (n.polling && p.final) {
    n = {
      ...n,
      polling: false,
      txDesiredInUseUs: effectiveDesiredTxUs(n.params, n.state),
      rxRequiredInUseUs: us(n.params.receiveIntervalMs),
    };
  }
  // 17: AdminDown sessions discard (after having noted the values above).
  if (n.state === SessionState.AdminDown) return { session: n, actions };
  // 18-19: the three-way handshake.
  const from = n.state;
  if (p.state === SessionState.AdminDown) {
    if (n.state !== SessionState.Down)
      n = transition(n, SessionState.Down, Diag.NeighborSignaledSessionDown, actions);
  } else if (n.state === SessionState.Down) {
    if (p.state === SessionState.Down) n = transition(n, SessionState.Init, n.localDiag, actions);
    else if (p.state === SessionState.Init) n = transition(n, SessionState.Up, Diag.NoDiagnostic, actions);
  } else if (n.state === SessionState.Init) {
    if (p.state === SessionState.Init || p.state === SessionState.Up) {
      n = transition(n, SessionState.Up, Diag.NoDiagnostic, actions);
    }
  } else if (p.state === SessionState.Down) {
    n = transition(n, SessionState.Down, Diag.NeighborSignaledSessionDown, actions);
  }
  // §6.8.4: restart detection on every valid packet.
  actions.push({ type: 'arm-detect', ms: detectionTimeUs(n) / 1000 });
  // 21: answer a Poll with a Final at once, regardless of the transmit timer. A state change is sent at once too
  // (as FRR bfdd and BIRD do) so the handshake does not wait for the slow 1 s timer.
  const changed = n.state !== from;
  if (p.poll) actions.push({ type: 'send', packet: controlPacket(n, { final: true }) });
  else if (changed && n.started) actions.push({ type: 'send', packet: controlPacket(n) });
  // Periodic transmission: start it (passive role heard its peer), stop it (RemoteMinRx 0), or re-arm it when the
  // interval shrank or the state changed.
  const iv = txIntervalUs(n);
  if (!mayTransmit(n)) {
    if (n.txArmedUs !== 0) {
      actions.push({ type: 'cancel-tx' });
      n = { ...n, txArmedUs: 0 };
    }
  } else if (!wasTransmitting || n.txArmedUs === 0 || changed || iv < n.txArmedUs) {
    if (!wasTransmitting && !p.poll && !changed) actions.push({ type: 'send', packet: controlPacket(n) });
    n = armTx(n, env, actions);
  }
  return { session: n, actions };
}

/** Where a received packet goes (RFC 5880 §6.8.6 checks 7-8 and §6.3 demultiplexing). */
export type DemuxResult<T> = { ok: true; session: T } | { ok: false; reason: BfdDropReason };

/**
 * Selects the session for a checked packet: by Your Discriminator when nonzero (unknown → 'unknown-discriminator'),
 * else only a Down/AdminDown packet may open a session (→ 'your-discriminator-zero'), chosen by the source address and
 * the receiving interface (RFC 5881 §3; `byPeer` keys are `peerKey(address, ifname)`), → 'no-session' when none.
 */
export function demultiplex<T>(
  p: ControlPacket,
  from: { address: string; ifname?: string },
  byDiscr: ReadonlyMap<number, T>,
  byPeer: ReadonlyMap<string, T>,
): DemuxResult<T> {
  if (p.yourDiscriminator !== 0) {
    const s = byDiscr.get(p.yourDiscriminator);
    return s === undefined ? { ok: false, reason: 'unknown-discriminator' } : { ok: true, session: s };
  }
  if (p.state !== SessionState.Down && p.state !== SessionState.AdminDown) {
    return { ok: false, reason: 'your-discriminator-zero' };
  }
  const s = byPeer.get(peerKey(from.address, from.ifname)) ?? byPeer.get(peerKey(from.address));
  return s === undefined ? { ok: false, reason: 'no-session' } : { ok: true, session: s };
}

/** Key of a session by peer: canonical address, plus `%ifname` when bound to an interface. */
export function peerKey(address: string, ifname?: string): string {
  return ifname ? `${address}%${ifname}` : address;
}
