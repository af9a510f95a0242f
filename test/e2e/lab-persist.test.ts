// `berth lab --persist` started twice on one folder (issue 7 §6): the second run must not call the webhook at the
// previous run's port, so the dev pool applies and a LoadBalancer Service created with the real kubectl gets its
// IP. Also checks what `npm start` prints (the webhook's metrics URL, which answers) and that
// `kubectl get ipaddresspools` shows MetalLB's columns (ADDRESSES without -o wide).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl } from '../../src/lab/testing.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const BASIC = fileURLToPath(new URL('../../examples/services/basic.yaml', import.meta.url));

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(bin, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout: String(stdout), stderr: String(stderr) }));
    c.stdin?.end('');
  });
}

function getInsecure(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function startLab(dir: string): Promise<NodeProcess> {
  const p = spawnNode(MAIN, ['lab', '--dir', dir, '--port', '0', '--persist']);
  const m = await Promise.race([p.waitFor(/berth lab: ready/, 120_000), p.done.then((code) => ({ code }))]);
  if ('code' in m) throw new Error(`berth lab exited with ${String(m.code)} before ready:\n${p.output()}`);
  return p;
}

test('berth lab --persist starts again on the same folder and admits a LoadBalancer Service', { timeout: 300_000 }, async (t) => {
  const kubectl = findKubectl();
  if (!kubectl) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
  const dir = mkdtempSync(join(tmpdir(), 'berth-lab-persist-'));
  let lab: NodeProcess | undefined;
  try {
    lab = await startLab(dir);
    const firstWebhook = /webhook pid \d+ serving on 127\.0\.0\.1:(\d+)/.exec(lab.output())?.[1];
    assert.ok(firstWebhook, lab.output());
    void lab.stop('SIGINT', 20_000);
    assert.equal(await lab.done, 0, lab.output().slice(-2000));

    lab = await startLab(dir);
    const out = lab.output();
    const kc = /berth lab: kubeconfig (\S+)/.exec(out)?.[1];
    assert.ok(kc, out);
    const k = [`--kubeconfig=${kc}`, `--cache-dir=${join(dir, 'kcache')}`, '--request-timeout=20s'];

    const applied = await run(kubectl, [...k, 'apply', '-f', BASIC]);
    assert.equal(applied.code, 0, applied.stderr);
    let table = '';
    for (let i = 0; i < 150 && !/my-service\s+LoadBalancer\s+\S+\s+192\.168\.1\.\d+/.test(table); i++) {
      await new Promise((r) => setTimeout(r, 200));
      table = (await run(kubectl, [...k, 'get', 'svc', 'my-service'])).stdout;
    }
    assert.match(table, /my-service\s+LoadBalancer\s+\S+\s+192\.168\.1\.220\s/, table);
    // Decided at admission by the new webhook (the controller fallback would also give an IP, so ask the webhook).
    const metricsUrl = /berth lab: webhook metrics (https:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out)?.[1];
    assert.ok(metricsUrl, `webhook metrics URL printed:\n${out}`);
    const metrics = await getInsecure(metricsUrl);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /berth_webhook_requests_total\{webhook="mutate-service",operation="CREATE",result="patched"\} 1\b/, metrics.body);

    const pools = await run(kubectl, [...k, 'get', 'ipaddresspools', '-n', 'metallb-system']);
    assert.equal(pools.code, 0, pools.stderr);
    assert.match(pools.stdout, /^NAME\s+AUTO ASSIGN\s+AVOID BUGGY IPS\s+ADDRESSES\s+AGE\n/, pools.stdout);
    assert.match(pools.stdout, /\ndefault\s+true\s+false\s+\["192\.168\.1\.220-192\.168\.1\.250"\]\s+\S+\n/, pools.stdout);

    void lab.stop('SIGINT', 20_000);
    assert.equal(await lab.done, 0, lab.output().slice(-2000));
  } finally {
    if (lab && !lab.exited) await lab.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
