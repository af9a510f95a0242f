// Issue 12 defect 3: berth's processes started while the API server is unreachable wait for it instead of exiting.
// A lab is prepared (CRDs, pools, webhook configurations) and stopped; the webhook, controller and speaker processes
// are started against it; they stay alive, /healthz ok and /readyz 503; the lab comes back on the same port and state;
// all three become ready (the speaker prints `speaker: ready`, /readyz 200), a Service gets its IP through the webhook and its status from the controller. Their logs are pino JSON lines
// with one decision line per admission and per reconcile. With the lab up, MetalLB's legacy ConfigMap `config` gets a
// LegacyConfigIgnored Warning Event and a log line (issue 7 §6).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CONTROLLER_MAIN, spawnNode, startWebhookProcess, type NodeProcess, type WebhookProcess } from '../../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { repoPath } from '../../src/webhook/testing-process.ts';
import { freePort, httpGet as probe } from '../helpers/net.ts';
import { until as poll } from '../helpers/poll.ts';
import { speakerMetricsPort, spawnSpeaker } from '../helpers/speaker-process.ts';
import { webhookServiceYaml } from '../helpers/webhook.ts';

const NS = 'metallb-system';
const dir = mkdtempSync(join(tmpdir(), 'berth-outage-'));
let lab: TestLab | undefined;
let hook: WebhookProcess | undefined;
let ctl: NodeProcess | undefined;
let spk: NodeProcess | undefined;
let labPort = 0;
let hookPort = 0;
let kubeconfig = '';
const skip = findKubectl() ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await lab!.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The JSON log lines of a process's output (other lines are skipped). */
function jsonLines(out: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const l of out.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // a line cut by the output buffer
    }
  }
  return lines;
}

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  poll(what, fn, timeoutMs, 250);

