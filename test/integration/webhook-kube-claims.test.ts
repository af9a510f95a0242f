// KubeClaimStore and KubeClaimCache (src/kube/claims.ts) against the lab API server, over both clients they accept:
// berth's KubeClient and client-node's KubeConfig. The store's values must map the API's statuses exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newClaim } from '../../src/api/claim.ts';
import type { ClaimEvent, ClaimStore } from '../../src/claims/store.ts';
import { KubeClaimCache, KubeClaimStore } from '../../src/kube/claims.ts';
import type { KubeObject } from '../../src/kube/client.ts';
import { connect, type Kube } from '../../src/kube/connect.ts';
import { Resources } from '../../src/kube/resources.ts';
import { startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { repoPath, yamlFilesIn, yamlObjects } from '../../src/webhook/testing-process.ts';

let t: TestLab;
let kube: Kube;

before(async () => {
  t = await startTestLab();
  const c = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'test' });
  assert.ok(c.ok);
  kube = c.kube;
  for (const crd of yamlObjects(yamlFilesIn(repoPath('gitops/base/crds')))) {
    assert.ok((await kube.client.create(Resources.customResourceDefinitions, crd as KubeObject)).ok);
  }
});

after(async () => {
  kube.close();
  await t.stop();
});

const claim = (ip: string, name = 'web') =>
  newClaim({ ip, pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name, ports: [{ protocol: 'TCP', port: 80 }] }] });

async function contract(store: ClaimStore, ip: string): Promise<void> {
  const a = await store.create(claim(ip));
  assert.ok(a.ok, 'first create wins');
  assert.ok(a.claim.metadata.uid && a.claim.metadata.resourceVersion && a.claim.metadata.creationTimestamp);
  assert.deepEqual(await store.create(claim(ip, 'other')), { ok: false, reason: 'AlreadyExists' });
  const dry = await store.create(claim(`${ip.slice(0, -1)}9`), { dryRun: true });
  assert.equal(dry.ok, true);
  assert.equal(await store.get(`${ip.slice(0, -1)}9`), undefined, 'dry run wrote nothing');

  const got = await store.get(ip);
  assert.equal(got?.spec.holders[0]?.name, 'web');
  const next = structuredClone(got!);
  next.spec.holders.push({ namespace: 'shop', name: 'api', ports: [] });
  const u = await store.update(next);
  assert.ok(u.ok);
  assert.deepEqual(await store.update(next), { ok: false, reason: 'Conflict' }, 'stale resourceVersion');
  assert.deepEqual(await store.delete(ip, { resourceVersion: got!.metadata.resourceVersion! }), { ok: false, reason: 'Conflict' });
  assert.deepEqual(await store.delete(ip, { resourceVersion: u.claim.metadata.resourceVersion! }), { ok: true });
  assert.deepEqual(await store.delete(ip), { ok: false, reason: 'NotFound' });
  assert.deepEqual(await store.update(u.claim), { ok: false, reason: 'NotFound' });
  assert.equal(await store.get(ip), undefined);
}

test('KubeClaimStore over berth KubeClient: AlreadyExists, Conflict, NotFound, dry run', async () => {
  await contract(new KubeClaimStore(kube.client), '10.1.0.1');
});

test('KubeClaimStore over a client-node KubeConfig: the same contract', async () => {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(t.lab.kubeconfigPath);
  await contract(new KubeClaimStore(kc), '10.2.0.1');
});

test('KubeClaimCache lists, then follows creates, updates and deletes', async () => {
  const store = new KubeClaimStore(kube.client);
  await store.create(claim('10.3.0.1'));
  const cache = new KubeClaimCache(kube.client);
  const seen: string[] = [];
  cache.subscribe((e: ClaimEvent) => seen.push(`${e.type} ${e.claim.spec.ip}`));
  await cache.start();
  try {
    assert.equal(cache.synced, true);
    assert.equal(cache.get('10.3.0.1')?.spec.holders[0]?.name, 'web');
    const b = await store.create(claim('10.3.0.2'));
    assert.ok(b.ok);
    await store.update({ ...b.claim, spec: { ...b.claim.spec, holders: [] } });
    await store.delete('10.3.0.1');
    const deadline = Date.now() + 5000;
    while (seen.filter((s) => !s.startsWith('added 10.3.0.1')).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      seen.filter((s) => !s.startsWith('added 10.3.0.1')),
      ['added 10.3.0.2', 'modified 10.3.0.2', 'deleted 10.3.0.1'],
    );
    assert.equal(cache.get('10.3.0.1'), undefined);
    assert.deepEqual(cache.get('10.3.0.2')?.spec.holders, []);
  } finally {
    await cache.stop();
  }
});
