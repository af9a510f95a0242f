// `berth validate`: what a fresh user hit — an unreadable file stopping everything, gitops/ read as one configuration,
// a versionless MetalLB kind skipped, a type error hiding the other errors, a pool without namespace passing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { findKubectl } from '../lab/testing.ts';
import { readInputSets } from './inputs.ts';
import { recordingIO } from './io.ts';
import { runValidate } from './validate.ts';

function run(args: string[], stdin = '') {
  const io = recordingIO(stdin);
  const code = runValidate(args, io);
  return { code, out: io.stdout, err: io.stderr };
}

/** A temporary tree of files (path → text), removed after the test. */
function tree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-validate-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const pool = (name: string, cidr: string, ns: string | null = 'metallb-system') =>
  `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: ${name}\n` +
  (ns ? `  namespace: ${ns}\n` : '') +
  `spec:\n  addresses:\n    - ${cidr}\n`;
const l2 =
  'apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: all\n  namespace: metallb-system\n';
const kustomization = (body: string) =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;

test('an unreadable YAML file is named (file:line) and the other files are still validated; exit 2 at the end', (t) => {
  const dir = tree(t, {
    'a-broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   namespace: y\n',
    'b-pools.yaml': pool('broken', '100.200.300.400/24') + '---\n' + l2,
    'c-glued.yaml': 'kind: A\nkind: B\n',
  });
  const r = run([dir]);
  assert.equal(r.code, 2);
  assert.ok(
    r.err.some((l) => l.startsWith(`berth validate: ${dir}/a-broken.yaml:4: invalid YAML`)),
    r.err.join('\n'),
  );
  assert.ok(
    r.err.some((l) => l.startsWith(`berth validate: ${dir}/c-glued.yaml:2: duplicate key "kind"`)),
    r.err.join('\n'),
  );
  assert.ok(
    r.out.some(
      (l) => l.startsWith(`${dir}/b-pools.yaml:8 IPAddressPool/broken: `) && l.includes('invalid CIDR'),
    ),
    r.out.join('\n'),
  );
  assert.ok(r.err.includes('2 input(s) could not be read (named above)'), r.err.join('\n'));
  // The repository's fixtures: the bad YAML no longer hides bad-pools.yaml's problems.
  const fx = run(['test/fixtures/cli']);
  assert.equal(fx.code, 2);
  assert.ok(
    fx.err.some((l) => /^berth validate: test\/fixtures\/cli\/bad-yaml\.yaml:4: invalid YAML/.test(l)),
  );
  assert.ok(
    fx.out.some((l) => l.startsWith('test/fixtures/cli/bad-pools.yaml:9 IPAddressPool/broken:')),
    fx.out.join('\n'),
  );
  // A good document next to a broken one in the same file is still read.
  const mixed = tree(t, { 'm.yaml': pool('kept', '192.0.2.0/33') + '---\nkey: [unclosed\n' });
  const m = run([mixed]);
  assert.equal(m.code, 2);
  assert.ok(
    m.out.some((l) => l.includes('IPAddressPool/kept') && l.includes('192.0.2.0/33')),
    m.out.join('\n'),
  );
});

test('gitops/ is validated per kustomize root (dev, prod), not as one configuration; base is not validated on its own', () => {
  const r = run(['gitops']);
  assert.equal(r.code, 0, [...r.out, ...r.err].join('\n'));
  assert.deepEqual(r.out, []);
  assert.ok(!r.err.some((l) => /overlaps|duplicate definition/.test(l)), r.err.join('\n'));
  assert.ok(r.err.includes('gitops/dev (kustomize root): 2 metallb.io object(s) valid'), r.err.join('\n'));
  assert.ok(r.err.includes('gitops/prod (kustomize root): 2 metallb.io object(s) valid'), r.err.join('\n'));
  assert.ok(!r.err.some((l) => l.startsWith('gitops/base')), r.err.join('\n'));
  // Loose files holding nothing berth reads (gitops/argocd/root-*.yaml) get no summary line of their own.
  assert.ok(!r.err.some((l) => l.startsWith('files outside kustomize roots')), r.err.join('\n'));
  // A root named twice (itself and through its parent folder) is validated once.
  const twice = run(['gitops/dev', 'gitops']);
  assert.equal(twice.err.filter((l) => l.startsWith('gitops/dev ')).length, 1, twice.err.join('\n'));
  // The overlay alone: its pool and the component's L2Advertisement, so no "pool not announced" warning.
  const dev = run(['gitops/dev']);
  assert.equal(dev.code, 0);
  assert.deepEqual(dev.err, ['gitops/dev (kustomize root): 2 metallb.io object(s) valid']);
  const json = run(['--output', 'json', 'gitops']);
  const j = JSON.parse(json.out.join('\n')) as {
    valid: boolean;
    sets: Array<{ path?: string; checked: number }>;
  };
  assert.equal(j.valid, true);
  assert.deepEqual(
    j.sets.filter((s) => s.checked > 0).map((s) => [s.path, s.checked]),
    [
      ['gitops/dev', 2],
      ['gitops/prod', 2],
    ],
  );
});

