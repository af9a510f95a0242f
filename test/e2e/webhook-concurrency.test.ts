// 1,000 concurrent Service creates spread over 3 webhook processes, each with its own in-memory allocator, all
// claiming in the same lab API server: no IP may be given twice (the claims' create-only names arbitrate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startTestLab } from '../../src/lab/testing.ts';
import { connect } from '../../src/kube/connect.ts';
import { Resources } from '../../src/kube/resources.ts';
import type { KubeObject } from '../../src/kube/client.ts';
import type { IPAddressClaim } from '../../src/api/claim.ts';
import { ipAddressPool, reviewFor, service } from '../../src/webhook/testing.ts';
import { startWebhookProcess, type WebhookProcess } from '../../src/lab/processes.ts';
import { postJson, repoPath, yamlFilesIn, yamlObjects } from '../../src/webhook/testing-process.ts';

const NS = 'metallb-system';
const N = 1000;

test('1,000 concurrent creates over 3 webhook processes: every Service gets an IP, no IP twice', { timeout: 240_000 }, async () => {
  const t = await startTestLab();
  const procs: WebhookProcess[] = [];
  const agent = new https.Agent({ keepAlive: true, maxSockets: 96 });
  const conn = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'test' });
  assert.ok(conn.ok);
  const client = conn.kube.client;
  try {
    for (const crd of yamlObjects(yamlFilesIn(repoPath('gitops/base/crds')))) {
      const r = await client.create(Resources.customResourceDefinitions, crd as KubeObject);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
    }
    assert.ok((await client.create(Resources.namespaces, { metadata: { name: NS } })).ok);
    // A /20: 4,096 addresses for 1,000 Services.
    const pool = ipAddressPool(NS, 'big', ['10.50.0.0/20']);
    assert.ok((await client.create(Resources.ipAddressPools, pool as unknown as KubeObject)).ok);
    // The configurations must exist for the processes to be ready (their CA goes in the caBundle); the pool exists
    // first because the CR webhooks fail closed.
    for (const cfg of yamlObjects(yamlFilesIn(repoPath('policies/webhooks')))) {
      const r = cfg['kind'] === 'MutatingWebhookConfiguration' ? Resources.mutatingWebhookConfigurations : Resources.validatingWebhookConfigurations;
      assert.ok((await client.create(r, cfg as KubeObject)).ok);
    }

    for (let i = 0; i < 3; i++) procs.push(await startWebhookProcess(['--kubeconfig', t.lab.kubeconfigPath]));
    const secret = await client.get<{ data: Record<string, string> }>(Resources.secrets, 'berth-webhook-cert', NS);
    assert.ok(secret.ok);
    const caPem = Buffer.from(secret.value.data['ca.crt']!, 'base64').toString();

    const answers = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const p = procs[i % 3]!;
        const r = await postJson(agent, `${p.url}/mutate/service`, reviewFor(service('load', `svc-${i}`), { uid: `c-${i}` }), caPem);
        const res = (r.body as { response: { uid: string; allowed: boolean; patch?: string; status?: { message: string } } }).response;
        assert.equal(res.uid, `c-${i}`);
        assert.equal(res.allowed, true, res.status?.message);
        const ops = JSON.parse(Buffer.from(res.patch!, 'base64').toString()) as Array<{ value: Record<string, string> }>;
        return ops[0]!.value['berth.io/assigned-ips']!;
      }),
    );
    assert.equal(new Set(answers).size, N, 'no IP given twice');

    const claims = await client.list<IPAddressClaim>(Resources.ipAddressClaims);
    assert.ok(claims.ok);
    assert.equal(claims.value.items.length, N);
    const byIp = new Map(claims.value.items.map((c) => [c.spec.ip, c]));
    answers.forEach((ip, i) => {
      const c = byIp.get(ip);
      assert.deepEqual(c?.spec.holders.map((h) => `${h.namespace}/${h.name}`), [`load/svc-${i}`], `claim of ${ip}`);
    });
  } finally {
    agent.destroy();
    await Promise.all(procs.map((p) => p.stop()));
    conn.kube.close();
    await t.stop();
  }
});
