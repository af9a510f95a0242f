// The BGP-4 finite state machine (RFC 4271 §8) as a pure transition function: `step(state, event)` returns the next
// state and the actions the session edge (session.ts) performs — send a message, arm or stop a timer, open or close
// the TCP connection, report Established / down with an enumerated reason. No sockets, no timers, no clock here
// (architecture.md; style.md §2: gobgp's fsm.go has one handler per state returning (nextState, reason); this is the
// same idea without goroutines).
//
// Deliberate simplifications, each allowed by RFC 4271 §8.1 as optional session attributes:
// - One TCP connection at a time: a session is either active (it dials) or passive (it waits), so there is no
//   connection collision to resolve (§6.8). DelayOpen, SendNOTIFICATIONwithoutOPEN and Collision detection are off.
// - After any failure the session waits in Idle for the IdleHoldTimer (the RFC's DampPeerOscillations), whose value
//   is MetalLB's retry backoff: 1 s doubling to 2 min (metallb-compat.md §6.2), reset once Established. An active
//   connect that does not complete within ConnectRetryTime (BGPPeer connectTime, MetalLB's 10 s dial timeout) counts
//   as such a failure, instead of the RFC's immediate re-dial from Connect.
import {
  AS_TRANS,
  CeaseSubcode,
  ErrorCode,
  FsmSubcode,
  OpenSubcode,
  negotiate,
  newNotification,
  notificationLabel,
  openAsn,
  type Negotiated,
  type NotificationMessage,
  type OpenMessage,
  type RouteRefreshMessage,
  type UpdateMessage,
} from './wire/index.ts';

/** RFC 4271 §8.2.2 session states. */
export type FsmStateName = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** The timers of RFC 4271 §8 (IdleHold = the optional IdleHoldTimer used for the retry backoff). */
export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

/** Why a session left OpenSent/OpenConfirm/Established or failed to connect (gobgp fsm.go reasons, RFC terms). */
export type DownReason =
  | 'manual-stop'
  | 'connect-failed'
  | 'connect-timeout'
  | 'connection-closed'
  | 'hold-timer-expired'
  | 'notification-received'
  | 'bad-peer-as'
  | 'bad-bgp-identifier'
  | 'unacceptable-hold-time'
  | 'unsupported-capability'
  | 'decode-error'
  | 'fsm-error';

/** Configuration the FSM checks OPENs against (from BGPPeer; MetalLB §6.2). */
export interface FsmConfig {
  /**
   * The ASN this session speaks as (OPEN, AS_PATH), 1-4294967295: BGPPeer myASN, or its localASN when set (FRR's
   * `local-as <ASN> no-prepend replace-as`, MetalLB api/v1beta2/bgppeer_types.go).
   */
  localAsn: number;
  /**
   * The ASN the peer's OPEN must carry (RFC 4271 §6.2 Bad Peer AS otherwise), 1-4294967295; 0 when `dynamicAsn` is
   * set (BGPPeer peerASN and dynamicASN are mutually exclusive).
   */
  peerAsn: number;
  /**
   * BGPPeer dynamicASN: accept any peer AS that is `internal` (equal to `routerAsn`) or `external` (different from
   * `routerAsn` and from `localAsn`), instead of one fixed peerAsn (FRR `remote-as internal|external`).
   */
  dynamicAsn?: 'internal' | 'external';
  /** The router's own AS (BGPPeer myASN) that dynamicAsn compares with; default localAsn (differs with localASN). */
  routerAsn?: number;
  /** Our proposed hold time, seconds: 0 or 3-65535 (MetalLB default 90). */
  holdTime: number;
  /** Our keepalive interval, seconds, when configured (BGPPeer keepaliveTime); else negotiated hold / 3. */
  keepaliveTime?: number;
  /** ConnectRetryTime, ms: how long an active connect may take (BGPPeer connectTime; MetalLB's dial timeout 10 s). */
  connectRetryMs: number;
  /** First retry backoff, ms (1000), doubled per consecutive failure up to maxBackoffMs (120000). */
  backoffMs: number;
  maxBackoffMs: number;
  /** Passive: wait for the peer to connect; never dial. */
  passive: boolean;
  /** OpenSent hold timer, ms (RFC 4271 §8.2.2 suggests 4 minutes). */
  openHoldMs: number;
  /** Capabilities we send in OPEN (the 4-octet AS capability is added by newOpen). */
  capabilities: OpenMessage['capabilities'];
}

