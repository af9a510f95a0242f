// `npm start` end to end: run `berth lab` (runLab) as a child process in a temp dir on a random port, wait for its
// ready line, apply an example Service with the real kubectl, see its EXTERNAL-IP, then Ctrl-C (SIGINT) and check
// that the lab and every child it started have exited.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { spawnNode } from '../../src/lab/processes.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { alive, BERTH_MAIN } from '../helpers/lab-process.ts';

function run(bin: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(bin, args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
    c.stdin?.end(input ?? '');
  });
}

test('npm start: the lab comes up, a Service gets its EXTERNAL-IP, Ctrl-C stops everything', { timeout: 180_000 }, async (t) => {
  const kubectl = findKubectl();
  if (!kubectl) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
  const dir = mkdtempSync(join(tmpdir(), 'berth-start-'));
  const lab = spawnNode(BERTH_MAIN, ['lab', '--dir', dir, '--port', '0']);
  try {
    await lab.waitFor(/berth lab: ready/, 120_000);
    const out = lab.output();
    const kc = /berth lab: kubeconfig (\S+)/.exec(out)?.[1];
    assert.ok(kc, out);
    const children = [...out.matchAll(/(?:controller|webhook) pid (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(children.length >= 1, `children announced: ${out}`);
    assert.match(out, /kubectl --kubeconfig \S+ apply -f \S*examples\/services\/basic\.yaml/);
    assert.match(out, /kubectl --kubeconfig \S+ get svc/);

    const k = [`--kubeconfig=${kc}`, `--cache-dir=${join(dir, 'kcache')}`, '--request-timeout=20s'];
    const applied = await run(kubectl, [...k, 'apply', '-f', fileURLToPath(new URL('../../examples/services/basic.yaml', import.meta.url))]);
    assert.equal(applied.code, 0, applied.stderr);
    let table = '';
    for (let i = 0; i < 150 && !/my-service\s+LoadBalancer\s+\S+\s+192\.168\.1\.\d+/.test(table); i++) {
      await new Promise((r) => setTimeout(r, 200));
      table = (await run(kubectl, [...k, 'get', 'svc'])).stdout;
    }
    assert.match(table, /EXTERNAL-IP/);
    assert.match(table, /my-service\s+LoadBalancer\s+\S+\s+192\.168\.1\.220\s/, table);

    void lab.stop('SIGINT', 20_000);
    const code = await lab.done;
    assert.equal(code, 0, lab.output().slice(-2000));
    assert.match(lab.output(), /berth lab: stopped/);
    for (const pid of children) assert.equal(alive(pid), false, `child ${pid} exited`);
  } finally {
    if (!lab.exited) await lab.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
