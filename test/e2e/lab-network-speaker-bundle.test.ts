// `berth lab --network --speaker bundle` as a user runs it (root), the README's "Watching layer 2 work" steps: the
// lab builds its speakers' bundle (dist/berth-lab-<hash>.mjs, src/lab/network/lab-bundle.ts), each node namespace's
// speaker runs it under plain node (no tsx), `kubectl create deployment` + `kubectl expose --type=LoadBalancer` gives
// the Service an IPv4 address from pool lab-l2, a real `arping` from the client namespace gets exactly one answer,
// from the MAC of the node MetalLB's election picks, and `berth status` (and `berth status default/web`) names that
// node. Ctrl-C (SIGINT) stops the lab and deletes its namespaces. Real processes: `berth lab` (src/cli/main.ts),
// kubectl, arping, ip netns. Skips without root/netns, arping or kubectl; removes its namespaces, run record, bundle
// files and leftover pids itself.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bundleFiles } from '../../image/bundle.ts';
import { labBundleFile } from '../../src/lab/network/lab-bundle.ts';
import { inNamespace, namespacesOf } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { metallbOrder } from '../../src/speaker/election.ts';
import { BERTH_MAIN, killQuietly, removeLabNetwork } from '../helpers/lab-process.ts';
import { until } from '../helpers/poll.ts';
import { l2SkipReason } from './speaker-l2-harness.ts';

const skip = (await l2SkipReason()) ?? (findKubectl() ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
if (skip) process.stdout.write(`# skipping berth lab --network --speaker bundle: ${skip}\n`);

test('berth lab --network --speaker bundle: image-mode speakers, one ARP answer for the Service IP, from the elected node', { skip, timeout: 420_000 }, async (t) => {
  const kubectl = findKubectl()!;
  const dir = mkdtempSync(join(tmpdir(), 'berth-labbundle-'));
  const state: { lab?: NodeProcess; prefix?: string; pids: number[] } = { pids: [] };
  t.after(async () => {
    await state.lab?.stop('SIGKILL');
    for (const pid of state.pids) killQuietly(pid);
    if (state.prefix) await removeLabNetwork(state.prefix);
    let files: string[] = [];
    try {
      files = bundleFiles(labBundleFile(dir));
    } catch {
      // never built
    }
    for (const f of files) rmSync(f, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const lab = spawnNode(BERTH_MAIN, ['lab', '--network', '--speaker', 'bundle', '--nodes', '2', '--no-webhook', '--dir', dir]);
  state.lab = lab;
  await lab.waitFor(/berth lab: ready/, 360_000);
  const out = lab.output();
  state.prefix = /network (berth[0-9a-z]+),/.exec(out)?.[1];
  assert.ok(state.prefix, out);
  assert.match(out, /berth lab: ready \(controller only, no webhook \+ network berth[0-9a-z]+, 2 speakers \(bundle\)\)/);
  assert.match(out, /network: speakers as the image runs them: node \S+berth-lab-[0-9a-f]{8}\.mjs speaker/);
  state.pids.push(Number(/berth lab: controller pid (\d+)/.exec(out)?.[1]));
  const clientNs = `${state.prefix}-client`;
  const nodes = [...out.matchAll(/(n\d) (\S+) (\S+) ([0-9a-f:]{17}) speaker pid (\d+)/g)].map((m) => ({ name: m[1]!, ns: m[2]!, mac: m[4]!, pid: Number(m[5]) }));
  assert.deepEqual(nodes.map((n) => n.name), ['n1', 'n2'], out);
  state.pids.push(...nodes.map((n) => n.pid));
  const bundle = labBundleFile(dir);
  for (const n of nodes) {
    const argv = readFileSync(`/proc/${n.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv.slice(argv.indexOf(bundle), argv.indexOf(bundle) + 4), [bundle, 'speaker', '--node-name', n.name], `${n.name}: ${argv.join(' ')}`);
    assert.ok(!argv.some((a) => a.includes('tsx')), `${n.name} runs without tsx: ${argv.join(' ')}`);
  }

  // The README's commands.
  const kc = join(dir, 'kubeconfig');
  const k = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(kubectl, [`--kubeconfig=${kc}`, `--cache-dir=${join(dir, 'kcache')}`, '--request-timeout=20s', ...args], { timeout: 60_000 }, (e, o, er) =>
        resolve({ code: e ? 1 : 0, stdout: String(o), stderr: String(er) }),
      ),
    );
  for (const args of [
    ['create', 'deployment', 'web', '--image=nginx', '--replicas=2'],
    ['expose', 'deployment', 'web', '--type=LoadBalancer', '--port=80'],
  ]) {
    const r = await k(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  }
  const ip = await until(
    'Service web to get an IPv4 address',
    async () => {
      const r = await k(['get', 'svc', 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']);
      return r.stdout.split(/\s+/).find((a) => /^198\.51\.100\.\d+$/.test(a));
    },
    60_000,
    300,
  );
  const owner = metallbOrder(ip, nodes.map((n) => ({ name: n.name, score: 0 })))[0]!;
  const ownerMac = nodes.find((n) => n.name === owner)!.mac;
  // As the README: `arping -c 3 -I eth0 <IP>`; each request answered once, always by the owner.
  let last = '';
  await until(
    `the owner ${owner} (${ownerMac}) answering ${ip}`,
    async () => {
      const r = await inNamespace(clientNs, 'arping', ['-c', '1', '-w', '2', '-I', 'eth0', ip], 20_000);
      last = r.stdout;
      return r.stdout.toLowerCase().includes(ownerMac) ? true : undefined;
    },
    60_000,
    300,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}; last arping:\n${last}`);
  });
  const r = await inNamespace(clientNs, 'arping', ['-b', '-c', '3', '-w', '5', '-I', 'eth0', ip], 20_000);
  const replies = [...r.stdout.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase());
  assert.deepEqual(replies, [ownerMac, ownerMac, ownerMac], `three broadcast requests, one answer each, from ${owner}:\n${r.stdout}`);
  assert.match(r.stdout, /Received 3 response\(s\)/);

  // berth status (the lab prints the command with its kubeconfig) names the announcing node.
  const status = spawnNode(BERTH_MAIN, ['status', '--kubeconfig', kc]);
  await status.done;
  assert.match(status.output(), new RegExp(`default\\s+web\\s+${ip.replaceAll('.', '\\.')}\\S*\\s+lab-l2\\s+layer2: ${owner}\\b`), status.output());
  const one = spawnNode(BERTH_MAIN, ['status', 'default/web', '--kubeconfig', kc]);
  assert.equal(await one.done, 0, one.output());
  assert.match(one.output(), /^Service default\/web$/m);
  assert.match(one.output(), new RegExp(`^ {2}announced by: +layer2: ${owner}$`, 'm'), one.output());
  const missing = spawnNode(BERTH_MAIN, ['status', 'nosuch', '--kubeconfig', kc]);
  assert.equal(await missing.done, 1);
  assert.match(missing.output(), /no LoadBalancer Service named "nosuch" in any namespace \(there are: default\/web\)/);

  // Ctrl-C: everything it made is gone.
  process.kill(lab.pid, 'SIGINT');
  await lab.waitFor(/berth lab: stopped/, 60_000);
  await lab.done;
  assert.deepEqual(await namespacesOf(state.prefix), [], 'namespaces left after Ctrl-C');
});
