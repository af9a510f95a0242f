// DaemonSet metallb-speaker and its per-node Pods as the network lab writes them (speaker-pods.ts), against a real lab
// API server (no network namespaces needed: the speaker processes are stood in by their states, their logs by files)
// and, when found, the real kubectl running the runbook's commands. test/e2e/lab-network-speaker-pods.test.ts runs the
// same with `berth lab --network` and real speakers (root).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { connect } from '../../kube/connect.ts';
import { startTestLab } from '../testing.ts';
import { LAB_SPEAKER_DAEMONSET, labSpeakerDaemonSet, SpeakerPods, speakerLogFile, speakerPod, speakerPodName, speakerPodStatus, type SpeakerProcessState } from './speaker-pods.ts';

const N1 = { name: 'n1', ipv4: '198.51.100.11', ipv6: '2001:db8:51::11' };
const N2 = { name: 'n2', ipv4: '198.51.100.12', ipv6: '2001:db8:51::12' };

test("labSpeakerDaemonSet: gitops/base's metallb-speaker, its selector unchanged, annotated as the lab's", () => {
  const base = parseDocument(readFileSync(new URL('../../../gitops/base/speaker/daemonset.yaml', import.meta.url), 'utf8')).toJS() as { spec: { selector: unknown } };
  const ds = labSpeakerDaemonSet('metallb-system');
  assert.equal(ds.metadata?.name, LAB_SPEAKER_DAEMONSET);
  assert.deepEqual((ds['spec'] as { selector: unknown }).selector, base.spec.selector);
  assert.deepEqual(ds.metadata?.labels, { 'app.kubernetes.io/name': 'metallb', 'app.kubernetes.io/component': 'speaker' });
  assert.ok(ds.metadata?.annotations?.['berth.io/lab']);
  assert.ok(JSON.parse(ds.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] ?? '') as unknown);
});

test('speakerPodName: stable per node, distinct between nodes, a valid Pod name', () => {
  assert.equal(speakerPodName('n1'), speakerPodName('n1'));
  assert.notEqual(speakerPodName('n1'), speakerPodName('n2'));
  assert.match(speakerPodName('n1'), /^metallb-speaker-[a-z0-9]{5}$/);
  assert.equal(speakerLogFile('/d', 'n1'), '/d/speaker-n1.log');
});

test("speakerPod: the template's labels and spec on the node, owned by the DaemonSet", () => {
  const ds = { ...labSpeakerDaemonSet('metallb-system'), metadata: { ...labSpeakerDaemonSet('metallb-system').metadata, uid: 'u1' } };
  const pod = speakerPod(ds, N1);
  assert.equal((pod['spec'] as { nodeName: string }).nodeName, 'n1');
  assert.equal((pod['spec'] as { hostNetwork: boolean }).hostNetwork, true);
  assert.equal(pod.metadata?.labels?.['app.kubernetes.io/component'], 'speaker');
  assert.deepEqual(pod.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid, o.controller]), [['DaemonSet', 'metallb-speaker', 'u1', true]]);
});

