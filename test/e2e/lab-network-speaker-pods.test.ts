// The seeds' speaker troubleshooting commands in `berth lab --network` (root): the lab stands its per-node speaker
// processes in as DaemonSet metallb-speaker (src/lab/network/speaker-pods.ts), so `kubectl logs -n metallb-system
// daemonset/metallb-speaker` shows the speaker's log lines, `kubectl describe pod -l app.kubernetes.io/component=speaker`
// one Pod per node, `kubectl get pods` lists them Running with the node's address, and a SIGKILLed speaker's Pod is
// no longer Ready. Real processes: `berth lab --network --nodes 1` (src/cli/main.ts), real speaker, kubectl, ip netns.
// Skips without root/netns or kubectl. Cleans its namespaces and run record itself (by prefix).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { networkSupport } from '../../src/lab/network/topology.ts';
import { speakerPodName } from '../../src/lab/network/speaker-pods.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { killQuietly, removeLabNetwork, spawnLab } from '../helpers/lab-process.ts';

test('berth lab --network: kubectl logs daemonset/metallb-speaker, describe/get the speaker Pods, a killed speaker is not Ready', { timeout: 300_000 }, async (t) => {
  const support = await networkSupport();
  if (!support.ok) return t.skip(support.reason);
  const kubectl = findKubectl();
  if (!kubectl) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
  const { lab, dir, kids } = spawnLab(t, 'berth-labnet-pods-', ['--network', '--nodes', '1', '--no-webhook']);
  const net: { prefix?: string } = {};
  t.after(async () => {
    if (net.prefix) await removeLabNetwork(net.prefix);
  });
  await lab.waitFor(/berth lab: ready/, 180_000);
  const out = lab.output();
  net.prefix = /network (berth[0-9a-z]+),/.exec(out)?.[1];
  assert.ok(net.prefix, out);
  kids.push(Number(/berth lab: controller pid (\d+)/.exec(out)?.[1]));
  const node = /nodes: n1 (\S+) (\S+) \S+ speaker pid (\d+)/.exec(out);
  assert.ok(node, out);
  const [nodeIp, speakerPid] = [node[2]!, Number(node[3])];
  kids.push(speakerPid);

  const k = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(kubectl, [`--kubeconfig=${join(dir, 'kubeconfig')}`, `--cache-dir=${join(dir, 'kcache')}`, '--request-timeout=20s', ...args], { timeout: 60_000 }, (e, o, er) =>
        resolve({ code: e ? 1 : 0, stdout: String(o), stderr: String(er) }),
      ),
    );
  const ok = async (args: string[]): Promise<string> => {
    const r = await k(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  // The seed's three commands.
  const logs = await ok(['logs', '-n', 'metallb-system', 'daemonset/metallb-speaker']);
  assert.match(logs, /speaker: ready/, logs);
  assert.equal(logs, readFileSync(join(dir, 'speaker-n1.log'), 'utf8'), "the node's speaker log file");
  const described = await ok(['describe', 'pod', '-n', 'metallb-system', '-l', 'app.kubernetes.io/component=speaker']);
  assert.equal(described.match(/^Name: /gm)?.length, 1, described);
  assert.match(described, new RegExp(`^Name:\\s+${speakerPodName('n1')}$`, 'm'));
  assert.match(described, new RegExp(`^Node:\\s+n1/${nodeIp.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(described, /Controlled By:\s+DaemonSet\/metallb-speaker/);
  const table = await ok(['get', 'pods', '-n', 'metallb-system', '-o', 'wide']);
  const row = table.split('\n').find((l) => l.startsWith(speakerPodName('n1'))) ?? '';
  assert.match(row, /1\/1\s+Running/, table);
  assert.ok(row.includes(nodeIp), `podIP is the node's address ${nodeIp}: ${row}`);
  assert.ok(table.split('\n').some((l) => l.startsWith('metallb-controller-')), `the controller is listed too: ${table}`);

  // SIGKILL of the speaker: its Pod is no longer Ready, its container terminated by signal 9.
  process.kill(speakerPid, 'SIGKILL');
  await lab.waitFor(/berth lab: speaker n1 \(pid \d+\) killed by SIGKILL/, 30_000);
  const jp = '{.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].state.terminated.signal}';
  let state = '';
  for (let i = 0; i < 100 && state !== 'False 9'; i++) {
    state = await ok(['get', 'pod', '-n', 'metallb-system', speakerPodName('n1'), '-o', `jsonpath=${jp}`]);
    if (state !== 'False 9') await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(state, 'False 9');
  const ds = await ok(['get', 'daemonset', '-n', 'metallb-system', 'metallb-speaker', '-o', 'jsonpath={.status.desiredNumberScheduled} {.status.numberReady}']);
  assert.equal(ds, '1 0');
  assert.doesNotMatch(lab.output(), /speaker pods: /, 'no failed write of the speaker Pods');
  killQuietly(speakerPid);
});