test('kustomize roots: overlays separately, shared base once in each, namespace: applied, unlisted files and bad entries', (t) => {
  const dir = tree(t, {
    // base: a pool without namespace (the overlays' namespace: sets it) and a file no entry lists (a draft)
    'base/kustomization.yaml': kustomization('resources:\n  - pool.yaml\n  - l2.yaml\n'),
    'base/pool.yaml': pool('shared', '192.0.2.0/28', null),
    'base/l2.yaml': l2,
    'base/draft.yaml': pool('draft', 'not-a-cidr'),
    'overlays/a/kustomization.yaml': kustomization(
      'namespace: metallb-system\nresources:\n  - ../../base\n  - pool.yaml\n',
    ),
    'overlays/a/pool.yaml': pool('extra', '198.51.100.0/28'),
    // b: same pool names as a (fine: another cluster), and its namespace: sends everything to the wrong namespace
    'overlays/b/kustomization.yaml': kustomization(
      'namespace: tenants\nresources:\n  - ../../base\n  - pool.yaml\n',
    ),
    'overlays/b/pool.yaml': pool('extra', '198.51.100.0/28'),
    // c: an entry that does not exist, and a folder without kustomization
    'overlays/c/kustomization.yaml': kustomization('resources:\n  - missing.yaml\n  - ../../plain\n'),
    'plain/pool.yaml': pool('plain', '203.0.113.0/28'),
    // d: a patch that changes a pool's spec (not applied: a warning saying how to render)
    'overlays/d/kustomization.yaml': kustomization(
      'namespace: metallb-system\nresources:\n  - ../../base\npatches:\n  - target: { kind: IPAddressPool }\n    patch: |-\n      - op: replace\n        path: /spec/addresses/0\n        value: 203.0.113.0/28\n',
    ),
  });
  const r = run([dir]);
  const all = [...r.out, ...r.err].join('\n');
  assert.equal(r.code, 2, all);
  assert.ok(r.err.includes(`${dir}/overlays/a (kustomize root): 3 metallb.io object(s) valid`), all);
  assert.ok(
    r.err.includes(`${dir}/overlays/b (kustomize root): 3 problem(s) in 3 metallb.io object(s)`),
    all,
  );
  assert.ok(
    r.out.some(
      (l) =>
        l.startsWith(`${dir}/overlays/b/pool.yaml:`) &&
        l.includes('resource must be created in metallb-system namespace'),
    ),
    all,
  );
  assert.ok(
    r.err.some(
      (l) =>
        l.includes(`${dir}/overlays/c/kustomization.yaml: resources entry missing.yaml:`) &&
        l.includes('no such file'),
    ),
    all,
  );
  assert.ok(
    r.err.some(
      (l) => l.includes('resources entry ../../plain:') && l.includes('without a kustomization.yaml'),
    ),
    all,
  );
  assert.ok(
    r.err.some(
      (l) =>
        l.startsWith(
          `warning: ${dir}/overlays/d: patches of ${dir}/overlays/d/kustomization.yaml change metallb.io objects`,
        ) && l.includes(`kubectl kustomize ${dir}/overlays/d | berth validate -`),
    ),
    all,
  );
  assert.ok(
    !r.err.some((l) => l.startsWith(`${dir}/base (kustomize root)`)),
    'base is included by the overlays: not a root',
  );
  assert.ok(
    !all.includes('IPAddressPool/draft'),
    'a file no kustomization lists is not deployed, so not read',
  );
  assert.ok(
    !all.includes('metadata.namespace is not set'),
    "namespace: of the overlay sets the base pool's namespace",
  );
  // plain/ holds no kustomization: its files are loose inputs of the argument.
  assert.ok(r.err.includes('files outside kustomize roots: 1 metallb.io object(s) valid'), all);
});

