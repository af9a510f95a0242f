// `berth status` without --kubeconfig, $KUBECONFIG or ~/.kube/config finds the lab's .lab/dev/kubeconfig (what
// `npm start` prints) from the current directory, says so on stderr, and reads the lab; $KUBECONFIG, when set, is
// used instead (as kubectl); the lab stopped: the error asks whether it is running. Real processes: the lab's API
// server (src/lab), kubectl for the CRDs, `berth status` spawned with a clean environment.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const skip = findKubectl() ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
const work = mkdtempSync(join(tmpdir(), 'berth-cli-kc-'));
const home = join(work, 'home');
let lab: TestLab | undefined;

/** `berth ARGS` in `cwd` with only PATH and HOME (no KUBECONFIG, no in-cluster variables) plus `env`. */
function berth(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), MAIN, ...args],
      { cwd, timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: home, ...env } },
      (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) }),
    );
  });
}

before(async () => {
  if (skip) return;
  mkdirSync(home, { recursive: true });
  lab = await startTestLab({ dir: join(work, '.lab', 'dev'), nodes: 0 });
  const r = await lab.kubectl(['apply', '-k', join(ROOT, 'gitops/base/crds')]);
  assert.equal(r.code, 0, r.stderr);
  const p = await lab.kubectl(
    ['apply', '-f', '-'],
    {
      input: `apiVersion: v1
kind: Namespace
metadata: {name: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: doc, namespace: metallb-system}
spec: {addresses: [192.0.2.0/29]}
`,
    },
  );
  assert.equal(p.code, 0, p.stderr);
});

after(async () => {
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("berth status with no kubeconfig anywhere uses the lab's .lab/dev/kubeconfig of the current directory", async (t) => {
  if (skip) return t.skip(skip);
  const r = await berth(['status', '-o', 'json'], work);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /berth status: using the lab's kubeconfig \.lab\/dev\/kubeconfig \(no --kubeconfig, \$KUBECONFIG or ~\/\.kube\/config\)/);
  const report = JSON.parse(r.out) as { pools: Array<{ pool: string; ipv4Total: number }> };
  assert.deepEqual(report.pools.map((p) => [p.pool, p.ipv4Total]), [['doc', 8]]);
});

test('$KUBECONFIG set wins over the lab (as kubectl), and its error names it', async (t) => {
  if (skip) return t.skip(skip);
  const missing = join(work, 'nowhere.kubeconfig');
  const r = await berth(['status'], work, { KUBECONFIG: missing });
  assert.equal(r.code, 1, r.out);
  assert.doesNotMatch(r.err, /using the lab's kubeconfig/);
  assert.equal(r.err.trim(), `berth status: $KUBECONFIG (${missing}) names no file that exists (unset it to use ~/.kube/config or the lab's)`);
});

test('the lab stopped: the error says which kubeconfig and asks whether the lab runs', async (t) => {
  if (skip) return t.skip(skip);
  await lab!.stop();
  lab = undefined;
  const r = await berth(['status'], work);
  assert.equal(r.code, 1, r.out);
  assert.match(r.err, /the lab's kubeconfig \.lab\/dev\/kubeconfig: is the lab running\? `npm start`/);
});