test('speakerPodStatus: Running and Ready while the process runs; terminated with the signal and not Ready once killed', () => {
  const up = speakerPodStatus(N1, { pid: 7, exited: false, exitCode: null, exitSignal: null }, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z');
  const cond = (s: Record<string, unknown>, type: string) => (s['conditions'] as Array<{ type: string; status: string }>).find((c) => c.type === type)?.status;
  assert.equal(up['phase'], 'Running');
  assert.equal(cond(up, 'Ready'), 'True');
  assert.equal(up['podIP'], '198.51.100.11');
  assert.deepEqual(up['podIPs'], [{ ip: '198.51.100.11' }, { ip: '2001:db8:51::11' }]);
  const down = speakerPodStatus(N1, { pid: 7, exited: true, exitCode: 137, exitSignal: 'SIGKILL' }, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z');
  assert.equal(cond(down, 'Ready'), 'False');
  const cs = (down['containerStatuses'] as Array<{ ready: boolean; state: { terminated?: { exitCode: number; signal?: number; reason: string; message: string } } }>)[0]!;
  assert.equal(cs.ready, false);
  assert.equal(cs.state.terminated?.exitCode, 137);
  assert.equal(cs.state.terminated?.signal, 9);
  assert.equal(cs.state.terminated?.reason, 'Error');
  assert.match(cs.state.terminated?.message ?? '', /pid 7 killed by SIGKILL/);
});

test('SpeakerPods on a real lab: one Pod per node, kubectl logs daemonset/metallb-speaker reads the node log, a killed speaker is not Ready', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-speaker-pods-'));
  const lab = await startTestLab({
    dir: join(dir, 'lab'),
    nodes: 0,
    processLogs: { namespace: 'metallb-system', containers: {}, nodeContainers: { speaker: (node) => speakerLogFile(dir, node) } },
  });
  const conn = await connect({ kubeconfig: lab.lab.kubeconfigPath, component: 'speaker-pods-test' });
  t.after(async () => {
    if (conn.ok) conn.kube.close();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(conn.ok);
  const client = conn.kube.client;
  const applied = await lab.kubectl(['create', 'namespace', 'metallb-system']);
  assert.equal(applied.code === 0 || !lab.kubectlPath, true, applied.stderr);
  if (!lab.kubectlPath) {
    // Without kubectl the namespace comes from the API directly.
    const ns = await client.create({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }, { metadata: { name: 'metallb-system' } });
    assert.ok(ns.ok);
  }
  writeFileSync(speakerLogFile(dir, 'n1'), 'speaker: ready n1\n');
  writeFileSync(speakerLogFile(dir, 'n2'), 'speaker: ready n2\n');
  const logs: string[] = [];
  const pods = new SpeakerPods(client, 'metallb-system', [N1, N2], (l) => logs.push(l));
  await pods.start();
  const p1: SpeakerProcessState = { pid: 101, exited: false, exitCode: null, exitSignal: null };
  const p2: SpeakerProcessState = { pid: 102, exited: false, exitCode: null, exitSignal: null };
  await pods.running('n1', p1);
  await pods.running('n2', p2);
  assert.deepEqual(logs, []);

  const podList = await client.list({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true }, { namespace: 'metallb-system', labelSelector: 'app.kubernetes.io/component=speaker' });
  assert.ok(podList.ok);
  const byNode = new Map(podList.value.items.map((p) => [(p['spec'] as { nodeName: string }).nodeName, p]));
  assert.deepEqual([...byNode.keys()].sort(), ['n1', 'n2']);

  // The workload controller leaves them alone (no Pod IP of its own, no status rewrite): still the node's address.
  await new Promise((r) => setTimeout(r, 500));
  const again = await client.get({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true }, speakerPodName('n1'), 'metallb-system');
  assert.ok(again.ok);
  assert.equal((again.value['status'] as { podIP: string }).podIP, '198.51.100.11');

  // The speaker of n2 is killed.
  Object.assign(p2, { exited: true, exitCode: 137, exitSignal: 'SIGKILL' });
  await pods.exited('n2', p2);
  assert.deepEqual(logs, []);
  const ds = await client.get({ group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true }, LAB_SPEAKER_DAEMONSET, 'metallb-system');
  assert.ok(ds.ok);
  assert.deepEqual([(ds.value['status'] as { desiredNumberScheduled: number }).desiredNumberScheduled, (ds.value['status'] as { numberReady: number }).numberReady], [2, 1]);

  if (!lab.kubectlPath) return t.skip('kubectl not found: the runbook commands were not run (scripts/fetch-kubectl.sh)');
  const k = async (args: string[]): Promise<string> => {
    const r = await lab.kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const first = await k(['logs', '-n', 'metallb-system', 'daemonset/metallb-speaker']);
  assert.match(first, /^speaker: ready n[12]\n$/);
  assert.equal(await k(['logs', '-n', 'metallb-system', speakerPodName('n2')]), 'speaker: ready n2\n');
  assert.equal(await k(['logs', '-n', 'metallb-system', speakerPodName('n1'), '-c', 'speaker']), 'speaker: ready n1\n');
  const described = await k(['describe', 'pod', '-n', 'metallb-system', '-l', 'app.kubernetes.io/component=speaker']);
  assert.equal(described.match(/^Name: /gm)?.length, 2, described);
  assert.match(described, /Node:\s+n1\//);
  assert.match(described, /Node:\s+n2\//);
  const table = await k(['get', 'pods', '-n', 'metallb-system', '-o', 'wide']);
  const row = (node: string) => table.split('\n').find((l) => l.startsWith(speakerPodName(node))) ?? '';
  assert.match(row('n1'), /1\/1\s+Running/);
  assert.match(row('n2'), /0\/1\s+/);
  assert.match(row('n2'), /198\.51\.100\.12/);
  const ready = await k(['get', 'pod', '-n', 'metallb-system', speakerPodName('n2'), '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
  assert.equal(ready, 'False');
});
