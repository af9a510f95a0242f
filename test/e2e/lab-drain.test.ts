// `kubectl drain` against the lab with the real kubectl, as a fresh user runs it: cordon + eviction
// (policy/v1 pods/eviction) of the Node's Pods, the ReplicaSet recreating them on the other Nodes and the
// Service's EndpointSlice following; a PodDisruptionBudget holding an eviction back (429, kubectl retries);
// `--disable-eviction` deleting with a protobuf DeleteOptions body; malformed protobuf bodies answered 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectlLabForFile, until } from '../helpers/kubectl-lab.ts';

const { skip, lab, ok } = kubectlLabForFile({ podStartDelayMs: 50 });

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { conditions?: Array<{ type: string; status: string }> };
}
interface Slice {
  endpoints: Array<{ conditions: { ready: boolean }; nodeName?: string; targetRef: { name: string } }> | null;
}

const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await ok([...args, '-o', 'json'])) as T;
const pods = async () => (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', 'drain', '-l', 'app=web'])).items;
const slices = async () => (await getJson<{ items: Slice[] }>(['get', 'endpointslices', '-n', 'drain', '-l', 'kubernetes.io/service-name=web'])).items;
const ready = (p: Pod) => !p.metadata.deletionTimestamp && (p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
const endpointNodes = (s: Slice[]) => s.flatMap((x) => (x.endpoints ?? []).filter((e) => e.conditions.ready).map((e) => `${e.targetRef.name}@${e.nodeName}`)).sort();

/** Three Ready Pods, and the EndpointSlice listing exactly them on their Nodes. */
async function settled(what: string): Promise<Pod[]> {
  const ps = await until(`${what}: 3 ready pods`, pods, (x) => x.length === 3 && x.every(ready));
  const want = ps.map((p) => `${p.metadata.name}@${p.spec.nodeName}`).sort();
  await until(`${what}: the EndpointSlice lists them`, slices, (s) => JSON.stringify(endpointNodes(s)) === JSON.stringify(want));
  return ps;
}

function raw(method: string, path: string, body: Buffer, contentType: string): Promise<{ code: number; body: { message?: string; reason?: string } }> {
  const token = readFileSync(join(lab().dir, 'token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const url = new URL(path, lab().lab.url);
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method, ca: lab().lab.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType, 'Content-Length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as { message?: string } }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('kubectl drain evicts the Node’s Pods, they come back on other Nodes and the EndpointSlice follows; a PDB holds an eviction back', { skip }, async () => {
  await ok(['create', 'namespace', 'drain']);
  await ok(['create', 'deployment', 'web', '--image=nginx', '--replicas=3', '-n', 'drain']);
  await ok(['expose', 'deployment', 'web', '--type=LoadBalancer', '--port=80', '-n', 'drain']);
  const before = await settled('created');
  const victim = before[0]!;
  const node = victim.spec.nodeName!;
  const onNode = before.filter((p) => p.spec.nodeName === node).map((p) => p.metadata.name);

  const d = await lab().kubectl(['drain', node, '--ignore-daemonsets', '--timeout=30s']);
  assert.equal(d.code, 0, `kubectl drain failed:\n${d.stderr}`);
  assert.match(d.stdout, new RegExp(`node/${node} cordoned`));
  for (const name of onNode) assert.match(d.stdout, new RegExp(`pod/${name} evicted`));
  assert.match(d.stdout, new RegExp(`node/${node} drained`));
  const unschedulable = (await getJson<{ spec: { unschedulable?: boolean } }>(['get', 'node', node])).spec.unschedulable;
  assert.equal(unschedulable, true);

  const after = await settled('after drain');
  for (const p of after) assert.notEqual(p.spec.nodeName, node, `${p.metadata.name} is still on the drained node`);
  for (const name of onNode) assert.ok(!after.some((p) => p.metadata.name === name), `${name} was not evicted`);
  const eps = endpointNodes(await slices());
  assert.ok(eps.every((e) => !e.endsWith(`@${node}`)), `endpoints still on ${node}: ${eps.join(', ')}`);

  // A budget needing all 3 Pods: the next eviction is refused (429) and kubectl retries until its timeout.
  await ok(['uncordon', node]);
  await ok(['create', 'poddisruptionbudget', 'web', '-n', 'drain', '--selector=app=web', '--min-available=3']);
  const other = after[0]!.spec.nodeName!;
  const held = await lab().kubectl(['drain', other, '--ignore-daemonsets', '--timeout=3s']);
  assert.notEqual(held.code, 0, 'drain must fail while the budget is at its minimum');
  assert.match(held.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
  const still = await pods();
  assert.equal(still.filter((p) => p.spec.nodeName === other && !p.metadata.deletionTimestamp).length >= 1, true, 'the budget kept the pod');

  // minAvailable 2 leaves one disruption: the drain goes through.
  await ok(['delete', 'poddisruptionbudget', 'web', '-n', 'drain']);
  await ok(['create', 'poddisruptionbudget', 'web', '-n', 'drain', '--selector=app=web', '--min-available=2']);
  await ok(['drain', other, '--ignore-daemonsets', '--timeout=30s']);
  const moved = await settled('after the second drain');
  assert.ok(moved.every((p) => p.spec.nodeName !== other));
  await ok(['delete', 'poddisruptionbudget', 'web', '-n', 'drain']);
  await ok(['uncordon', other]);
});

test('kubectl drain --disable-eviction deletes with a protobuf DeleteOptions body', { skip }, async () => {
  const ps = await settled('before');
  const node = ps[0]!.spec.nodeName!;
  const d = await lab().kubectl(['drain', node, '--ignore-daemonsets', '--disable-eviction', '--timeout=30s', '-v=8']);
  assert.equal(d.code, 0, `kubectl drain --disable-eviction failed:\n${d.stderr.slice(-3000)}`);
  assert.match(d.stderr, /DELETE https:\/\/\S+\/pods\//);
  assert.match(d.stdout, /deleted/);
  const after = await settled('after');
  assert.ok(after.every((p) => p.spec.nodeName !== node));
  await ok(['uncordon', node]);
});

test('malformed protobuf bodies get a 400 naming the problem, and the lab keeps serving', { skip }, async () => {
  const pb = 'application/vnd.kubernetes.protobuf';
  const name = (await pods())[0]!.metadata.name;
  const truncated = Buffer.concat([Buffer.from('k8s\u0000', 'latin1'), Buffer.from([0x0a, 0x30, 0x0a, 0x02])]);
  const del = await raw('DELETE', `/api/v1/namespaces/drain/pods/${name}`, truncated, pb);
  assert.equal(del.code, 400);
  assert.match(del.body.message ?? '', /protobuf DeleteOptions body is malformed: unable to decode protobuf body: truncated/);
  const notPb = await raw('DELETE', `/api/v1/namespaces/drain/pods/${name}`, Buffer.from('{"kind":"DeleteOptions"}'), pb);
  assert.equal(notPb.code, 400);
  assert.match(notPb.body.message ?? '', /expected prefix \[107 56 115 0\]/);
  const ev = await raw('POST', `/api/v1/namespaces/drain/pods/${name}/eviction`, truncated, pb);
  assert.equal(ev.code, 400);
  assert.match(ev.body.message ?? '', /protobuf request body is malformed/);
  const wrong = await raw('POST', `/api/v1/namespaces/drain/pods/${name}/eviction`, Buffer.from(JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'other' } })), 'application/json');
  assert.equal(wrong.code, 400);
  assert.match(wrong.body.message ?? '', /name in URL does not match name in Eviction object/);
  // Nothing was deleted, and the lab still answers.
  assert.ok((await pods()).some((p) => p.metadata.name === name));
});