before(async () => {
  if (skip) return;
  labPort = await freePort();
  hookPort = await freePort();
  lab = await startTestLab({ dir, port: labPort, persist: true });
  kubeconfig = lab.lab.kubeconfigPath;
  await kubectl(['apply', '-k', repoPath('gitops/base/crds')]);
  await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n`);
  await kubectl(['apply', '-f', repoPath('examples/dev/')]);
  await kubectl(['apply', '-f', '-'], webhookServiceYaml(NS, hookPort));
  await kubectl(['apply', '-k', repoPath('policies/webhooks')]);
  await lab.stop();
  lab = undefined;
});

after(async () => {
  await hook?.stop();
  await ctl?.stop();
  await spk?.stop();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('webhook, controller and speaker started while the API server is down wait (alive, not ready), then serve when it is back', async (c) => {
  if (skip) return c.skip(skip);
  // --- API server down ---
  hook = await startWebhookProcess(['--kubeconfig', kubeconfig, '--port', String(hookPort)], { waitReady: false, timeoutMs: 60_000 });
  assert.equal(hook.port, hookPort);
  ctl = spawnNode(CONTROLLER_MAIN, ['--kubeconfig', kubeconfig, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1', '--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms']);
  spk = spawnSpeaker({ node: 'n1', kubeconfig, args: ['--namespace', NS] });
  const metricsPort = Number((await ctl.waitFor(/serving \/metrics \/healthz \/readyz on http:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);
  const speakerPort = await speakerMetricsPort(spk, 60_000);
  // Several failed attempts each (backoff steps), and still running.
  await hook.waitFor(/certificate bootstrap \(Secret metallb-system\/berth-webhook-cert\) failed: .*retrying in 1000 ms/, 60_000);
  await ctl.waitFor(/informer [a-z.]+: .*; retrying[\s\S]*informer [a-z.]+: .*; retrying[\s\S]*informer [a-z.]+: .*; retrying/, 60_000);
  // The speaker's informers fail and retry with backoff too (several attempts), and it is still running.
  await spk.waitFor(/informer [a-z.]+: .*; retrying[\s\S]*informer [a-z.]+: .*; retrying[\s\S]*informer [a-z.]+: .*; retrying/, 60_000);
  assert.equal(hook.exited, false, hook.output());
  assert.equal(ctl.exited, false, ctl.output());
  assert.equal(spk.exited, false, spk.output());
  assert.doesNotMatch(spk.output(), /speaker: ready/);
  assert.equal((await probe(`http://127.0.0.1:${speakerPort}/healthz`)).status, 200);
  const sr = await probe(`http://127.0.0.1:${speakerPort}/readyz`);
  assert.equal(sr.status, 503);
  assert.match(sr.body, /informer caches are not synced/);
  assert.deepEqual(await probe(`${hook.url}/healthz`), { status: 200, body: 'ok' });
  const hr = await probe(`${hook.url}/readyz`);
  assert.equal(hr.status, 503);
  assert.match(hr.body, /not ready: .*serving certificate not bootstrapped yet/);
  assert.equal((await probe(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200);
  const cr = await probe(`http://127.0.0.1:${metricsPort}/readyz`);
  assert.equal(cr.status, 503);
  assert.match(cr.body, /informer caches are not synced/);
  // One log line per failure and backoff step, not a flood.
  const bootstrapFailures = hook.output().match(/certificate bootstrap .* failed/g) ?? [];
  assert.ok(bootstrapFailures.length <= 8, `${bootstrapFailures.length} bootstrap failure lines`);

  // --- API server back (same port, same state) ---
  lab = await startTestLab({ dir, port: labPort, persist: true });
  await hook.waitFor(/webhook: ready /, 90_000);
  await ctl.waitFor(/controller: ready .* metrics=\d+/, 90_000);
  await spk.waitFor(/speaker: ready node=n1 /, 90_000);
  assert.equal((await probe(`http://127.0.0.1:${speakerPort}/readyz`)).status, 200);
  assert.equal(spk.exited, false);
  assert.equal((await probe(`${hook.url}/readyz`)).status, 200);
  assert.equal((await probe(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);
  await ctl.waitFor(/is leading/, 30_000);

  await kubectl(
    ['apply', '-f', '-'],
    'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n',
  );
  const ip = await until('the controller to write the Service status', async () => {
    const svc = JSON.parse(await kubectl(['get', 'svc', 'web', '-n', 'shop', '-o', 'json'])) as {
      status?: { loadBalancer?: { ingress?: Array<{ ip: string }> } };
    };
    return svc.status?.loadBalancer?.ingress?.[0]?.ip;
  });
  assert.equal(ip, '192.168.1.220');

  // Decision lines: JSON, one per admission and per reconcile, with the fields people grep for.
  const admission = await until('the webhook decision line', async () =>
    jsonLines(hook!.output()).find((l) => l.decision === 'admission' && l.webhook === 'mutate-service' && l.service === 'shop/web'),
  );
  assert.equal(admission.operation, 'CREATE');
  assert.equal(admission.result, 'allowed');
  assert.deepEqual(admission.ips, ['192.168.1.220']);
  assert.equal(admission.pool, 'default');
  assert.equal(typeof admission.durationMs, 'number');
  assert.equal(admission.level, 'info');
  const reconcile = await until('the controller decision line', async () =>
    jsonLines(ctl!.output()).find((l) => l.decision === 'reconcile' && l.service === 'shop/web' && l.result === 'success'),
  );
  assert.deepEqual(reconcile.ips, ['192.168.1.220']);
  assert.equal(reconcile.pool, 'default');
  assert.equal(typeof reconcile.durationMs, 'number');
  assert.equal(hook.exited, false);
  assert.equal(ctl.exited, false);
});

test("MetalLB's legacy ConfigMap config gets a LegacyConfigIgnored Warning Event and one log line naming berth migrate", async (c) => {
  if (skip) return c.skip(skip);
  assert.ok(lab && ctl, 'the previous test left the lab and controller running');
  // The seed's ConfigMap (seeds/003), as its readers would apply it.
  const seedFile = join(repoPath('.'), '..', 'shared', 'seeds', '003_0f0e960f253f5772.txt');
  const seed = existsSync(seedFile) ? readFileSync(seedFile, 'utf8') : '';
  const yaml = /```yaml\n(apiVersion: v1\nkind: ConfigMap\nmetadata:\n {2}namespace: metallb-system\n {2}name: config\n[\s\S]*?)```/.exec(seed)?.[1] ??
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: metallb-system, name: config}\ndata:\n  config: |\n    address-pools: []\n';
  await kubectl(['apply', '-f', '-'], yaml);
  const ev = await until('the LegacyConfigIgnored event', async () => {
    const list = JSON.parse(await kubectl(['get', 'events', '-n', NS, '-o', 'json'])) as {
      items: Array<{ reason: string; type: string; message: string; count?: number; involvedObject: { kind: string; name: string } }>;
    };
    return list.items.find((e) => e.reason === 'LegacyConfigIgnored');
  });
  assert.equal(ev.type, 'Warning');
  assert.deepEqual([ev.involvedObject.kind, ev.involvedObject.name], ['ConfigMap', 'config']);
  assert.match(ev.message, /not read.*`berth migrate`/);
  const line = await until('the controller log line', async () =>
    jsonLines(ctl!.output()).find((l) => l.reason === 'LegacyConfigIgnored'),
  );
  assert.equal(line.level, 'warn');
  assert.equal(line.configMap, 'metallb-system/config');
});

test('an API server outage after start: both processes stay up, the webhook stays ready, and serve again when it is back', async (c) => {
  if (skip) return c.skip(skip);
  assert.ok(lab && ctl && hook, 'the first test left the lab and both processes running');
  const hookLog = hook.output().length;
  const ctlLog = ctl.output().length;
  await lab.stop();
  lab = undefined;
  // Wait until both have seen the outage (a watch or a request failed), then some more.
  await until('the processes to notice the outage', async () =>
    /retrying/.test(hook!.output().slice(hookLog)) && /retrying|stopped leading/.test(ctl!.output().slice(ctlLog)) ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(hook.exited, false, hook.output().slice(-3000));
  assert.equal(ctl.exited, false, ctl.output().slice(-3000));
  assert.equal((await probe(`${hook.url}/healthz`)).status, 200);
  assert.equal((await probe(`${hook.url}/readyz`)).status, 200, 'a verified caBundle stays verified while the API server is away');

  lab = await startTestLab({ dir, port: labPort, persist: true });
  await kubectl(
    ['apply', '-f', '-'],
    'apiVersion: v1\nkind: Service\nmetadata: {name: after, namespace: shop}\nspec:\n  type: LoadBalancer\n  selector: {app: after}\n  ports: [{port: 80, targetPort: 8080}]\n',
  );
  const svc = JSON.parse(await kubectl(['get', 'svc', 'after', '-n', 'shop', '-o', 'json'])) as { metadata: { annotations?: Record<string, string> } };
  assert.equal(svc.metadata.annotations?.['berth.io/assigned-ips'], '192.168.1.221', 'decided at admission by the webhook');
  const ip = await until('the controller to write the status after the outage', async () => {
    const s = JSON.parse(await kubectl(['get', 'svc', 'after', '-n', 'shop', '-o', 'json'])) as {
      status?: { loadBalancer?: { ingress?: Array<{ ip: string }> } };
    };
    return s.status?.loadBalancer?.ingress?.[0]?.ip;
  });
  assert.equal(ip, '192.168.1.221');
  assert.equal(hook.exited, false);
  assert.equal(ctl.exited, false);
});

test('--log-format text, and a kubeconfig not written yet: the webhook listens, is not ready, and retries', async () => {
  const p = await startWebhookProcess(['--kubeconfig', join(dir, 'not-yet', 'kubeconfig'), '--log-format', 'text'], { waitReady: false, timeoutMs: 60_000 });
  try {
    await p.waitFor(/retrying in 1000 ms/, 30_000);
    const lines = p.output().split('\n').filter((l) => l !== '');
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) \S/, `not a text log line: ${l}`);
    assert.ok(
      lines.some((l) => / WARN {2}webhook: loading the kubeconfig failed: kubeconfig \S+ does not exist; retrying in 500 ms$/.test(l)),
      lines.join('\n'),
    );
    assert.deepEqual(await probe(`${p.url}/healthz`), { status: 200, body: 'ok' });
    const r = await probe(`${p.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match(r.body, /loading the kubeconfig/);
    assert.equal(p.exited, false);
  } finally {
    assert.equal(await p.stop(), 0, 'SIGTERM while waiting: a clean exit');
  }
});