/** Defaults for the optional FsmConfig fields (RFC 4271 §10, MetalLB §6.2). */
export const FSM_DEFAULTS = {
  holdTime: 90,
  connectRetryMs: 10_000,
  backoffMs: 1_000,
  maxBackoffMs: 120_000,
  openHoldMs: 240_000,
} as const;

export interface FsmState {
  readonly name: FsmStateName;
  readonly config: FsmConfig;
  /** False before ManualStart and after ManualStop: Idle stays Idle. */
  readonly started: boolean;
  /** RFC 4271 ConnectRetryCounter: consecutive failures since the last Established (drives the backoff). */
  readonly connectRetryCounter: number;
  /** The OPEN we sent on this connection (from OpenSent on). */
  readonly localOpen?: OpenMessage;
  /** The peer's OPEN (from OpenConfirm on). */
  readonly peerOpen?: OpenMessage;
  /** Negotiated parameters (from OpenConfirm on). */
  readonly negotiated?: Negotiated;
}

/** The NOTIFICATION a decode error maps to (wire BgpDecodeError code/subcode/data). */
export interface DecodeErrorInfo {
  code: number;
  subcode: number;
  data?: Buffer;
  message: string;
}

/** RFC 4271 §8.1 events (names after the RFC's, grouped as the session sees them). */
export type FsmEvent =
  | { type: 'ManualStart' }
  /**
   * `subcode`: the Cease subcode (default Administrative Shutdown; e.g. Peer De-configured, BFD Down, RFC 9384).
   * `notify: false`: close the connection without a NOTIFICATION — a speaker restarting with Graceful Restart
   * (RFC 4724 §4: a peer that sees the TCP session end, not a NOTIFICATION, keeps the routes as stale until the restart
   * time or End-of-RIB). Default true.
   */
  | { type: 'ManualStop'; text?: string /* RFC 9003 shutdown communication */; subcode?: number; notify?: boolean }
  | { type: 'ConnectRetryTimerExpires' }
  | { type: 'HoldTimerExpires' }
  | { type: 'KeepaliveTimerExpires' }
  | { type: 'IdleHoldTimerExpires' }
  /** Events 16/17: the TCP connection is up; `routerId` is our BGP Identifier for it (session.ts picks it). */
  | { type: 'TcpConnectionConfirmed'; routerId: string }
  /** Event 18: the TCP connection failed or was closed by the peer. */
  | { type: 'TcpConnectionFails'; error?: string }
  | { type: 'BGPOpen'; message: OpenMessage }
  | { type: 'KeepAliveMsg' }
  | { type: 'UpdateMsg'; message: UpdateMessage }
  | { type: 'RouteRefreshMsg'; message: RouteRefreshMessage }
  | { type: 'NotifMsg'; message: NotificationMessage }
  /** Events 21/22/28 (BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr with session-reset handling). */
  | { type: 'DecodeError'; error: DecodeErrorInfo };

