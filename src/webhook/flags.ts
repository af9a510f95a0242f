// Command-line flags of the webhook process (MetalLB's where they exist: --namespace, --lb-class, --cert-dir,
// --cert-service-name; berth's own for the bootstrap Secret and the admission policy).
import { parseArgs } from 'node:util';
import type { LogFormat, LogLevel } from '../kube/log.ts';

export interface WebhookFlags {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  host: string;
  port: number;
  lbClass?: string;
  /** Read tls.crt / tls.key (and ca.crt) from here (cert-manager); else berth's own bootstrap. */
  certDir?: string;
  serviceName: string;
  secretName: string;
  /** Names of berth's Mutating- and ValidatingWebhookConfiguration (caBundle injection, readiness). */
  webhookConfigName: string;
  policyFile?: string;
  /** Extra IP SANs of the serving certificate (127.0.0.1 is always there, for the lab). */
  certIps: string[];
  /** `json` (default: one pino object per line) or `text` (for people). */
  logFormat: LogFormat;
  logLevel: LogLevel;
}

export type FlagsResult = { ok: true; flags: WebhookFlags } | { ok: false; message: string };

export const USAGE = `usage: webhook [flags]
  --kubeconfig PATH             kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --context NAME                kubeconfig context
  --namespace NS                berth's namespace (default metallb-system)
  --host HOST                   listen address (default 0.0.0.0)
  --port N                      HTTPS port (default 9443; 0 = any free port, printed)
  --lb-class CLASS              handle only Services of this loadBalancerClass (default: Services without a class)
  --cert-dir DIR                serve tls.crt/tls.key from DIR (cert-manager); reloaded when they change
  --bootstrap-tls               berth makes its own CA and certificate in a Secret (default when no --cert-dir)
  --service-name NAME           the webhook Service, for the certificate's DNS names (default berth-webhook-service)
  --secret-name NAME            Secret holding the bootstrap CA and certificate (default berth-webhook-cert)
  --webhook-config-name NAME    berth's Mutating/ValidatingWebhookConfiguration (default berth-webhook-configuration)
  --policy FILE                 admission policy JSON (default policies/admission.json of this checkout)
  --cert-ip IP                  extra IP in the certificate (repeatable)
  --log-format FORMAT           json (default: one JSON object per line) or text
  --log-level LEVEL             debug, info (default), warn or error`;

export function parseWebhookFlags(argv: readonly string[]): FlagsResult {
  let v: ReturnType<typeof parse>;
  try {
    v = parse(argv);
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  const o = v.values;
  const port = o.port === undefined ? 9443 : Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, message: `--port must be 0-65535, not "${o.port}"` };
  if (o['cert-dir'] !== undefined && o['bootstrap-tls']) {
    return { ok: false, message: '--cert-dir and --bootstrap-tls are exclusive' };
  }
  const logFormat = o['log-format'] ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') return { ok: false, message: `--log-format: "${logFormat}" is not json or text` };
  const logLevel = o['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    return { ok: false, message: `--log-level: "${logLevel}" is not one of debug, info, warn, error` };
  }
  return {
    ok: true,
    flags: {
      ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      ...(o.context ? { context: o.context } : {}),
      namespace: o.namespace ?? 'metallb-system',
      host: o.host ?? '0.0.0.0',
      port,
      ...(o['lb-class'] ? { lbClass: o['lb-class'] } : {}),
      ...(o['cert-dir'] ? { certDir: o['cert-dir'] } : {}),
      serviceName: o['service-name'] ?? 'berth-webhook-service',
      secretName: o['secret-name'] ?? 'berth-webhook-cert',
      webhookConfigName: o['webhook-config-name'] ?? 'berth-webhook-configuration',
      ...(o.policy ? { policyFile: o.policy } : {}),
      certIps: o['cert-ip'] ?? [],
      logFormat,
      logLevel: logLevel as LogLevel,
    },
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'lb-class': { type: 'string' },
      'cert-dir': { type: 'string' },
      'bootstrap-tls': { type: 'boolean' },
      'service-name': { type: 'string' },
      'secret-name': { type: 'string' },
      'webhook-config-name': { type: 'string' },
      policy: { type: 'string' },
      'cert-ip': { type: 'string', multiple: true },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
}
