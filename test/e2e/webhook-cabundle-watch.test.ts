// The webhook keeps its CA in the caBundle of its two webhook configurations by watching them (src/webhook/
// ca-bundle-watch.ts), not by polling: an overwrite with an empty caBundle (what an Argo CD sync with Replace=true, or
// a `kubectl replace` of the manifests, does) is written back by the webhook after the watch event, and while nothing
// changes the webhook sends the lab API server no request at all (its watches stay open; the lab counts requests by
// User-Agent).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestLab } from '../../src/lab/testing.ts';
import type { WebhookProcess } from '../../src/lab/processes.ts';
import { kubectlOk, startWebhookLab } from '../helpers/webhook.ts';
import { until } from '../helpers/poll.ts';

const NS = 'metallb-system';
const NAME = 'berth-webhook-configuration';
const KINDS = ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'] as const;
let t: TestLab | undefined;
let hook: WebhookProcess | undefined;
let skip: string | undefined;

const ok = kubectlOk(() => t!);

interface Config {
  metadata: { resourceVersion: string };
  webhooks: Array<{ name: string; clientConfig: { caBundle?: string } }>;
}

async function config(kind: string): Promise<Config> {
  return JSON.parse(await ok(['get', kind, NAME, '-o', 'json'])) as Config;
}

/** Requests the webhook process sent the lab (its client's User-Agent is berth-webhook). */
function webhookRequests(): number {
  let n = 0;
  for (const [ua, c] of t!.lab.requestCounts()) if (ua.startsWith('berth-webhook')) n += c;
  return n;
}

const svcYaml = (name: string) =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  type: LoadBalancer\n  selector: {app: ${name}}\n  ports: [{port: 80, targetPort: 8080}]\n`;

before(async () => {
  // The configurations come after the webhook started: the watch sees them appear and the CA is written then.
  ({ t, hook, skip } = await startWebhookLab(NS, { pool: { path: 'examples/dev/ipaddresspool.yaml' }, readyTimeoutMs: 30_000 }));
});

after(async () => {
  await hook?.stop();
  await t?.stop();
});

test('the caBundle written at startup: every webhook of both configurations trusts the serving CA', async (c) => {
  if (skip) return c.skip(skip);
  const secret = JSON.parse(await ok(['get', 'secret', 'berth-webhook-cert', '-n', NS, '-o', 'json'])) as { data: Record<string, string> };
  for (const kind of KINDS) {
    const cfg = await config(kind);
    assert.ok(cfg.webhooks.length > 0);
    for (const h of cfg.webhooks) assert.equal(h.clientConfig.caBundle, secret.data['ca.crt'], `${kind} ${h.name}`);
  }
  assert.match(hook!.output(), /caBundle written into /);
});

test('while nothing changes the webhook sends the API server no request', async (c) => {
  if (skip) return c.skip(skip);
  // Let the startup settle (the write's own watch events, the first checks).
  await new Promise((r) => setTimeout(r, 1_000));
  const before = webhookRequests();
  assert.ok(before > 0, 'the lab counts the webhook process under its User-Agent');
  await new Promise((r) => setTimeout(r, 5_000));
  assert.equal(webhookRequests(), before, `requests by User-Agent: ${JSON.stringify([...t!.lab.requestCounts()])}`);
});

test('an overwrite of the caBundle (GitOps sync of the manifests) is written back after the watch event, and admissions work again', async (c) => {
  if (skip) return c.skip(skip);
  const ca = (await config(KINDS[0])).webhooks[0]!.clientConfig.caBundle;
  const writesBefore = (hook!.output().match(/caBundle written into /g) ?? []).length;
  for (const kind of KINDS) {
    const cfg = await config(kind);
    for (const h of cfg.webhooks) h.clientConfig.caBundle = '';
    await ok(['replace', '-f', '-'], JSON.stringify(cfg));
  }
  // No 30 s poll to wait for: the watch sees each replace and the webhook writes the CA back.
  for (const kind of KINDS) {
    await until(
      `the caBundle of ${kind} ${NAME} restored`,
      async () => ((await config(kind)).webhooks.every((h) => h.clientConfig.caBundle === ca) ? true : undefined),
      20_000,
      200,
      () => hook!.output().split('\n').slice(-15).join('\n'),
    );
  }
  const writes = (hook!.output().match(/caBundle written into [^\n]*/g) ?? []).slice(writesBefore).join('\n');
  assert.match(writes, /MutatingWebhookConfiguration\/berth-webhook-configuration/);
  assert.match(writes, /ValidatingWebhookConfiguration\/berth-webhook-configuration/);
  // The lab calls the webhook with the restored caBundle: a Service is admitted and gets its IP.
  await ok(['apply', '-f', '-'], svcYaml('after-restore'));
  const svc = JSON.parse(await ok(['get', 'svc', 'after-restore', '-n', 'shop', '-o', 'json'])) as { metadata: { annotations?: Record<string, string> } };
  assert.equal(svc.metadata.annotations?.['berth.io/assigned-ips'], '192.168.1.220');
});

test('the certificate Secret deleted: the watch sees it, a new CA is created, served and written into both caBundles', async (c) => {
  if (skip) return c.skip(skip);
  const secret = async () => JSON.parse(await ok(['get', 'secret', 'berth-webhook-cert', '-n', NS, '-o', 'json'])) as { data: Record<string, string> };
  const oldCa = (await secret()).data['ca.crt'];
  await ok(['delete', 'secret', 'berth-webhook-cert', '-n', NS]);
  const newCa = await until(
    'a new Secret berth-webhook-cert with a new CA',
    async () => {
      const r = await t!.kubectl(['get', 'secret', 'berth-webhook-cert', '-n', NS, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const ca = (JSON.parse(r.stdout) as { data: Record<string, string> }).data['ca.crt'];
      return ca && ca !== oldCa ? ca : undefined;
    },
    20_000,
  );
  for (const kind of KINDS) {
    await until(
      `the new CA in the caBundle of ${kind} ${NAME}`,
      async () => ((await config(kind)).webhooks.every((h) => h.clientConfig.caBundle === newCa) ? true : undefined),
      20_000,
      200,
      () => hook!.output().split('\n').slice(-15).join('\n'),
    );
  }
  assert.match(hook!.output(), /serving certificate reloaded/);
  // The lab verifies the webhook's new serving certificate with the new caBundle.
  await ok(['apply', '-f', '-'], svcYaml('after-new-ca'));
  const svc = JSON.parse(await ok(['get', 'svc', 'after-new-ca', '-n', 'shop', '-o', 'json'])) as { metadata: { annotations?: Record<string, string> } };
  assert.equal(svc.metadata.annotations?.['berth.io/assigned-ips'], '192.168.1.221');
});
