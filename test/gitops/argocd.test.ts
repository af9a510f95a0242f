// gitops/argocd: the roots (root-dev.yaml, root-prod.yaml) and the child Applications they sync (apps/dev, apps/prod,
// rendered with the real `kubectl kustomize`), checked against Argo CD's Application schema, and the wiring between
// them: berth at wave 10, each environment pointing at its overlay, retry set, no ignoreDifferences.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { kustomize, parseObjects, REPO, schemaProblems, type K8sObject } from './render.ts';

const ENVS = ['dev', 'prod'] as const;

interface AppSpec {
  project: string;
  source: { repoURL: string; targetRevision: string; path: string };
  destination: { server: string; namespace: string };
  syncPolicy?: {
    automated?: { prune?: boolean; selfHeal?: boolean };
    syncOptions?: string[];
    retry?: { limit: number; backoff: { duration: string; factor: number; maxDuration: string } };
  };
  ignoreDifferences?: unknown[];
}
const specOf = (o: K8sObject): AppSpec => o['spec'] as AppSpec;

const renders = new Map(ENVS.map((env) => [env as string, kustomize(`gitops/argocd/apps/${env}`)]));

function rendered(t: TestContext, env: string): K8sObject[] | undefined {
  const r = renders.get(env)!;
  if (!r.ok && r.skip) {
    t.skip(r.skip);
    return undefined;
  }
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.objects;
}

function root(env: string): K8sObject {
  const objs = parseObjects(readFileSync(join(REPO, `gitops/argocd/root-${env}.yaml`), 'utf8'));
  assert.equal(objs.length, 1);
  return objs[0]!;
}

test('the roots and the Applications they sync match the Argo CD schema', async (t) => {
  for (const env of ENVS) {
    const apps = rendered(t, env);
    if (!apps) return;
    assert.deepEqual(await schemaProblems([root(env), ...apps]), [], env);
    assert.ok(
      apps.every((a) => a.kind === 'Application' && a.apiVersion === 'argoproj.io/v1alpha1'),
      env,
    );
  }
});

test('each root syncs its environment: root → apps/<env> → berth → gitops/<env>, one repository and revision', (t) => {
  for (const env of ENVS) {
    const apps = rendered(t, env);
    if (!apps) return;
    const r = specOf(root(env));
    assert.equal(r.source.path, `gitops/argocd/apps/${env}`);
    assert.equal(r.destination.namespace, 'argocd');
    const berth = apps.find((a) => a.metadata.name === 'berth');
    assert.ok(berth, env);
    const b = specOf(berth);
    assert.equal(b.source.path, `gitops/${env}`);
    assert.equal(
      b.source.repoURL,
      r.source.repoURL,
      `${env}: berth and its root name different repositories`,
    );
    assert.equal(b.source.targetRevision, r.source.targetRevision, env);
    assert.equal(b.destination.namespace, 'metallb-system');
    assert.equal(berth.metadata.namespace, 'argocd');
    // Every path an Application syncs is a kustomization in this repository.
    for (const p of [r.source.path, b.source.path])
      assert.ok(existsSync(join(REPO, p, 'kustomization.yaml')), `${p} has no kustomization.yaml`);
  }
});

test('berth syncs at wave 10, automated with prune, selfHeal and an explicit retry, with no ignoreDifferences', (t) => {
  for (const env of ENVS) {
    const apps = rendered(t, env);
    if (!apps) return;
    const berth = apps.find((a) => a.metadata.name === 'berth')!;
    assert.equal(berth.metadata.annotations?.['argocd.argoproj.io/sync-wave'], '10');
    assert.ok(
      ((berth.metadata as { finalizers?: string[] }).finalizers ?? []).includes(
        'resources-finalizer.argocd.argoproj.io',
      ),
    );
    for (const app of [berth, root(env)]) {
      const p = specOf(app).syncPolicy;
      assert.deepEqual(p?.automated, { prune: true, selfHeal: true }, `${env} ${app.metadata.name}`);
      // A failed automated sync is not retried for the same commit without it (Argo CD: auto sync).
      assert.ok(p?.retry && p.retry.limit > 0, `${env} ${app.metadata.name}: retry`);
      assert.match(p.retry.backoff.duration, /^\d+[sm]$/);
      assert.match(p.retry.backoff.maxDuration, /^\d+[sm]$/);
    }
    // The caBundle needs no ignoreDifferences: Git carries none (overlays.test.ts checks), see docs/gitops.md.
    assert.equal(specOf(berth).ignoreDifferences, undefined);
    assert.ok(specOf(berth).syncPolicy?.syncOptions?.includes('ServerSideApply=true'));
  }
});
