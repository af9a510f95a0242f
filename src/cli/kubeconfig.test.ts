// The kubeconfig order of `berth status` / `berth plan --live`: --kubeconfig, $KUBECONFIG, ~/.kube/config,
// in-cluster, then the lab's .lab/dev/kubeconfig (current directory, then the checkout).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { chooseKubeconfig, explainLiveError, kubeconfigFileProblem, labNotice } from './kubeconfig.ts';

const only = (...files: string[]) => (p: string) => files.includes(p);
const base = { cwd: '/w', checkout: '/repo', serviceAccountToken: '/sa/token' };

describe('chooseKubeconfig', () => {
  it('--kubeconfig wins over everything', () => {
    const c = chooseKubeconfig('/x/kc', { ...base, env: { KUBECONFIG: '/k', HOME: '/h' }, exists: () => true });
    assert.deepEqual([c.source, c.path], ['flag', '/x/kc']);
  });
  it('$KUBECONFIG next, even when its files are missing (as kubectl)', () => {
    const c = chooseKubeconfig(undefined, { ...base, env: { KUBECONFIG: '/missing', HOME: '/h' }, exists: only('/h/.kube/config', '/w/.lab/dev/kubeconfig') });
    assert.equal(c.source, 'KUBECONFIG');
    assert.equal(c.path, undefined, 'src/kube reads $KUBECONFIG itself');
    assert.match(c.describe, /\/missing/);
    assert.equal(explainLiveError('no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster', c), "$KUBECONFIG (/missing) names no file that exists (unset it to use ~/.kube/config or the lab's)");
  });
  it('then ~/.kube/config, then in-cluster', () => {
    assert.equal(chooseKubeconfig(undefined, { ...base, env: { HOME: '/h' }, exists: only('/h/.kube/config', '/w/.lab/dev/kubeconfig') }).source, 'home');
    const inCluster = chooseKubeconfig(undefined, { ...base, env: { HOME: '/h', KUBERNETES_SERVICE_HOST: '10.96.0.1' }, exists: only('/sa/token', '/w/.lab/dev/kubeconfig') });
    assert.equal(inCluster.source, 'in-cluster');
  });
  it('then the lab: the current directory before the checkout, shown relative', () => {
    const here = chooseKubeconfig(undefined, { ...base, env: { HOME: '/h' }, exists: only('/w/.lab/dev/kubeconfig', '/repo/.lab/dev/kubeconfig') });
    assert.deepEqual([here.source, here.path], ['lab', '/w/.lab/dev/kubeconfig']);
    assert.equal(labNotice(here), "using the lab's kubeconfig .lab/dev/kubeconfig (no --kubeconfig, $KUBECONFIG or ~/.kube/config)");
    const repo = chooseKubeconfig(undefined, { ...base, env: { HOME: '/h' }, exists: only('/repo/.lab/dev/kubeconfig') });
    assert.deepEqual([repo.source, repo.path], ['lab', '/repo/.lab/dev/kubeconfig']);
    assert.match(repo.describe, /\/repo\/\.lab\/dev\/kubeconfig$/, 'outside the current directory: the absolute path');
  });
  it('nothing found: none, and the error lists where berth looked', () => {
    const c = chooseKubeconfig('', { ...base, env: { HOME: '/h' }, exists: () => false });
    assert.equal(c.source, 'none');
    assert.equal(labNotice(c), undefined);
    assert.match(explainLiveError('no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster', c), /looked for .*\.lab\/dev\/kubeconfig of `npm start`/);
  });
  it("a refused connection through the lab's kubeconfig asks whether the lab runs", () => {
    const c = chooseKubeconfig(undefined, { ...base, env: { HOME: '/h' }, exists: only('/w/.lab/dev/kubeconfig') });
    assert.match(explainLiveError('listing ipaddresspools: connect ECONNREFUSED 127.0.0.1:40000', c), /is the lab running\? `npm start`/);
    assert.equal(explainLiveError('listing services: Forbidden', c), 'listing services: Forbidden');
  });
});

describe('a --kubeconfig file that is no kubeconfig', () => {
  const files = (t: { after(fn: () => void): void }, content: Record<string, string>): string => {
    const d = mkdtempSync(join(tmpdir(), 'berth-kc-'));
    t.after(() => rmSync(d, { recursive: true, force: true }));
    for (const [name, text] of Object.entries(content)) writeFileSync(join(d, name), text);
    return d;
  };

  it('names the path and what is missing instead of `context "" not found`', (t) => {
    const d = files(t, {
      passwd: 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n',
      empty: '',
      list: '- a\n- b\n',
      partial: 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: https://192.0.2.1:6443}\n',
      other: 'kind: Pod\nmetadata: {name: x}\n',
    });
    const explain = (f: string): string => explainLiveError(`kubeconfig ${join(d, f)}: context "" not found`, chooseKubeconfig(join(d, f)));
    assert.equal(explain('passwd'), `${join(d, 'passwd')} is not a kubeconfig: it is plain text, not a YAML mapping (a kubeconfig has clusters, contexts, users and current-context)`);
    assert.match(explain('empty'), /\/empty is not a kubeconfig: it is empty \(/);
    assert.match(explain('list'), /\/list is not a kubeconfig: it is a YAML list, not a YAML mapping/);
    assert.match(explain('partial'), /\/partial is not a usable kubeconfig: no contexts, no users, no current-context \(/);
    assert.match(explain('other'), /\/other is not a usable kubeconfig: kind "Pod" \(not Config\), no clusters, no contexts, no users, no current-context/);
  });

  it('leaves other errors and complete kubeconfigs alone', (t) => {
    const d = files(t, { ok: 'kind: Config\nclusters: [{name: c, cluster: {server: "https://192.0.2.1"}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\ncurrent-context: x\n' });
    assert.equal(kubeconfigFileProblem(join(d, 'ok')), undefined);
    const c = chooseKubeconfig(join(d, 'ok'));
    assert.equal(explainLiveError(`kubeconfig ${join(d, 'ok')}: context "y" not found`, c), `kubeconfig ${join(d, 'ok')}: context "y" not found`);
    assert.equal(kubeconfigFileProblem(join(d, 'missing')), undefined, 'unreadable: src/kube says it does not exist');
  });

  it('`berth status --kubeconfig <a passwd file>` exits 1 saying the file is not a kubeconfig', (t, done) => {
    const d = files(t, { passwd: 'root:x:0:0:root:/root:/bin/bash\n' });
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    execFile(process.execPath, ['--import', import.meta.resolve('tsx'), main, 'status', '--kubeconfig', join(d, 'passwd')], { timeout: 60_000 }, (e, _out, err) => {
      try {
        assert.equal(e?.code, 1);
        assert.equal(String(err).trim(), `berth status: ${join(d, 'passwd')} is not a kubeconfig: it is plain text, not a YAML mapping (a kubeconfig has clusters, contexts, users and current-context)`);
        done();
      } catch (x) {
        done(x);
      }
    });
  });
});
