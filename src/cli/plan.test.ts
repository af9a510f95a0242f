// `berth plan` reads its inputs as `berth validate` does (readInputSets): one plan per kustomize root, the root's
// resources/components/bases followed and its namespace: applied, loose files planned with every root. Checked against
// the real `kubectl kustomize` where one is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findKubectl } from '../lab/testing.ts';
import { recordingIO } from './io.ts';
import { main } from './main.ts';

async function run(args: string[], stdin = '') {
  const io = recordingIO(stdin);
  const code = await main(['plan', ...args], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

interface PlanJson {
  path?: string;
  problems: string[];
  services: Array<{ namespace: string; name: string; pool?: string; ips: string[]; denied?: { code: string } }>;
  pools: Array<{ pool: string; ipv4InUse: number; ipv4Total: number }>;
}

/** A temporary tree of files (path → text), removed after the test. */
function tree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-plan-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

/** `kubectl kustomize dir`, or undefined after skipping the test when no kubectl is installed. */
function kustomize(t: { skip(msg: string): void }, dir: string): string | undefined {
  const kubectl = findKubectl();
  if (!kubectl) {
    t.skip('kubectl not found: cannot compare with kubectl kustomize');
    return undefined;
  }
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const rows = (p: PlanJson) => p.services.map((s) => [s.namespace, s.name, s.pool ?? '-', s.ips.join(',') || (s.denied?.code ?? '')]);

test('berth plan gitops: dev and prod are two plans (never one merged world), base counted once in each', async () => {
  const r = await run(['-o', 'json', 'gitops', 'examples/services/basic.yaml']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as { sets: PlanJson[] };
  // gitops/argocd/apps/* hold only Argo CD Applications: nothing to plan, left out.
  assert.deepEqual(j.sets.map((s) => s.path), ['gitops/dev', 'gitops/prod']);
  const [dev, prod] = j.sets as [PlanJson, PlanJson];
  assert.deepEqual(dev.problems, []);
  assert.deepEqual(prod.problems, []);
  // Both pools are named `default` and overlap: merged, they would be LB_OVERLAP / a duplicate, not two plans.
  assert.deepEqual(dev.pools.map((p) => [p.pool, p.ipv4InUse, p.ipv4Total]), [['default', 1, 31]]);
  assert.deepEqual(prod.pools.map((p) => [p.pool, p.ipv4InUse, p.ipv4Total]), [['default', 1, 11]]);
  assert.deepEqual(rows(dev), [['default', 'my-service', 'default', '192.168.1.220']]);
  assert.deepEqual(rows(prod), [['default', 'my-service', 'default', '192.168.1.240']]);

  const text = await run(['gitops', 'examples/services/basic.yaml']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^gitops\/dev \(kustomize root\):\nNAMESPACE\s+NAME\s+POOL\s+EXTERNAL-IP\s+REASON\ndefault\s+my-service\s+default\s+192\.168\.1\.220\s*$/m);
  assert.match(text.out, /^gitops\/prod \(kustomize root\):\nNAMESPACE\s+NAME\s+POOL\s+EXTERNAL-IP\s+REASON\ndefault\s+my-service\s+default\s+192\.168\.1\.240\s*$/m);
  assert.doesNotMatch(text.err, /kustomize overlay/, 'no "read file by file" warning any more');
});

test('berth plan gitops/dev examples/services decides as `kubectl kustomize gitops/dev | berth plan - examples/services`', async (t) => {
  for (const overlay of ['gitops/dev', 'gitops/prod']) {
    const rendered = kustomize(t, overlay);
    if (rendered === undefined) return;
    const fromFolder = await run(['-o', 'json', overlay, 'examples/services']);
    const fromRender = await run(['-o', 'json', '-', 'examples/services'], rendered);
    assert.equal(fromFolder.code, fromRender.code, `${fromFolder.err}\n${fromRender.err}`);
    const a = JSON.parse(fromFolder.out) as PlanJson;
    const b = JSON.parse(fromRender.out) as PlanJson;
    assert.equal(a.path, overlay);
    assert.deepEqual(a.problems, []);
    assert.deepEqual(rows(a), rows(b));
    assert.deepEqual(a.pools, b.pools);
    assert.ok(a.services.length >= 4, `${overlay}: the seeds' Services are planned: ${JSON.stringify(rows(a))}`);
  }
});

const pool = (name: string, cidr: string, ns: string | null) =>
  `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: ${name}\n` +
  (ns ? `  namespace: ${ns}\n` : '') +
  `spec:\n  addresses:\n    - ${cidr}\n`;
const service = (name: string, extra = '') =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  type: LoadBalancer\n${extra}  ports:\n    - port: 80\n      protocol: TCP\n`;
const kustomization = (body: string) => `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

test('kustomize roots: namespace: applied to pools and Services, components followed, unlisted files not read — as kubectl kustomize renders', async (t) => {
  const dir = tree(t, {
    'base/kustomization.yaml': kustomization('resources:\n  - pool.yaml\n'),
    'base/pool.yaml': pool('shared', '192.0.2.0/30', null),
    // A draft no kustomization lists: not deployed, so not planned (read file by file it would overlap `shared`).
    'base/draft.yaml': pool('draft', '192.0.2.0/29', 'metallb-system'),
    'components/apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - web.yaml\n',
    'components/apps/web.yaml': service('web'),
    'overlays/a/kustomization.yaml': kustomization(
      'namespace: metallb-system\nresources:\n  - ../../base\ncomponents:\n  - ../../components/apps\n',
    ),
    // b: an app overlay whose namespace: also moves the base's pool out of metallb-system.
    'overlays/b/kustomization.yaml': kustomization('namespace: shop\nresources:\n  - ../../base\n  - api.yaml\n'),
    'overlays/b/api.yaml': service('api'),
  });
  const r = await run(['-o', 'json', dir]);
  const j = JSON.parse(r.out) as { sets: PlanJson[] };
  assert.deepEqual(j.sets.map((s) => s.path), [`${dir}/overlays/a`, `${dir}/overlays/b`]);
  const [a, b] = j.sets as [PlanJson, PlanJson];
  assert.deepEqual(a.problems, []);
  assert.deepEqual(rows(a), [['metallb-system', 'web', 'shared', '192.0.2.0']]);
  assert.deepEqual(a.pools.map((p) => p.pool), ['shared']);
  // b's namespace: moves the pool out of metallb-system: refused as the webhook refuses it, so nothing is planned.
  assert.equal(b.problems.length, 1);
  assert.match(b.problems[0]!, /base\/pool\.yaml:\d+ IPAddressPool\/shared: resource must be created in metallb-system namespace$/);
  assert.equal(r.code, 1);

  for (const [overlay, got] of [['overlays/a', a], ['overlays/b', b]] as const) {
    const rendered = kustomize(t, join(dir, overlay));
    if (rendered === undefined) return;
    const want = JSON.parse((await run(['-o', 'json', '-'], rendered)).out) as PlanJson;
    assert.deepEqual(rows(got), rows(want), overlay);
    assert.deepEqual(got.pools, want.pools, overlay);
    assert.deepEqual(
      got.problems.map((p) => p.replace(/^\S+ /, '')),
      want.problems.map((p) => p.replace(/^\S+ /, '')),
      overlay,
    );
  }
});

test('berth plan: an unreadable input is named and nothing is planned (exit 2); a patch of a pool is warned about with the plan wording', async (t) => {
  const dir = tree(t, {
    'o/kustomization.yaml': kustomization(
      'resources:\n  - pool.yaml\n  - missing.yaml\npatches:\n  - target: { kind: IPAddressPool }\n    patch: |-\n      - op: replace\n        path: /spec/addresses/0\n        value: 203.0.113.0/28\n',
    ),
    'o/pool.yaml': pool('p', '192.0.2.0/30', 'metallb-system'),
  });
  const r = await run([dir]);
  assert.equal(r.code, 2, r.out + r.err);
  assert.match(r.err, /^berth plan: .*o\/kustomization\.yaml: resources entry missing\.yaml: .*no such file or directory$/m);
  assert.equal(r.out, '');
  rmSync(join(dir, 'o/missing.yaml'), { force: true });
  writeFileSync(join(dir, 'o/kustomization.yaml'), kustomization(
    'resources:\n  - pool.yaml\npatches:\n  - target: { kind: IPAddressPool }\n    patch: |-\n      - op: replace\n        path: /spec/addresses/0\n        value: 203.0.113.0/28\n',
  ));
  const w = await run([join(dir, 'o')]);
  assert.equal(w.code, 0, w.err);
  assert.match(
    w.err,
    /which berth plan does not apply \(it plans the files as written\); to plan what kustomize renders: kubectl kustomize \S+\/o \| berth plan -$/m,
  );
});

// Fresh-user finding (h12): `berth plan -` with an empty pipe printed an empty table and exited 0.
test('plan: empty stdin or an empty file is an input error (exit 2), nothing planned', async (t) => {
  const r = await run(['-'], '');
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.match(r.err, /^berth plan: no Kubernetes objects in <stdin>: empty input — did the command before the pipe fail\?/);
  assert.match(r.err, /1 input\(s\) could not be read \(named above\); nothing was planned/);
  const root = tree(t, { 'empty.yaml': '---\n' });
  const f = await run([join(root, 'empty.yaml')]);
  assert.equal(f.code, 2);
  assert.ok(f.err.includes(`no Kubernetes objects in ${join(root, 'empty.yaml')}: empty input`), f.err);
  // --live reads its input the same way: refused before any cluster is asked.
  const live = await run(['--live', '--kubeconfig', join(root, 'none'), '-'], '');
  assert.equal(live.code, 2);
  assert.match(live.err, /no Kubernetes objects in <stdin>: empty input/);
});
