// `berth speaker` as a real process against the lab API server, without a network namespace: `--dry-run-link` makes
// it open no socket (frames are recorded on a fake link), liveness is off (no --memberlist-bind), so every Node counts
// as a live speaker, as MetalLB without memberlist. The network half (real ARP/NDP in namespaces) is H6's harness.
// Checked: the ready line; /metrics with MetalLB's and berth's names; for a Service with a ready local endpoint on n1
// (ETP=Local): Normal event nodeAssigned, one ServiceL2Status (node n1, labels), metallb_speaker_announced = 1 and
// gratuitous packets; the API server stopped for a while withdraws nothing and the status object is kept (same name);
// the EndpointSlice going unready withdraws the IP and deletes the ServiceL2Status; SIGTERM exits 0; heartbeats that
// cannot bind fall back to "every Node is alive" (a speaker that hears nobody must not take every IP).
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { NodeProcess } from '../../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { metricValue } from '../helpers/metrics.ts';
import { freePort, httpGet } from '../helpers/net.ts';
import { until as poll } from '../helpers/poll.ts';
import { spawnSpeaker, speakerReady } from '../helpers/speaker-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NS = 'metallb-system';
const IP = '198.51.100.10';
const dir = mkdtempSync(join(tmpdir(), 'berth-speaker-e2e-'));
const skip = findKubectl() ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
let lab: TestLab | undefined;
let labPort = 0;
let speaker: NodeProcess | undefined;
let metricsPort = 0;

const get = (path: string): Promise<{ status: number; body: string }> =>
  httpGet(`http://127.0.0.1:${metricsPort}${path}`);

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await lab!.kubectl(args, input !== undefined ? { input } : {});
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const until = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> =>
  poll(what, fn, timeoutMs, 200, () => speaker?.output().slice(-3000) ?? '');

const ANNOUNCED = `metallb_speaker_announced{service="shop/web",protocol="layer2",node="n1",ip="${IP}"}`;

interface L2Status {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; ownerReferences?: Array<{ kind: string; name: string; uid: string }> };
  status?: { node?: string; serviceName?: string; serviceNamespace?: string };
}

async function l2Statuses(): Promise<L2Status[]> {
  return (JSON.parse(await kubectl(['get', 'servicel2statuses', '-n', NS, '-o', 'json'])) as { items: L2Status[] }).items;
}

