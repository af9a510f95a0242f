// `kubectl logs -n metallb-system deployment/metallb-controller`, the runbook's command, works in the lab (`npm start`):
// the lab stands its controller and webhook processes in as Deployment metallb-controller, and kubectl's own path
// (GET the Deployment, list its Pods by selector, GET pods/NAME/log) answers with their log files, -c webhook, --tail
// and -f included. A user Deployment's Pods have empty logs (the lab runs no container). Real kubectl, lab stack.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LAB_NAMESPACE, startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { eventually } from './controller-harness.ts';

const kubectlPath = findKubectl();
const skip = kubectlPath ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
let dir = '';
let stack: LabStack | undefined;

const args = (rest: string[]): string[] => [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=30s', ...rest];

function kubectl(rest: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(kubectlPath!, args(rest), { timeout: 60_000, maxBuffer: 64 << 20, env: { ...process.env, HOME: dir } }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-lab-logs-'));
  // What `npm start` runs: API server, webhook, controller, dev pool, three lab Nodes.
  stack = await startLabStack({ dir: join(dir, 'lab') });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kubectl logs deployment/metallb-controller shows the lab controller\'s log; -c webhook the webhook\'s', { skip, timeout: 180_000 }, async () => {
  const deploy = ['logs', '-n', LAB_NAMESPACE, 'deployment/metallb-controller'];
  const r = await eventually(async () => {
    const x = await kubectl(deploy);
    return x.code === 0 ? x : undefined;
  }, 'the metallb-controller Pod', 60_000);
  assert.match(r.stderr, /Defaulted container "controller" out of: controller, webhook/);
  const first = readFileSync(stack!.logs.controller, 'utf8').split('\n')[0]!;
  assert.ok(first.length > 0, 'the controller wrote its log');
  assert.equal(r.stdout.split('\n')[0], first);

  const hook = await kubectl([...deploy, '-c', 'webhook', '--tail=1']);
  assert.equal(hook.code, 0, hook.stderr);
  assert.equal(hook.stdout.trim().split('\n').length, 1);
  assert.ok(readFileSync(stack!.logs.webhook, 'utf8').includes(hook.stdout.trim()), 'the line is the webhook log\'s');

  const prev = await kubectl([...deploy, '--previous']);
  assert.notEqual(prev.code, 0);
  assert.match(prev.stderr, /previous terminated container "controller" in pod "metallb-controller-\S+" not found/);
});

test('kubectl logs -f follows the controller: a new Service\'s reconcile line arrives', { skip, timeout: 180_000 }, async () => {
  const child = spawn(kubectlPath!, args(['logs', '-f', '--tail=0', '-n', LAB_NAMESPACE, 'deployment/metallb-controller', '-c', 'controller']), {
    env: { ...process.env, HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  try {
    await eventually(async () => ((await kubectl(['get', 'pods', '-n', LAB_NAMESPACE])).stdout.includes('Running') ? true : undefined), 'Running', 60_000);
    const svc = await kubectl(['create', 'service', 'loadbalancer', 'followed', '--tcp=80:8080']);
    assert.equal(svc.code, 0, svc.stderr);
    await eventually(async () => (/reconcile default\/followed: success/.test(out) ? true : undefined), 'the reconcile line through kubectl logs -f', 60_000);
  } finally {
    child.kill();
  }
});

test('a user Deployment: kubectl logs answers with an empty log', { skip, timeout: 120_000 }, async () => {
  assert.equal((await kubectl(['create', 'deployment', 'web', '--image=nginx'])).code, 0);
  const r = await eventually(async () => {
    const x = await kubectl(['logs', 'deployment/web']);
    return x.code === 0 ? x : undefined;
  }, 'the web Pod', 60_000);
  assert.equal(r.stdout, '');
});
