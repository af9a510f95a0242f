// Command-line flags of the controller process (MetalLB's controller flags where they exist: --namespace, --lb-class;
// berth's own for metrics, replica identity, leader election and the claim repair grace).
import { parseArgs } from 'node:util';
import { parseGoDuration } from '../config/duration.ts';
import type { LogFormat, LogLevel } from '../kube/log.ts';

export interface ControllerFlags {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  lbClass?: string;
  /** 0 = off; 'auto' = any free port (printed in the ready line). */
  metricsPort: number | 'auto';
  metricsHost: string;
  replicaId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  claimGraceMs: number;
  resyncMs: number;
  leaseName: string;
  /** `json` (default: one pino object per line) or `text` (for people). */
  logFormat: LogFormat;
  logLevel: LogLevel;
}

export type FlagsResult = { ok: true; flags: ControllerFlags } | { ok: false; message: string };

export const USAGE = `usage: controller [flags]
  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME           kubeconfig context
  --namespace NS           berth's namespace: metallb.io objects, Lease, ConfigurationState (default metallb-system)
  --lb-class CLASS         handle only Services of this loadBalancerClass (default: Services without a class)
  --metrics-port N         /metrics port (default 7472; 0 = off; auto = any free port)
  --metrics-host HOST      /metrics address (default 0.0.0.0)
  --replica-id ID          leader-election identity (default: $POD_NAME or hostname-pid)
  --lease-name NAME        leader Lease (default berth-controller)
  --lease-duration D       default 15s
  --renew-deadline D       default 10s
  --retry-period D         default 2s
  --claim-grace D          orphaned claims are deleted this long after creation (default 60s)
  --resync-period D        reprocess every Service this often while leading (default 5m; 0 = never)
  --log-format FORMAT      json (default: one JSON object per line) or text
  --log-level LEVEL        debug, info (default), warn or error`;

export function parseControllerFlags(argv: readonly string[], env: NodeJS.ProcessEnv, host: string, pid: number): FlagsResult {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string' },
        'lb-class': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'replica-id': { type: 'string' },
        'lease-name': { type: 'string' },
        'lease-duration': { type: 'string' },
        'renew-deadline': { type: 'string' },
        'retry-period': { type: 'string' },
        'claim-grace': { type: 'string' },
        'resync-period': { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
      },
    }).values;
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const durations: Record<string, number> = {};
  const defaults: Record<string, string> = {
    'lease-duration': '15s',
    'renew-deadline': '10s',
    'retry-period': '2s',
    'claim-grace': '60s',
    'resync-period': '5m',
  };
  for (const [k, def] of Object.entries(defaults)) {
    const text = str(k) ?? def;
    const d = parseGoDuration(text);
    if (!d.ok) return { ok: false, message: `--${k}: ${d.message}` };
    if (d.ns < 0n) return { ok: false, message: `--${k}: ${text} is negative` };
    durations[k] = Number(d.ns / 1_000_000n);
  }
  const mp = str('metrics-port') ?? '7472';
  let metricsPort: number | 'auto';
  if (mp === 'auto') metricsPort = 'auto';
  else if (/^\d+$/.test(mp) && Number(mp) <= 65535) metricsPort = Number(mp);
  else return { ok: false, message: `--metrics-port: "${mp}" is not a port number, 0 or auto` };
  const logFormat = str('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') return { ok: false, message: `--log-format: "${logFormat}" is not json or text` };
  const logLevel = str('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    return { ok: false, message: `--log-level: "${logLevel}" is not one of debug, info, warn, error` };
  }
  const flags: ControllerFlags = {
    ...(str('kubeconfig') ? { kubeconfig: str('kubeconfig')! } : {}),
    ...(str('context') ? { context: str('context')! } : {}),
    namespace: str('namespace') ?? env.METALLB_NAMESPACE ?? 'metallb-system',
    ...(str('lb-class') ? { lbClass: str('lb-class')! } : {}),
    metricsPort,
    metricsHost: str('metrics-host') ?? '0.0.0.0',
    replicaId: str('replica-id') ?? env.POD_NAME ?? `${host}-${pid}`,
    leaseName: str('lease-name') ?? 'berth-controller',
    leaseDurationMs: durations['lease-duration']!,
    renewDeadlineMs: durations['renew-deadline']!,
    retryPeriodMs: durations['retry-period']!,
    claimGraceMs: durations['claim-grace']!,
    resyncMs: durations['resync-period']!,
    logFormat,
    logLevel: logLevel as LogLevel,
  };
  if (!(flags.retryPeriodMs < flags.renewDeadlineMs && flags.renewDeadlineMs < flags.leaseDurationMs)) {
    return {
      ok: false,
      message: `leader election needs retry-period < renew-deadline < lease-duration (got ${flags.retryPeriodMs} ms, ${flags.renewDeadlineMs} ms, ${flags.leaseDurationMs} ms)`,
    };
  }
  return { ok: true, flags };
}

/**
 * V8 heap (bytes) to allow per Service held: 96 MB per 10,000 (docs/controller.md; what bench:controller sizes
 * --max-old-space-size with beyond the Deployment's 192 MB). Below it the controller warns at start: a heap limit too
 * small for the cluster ends in an out-of-memory crash loop, not a slowdown.
 */
export const HEAP_BYTES_PER_SERVICE = 9_600;

/** The warning for `services` held under a V8 heap limit of `limitBytes`, or undefined when the limit is enough. */
export function heapLimitWarning(services: number, limitBytes: number): string | undefined {
  const need = services * HEAP_BYTES_PER_SERVICE;
  if (need <= limitBytes) return undefined;
  return (
    `controller: V8 heap limit ${(limitBytes / 1e6).toFixed(0)} MB is below the ${(need / 1e6).toFixed(0)} MB sized for ` +
    `${services} Services (96 MB per 10,000): raise --max-old-space-size in NODE_OPTIONS and the container's memory limit ` +
    `(docs/controller.md)`
  );
}