function endpointSlice(ready: boolean): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints: [{addresses: [203.0.113.5], nodeName: n1, conditions: {ready: ${ready}}}]
ports: [{name: http, port: 8080, protocol: TCP}]
`;
}

before(async () => {
  if (skip) return;
  labPort = await freePort();
  lab = await startTestLab({ dir, port: labPort, persist: true, nodes: 0 });
  await kubectl(['apply', '-k', join(ROOT, 'gitops/base/crds')]);
  await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Namespace
metadata: {name: ${NS}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
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
metadata: {name: doc, namespace: ${NS}}
spec: {addresses: [198.51.100.0/28]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2, namespace: ${NS}}
spec: {ipAddressPools: [doc]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, annotations: {metallb.io/ip-allocated-from-pool: doc}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
  );
  // No controller here: the Service's IP is written as the controller would, through the status subresource.
  await kubectl(['patch', 'svc', 'web', '-n', 'shop', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: IP }] } } })]);
  await kubectl(['apply', '-f', '-'], endpointSlice(true));
});

after(async () => {
  await speaker?.stop('SIGKILL');
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('berth speaker: ready, announces the Service with a ready local endpoint, writes its ServiceL2Status and nodeAssigned', async (c) => {
  if (skip) return c.skip(skip);
  speaker = spawnSpeaker({
    node: 'n1',
    kubeconfig: lab!.lab.kubeconfigPath,
    env: { ...process.env, POD_NAME: 'metallb-speaker-abcde', POD_UID: '0b6c5f0e-0000-4000-8000-000000000001' },
  });
  metricsPort = await speakerReady(speaker, /speaker: ready node=n1 .*links=dry-run liveness=off/);
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);

  const metrics = await until('the announcement and its gratuitous packets', async () => {
    const m = (await get('/metrics')).body;
    return metricValue(m, ANNOUNCED) === 1 && (metricValue(m, `metallb_layer2_gratuitous_sent{ip="${IP}"}`) ?? 0) > 0 ? m : undefined;
  });
  for (const name of [
    'metallb_k8s_client_updates_total',
    'metallb_k8s_client_update_errors_total',
    'metallb_k8s_client_config_loaded_bool',
    'metallb_k8s_client_config_stale_bool',
    'metallb_layer2_requests_received',
    'metallb_layer2_responses_sent',
    'metallb_layer2_gratuitous_sent',
    'berth_l2_owner_changes_total',
    'berth_l2_failover_seconds',
    'berth_l2_ip_conflicts',
    'berth_l2_frames_dropped_total',
  ]) {
    assert.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.equal(metricValue(metrics, 'metallb_k8s_client_config_loaded_bool'), 1);

  const st = await until('the ServiceL2Status', async () => {
    const items = await l2Statuses();
    return items.length === 1 && items[0]!.status?.node === 'n1' ? items[0] : undefined;
  });
  assert.match(st.metadata.name, /^l2-/);
  assert.deepEqual(
    st.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid]),
    [['Pod', 'metallb-speaker-abcde', '0b6c5f0e-0000-4000-8000-000000000001']],
    'owned by the speaker Pod (downward API), as MetalLB',
  );
  assert.deepEqual(st.status, { node: 'n1', serviceName: 'web', serviceNamespace: 'shop' });
  assert.deepEqual(
    [st.metadata.labels?.['metallb.io/node'], st.metadata.labels?.['metallb.io/service-name'], st.metadata.labels?.['metallb.io/service-namespace']],
    ['n1', 'web', 'shop'],
  );
  const ev = await until('the nodeAssigned event', async () => {
    const list = JSON.parse(await kubectl(['get', 'events', '-n', 'shop', '-o', 'json'])) as {
      items: Array<{ reason: string; type: string; message: string; source?: { component?: string }; involvedObject: { kind: string; name: string } }>;
    };
    return list.items.find((e) => e.reason === 'nodeAssigned');
  });
  assert.equal(ev.type, 'Normal');
  assert.equal(ev.message, 'announcing from node "n1" with protocol "layer2"');
  assert.deepEqual([ev.involvedObject.kind, ev.involvedObject.name, ev.source?.component], ['Service', 'web', 'metallb-speaker']);
  // MetalLB's per-speaker ConfigurationState.
  const cs = await until('ConfigurationState speaker-n1', async () => {
    const o = JSON.parse(await kubectl(['get', 'configurationstates', 'speaker-n1', '-n', NS, '-o', 'json'])) as {
      metadata: { labels?: Record<string, string> };
      status?: { result?: string };
    };
    return o.status?.result ? o : undefined;
  });
  assert.equal(cs.status?.result, 'Valid');
  assert.equal(cs.metadata.labels?.['metallb.io/component-type'], 'speaker');
});

test('the API server stopped: nothing is withdrawn; back: the same ServiceL2Status, no extra write', async (c) => {
  if (skip) return c.skip(skip);
  assert.ok(lab && speaker, 'the first test left the lab and the speaker running');
  // Name and resourceVersion: the server's own proof that no write landed (the counter is the speaker's).
  const before = (await l2Statuses()).map((s) => [s.metadata.name, s.metadata.resourceVersion]);
  const writesBefore = metricValue((await get('/metrics')).body, 'metallb_k8s_client_updates_total') ?? 0;
  const logAt = speaker.output().length;
  // A write the speaker does not watch: the lab's last resourceVersion is then newer than every informer's, so after
  // the restart (no watch history survives it) each informer's watch gets 410 and relists, the proof waited for below.
  await kubectl(['create', 'configmap', 'after-the-speaker', '-n', 'shop']);
  await lab.stop();
  lab = undefined;
  await until('the speaker to notice the outage', async () => (/retrying/.test(speaker!.output().slice(logAt)) ? true : undefined));
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(speaker.exited, false);
  const during = (await get('/metrics')).body;
  assert.equal(metricValue(during, ANNOUNCED), 1, 'still announced while the API server is away');
  assert.doesNotMatch(speaker.output().slice(logAt), /"decision":"withdraw"/);

  const backAt = speaker.output().length;
  lab = await startTestLab({ dir, port: labPort, persist: true, nodes: 0 });
  // Proof that the speaker is reading the API server again: its informers' watches from before the restart get 410
  // and each relists; src/kube/informer.ts logs the end of a relist,
  // after the diff (here empty: the objects kept their resourceVersions) went to the speaker's handlers. Then the plan
  // is unchanged, so nothing is written: a speaker that wrote on relist moves metallb_k8s_client_updates_total.
  const mustRelist = ['nodes', 'services', 'endpointslices', 'namespaces', 'servicel2statuses', 'ipaddresspools', 'l2advertisements'];
  await until(`the informers of ${mustRelist.join(', ')} to relist`, async () => {
    const done = new Set([...speaker!.output().slice(backAt).matchAll(/informer ([a-z0-9]+): relisted at resourceVersion/g)].map((m) => m[1]));
    return mustRelist.every((r) => done.has(r)) ? true : undefined;
  });
  assert.deepEqual((await l2Statuses()).map((s) => [s.metadata.name, s.metadata.resourceVersion]), before);
  const afterText = (await get('/metrics')).body;
  assert.equal(metricValue(afterText, ANNOUNCED), 1);
  assert.equal(metricValue(afterText, 'metallb_k8s_client_updates_total'), writesBefore, 'no status write after a resync that changed nothing');
  assert.doesNotMatch(speaker.output().slice(logAt), /"decision":"withdraw"/);
});

test('the endpoint goes unready: the IP is withdrawn (noEndpoints) and the ServiceL2Status deleted; SIGTERM exits 0', async (c) => {
  if (skip) return c.skip(skip);
  assert.ok(lab && speaker);
  await kubectl(['apply', '-f', '-'], endpointSlice(false));
  await until('the withdraw', async () => (metricValue((await get('/metrics')).body, ANNOUNCED) === undefined ? true : undefined));
  // Waited for, not matched at once: the metrics (HTTP) and the log (a pipe) are two channels, and neither the
  // speaker nor this process orders them (a log line of the event-loop turn that withdrew goes out in that turn's
  // setImmediate flush, after an HTTP answer handled in the same poll phase; CI 2026-12-02 saw the answer first).
  await speaker.waitFor(/"decision":"withdraw".*"reason":"noEndpoints"/, 10_000);
  await until('the ServiceL2Status to be deleted', async () => ((await l2Statuses()).length === 0 ? true : undefined));
  assert.equal(await speaker.stop('SIGTERM'), 0);
  assert.match(speaker.output(), /speaker: SIGTERM, stopping[\s\S]*speaker: stopped/);
});

test('heartbeats that cannot bind (port taken): the speaker says so, counts every Node alive, keeps running', async (c) => {
  if (skip) return c.skip(skip);
  assert.ok(lab);
  const taken = dgram.createSocket('udp4');
  await new Promise<void>((r) => taken.bind(0, '127.0.0.1', () => r()));
  const port = taken.address().port;
  const p = spawnSpeaker({
    node: 'n2',
    kubeconfig: lab.lab.kubeconfigPath,
    metrics: false,
    args: ['--memberlist-bind', '127.0.0.1', '--memberlist-port', String(port)],
  });
  try {
    await p.waitFor(/created Secret metallb-system\/memberlist/, 60_000);
    await p.waitFor(/heartbeats cannot start on 127\.0\.0\.1:\d+: .*every Node counts as a live speaker/, 60_000);
    assert.equal(p.exited, false);
  } finally {
    assert.equal(await p.stop('SIGTERM'), 0);
    taken.close();
  }
});
