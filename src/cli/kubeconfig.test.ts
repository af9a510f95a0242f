// The kubeconfig order of `berth status` / `berth plan --live`: --kubeconfig, $KUBECONFIG, ~/.kube/config,
// in-cluster, then the lab's .lab/dev/kubeconfig (current directory, then the checkout).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseKubeconfig, explainLiveError, labNotice } from './kubeconfig.ts';

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
