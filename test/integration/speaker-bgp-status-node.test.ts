// The speaker caches only its own node's ServiceBGPStatus objects (label metallb.io/node=<node>: src/speaker/main.ts;
// 3 nodes × 10,000 Services would otherwise be 30,000 cached objects per speaker, issue 9 RSS), and behaves as
// before: it writes its own object for the Service it announces, deletes its own stale object (a Service it does not
// announce), and leaves another node's objects alone (MetalLB deletes only its own). A real speaker (src/cli/main.ts,
// --dry-run-link, a BGPPeer at 127.0.0.1 on a port where nothing listens: the plan sends to it, the session stays
// down) against the lab API server. No root needed; skips without kubectl.
import assert from 'node:assert/strict';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { applyMetallbCrds, createBenchService, createInParallel, namespacesYaml } from '../../bench/lab-objects.ts';
import type { KubeObject } from '../../src/kube/client.ts';
import { connect } from '../../src/kube/connect.ts';
import { Resources } from '../../src/kube/resources.ts';
import { spawnNode } from '../../src/lab/processes.ts';
import { startTestLab } from '../../src/lab/testing.ts';

const NS = 'metallb-system';
const APP = 'app';
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A TCP port on 127.0.0.1 where nothing listens (≤ 16384, the BGPPeer schema's bound). */
async function unusedPort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 6_000);
    const free = await new Promise<boolean>((r) => {
      const s = net.createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (free) return port;
  }
}

const statusYaml = (name: string, node: string, service: string): string =>
  `apiVersion: metallb.io/v1beta1\nkind: ServiceBGPStatus\nmetadata: {name: ${name}, namespace: ${NS}, labels: ` +
  `{metallb.io/node: ${node}, metallb.io/service-name: ${service}, metallb.io/service-namespace: ${APP}}}\n`;

test("a speaker keeps its own ServiceBGPStatus objects up to date and leaves other nodes' alone", async (t) => {
  const lab = await startTestLab({ nodes: 0 });
  t.after(() => lab.stop());
  if (!lab.kubectlPath) return t.skip('kubectl not found');
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await lab.kubectl(args, input !== undefined ? { input } : {});
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await applyMetallbCrds(lab);
  const peerPort = await unusedPort();
  await kubectl(
    ['apply', '-f', '-'],
    `${namespacesYaml(NS, APP)}---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {addresses: [{type: InternalIP, address: 192.0.2.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {kubernetes.io/hostname: n2}}
status: {addresses: [{type: InternalIP, address: 192.0.2.2}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: ${NS}}
spec: {addresses: [198.51.100.0/24], autoAssign: false}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: ${NS}}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 127.0.0.1, peerPort: ${peerPort}, connectTime: 1s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: all, namespace: ${NS}}
spec: {ipAddressPools: [pool]}
---
${statusYaml('n2-svc-0', 'n2', 'svc-0')}---
${statusYaml('n2-gone', 'n2', 'gone')}---
${statusYaml('n1-gone', 'n1', 'gone')}`,
  );
  await createInParallel(lab, 1, (client, i) => createBenchService(client, APP, i, { ip: '198.51.100.10', family: 'IPv4', pool: 'pool', nodeName: 'n1' }));
  const api = await connect({ kubeconfig: lab.lab.kubeconfigPath, component: 'berth-test' });
  if (!api.ok) throw new Error(api.message);
  t.after(() => api.kube.close());
  const list = async (): Promise<KubeObject[]> => {
    const r = await api.kube.client.list<KubeObject>(Resources.serviceBGPStatuses, { namespace: NS });
    if (!r.ok) throw new Error(r.error.message);
    return r.value.items;
  };
  const before = new Map((await list()).map((o) => [o.metadata!.name!, o.metadata!.resourceVersion]));

  const speaker = spawnNode(
    MAIN,
    ['speaker', '--node-name', 'n1', '--namespace', NS, '--kubeconfig', lab.lab.kubeconfigPath, '--metrics-port', 'auto', '--metrics-host', '127.0.0.1', '--dry-run-link'],
    { role: 'speaker n1' },
  );
  t.after(() => speaker.stop('SIGTERM', 3000));
  await speaker.waitFor(/speaker: ready node=n1/, 60_000, { whileProgress: true });
  // n1's object for svc-0 written (with the peer), n1's stale one deleted.
  const deadline = Date.now() + 60_000;
  let objs: KubeObject[] = [];
  for (;;) {
    objs = await list();
    const mine = objs.filter((o) => o.metadata?.labels?.['metallb.io/node'] === 'n1');
    const ok = mine.length === 1 && mine[0]!.metadata?.labels?.['metallb.io/service-name'] === 'svc-0' && (mine[0] as { status?: { peers?: string[] } }).status?.peers?.[0] === 'router';
    if (ok) break;
    if (Date.now() > deadline) assert.fail(`n1's ServiceBGPStatus objects not as expected after 60 s: ${JSON.stringify(objs.map((o) => [o.metadata?.name, o.metadata?.labels, (o as { status?: unknown }).status]))}\n${speaker.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // n2's objects untouched (same resourceVersion), whether n1 announces their Service or not.
  for (const name of ['n2-svc-0', 'n2-gone']) {
    const o = objs.find((x) => x.metadata?.name === name);
    assert.ok(o, `${name} still exists`);
    assert.equal(o.metadata?.resourceVersion, before.get(name), `${name} not rewritten`);
  }
  assert.ok(!objs.some((o) => o.metadata?.name === 'n1-gone'), "n1's stale object deleted");
});
