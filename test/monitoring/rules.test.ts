// The alert rules as files: the seed's names, severities and durations, one firing and one quiet promtool case per
// alert, the PrometheusRule equal to the plain rules file, and ServiceMonitors that select the metrics Services.
// (promtool itself runs in promtool.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { SECRET_KEYS } from '../../src/webhook/cert-bootstrap.ts';
import { alertRules, monitoringObjects, ruleGroups, RULES_TEST_FILE, SEED_ALERTS, seed000 } from './monitoring-files.ts';

test("the rules file has exactly the seed's alerts, with the seed's severity and for:", () => {
  const rules = alertRules();
  assert.deepEqual(
    rules.map((r) => r.alert).sort(),
    SEED_ALERTS.map((a) => a.alert).sort(),
  );
  for (const a of SEED_ALERTS) {
    const r = rules.find((x) => x.alert === a.alert)!;
    assert.equal(r.labels?.['severity'], a.severity, `${a.alert}: severity`);
    assert.equal(r.for, a.for, `${a.alert}: for`);
    assert.ok(r.annotations?.['summary'] && r.annotations['description'], `${a.alert}: summary and description`);
  }
});

test('the seed document (when shared/ is beside the checkout) lists the same 8 alerts and durations', (t) => {
  const seed = seed000();
  if (!seed) {
    t.skip('shared/seeds/000_78a328d0e62b54f6.txt not found beside the checkout');
    return;
  }
  // "- `MetalLBControllerDown`: Controller down (5m)" under "**Critiques**:" / "**Warnings**:"
  const section = seed.slice(seed.indexOf('### PrometheusRule Alerts'), seed.indexOf('## Troubleshooting'));
  const found = [...section.matchAll(/`(MetalLB\w+)`: [^\n]*?\((\d+m)/g)].map((m) => ({ alert: m[1], for: m[2] }));
  assert.equal(found.length, 8, section);
  const critical = section.slice(section.indexOf('**Critiques**'), section.indexOf('**Warnings**'));
  for (const f of found) {
    const want = SEED_ALERTS.find((a) => a.alert === f.alert);
    assert.ok(want, `seed alert ${f.alert} missing from SEED_ALERTS`);
    assert.equal(want.for, f.for, f.alert ?? '');
    assert.equal(want.severity, critical.includes(`\`${f.alert}\``) ? 'critical' : 'warning', f.alert ?? '');
  }
});

test('rules/berth.rules.test.yaml has, for every alert, a case where it fires and one where it stays quiet', () => {
  const doc = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as {
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
  };
  const cases = doc.tests.flatMap((c) => c.alert_rule_test ?? []);
  for (const r of alertRules()) {
    const mine = cases.filter((c) => c.alertname === r.alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${r.alert}: no case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${r.alert}: no case where it stays quiet`);
  }
});

test('the PrometheusRule carries exactly the groups of the plain rules file', () => {
  const [pr, ...rest] = monitoringObjects('prometheusrule.yaml');
  assert.equal(rest.length, 0);
  assert.equal(pr?.['apiVersion'], 'monitoring.coreos.com/v1');
  assert.equal(pr?.['kind'], 'PrometheusRule');
  assert.deepEqual(
    (pr?.['spec'] as { groups: unknown }).groups,
    ruleGroups(),
    'prometheusrule.yaml differs from rules/berth.rules.yaml: copy the groups of the rules file under spec.groups',
  );
});

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec: Record<string, unknown> };

test("ServiceMonitors metallb-controller and metallb-speaker select their metrics Service's port 7472 and set the job the alerts match", () => {
  const all = monitoringObjects('servicemonitors.yaml') as Obj[];
  assert.deepEqual(all.map((m) => m.metadata.name).sort(), ['berth-webhook', 'metallb-controller', 'metallb-speaker']);
  const monitors = all.filter((m) => m.metadata.name.startsWith('metallb-'));
  const services = monitoringObjects('metrics-services.yaml') as Obj[];
  const jobs = new Set(alertRules().flatMap((r) => [...r.expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1])));
  assert.deepEqual(monitors.map((m) => m.metadata.name).sort(), ['metallb-controller', 'metallb-speaker']);
  for (const m of monitors) {
    const component = m.metadata.name.replace('metallb-', '');
    const sel = (m.spec['selector'] as { matchLabels: Record<string, string> }).matchLabels;
    assert.equal(sel['app.kubernetes.io/name'], 'metallb');
    assert.equal(sel['app.kubernetes.io/component'], component);
    const matching = services.filter((s) => Object.entries(sel).every(([k, v]) => s.metadata.labels?.[k] === v));
    assert.equal(matching.length, 1, `${m.metadata.name}: one metrics Service matches ${JSON.stringify(sel)}`);
    const svc = matching[0]!;
    assert.equal(svc.metadata.namespace, m.metadata.namespace);
    const endpoints = m.spec['endpoints'] as Array<{ port: string; path: string; relabelings: Array<{ targetLabel: string; replacement: string }> }>;
    const port = (svc.spec['ports'] as Array<{ name: string; port: number; targetPort: number }>).find((p) => p.name === endpoints[0]?.port);
    assert.ok(port, `${m.metadata.name}: Service ${svc.metadata.name} has no port named ${endpoints[0]?.port}`);
    assert.equal(port.port, 7472);
    assert.equal(port.targetPort, 7472);
    assert.deepEqual(svc.spec['selector'], { 'app.kubernetes.io/name': 'metallb', 'app.kubernetes.io/component': component });
    const job = endpoints[0]?.relabelings.find((r) => r.targetLabel === 'job')?.replacement;
    assert.equal(job, m.metadata.name);
    assert.ok(jobs.has(job), `no alert matches job="${job}"`);
  }
});

test('ServiceMonitor berth-webhook scrapes the webhook Service of gitops/base over HTTPS, verified with the bootstrap CA', () => {
  const m = (monitoringObjects('servicemonitors.yaml') as Obj[]).find((x) => x.metadata.name === 'berth-webhook')!;
  const services = monitoringObjects('../controller/services.yaml') as Obj[];
  const deployment = monitoringObjects('../controller/deployment.yaml') as Array<Obj & { spec: { template: { spec: { containers: Array<{ name: string; args: string[] }> } } } }>;
  const sel = (m.spec['selector'] as { matchLabels: Record<string, string> }).matchLabels;
  const matching = services.filter((s) => Object.entries(sel).every(([k, v]) => s.metadata.labels?.[k] === v));
  assert.deepEqual(matching.map((s) => s.metadata.name), ['berth-webhook-service']);
  const ep = (m.spec['endpoints'] as Array<{ port: string; scheme: string; tlsConfig: { serverName: string; ca: { secret: { name: string; key: string } } } }>)[0]!;
  assert.ok((matching[0]!.spec['ports'] as Array<{ name: string }>).some((p) => p.name === ep.port), `no Service port named ${ep.port}`);
  assert.equal(ep.scheme, 'https');
  assert.equal(ep.tlsConfig.serverName, `berth-webhook-service.${m.metadata.namespace}.svc`);
  const args = deployment.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers.find((c) => c.name === 'webhook')!.args;
  assert.ok(args.includes(`--secret-name=${ep.tlsConfig.ca.secret.name}`), `webhook args ${args.join(' ')}`);
  assert.ok(args.includes('--service-name=berth-webhook-service'), `webhook args ${args.join(' ')}`);
  assert.equal(ep.tlsConfig.ca.secret.key, SECRET_KEYS.ca);
});