test('readInputSets finds the metallb.io objects `kubectl kustomize` renders for gitops/dev and gitops/prod', (t) => {
  const kubectl = findKubectl();
  if (!kubectl) {
    t.skip('kubectl not found: cannot compare with kubectl kustomize');
    return;
  }
  const sets = readInputSets(['gitops'], () => '');
  assert.deepEqual(sets.errors, []);
  for (const dir of ['gitops/dev', 'gitops/prod']) {
    const rendered: SpawnSyncReturns<string> = spawnSync(kubectl, ['kustomize', dir], {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    assert.equal(rendered.status, 0, rendered.stderr);
    const id = (o: Record<string, unknown>) => {
      const md = o.metadata as { name?: string; namespace?: string };
      return `${String(o.apiVersion)} ${String(o.kind)} ${md.namespace ?? ''}/${md.name ?? ''}`;
    };
    const want = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as Record<string, unknown> | null)
      .filter((o): o is Record<string, unknown> => !!o && String(o.apiVersion).startsWith('metallb.io/'))
      .map(id)
      .sort();
    const set = sets.sets.find((s) => s.label === dir);
    assert.ok(set, `${dir} is a root`);
    const got = set.docs
      .filter((d) => String(d.object.apiVersion).startsWith('metallb.io/'))
      .map((d) => id(d.object))
      .sort();
    assert.deepEqual(got, want);
  }
});

test('a MetalLB kind without apiVersion is an error naming the file, the line and the missing field', () => {
  const r = run(['test/fixtures/cli/no-apiversion.yaml']);
  assert.equal(r.code, 1);
  assert.deepEqual(r.out, [
    'test/fixtures/cli/no-apiversion.yaml:2 IPAddressPool/versionless: apiVersion: Required value: kind IPAddressPool needs apiVersion metallb.io/v1beta1 (kubectl refuses an object without one, and it configures nothing)',
  ]);
  const json = JSON.parse(run(['-o', 'json', 'test/fixtures/cli/no-apiversion.yaml']).out.join('\n')) as {
    problems: Array<{ code: string; path: string }>;
  };
  assert.deepEqual(
    json.problems.map((p) => [p.code, p.path]),
    [['LB_SCHEMA', 'apiVersion']],
  );
  // An unrelated kind without apiVersion is not berth's business.
  assert.equal(run(['-'], 'kind: Widget\nmetadata:\n  name: w\n').code, 0);
});

test('a pool with a type error still reports its other errors (bad range, invalid CIDR)', () => {
  const r = run(['test/fixtures/cli/pool-type-error.yaml']);
  assert.equal(r.code, 1);
  const f = 'test/fixtures/cli/pool-type-error.yaml';
  assert.equal(r.out.length, 3, r.out.join('\n'));
  assert.match(
    r.out[0]!,
    new RegExp(
      `^${f}:8 IPAddressPool/several: spec\\.autoAssign: Invalid value: "yes": must be of type boolean$`,
    ),
  );
  assert.match(
    r.out[1]!,
    new RegExp(`^${f}:10 IPAddressPool/several: .*start IP "198\\.51\\.100\\.20" is after the end IP`),
  );
  assert.match(
    r.out[2]!,
    new RegExp(`^${f}:11 IPAddressPool/several: .*invalid CIDR "203\\.0\\.113\\.0/33"`),
  );
  // A list with an item of the wrong type: the type error, not a misleading "pool has no prefixes defined".
  const list = run(['-'], pool('numbers', '192.0.2.0/28').replace('- 192.0.2.0/28', '- 7'));
  assert.ok(
    list.out.some((l) => l.includes('spec.addresses[0]: Invalid value: 7: must be of type string')),
    list.out.join('\n'),
  );
  assert.ok(!list.out.some((l) => l.includes('no prefixes')), list.out.join('\n'));
});

test('a metallb.io object without namespace is a warning (exit 0) naming the object and the webhook rule', () => {
  const r = run(['test/fixtures/cli/no-namespace.yaml']);
  assert.equal(r.code, 0, r.out.join('\n'));
  assert.deepEqual(r.out, []);
  assert.deepEqual(
    r.err.filter((l) => l.startsWith('warning:')),
    [
      'warning: test/fixtures/cli/no-namespace.yaml:5 IPAddressPool/nonamespace: metadata.namespace is not set: kubectl apply would create it in the context\'s namespace (default unless set), and the webhook denies that: "resource must be created in metallb-system namespace"; set metadata.namespace: metallb-system (or let kustomize\'s namespace: or kubectl -n metallb-system set it)',
    ],
  );
  const other = run(
    ['--namespace', 'lb', '-'],
    pool('p', '192.0.2.0/28', null) + '---\n' + l2.replace('metallb-system', 'lb'),
  );
  assert.equal(other.code, 0);
  assert.ok(
    other.err.some((l) => l.includes('"resource must be created in lb namespace"')),
    other.err.join('\n'),
  );
});

// Fresh-user problem 5: the seed's Helm values file (config-dev.yaml) passed as "0 metallb.io object(s) valid", exit 0.
const seedValues =
  'metallb:\n  ipAddressPool:\n    - name: default\n      addresses:\n        - 192.168.1.220-192.168.1.250  # 31 IPs disponibles\n';

test('validate: Helm values (no apiVersion/kind) alone are LB_NO_OBJECTS, exit 1, naming the file and helm template', (t) => {
  const root = tree(t, { 'config-dev.yaml': seedValues });
  const file = join(root, 'config-dev.yaml');
  const r = run([file]);
  assert.equal(r.code, 1, r.out.join('\n') + r.err.join('\n'));
  assert.equal(r.out.length, 1);
  assert.ok(r.out[0]!.startsWith(`${file}:1 -: ${file} holds no Kubernetes object`), r.out[0]);
  assert.match(r.out[0]!, /Helm values for the metallb chart \(top-level key "metallb"\); berth does not read Helm values/);
  assert.ok(r.out[0]!.includes(`helm template RELEASE CHART -f ${file} | berth validate -`), r.out[0]);
  assert.ok(!r.err.some((l) => /0 metallb\.io object\(s\) valid/.test(l)), r.err.join('\n'));
  assert.ok(r.err.some((l) => l === '1 problem(s) in 0 metallb.io object(s); 1 file(s) without Kubernetes objects not read'), r.err.join('\n'));
  const j = JSON.parse(run(['-o', 'json', file]).out.join('\n')) as { valid: boolean; problems: Array<{ code: string }> };
  assert.equal(j.valid, false);
  assert.deepEqual(j.problems.map((p) => p.code), ['LB_NO_OBJECTS']);
  // From stdin the hint names no file.
  const s = run(['-'], seedValues);
  assert.equal(s.code, 1);
  assert.match(s.out[0]!, /^<stdin>:1 -: <stdin> holds no Kubernetes object.*helm template RELEASE CHART -f VALUES \| berth validate -/);
});

test('validate: Helm values next to metallb.io objects are a warning (exit 0), as the legacy ConfigMap is', (t) => {
  const root = tree(t, { 'values.yaml': 'controller:\n  enabled: true\nspeaker:\n  frr:\n    enabled: false\n', 'pool.yaml': `${pool('default', '192.0.2.0/28')}---\n${l2}` });
  const r = run([join(root, 'pool.yaml'), join(root, 'values.yaml')]);
  assert.equal(r.code, 0, r.out.join('\n') + r.err.join('\n'));
  assert.deepEqual(r.out, []);
  assert.ok(
    r.err.some((l) => l.startsWith(`warning: ${join(root, 'values.yaml')}:1 -: `) && l.includes('top-level keys "controller", "speaker"')),
    r.err.join('\n'),
  );
  assert.ok(r.err.includes('2 metallb.io object(s) valid; 1 file(s) without Kubernetes objects not read'), r.err.join('\n'));
});

test('validate: a kustomization without its header and other YAML are named for what they look like; objects are never flagged', (t) => {
  const root = tree(t, {
    'k.yaml': 'resources:\n  - pool.yaml\n',
    'other.yaml': 'foo: 1\n---\nbar: 2\n',
    'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\nnot: an object\n',
  });
  const r = run([join(root, 'k.yaml'), join(root, 'other.yaml'), join(root, 'cm.yaml')]);
  assert.equal(r.code, 1);
  assert.equal(r.out.length, 2, r.out.join('\n'));
  assert.match(r.out[0]!, /k\.yaml holds no Kubernetes object.*looks like a kustomization \(top-level key "resources"\); pass its folder instead/);
  assert.match(r.out[1]!, /other\.yaml holds no Kubernetes object.*\(top-level keys "foo", "bar"\): if these are Helm values/);
});

test('plan: Helm values alone warn and exit 1 (no pool would come from them)', async (t) => {
  const { runPlan } = await import('./plan.ts');
  const root = tree(t, { 'config-dev.yaml': seedValues });
  const file = join(root, 'config-dev.yaml');
  const io = recordingIO();
  const code = await runPlan([file], io);
  assert.equal(code, 1, io.stdout.join('\n') + io.stderr.join('\n'));
  assert.ok(
    io.stderr.some((l) => l.startsWith(`warning: ${file}:1: ${file} holds no Kubernetes object`) && l.includes('| berth plan -')),
    io.stderr.join('\n'),
  );
  const withPool = tree(t, { 'pool.yaml': `${pool('default', '192.0.2.0/28')}---\n${l2}`, 'values.yaml': seedValues });
  const io2 = recordingIO();
  assert.equal(await runPlan([join(withPool, 'pool.yaml'), join(withPool, 'values.yaml')], io2), 0, io2.stderr.join('\n'));
  assert.ok(io2.stderr.some((l) => l.includes('values.yaml holds no Kubernetes object')));
});

// Fresh-user finding (h12): `kubectl kustomize gitops/typo 2>/dev/null | berth validate -` printed
// "0 metallb.io object(s) valid" and exited 0, so the README's CI pipeline passed when kustomize failed.
test('validate: empty stdin, an empty file and a folder without YAML are input errors (exit 2), not "0 valid"', (t) => {
  for (const stdin of ['', '\n', '# only a comment\n---\n']) {
    const r = run(['-'], stdin);
    assert.equal(r.code, 2, JSON.stringify(stdin));
    assert.ok(
      r.err.includes(
        'berth validate: no Kubernetes objects in <stdin>: empty input — did the command before the pipe fail? (e.g. kubectl kustomize DIR | berth validate -: kustomize printed its error and nothing else)',
      ),
      r.err.join('\n'),
    );
    assert.ok(!r.err.some((l) => /object\(s\) valid/.test(l)), r.err.join('\n'));
  }
  // An empty pipe next to a file that has objects is still refused: the pipe's objects are missing.
  const root = tree(t, { 'pool.yaml': `${pool('default', '192.0.2.0/28')}---\n${l2}`, 'empty.yaml': '', 'dir/readme.txt': 'x' });
  const both = run(['-', join(root, 'pool.yaml')], '');
  assert.equal(both.code, 2);
  assert.ok(both.err.some((l) => l.startsWith('berth validate: no Kubernetes objects in <stdin>: empty input')), both.err.join('\n'));
  assert.ok(both.err.includes('2 metallb.io object(s) valid'), both.err.join('\n'));
  const file = run([join(root, 'empty.yaml')]);
  assert.equal(file.code, 2);
  assert.deepEqual(file.err, [
    `berth validate: no Kubernetes objects in ${join(root, 'empty.yaml')}: empty input — the file holds no YAML document`,
    '1 input(s) could not be read (named above)',
  ]);
  const dir = run([join(root, 'dir')]);
  assert.equal(dir.code, 2);
  assert.ok(dir.err[0]!.startsWith(`berth validate: no Kubernetes objects in ${join(root, 'dir')}: empty input — the folder holds no`), dir.err.join('\n'));
  // An empty file next to one with objects is fine (as kubectl apply -f a -f b).
  assert.equal(run([join(root, 'pool.yaml'), join(root, 'empty.yaml')]).code, 0);
  const j = JSON.parse(run(['-o', 'json', '-']).out.join('\n')) as { valid: boolean; unreadable: string[] };
  assert.equal(j.valid, false);
  assert.match(j.unreadable[0]!, /^no Kubernetes objects in <stdin>: empty input/);
});
