// `kubectl kustomize gitops/typo 2>/dev/null | berth validate -` (the README's CI pipeline with a typo): kustomize
// fails, the pipe is empty, and berth validate / berth plan must fail too (exit 2, naming the empty input) instead
// of "0 metallb.io object(s) valid", exit 0. A real shell pipe into the real CLI (bin/berth.js), with the real
// kubectl when one is installed, `cat` of a missing file otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { findKubectl } from '../../src/lab/testing.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BERTH = join(ROOT, 'bin/berth.js');

/** `sh -c "FAILING | berth ARGS"`: exit code of the pipe (berth's), stdout, stderr. */
function pipe(failing: string, args: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', `${failing} 2>/dev/null | ${JSON.stringify(process.execPath)} ${JSON.stringify(BERTH)} ${args}`], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('a failing command before the pipe fails berth validate - and berth plan - (exit 2, empty input named)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-empty-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubectl = findKubectl();
  const failing = kubectl
    ? `${JSON.stringify(kubectl)} kustomize ${JSON.stringify(join(dir, 'typo'))}`
    : `cat ${JSON.stringify(join(dir, 'missing.yaml'))}`;
  const v = pipe(failing, 'validate -');
  assert.equal(v.code, 2, v.out + v.err);
  assert.match(v.err, /berth validate: no Kubernetes objects in <stdin>: empty input — did the command before the pipe fail\?/);
  assert.doesNotMatch(v.err, /object\(s\) valid/);
  const p = pipe(failing, 'plan -');
  assert.equal(p.code, 2, p.out + p.err);
  assert.equal(p.out, '');
  assert.match(p.err, /berth plan: no Kubernetes objects in <stdin>: empty input/);
  // The same pipe with objects passes (the check is on emptiness only).
  const ok = pipe('cat examples/multi-pool/pools.yaml', 'validate -');
  assert.equal(ok.code, 0, ok.out + ok.err);
});
