// Command-line flags of the speaker process (`berth speaker`), MetalLB's speaker flags where they exist
// (--node-name, --namespace, --lb-class, --ignore-exclude-lb, the memberlist bind address/port and secret; env
// METALLB_NODE_NAME / NODE_NAME / METALLB_ML_BIND_ADDR as MetalLB's chart sets them) and berth's own for metrics,
// logs and tests (--dry-run-link).
import { parseArgs } from 'node:util';
import { parseGoDuration } from '../config/duration.ts';
import type { LogFormat, LogLevel } from '../kube/log.ts';

export interface SpeakerFlags {
  nodeName: string;
  kubeconfig?: string;
  context?: string;
  /** berth's namespace: metallb.io objects, the memberlist Secret, ServiceL2Status objects. */
  namespace: string;
  lbClass?: string;
  ignoreExcludeLb: boolean;
  /** 0 = off; 'auto' = any free port (printed in the ready line). */
  metricsPort: number | 'auto';
  metricsHost: string;
  /** UDP port of the liveness heartbeats (MetalLB's memberlist port). */
  memberlistPort: number;
  /** Address the heartbeats are bound to; undefined = liveness off (every Node is assumed to run a speaker, as MetalLB without memberlist). */
  memberlistBind?: string;
  /** Secret (in `namespace`) whose key `secretkey` authenticates the heartbeats. */
  memberlistSecretName: string;
  /** Heartbeat period and the silence after which a peer is suspected dead, in ms. */
  heartbeatIntervalMs: number;
  suspectAfterMs: number;
  /** Wait this long after a change before recomputing the plan (coalesces bursts), in ms. */
  debounceMs: number;
  /** Tests only: open no socket, record the frames the announcer would send (one fake link `dry0`). */
  dryRunLink: boolean;
  /**
   * Real-time priority of the addon's layer-2 answer threads (one per ARP socket that answers natively, see
   * docs/layer2.md "Real-time answer thread"): 0 = off (SCHED_OTHER, the default), 1..99 = SCHED_FIFO at that
   * priority (sched(7)); needs CAP_SYS_NICE, without it one Warning and the threads stay SCHED_OTHER.
   */
  layer2AnswerPriority: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

export type SpeakerFlagsResult = { ok: true; flags: SpeakerFlags } | { ok: false; message: string };

export const SPEAKER_USAGE = `usage: berth speaker --node-name NODE [flags]
  --node-name NODE             this node (default: $METALLB_NODE_NAME, $NODE_NAME; required)
  --kubeconfig PATH            kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME               kubeconfig context
  --namespace NS               berth's namespace (default $METALLB_NAMESPACE or metallb-system)
  --lb-class CLASS             announce only Services of this loadBalancerClass (default: Services without a class)
  --ignore-exclude-lb          announce from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers
  --metrics-port N             /metrics /healthz /readyz port (default 7472; 0 = off; auto = any free port)
  --metrics-host HOST          their address (default 0.0.0.0)
  --memberlist-port N          UDP port of the speakers' heartbeats (default 7946)
  --memberlist-bind ADDR       address the heartbeats use (default $METALLB_ML_BIND_ADDR; unset = liveness off,
                               every Node is assumed to run a live speaker, as MetalLB without memberlist)
  --memberlist-secret-name S   Secret holding the heartbeat key under "secretkey" (default memberlist)
  --heartbeat-interval D       heartbeat period (default 100ms)
  --suspect-after D            a peer silent this long is dead (default 300ms)
  --debounce D                 coalesce changes this long before recomputing (default 5ms)
  --layer2-answer-priority N   SCHED_FIFO priority 1..99 of the native ARP answer threads; 0 = off (default);
                               needs CAP_SYS_NICE (without it: a warning, the threads stay SCHED_OTHER)
  --dry-run-link               tests: open no socket; frames are recorded on a fake link "dry0", not sent
  --log-format FORMAT          json (default: one JSON object per line) or text
  --log-level LEVEL            debug, info (default), warn or error`;

function port(text: string, flag: string, allowAuto: boolean): number | 'auto' | string {
  if (allowAuto && text === 'auto') return 'auto';
  if (/^\d+$/.test(text) && Number(text) <= 65535) return Number(text);
  return `--${flag}: "${text}" is not a port number${allowAuto ? ', 0 or auto' : ''}`;
}

/** Parses argv + env; never throws: a bad value gives a message naming the flag, the value and the rule. */
export function parseSpeakerFlags(argv: readonly string[], env: NodeJS.ProcessEnv): SpeakerFlagsResult {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'node-name': { type: 'string' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string' },
        'lb-class': { type: 'string' },
        'ignore-exclude-lb': { type: 'boolean' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'memberlist-port': { type: 'string' },
        'memberlist-bind': { type: 'string' },
        'memberlist-secret-name': { type: 'string' },
        'heartbeat-interval': { type: 'string' },
        'suspect-after': { type: 'string' },
        debounce: { type: 'string' },
        'dry-run-link': { type: 'boolean' },
        'layer2-answer-priority': { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
      },
    }).values;
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  const str = (k: string): string | undefined => (typeof v[k] === 'string' && v[k] !== '' ? (v[k] as string) : undefined);
  const nodeName = str('node-name') ?? (env.METALLB_NODE_NAME || undefined) ?? (env.NODE_NAME || undefined);
  if (!nodeName) return { ok: false, message: '--node-name is required (or $METALLB_NODE_NAME / $NODE_NAME)' };
  const durations: Record<string, number> = {};
  for (const [k, def] of Object.entries({ 'heartbeat-interval': '100ms', 'suspect-after': '300ms', debounce: '5ms' })) {
    const text = str(k) ?? def;
    const d = parseGoDuration(text);
    if (!d.ok) return { ok: false, message: `--${k}: ${d.message}` };
    if (d.ns < 0n) return { ok: false, message: `--${k}: ${text} is negative` };
    durations[k] = Number(d.ns / 1_000_000n);
  }
  if (durations['heartbeat-interval']! <= 0) return { ok: false, message: `--heartbeat-interval: must be more than 0` };
  if (durations['suspect-after']! <= durations['heartbeat-interval']!) {
    return {
      ok: false,
      message: `--suspect-after (${durations['suspect-after']} ms) must be longer than --heartbeat-interval (${durations['heartbeat-interval']} ms)`,
    };
  }
  const mp = port(str('metrics-port') ?? '7472', 'metrics-port', true);
  if (typeof mp === 'string' && mp !== 'auto') return { ok: false, message: mp };
  const ml = port(str('memberlist-port') ?? '7946', 'memberlist-port', false);
  if (typeof ml === 'string') return { ok: false, message: ml };
  const logFormat = str('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') return { ok: false, message: `--log-format: "${logFormat}" is not json or text` };
  const logLevel = str('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    return { ok: false, message: `--log-level: "${logLevel}" is not one of debug, info, warn, error` };
  }
  const prioText = str('layer2-answer-priority') ?? '0';
  if (!/^\d+$/.test(prioText) || Number(prioText) > 99) {
    return {
      ok: false,
      message: `--layer2-answer-priority: "${prioText}" is not 0 (off) or a SCHED_FIFO priority 1..99`,
    };
  }
  const bind = str('memberlist-bind') ?? (env.METALLB_ML_BIND_ADDR || undefined);
  return {
    ok: true,
    flags: {
      nodeName,
      ...(str('kubeconfig') ? { kubeconfig: str('kubeconfig')! } : {}),
      ...(str('context') ? { context: str('context')! } : {}),
      namespace: str('namespace') ?? (env.METALLB_NAMESPACE || undefined) ?? 'metallb-system',
      ...(str('lb-class') ? { lbClass: str('lb-class')! } : {}),
      ignoreExcludeLb: v['ignore-exclude-lb'] === true,
      metricsPort: mp,
      metricsHost: str('metrics-host') ?? '0.0.0.0',
      memberlistPort: ml,
      ...(bind ? { memberlistBind: bind } : {}),
      memberlistSecretName: str('memberlist-secret-name') ?? 'memberlist',
      heartbeatIntervalMs: durations['heartbeat-interval']!,
      suspectAfterMs: durations['suspect-after']!,
      debounceMs: durations['debounce']!,
      dryRunLink: v['dry-run-link'] === true,
      layer2AnswerPriority: Number(prioText),
      logFormat,
      logLevel: logLevel as LogLevel,
    },
  };
}
