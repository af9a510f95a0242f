// pods/NAME/log in the lab: the Deployment the lab stands its processes in as (gitops/base's metallb-controller,
// one replica), the tail of a log, and the log subresource through the lab's HTTP API (no kubectl: see
// test/e2e/lab-logs-kubectl.test.ts for the real one).
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDocument } from 'yaml';
import { startLab, type Lab } from '../server.ts';
import { LAB_PROCESS_DEPLOYMENT, labProcessDeployment, tailLinesOf } from './pod-logs.ts';

test('tailLinesOf: the last n lines, a final newline does not count as a line', () => {
  const t = Buffer.from('a\nb\nc\n');
  assert.equal(tailLinesOf(t, 0).toString(), '');
  assert.equal(tailLinesOf(t, 1).toString(), 'c\n');
  assert.equal(tailLinesOf(t, 2).toString(), 'b\nc\n');
  assert.equal(tailLinesOf(t, 9).toString(), 'a\nb\nc\n');
  assert.equal(tailLinesOf(Buffer.from('a\nb'), 1).toString(), 'b');
});

test("labProcessDeployment: gitops/base's metallb-controller with one replica, as kubectl apply would have stored it", () => {
  const base = parseDocument(readFileSync(new URL('../../../gitops/base/controller/deployment.yaml', import.meta.url), 'utf8')).toJS() as {
    spec: { selector: unknown; template: { spec: { containers: Array<{ name: string }> } } };
  };
  const d = labProcessDeployment('metallb-system');
  const spec = d['spec'] as typeof base.spec & { replicas: number };
  assert.equal(d.metadata.name, LAB_PROCESS_DEPLOYMENT);
  assert.equal(d.metadata.namespace, 'metallb-system');
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.selector, base.spec.selector, 'the selector is immutable: kubectl apply -k gitops/dev must be able to update it');
  assert.deepEqual(spec.template.spec.containers.map((c) => c.name), ['controller', 'webhook']);
  const applied = JSON.parse(d.metadata.annotations!['kubectl.kubernetes.io/last-applied-configuration']!) as { spec: { replicas: number } };
  assert.equal(applied.spec.replicas, 1);
});

let dir = '';
let lab: Lab | undefined;
let token = '';
const files = { controller: '', webhook: '' };

/** GET `path` on the lab with its bearer token: status code and body text. */
function get(path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${lab!.url}${path}`, { ca: lab!.caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until<T>(f: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-pod-logs-'));
  files.controller = join(dir, 'controller.log');
  files.webhook = join(dir, 'webhook.log');
  writeFileSync(files.controller, 'one\ntwo\nthree\n');
  writeFileSync(files.webhook, 'hook\n');
  lab = await startLab({ dir: join(dir, 'lab'), nodes: 1, podStartDelayMs: 0, processLogs: { namespace: 'metallb-system', containers: files } });
  token = readFileSync(join(dir, 'lab', 'token'), 'utf8').trim();
});

after(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the lab Deployment metallb-controller gets a Pod whose containers answer with the process log files', async () => {
  const pod = await until(async () => {
    const r = await get('/api/v1/namespaces/metallb-system/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dcontroller');
    const items = (JSON.parse(r.body) as { items: Array<{ metadata: { name: string }; status?: { phase?: string } }> }).items;
    return items.find((p) => p.status?.phase === 'Running')?.metadata.name;
  }, 'a Running metallb-controller Pod');
  const log = (q: string) => get(`/api/v1/namespaces/metallb-system/pods/${pod}/log${q}`);
  assert.deepEqual(await log('?container=controller'), { code: 200, body: 'one\ntwo\nthree\n' });
  assert.deepEqual(await log('?container=webhook'), { code: 200, body: 'hook\n' });
  assert.deepEqual(await log('?container=controller&tailLines=2'), { code: 200, body: 'two\nthree\n' });
  assert.deepEqual(await log('?container=controller&limitBytes=5'), { code: 200, body: 'one\nt' });
  appendFileSync(files.controller, 'four\n');
  assert.equal((await log('?container=controller&tailLines=1')).body, 'four\n');

  const bad = async (q: string, message: RegExp) => {
    const r = await log(q);
    assert.equal(r.code, 400, r.body);
    assert.match((JSON.parse(r.body) as { message: string }).message, message);
  };
  await bad('', /^a container name must be specified for pod metallb-controller-\S+, choose one of: \[controller webhook\]$/);
  await bad('?container=nope', /^container nope is not valid for pod /);
  await bad('?container=controller&tailLines=-1', /^tailLines: Invalid value: -1: must be greater than or equal to 0$/);
  await bad('?container=controller&tailLines=x', /^tailLines: Invalid value: "x": must be an integer$/);
  await bad('?container=controller&previous=true', /^previous terminated container "controller" in pod "\S+" not found$/);
  assert.equal((await get('/api/v1/namespaces/metallb-system/pods/missing/log')).code, 404);
  assert.equal((await get('/api/v1/namespaces/metallb-system/pods/missing/logs')).code, 404, 'only the log subresource');
});