export type FsmAction =
  | { type: 'connect' }
  | { type: 'close' }
  | { type: 'send'; message: OpenMessage | NotificationMessage | { type: 'keepalive' } }
  | { type: 'startTimer'; timer: TimerName; ms: number }
  | { type: 'stopTimer'; timer: TimerName }
  /** Established: the session sends its Adj-RIB-Out and End-of-RIB. */
  | { type: 'established'; negotiated: Negotiated; peerOpen: OpenMessage }
  /** An UPDATE received in Established, for the session to account for (berth ignores received routes). */
  | { type: 'update'; message: UpdateMessage }
  /** ROUTE-REFRESH received (RFC 2918): the session re-sends its Adj-RIB-Out. */
  | { type: 'refresh'; message: RouteRefreshMessage }
  /** The connection ended. `wasEstablished` tells a session loss from a failed attempt. */
  | {
      type: 'down';
      reason: DownReason;
      wasEstablished: boolean;
      detail: string;
      notification?: { direction: 'sent' | 'received'; message: NotificationMessage };
    };

export interface StepResult {
  state: FsmState;
  actions: FsmAction[];
}

const ALL_TIMERS: readonly TimerName[] = ['connectRetry', 'hold', 'keepalive', 'idleHold'];

/**
 * A new FSM in Idle (not started). Throws RangeError naming a bad ASN, hold time or duration.
 */
