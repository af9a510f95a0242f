// `berth lab --network` as a user runs it (root): Pod IPs stay off the layer-2 segment (not the client's, a node's
// or a pool address), a speaker that dies is reported with its signal, and after a SIGKILL of the lab its
// forwarders (src/lab/network/forwarder-main.ts, one per node namespace) exit instead of staying reparented.
// Real processes: `berth lab --network --nodes 1` (src/cli/main.ts), kubectl, ip netns. Skips without root/netns
// or kubectl. Cleans its namespaces and run record itself (by prefix), and kills its leftover children by pid.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import ipaddr from 'ipaddr.js';
import { NETWORK_SERVICE_CIDRS, networkSupport, run, SEGMENT } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { alive, BERTH_MAIN, killQuietly, removeLabNetwork } from '../helpers/lab-process.ts';

/** Pids in namespace `ns` whose command line runs the forwarder. */
async function forwardersIn(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns]);
  const out: number[] = [];
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('forwarder-main')) out.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

test('berth lab --network: Pod IPs off the segment, a dead speaker reported, forwarders gone after SIGKILL of the lab', { timeout: 300_000 }, async (t) => {
  const support = await networkSupport();
  if (!support.ok) return t.skip(support.reason);
  const kubectl = findKubectl();
  if (!kubectl) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
  const dir = mkdtempSync(join(tmpdir(), 'berth-labnet-'));
  // Set once the lab runs (the cleanup below reads them).
  const run_: { lab?: NodeProcess; prefix?: string } = {};
  const leftovers: number[] = [];
  t.after(async () => {
    const prefix = run_.prefix;
    await run_.lab?.stop('SIGKILL');
    for (const pid of leftovers) killQuietly(pid);
    if (prefix) await removeLabNetwork(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const lab = spawnNode(BERTH_MAIN, ['lab', '--network', '--nodes', '1', '--no-webhook', '--dir', dir]);
  run_.lab = lab;
  await lab.waitFor(/berth lab: ready/, 180_000);
  const out = lab.output();
  run_.prefix = /network (berth[0-9a-z]+),/.exec(out)?.[1];
  assert.ok(run_.prefix, out);
  const controllerPid = Number(/berth lab: controller pid (\d+)/.exec(out)?.[1]);
  leftovers.push(controllerPid);
  const node = /nodes: n1 (\S+) \S+ \S+ speaker pid (\d+)/.exec(out);
  assert.ok(node, out);
  const [nodeNs, speakerPid] = [node[1]!, Number(node[2])];
  leftovers.push(speakerPid);

  // Pods: three replicas, each IP outside 198.51.100.0/24 and 2001:db8:51::/64.
  const kc = join(dir, 'kubeconfig');
  const k = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(kubectl, [`--kubeconfig=${kc}`, `--cache-dir=${join(dir, 'kcache')}`, '--request-timeout=20s', ...args], { timeout: 60_000 }, (e, o, er) =>
        resolve({ code: e ? 1 : 0, stdout: String(o), stderr: String(er) }),
      ),
    );
  const created = await k(['create', 'deployment', 'web', '--image=nginx', '--replicas=3']);
  assert.equal(created.code, 0, created.stderr);
  let ips: string[] = [];
  for (let i = 0; i < 150 && ips.length < 6; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const pods = JSON.parse((await k(['get', 'pods', '-o', 'json'])).stdout || '{"items":[]}') as { items: Array<{ status?: { podIPs?: Array<{ ip: string }> } }> };
    ips = pods.items.flatMap((p) => (p.status?.podIPs ?? []).map((x) => x.ip));
  }
  assert.equal(ips.length, 6, `3 dual-stack Pods: ${ips.join(' ')}`);
  const seg4 = ipaddr.parseCIDR(`${SEGMENT.ipv4Prefix}0/${SEGMENT.ipv4Length}`);
  const seg6 = ipaddr.parseCIDR(`${SEGMENT.ipv6Prefix}/${SEGMENT.ipv6Length}`);
  for (const ip of ips) {
    const a = ipaddr.parse(ip);
    assert.equal(a.kind() === 'ipv4' ? a.match(seg4) : a.match(seg6), false, `Pod IP ${ip} is on the lab segment`);
  }

  // ClusterIPs (also default/kubernetes') come from the network lab's documentation ranges, never 10.96.0.0/12.
  const dualFile = join(dir, 'dual.yaml');
  writeFileSync(
    dualFile,
    'apiVersion: v1\nkind: Service\nmetadata: { name: dual }\nspec: { ipFamilyPolicy: RequireDualStack, ports: [{ port: 80 }] }\n',
  );
  const dual = await k(['apply', '-f', dualFile]);
  assert.equal(dual.code, 0, dual.stderr);
  const svcs = JSON.parse((await k(['get', 'services', '-A', '-o', 'json'])).stdout || '{"items":[]}') as {
    items: Array<{ metadata: { namespace: string; name: string }; spec: { clusterIPs?: string[] } }>;
  };
  const clusterIPs = svcs.items.flatMap((s) => (s.spec.clusterIPs ?? []).map((ip) => `${s.metadata.namespace}/${s.metadata.name} ${ip}`));
  assert.ok(clusterIPs.some((x) => x.startsWith('default/kubernetes ')), `default/kubernetes has a ClusterIP: ${clusterIPs.join(', ')}`);
  assert.equal(clusterIPs.filter((x) => x.startsWith('default/dual ')).length, 2, `dual-stack Service dual: ${clusterIPs.join(', ')}`);
  for (const x of clusterIPs) {
    const ip = ipaddr.parse(x.split(' ')[1]!);
    const range = ip.kind() === 'ipv4' ? NETWORK_SERVICE_CIDRS.ipv4 : NETWORK_SERVICE_CIDRS.ipv6;
    assert.ok(ip.match(ipaddr.parseCIDR(range)), `ClusterIP ${x} is outside ${range}`);
  }

  // A speaker killed by a signal is reported like the controller and the webhook.
  process.kill(speakerPid, 'SIGKILL');
  const m = await lab.waitFor(/berth lab: speaker n1 \(pid (\d+)\) (.*); see (\S+)/, 30_000);
  assert.deepEqual([Number(m[1]), m[2]], [speakerPid, 'killed by SIGKILL']);
  assert.match(m[3]!, /speaker-n1\.log$/);

  // SIGKILL of the lab: its forwarders notice (stdin closed) and exit.
  const forwarders = await forwardersIn(nodeNs);
  assert.equal(forwarders.length, 1, `one forwarder in ${nodeNs}`);
  leftovers.push(...forwarders);
  process.kill(lab.pid, 'SIGKILL');
  await lab.done;
  for (let i = 0; i < 100 && forwarders.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(forwarders.filter(alive), [], 'forwarders still running after the lab was SIGKILLed');
});
