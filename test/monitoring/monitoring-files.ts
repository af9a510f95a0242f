// The monitoring manifests of gitops/base/monitoring, read for the tests of test/monitoring: the plain Prometheus
// rules file (what promtool reads), its unit tests, the PrometheusRule, the ServiceMonitors and metrics Services.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const MONITORING = fileURLToPath(new URL('../../gitops/base/monitoring/', import.meta.url));
export const RULES_FILE = `${MONITORING}rules/berth.rules.yaml`;
export const RULES_TEST_FILE = `${MONITORING}rules/berth.rules.test.yaml`;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The groups of rules/berth.rules.yaml. */
export function ruleGroups(): RuleGroup[] {
  return (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: RuleGroup[] }).groups;
}

/** Every alerting rule of rules/berth.rules.yaml, all groups together. */
export function alertRules(): AlertRule[] {
  return ruleGroups().flatMap((g) => g.rules);
}

/** Every YAML document of a file under gitops/base/monitoring. */
export function monitoringObjects(file: string): Array<Record<string, unknown>> {
  return parseAllDocuments(readFileSync(`${MONITORING}${file}`, 'utf8')).map((d) => d.toJSON() as Record<string, unknown>);
}

/**
 * The seed's alerts (shared/seeds/000_78a328d0e62b54f6.txt "PrometheusRule Alerts": name, severity, `for:`) plus
 * the < 20 % free warning of shared/seeds/003_0f0e960f253f5772.txt "Monitoring et Alertes" (no duration given there:
 * 5m, as the > 90 % one).
 */
export const SEED_ALERTS: ReadonlyArray<{ alert: string; severity: 'critical' | 'warning'; for: string }> = [
  { alert: 'MetalLBControllerDown', severity: 'critical', for: '5m' },
  { alert: 'MetalLBAllSpeakersDown', severity: 'critical', for: '5m' },
  { alert: 'MetalLBIPPoolFull', severity: 'critical', for: '1m' },
  { alert: 'MetalLBMetricsMissing', severity: 'critical', for: '10m' },
  { alert: 'MetalLBSpeakerDown', severity: 'warning', for: '2m' },
  { alert: 'MetalLBIPPoolExhausted', severity: 'warning', for: '5m' },
  { alert: 'MetalLBBGPSessionDown', severity: 'warning', for: '2m' },
  { alert: 'MetalLBStaleConfig', severity: 'warning', for: '10m' },
  { alert: 'MetalLBIPPoolLowFree', severity: 'warning', for: '5m' },
];

/** The seed 000 document when shared/ sits beside the checkout (developers' machines and CI), else undefined. */
export function seed000(): string | undefined {
  const p = `${REPO}../shared/seeds/000_78a328d0e62b54f6.txt`;
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

/**
 * Speaker metrics whose samples appear only after an event a dry-run link cannot produce (it receives nothing): their
 * series are labelled by IP and, as MetalLB's (internal/layer2/stats.go CounterVec), created on first use. The test
 * test/monitoring/metric-coverage.test.ts checks that the dry-run speaker declares each one (HELP/TYPE) and samples
 * none yet; test/monitoring/metric-coverage-l2.test.ts (root) produces each event on a real segment and sees them.
 */
export const AFTER_EVENT: ReadonlyMap<string, string> = new Map([
  ['metallb_layer2_requests_received', 'an ARP request / Neighbor Solicitation for an announced IP is received'],
  ['metallb_layer2_responses_sent', 'a reply to such a request is sent'],
  ['berth_l2_ip_conflicts', 'a host that is not a berth speaker claims an announced IP'],
  ['berth_speaker_layer2_answer_priority', "an interface's native ARP answer thread starts (its first announced IPv4 address)"],
]);

/** Sample names of a Prometheus text exposition, with histogram/summary base names (x for x_bucket/_sum/_count). */
export function exported(text: string): Set<string> {
  const out = new Set<string>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) continue;
    out.add(m[1]!);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (base !== m[1] && (types.get(base) === 'histogram' || types.get(base) === 'summary')) out.add(base);
  }
  return out;
}