export function initialState(config: FsmConfig): FsmState {
  if (config.dynamicAsn !== undefined) {
    if (config.dynamicAsn !== 'internal' && config.dynamicAsn !== 'external')
      throw new RangeError(
        `dynamicAsn ${JSON.stringify(config.dynamicAsn)} must be "internal" or "external"`,
      );
    if (config.peerAsn !== 0)
      throw new RangeError(
        `peerAsn ${config.peerAsn} and dynamicAsn "${config.dynamicAsn}" are mutually exclusive: peerAsn must be 0`,
      );
  }
  for (const [n, v] of [
    ['localAsn', config.localAsn],
    ...(config.dynamicAsn === undefined ? [['peerAsn', config.peerAsn] as const] : []),
    ...(config.routerAsn !== undefined ? [['routerAsn', config.routerAsn] as const] : []),
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff)
      throw new RangeError(`${n} ${v} must be an integer 1-4294967295`);
  }
  if (!validHoldTime(config.holdTime))
    throw new RangeError(`holdTime ${config.holdTime} must be 0 or 3-65535 seconds (RFC 4271 §4.2)`);
  if (
    config.keepaliveTime !== undefined &&
    (!Number.isInteger(config.keepaliveTime) || config.keepaliveTime < 0)
  )
    throw new RangeError(`keepaliveTime ${config.keepaliveTime} must be a non-negative integer of seconds`);
  for (const [n, v] of [
    ['connectRetryMs', config.connectRetryMs],
    ['backoffMs', config.backoffMs],
    ['maxBackoffMs', config.maxBackoffMs],
    ['openHoldMs', config.openHoldMs],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${n} ${v} must be a positive number of ms`);
  }
  return { name: 'Idle', config, started: false, connectRetryCounter: 0 };
}

/** 0 or 3-65535 seconds (RFC 4271 §4.2). */
export function validHoldTime(s: number): boolean {
  return Number.isInteger(s) && (s === 0 || (s >= 3 && s <= 0xffff));
}

/** The retry backoff after `failures` consecutive failures: backoffMs · 2^(failures-1), at most maxBackoffMs. */
export function backoffMs(config: FsmConfig, failures: number): number {
  const n = Math.max(0, failures - 1);
  return Math.min(config.maxBackoffMs, config.backoffMs * 2 ** Math.min(n, 30));
}

/**
 * Checks the peer's OPEN against our configuration (RFC 4271 §6.2, RFC 6286, RFC 6793, MetalLB §6.2). Returns the
 * NOTIFICATION and reason to refuse it with, or undefined when acceptable.
 */
export function checkPeerOpen(
  config: FsmConfig,
  ours: OpenMessage,
  theirs: OpenMessage,
): { reason: DownReason; notification: NotificationMessage; detail: string } | undefined {
  const asn = openAsn(theirs);
  const fourOctet = theirs.capabilities.some((c) => c.type === 'four-octet-as');
  const wrongAs = peerAsMismatch(config, asn);
  if (wrongAs) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(theirs.myAutonomousSystem);
    return {
      reason: 'bad-peer-as',
      notification: newNotification(ErrorCode.OpenMessageError, OpenSubcode.BadPeerAs, { data }),
      detail: wrongAs,
    };
  }
  if (theirs.myAutonomousSystem === AS_TRANS && !fourOctet && asn !== AS_TRANS) {
    return {
      reason: 'bad-peer-as',
      notification: newNotification(ErrorCode.OpenMessageError, OpenSubcode.BadPeerAs),
      detail: 'peer sent AS_TRANS without the 4-octet AS capability (RFC 6793 §4.1)',
    };
  }
  if (config.localAsn > 0xffff && !fourOctet) {
    return {
      reason: 'unsupported-capability',
      notification: newNotification(ErrorCode.OpenMessageError, OpenSubcode.UnsupportedCapability, {
        data: Buffer.from([65, 4, ...u32(config.localAsn)]),
      }),
      detail: `local ASN ${config.localAsn} needs 4 octets and the peer lacks the 4-octet AS capability (RFC 6793)`,
    };
  }
  if (!validHoldTime(theirs.holdTime)) {
    return {
      reason: 'unacceptable-hold-time',
      notification: newNotification(ErrorCode.OpenMessageError, OpenSubcode.UnacceptableHoldTime),
      detail: `peer hold time ${theirs.holdTime} s is not 0 or at least 3 (RFC 4271 §6.2)`,
    };
  }
  if (
    theirs.bgpIdentifier === '0.0.0.0' ||
    (config.localAsn === asn && theirs.bgpIdentifier === ours.bgpIdentifier)
  ) {
    return {
      reason: 'bad-bgp-identifier',
      notification: newNotification(ErrorCode.OpenMessageError, OpenSubcode.BadBgpIdentifier, {
        data: Buffer.from(theirs.bgpIdentifier.split('.').map(Number)),
      }),
      detail: `peer BGP Identifier ${theirs.bgpIdentifier} is ${theirs.bgpIdentifier === '0.0.0.0' ? 'zero' : 'ours on an iBGP session'} (RFC 6286 §2.2)`,
    };
  }
  return undefined;
}

/**
 * Why the AS `asn` of a peer's OPEN is not acceptable (the Bad Peer AS detail, RFC 4271 §6.2), or undefined: it must
 * equal peerAsn; with dynamicAsn `internal` equal the router's AS (routerAsn, default localAsn); with `external`
 * differ from it and from localAsn (a peer speaking our session AS would be internal on the wire).
 */
export function peerAsMismatch(config: FsmConfig, asn: number): string | undefined {
  const router = config.routerAsn ?? config.localAsn;
  switch (config.dynamicAsn) {
    case 'internal':
      return asn === router
        ? undefined
        : `peer AS ${asn} is not internal: dynamicASN internal wants the local AS ${router}`;
    case 'external':
      if (asn === router)
        return `peer AS ${asn} is not external: dynamicASN external wants an AS other than ${router}`;
      return asn === config.localAsn
        ? `peer AS ${asn} is not external: it is this session's local AS (localASN ${config.localAsn})`
        : undefined;
    default:
      return asn === config.peerAsn
        ? undefined
        : `peer AS ${asn} is not the configured peerASN ${config.peerAsn}`;
  }
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** Our OPEN (RFC 4271 §4.2): ASN (AS_TRANS above 65535 plus the 4-octet capability), hold time, router ID. */
export function localOpen(config: FsmConfig, routerId: string): OpenMessage {
  const caps = config.capabilities.filter((c) => c.type !== 'four-octet-as');
  return {
    type: 'open',
    version: 4,
    myAutonomousSystem: config.localAsn > 0xffff ? AS_TRANS : config.localAsn,
    holdTime: config.holdTime,
    bgpIdentifier: routerId,
    capabilities: [...caps, { type: 'four-octet-as', asn: config.localAsn }],
  };
}

function stopAll(): FsmAction[] {
  return ALL_TIMERS.map((timer) => ({ type: 'stopTimer', timer }));
}

/**
 * Leaves the connection: close it, stop the timers, and (if still started) either wait for the next connection
 * (passive: Active) or back off in Idle (active: IdleHoldTimer). `notification` is sent before closing when given.
 */
function fail(
  s: FsmState,
  reason: DownReason,
  detail: string,
  notification?: { direction: 'sent' | 'received'; message: NotificationMessage },
): StepResult {
  const actions: FsmAction[] = [];
  if (notification?.direction === 'sent') actions.push({ type: 'send', message: notification.message });
  actions.push({ type: 'close' }, ...stopAll());
  actions.push({
    type: 'down',
    reason,
    wasEstablished: s.name === 'Established',
    detail,
    ...(notification ? { notification } : {}),
  });
  const counter = s.connectRetryCounter + 1;
  const base = { config: s.config, started: s.started, connectRetryCounter: counter };
  if (!s.started) return { state: { ...base, name: 'Idle' }, actions };
  if (s.config.passive) return { state: { ...base, name: 'Active' }, actions };
  actions.push({ type: 'startTimer', timer: 'idleHold', ms: backoffMs(s.config, counter) });
  return { state: { ...base, name: 'Idle' }, actions };
}

function fsmError(s: FsmState, what: string): StepResult {
  const subcode =
    s.name === 'OpenSent'
      ? FsmSubcode.UnexpectedMessageInOpenSent
      : s.name === 'OpenConfirm'
        ? FsmSubcode.UnexpectedMessageInOpenConfirm
        : s.name === 'Established'
          ? FsmSubcode.UnexpectedMessageInEstablished
          : FsmSubcode.Unspecified;
  return fail(s, 'fsm-error', `${what} in ${s.name} (RFC 6608)`, {
    direction: 'sent',
    message: newNotification(ErrorCode.FiniteStateMachineError, subcode),
  });
}

function connect(s: FsmState): StepResult {
  return {
    state: { ...base(s), name: 'Connect' },
    actions: [
      { type: 'stopTimer', timer: 'idleHold' },
      { type: 'connect' },
      { type: 'startTimer', timer: 'connectRetry', ms: s.config.connectRetryMs },
    ],
  };
}

function base(s: FsmState): Omit<FsmState, 'name' | 'localOpen' | 'peerOpen' | 'negotiated'> {
  return { config: s.config, started: s.started, connectRetryCounter: s.connectRetryCounter };
}

/** Keepalive interval, ms, for a negotiated hold time (configured keepaliveTime capped at hold/3; 0 = none). */
export function keepaliveMs(config: FsmConfig, n: Negotiated): number {
  if (n.holdTime === 0) return 0;
  const k =
    config.keepaliveTime !== undefined ? Math.min(config.keepaliveTime, n.keepaliveTime) : n.keepaliveTime;
  return Math.max(1, k) * 1000;
}

/**
 * RFC 4271 §8.2.2 transition: the next state and the actions, in order, for `event` in `state`. Never throws.
 * Events that mean nothing in a state are ignored (no actions) where the RFC ignores them, and reset the session
 * with a Finite State Machine Error (RFC 6608 subcodes) where the RFC does.
 */
export function step(state: FsmState, event: FsmEvent): StepResult {
  const s = state;
  const same = (actions: FsmAction[] = []): StepResult => ({ state: s, actions });

  if (event.type === 'ManualStop') {
    if (s.name === 'Idle' || (s.name === 'Active' && !s.started)) {
      return { state: { ...base(s), name: 'Idle', started: false }, actions: stopAll() };
    }
    const stopped: FsmState = { ...s, started: false };
    const connected = s.name === 'OpenSent' || s.name === 'OpenConfirm' || s.name === 'Established';
    if (!connected) {
      return {
        state: { ...base(stopped), name: 'Idle', connectRetryCounter: 0 },
        actions: [{ type: 'close' }, ...stopAll()],
      };
    }
    if (event.notify === false) {
      const r = fail(stopped, 'manual-stop', 'stopped without NOTIFICATION (graceful restart, RFC 4724 §4)');
      return { state: { ...r.state, connectRetryCounter: 0 }, actions: r.actions };
    }
    const subcode = event.subcode ?? CeaseSubcode.AdministrativeShutdown;
    // RFC 9003: the Shutdown Communication exists for Administrative Shutdown and Administrative Reset only.
    const withText =
      event.text !== undefined &&
      (subcode === CeaseSubcode.AdministrativeShutdown || subcode === CeaseSubcode.AdministrativeReset);
    const message = newNotification(
      ErrorCode.Cease,
      subcode,
      withText ? { shutdownCommunication: event.text } : {},
    );
    const r = fail(stopped, 'manual-stop', `stopped (${notificationLabel(ErrorCode.Cease, subcode)})`, {
      direction: 'sent',
      message,
    });
    return { state: { ...r.state, connectRetryCounter: 0 }, actions: r.actions };
  }

  switch (s.name) {
    case 'Idle':
      switch (event.type) {
        case 'ManualStart': {
          const started: FsmState = { ...s, started: true, connectRetryCounter: 0 };
          if (s.config.passive) return { state: { ...base(started), name: 'Active' }, actions: [] };
          return connect(started);
        }
        case 'IdleHoldTimerExpires':
          return s.started ? connect(s) : same();
        case 'TcpConnectionConfirmed':
          // RFC 4271 §8.2.2 Idle: connections are refused.
          return same([{ type: 'close' }]);
        default:
          return same();
      }

    case 'Connect':
    case 'Active':
      switch (event.type) {
        case 'ManualStart':
          return same();
        case 'TcpConnectionConfirmed': {
          const open = localOpen(s.config, event.routerId);
          return {
            state: { ...base(s), name: 'OpenSent', localOpen: open },
            actions: [
              { type: 'stopTimer', timer: 'connectRetry' },
              { type: 'send', message: open },
              { type: 'startTimer', timer: 'hold', ms: s.config.openHoldMs },
            ],
          };
        }
        case 'TcpConnectionFails':
          return fail(s, 'connect-failed', event.error ?? 'TCP connection failed');
        case 'ConnectRetryTimerExpires':
          if (s.name === 'Connect')
            return fail(s, 'connect-timeout', `TCP connect took more than ${s.config.connectRetryMs} ms`);
          return same();
        case 'IdleHoldTimerExpires':
        case 'HoldTimerExpires':
        case 'KeepaliveTimerExpires':
          return same();
        default:
          // A BGP message without a connection cannot happen; treat as an FSM error (RFC 4271 §8.2.2 Connect).
          return fail(s, 'fsm-error', `${event.type} in ${s.name}`);
      }

    case 'OpenSent':
      switch (event.type) {
        case 'BGPOpen': {
          const ours = s.localOpen!;
          const bad = checkPeerOpen(s.config, ours, event.message);
          if (bad) return fail(s, bad.reason, bad.detail, { direction: 'sent', message: bad.notification });
          const n = negotiate(ours, event.message);
          const actions: FsmAction[] = [
            { type: 'stopTimer', timer: 'connectRetry' },
            { type: 'send', message: { type: 'keepalive' } },
          ];
          if (n.holdTime === 0)
            actions.push({ type: 'stopTimer', timer: 'hold' }, { type: 'stopTimer', timer: 'keepalive' });
          else
            actions.push(
              { type: 'startTimer', timer: 'hold', ms: n.holdTime * 1000 },
              { type: 'startTimer', timer: 'keepalive', ms: keepaliveMs(s.config, n) },
            );
          return {
            state: {
              ...base(s),
              name: 'OpenConfirm',
              localOpen: ours,
              peerOpen: event.message,
              negotiated: n,
            },
            actions,
          };
        }
        case 'ManualStart':
        case 'IdleHoldTimerExpires':
        case 'ConnectRetryTimerExpires':
        case 'KeepaliveTimerExpires':
          return same();
        case 'TcpConnectionConfirmed':
          return same([{ type: 'close' }]);
        default:
          return common(s, event);
      }

    case 'OpenConfirm':
      switch (event.type) {
        case 'KeepAliveMsg': {
          const n = s.negotiated!;
          return {
            state: { ...s, name: 'Established', connectRetryCounter: 0 },
            actions: [
              ...(n.holdTime > 0
                ? [{ type: 'startTimer' as const, timer: 'hold' as const, ms: n.holdTime * 1000 }]
                : []),
              { type: 'established', negotiated: n, peerOpen: s.peerOpen! },
            ],
          };
        }
        case 'KeepaliveTimerExpires':
          return keepalive(s);
        case 'ManualStart':
        case 'IdleHoldTimerExpires':
        case 'ConnectRetryTimerExpires':
          return same();
        case 'TcpConnectionConfirmed':
          return same([{ type: 'close' }]);
        default:
          return common(s, event);
      }

    case 'Established':
      switch (event.type) {
        case 'KeepAliveMsg':
          return same(holdRestart(s));
        case 'UpdateMsg':
          return same([...holdRestart(s), { type: 'update', message: event.message }]);
        case 'RouteRefreshMsg':
          return same([...holdRestart(s), { type: 'refresh', message: event.message }]);
        case 'KeepaliveTimerExpires':
          return keepalive(s);
        case 'ManualStart':
        case 'IdleHoldTimerExpires':
        case 'ConnectRetryTimerExpires':
          return same();
        case 'TcpConnectionConfirmed':
          return same([{ type: 'close' }]);
        default:
          return common(s, event);
      }
  }
}

function holdRestart(s: FsmState): FsmAction[] {
  const h = s.negotiated?.holdTime ?? 0;
  return h > 0 ? [{ type: 'startTimer', timer: 'hold', ms: h * 1000 }] : [];
}

function keepalive(s: FsmState): StepResult {
  const ms = s.negotiated ? keepaliveMs(s.config, s.negotiated) : 0;
  return {
    state: s,
    actions: [
      { type: 'send', message: { type: 'keepalive' } },
      ...(ms > 0 ? [{ type: 'startTimer' as const, timer: 'keepalive' as const, ms }] : []),
    ],
  };
}

/** Events handled alike in OpenSent, OpenConfirm and Established. */
function common(s: FsmState, event: FsmEvent): StepResult {
  switch (event.type) {
    case 'HoldTimerExpires':
      return fail(s, 'hold-timer-expired', `no message from the peer within the hold time`, {
        direction: 'sent',
        message: newNotification(ErrorCode.HoldTimerExpired, 0),
      });
    case 'TcpConnectionFails':
      return fail(s, 'connection-closed', event.error ?? 'the peer closed the TCP connection');
    case 'NotifMsg':
      return fail(s, 'notification-received', 'NOTIFICATION received', {
        direction: 'received',
        message: event.message,
      });
    case 'DecodeError':
      return fail(s, 'decode-error', event.error.message, {
        direction: 'sent',
        message: newNotification(event.error.code, event.error.subcode, {
          ...(event.error.data ? { data: event.error.data } : {}),
        }),
      });
    case 'BGPOpen':
      return fsmError(s, 'OPEN');
    case 'KeepAliveMsg':
      return fsmError(s, 'KEEPALIVE');
    case 'UpdateMsg':
      return fsmError(s, 'UPDATE');
    case 'RouteRefreshMsg':
      return fsmError(s, 'ROUTE-REFRESH');
    default:
      return { state: s, actions: [] };
  }
}
