// Metric coverage: every metric name the alert rules, the seed's PromQL, the Grafana dashboard and docs/metrics.md use is
// exported by a running process of the lab. Starts the lab stack (API server + webhook + controller, dev pool `default`,
// src/cli/lab.ts startLabStack) and one `berth speaker` (node lab-node-1, --dry-run-link: no socket, frames recorded),
// creates with the real kubectl one Service that gets an IP (ETP=Local, a ready endpoint on lab-node-1 in an
// EndpointSlice, so this speaker owns and announces it), one the webhook denies, a BFDProfile, a BGPPeer with that
// profile pointing to a loopback address and port where nothing listens (the session stays down: a 0 sample of
// metallb_bgp_session_up / metallb_bfd_session_up is exported, which is what MetalLBBGPSessionDown watches) and a
// BGPAdvertisement; then scrapes the controller's /metrics (HTTP), the webhook's (HTTPS, loopback) and the speaker's.
// A name only counts when a process exports a sample of it. Names whose samples only exist after an event that this
// lab cannot produce without a real link are in AFTER_EVENT with that event: the speaker must declare them (# TYPE)
// and must not yet sample them (else the entry is stale and the test says so).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LAB_NAMESPACE, type LabStack } from '../../src/cli/lab.ts';
import type { NodeProcess } from '../../src/lab/processes.ts';
import { unusedPeerPort } from '../helpers/net.ts';
import { readyEndpointSlice, startLabStackInTempDir, stopLabStackInTempDir } from '../helpers/lab-stack.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { dashboardQueries } from '../../src/metrics/dashboard.ts';
import { AFTER_EVENT, alertRules, exported, REPO, seed000 } from './monitoring-files.ts';
import { eventually as poll } from '../e2e/controller-harness.ts';
import { runKubectl } from '../helpers/kubectl.ts';
import { metricValue } from '../helpers/metrics.ts';
import { spawnSpeaker, speakerMetricsPort } from '../helpers/speaker-process.ts';

const NAME = /\b((?:metallb|berth)_[a-z0-9_]+)\b/g;

function namesIn(text: string): string[] {
  return [...text.matchAll(NAME)].map((m) => m[1]!);
}

/** Metric names used, with where: the rules' expressions, the seed's PromQL block, docs/metrics.md. */
function usedNames(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const add = (name: string, where: string): void => {
    const s = used.get(name) ?? new Set<string>();
    s.add(where);
    used.set(name, s);
  };
  for (const r of alertRules()) for (const n of namesIn(r.expr)) add(n, `rule ${r.alert}`);
  const seed = seed000();
  if (seed) {
    const from = seed.indexOf('**Métriques clés**');
    const block = seed.slice(seed.indexOf('```promql', from), seed.indexOf('```\n', seed.indexOf('```promql', from) + 3));
    assert.ok(block.length > 0, 'seed 000: the "Métriques clés" promql block was not found');
    for (const n of namesIn(block)) add(n, 'seed 000 PromQL');
  }
  for (const q of dashboardQueries()) for (const n of namesIn(q)) add(n.replace(/_(bucket|sum|count)$/, ''), 'Grafana dashboard');
  // docs: names in backticks only (prose mentions of prefixes such as `metallb_bgp_*` are not names).
  const docs = readFileSync(join(REPO, 'docs/metrics.md'), 'utf8');
  for (const m of docs.matchAll(/`((?:metallb|berth)_[a-z0-9_]+)(?:\{[^`]*\})?`/g)) add(m[1]!, 'docs/metrics.md');
  return used;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

const eventually = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => poll(fn, what, timeoutMs);

const kubectlPath = findKubectl();
const NODE = 'lab-node-1';
/** The BGP/BFD peer: a loopback address where nothing runs (127.0.0.0/8 is all loopback on Linux). */
const PEER = '127.0.0.2';
let dir = '';
let stack: LabStack | undefined;
let speaker: NodeProcess | undefined;

const kubectl = (args: string[], input?: string): Promise<{ code: number; out: string }> =>
  runKubectl(kubectlPath!, stack!.lab.kubeconfigPath, dir, args, input);

/** A TCP port on PEER nothing listens on (BGPPeer peerPort is at most 16384). */
const unusedPort = (): Promise<number> => unusedPeerPort(PEER);

const svc = (name: string, annotations: Record<string, string> = {}): string =>
  `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: ${JSON.stringify(annotations)}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80, protocol: TCP}]
`;

const endpointSlice = (service: string): string => readyEndpointSlice(service, NODE);

const bgpObjects = (peerPort: number): string => `apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: coverage-bfd, namespace: ${LAB_NAMESPACE}}
spec: {receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: coverage-peer, namespace: ${LAB_NAMESPACE}}
spec: {myASN: 64500, peerASN: 64501, peerAddress: ${PEER}, peerPort: ${peerPort}, bfdProfile: coverage-bfd, connectTime: 1s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: coverage-bgp, namespace: ${LAB_NAMESPACE}}
spec: {ipAddressPools: [default]}
`;

before(async () => {
  if (!kubectlPath) return;
  ({ dir, stack } = await startLabStackInTempDir('berth-metric-coverage-'));
});

after(async () => {
  await stopLabStackInTempDir({ speaker, stack, dir });
});

test('every metric name used by the rules, the seed, the dashboard and docs/metrics.md is exported by the lab controller, webhook or speaker', { skip: kubectlPath ? false : 'kubectl not found' }, async (t) => {
  const s = stack!;
  const peerPort = await unusedPort();
  // The speaker first (it starts while kubectl runs; it watches, so the objects may come later).
  speaker = spawnSpeaker({
    node: NODE,
    kubeconfig: s.lab.kubeconfigPath,
    args: ['--namespace', LAB_NAMESPACE],
    logFile: join(dir, 'speaker.log'),
  });
  const allowed = await kubectl(['apply', '-f', '-'], [svc('coverage-ok'), endpointSlice('coverage-ok'), bgpObjects(peerPort)].join('---\n'));
  assert.equal(allowed.code, 0, allowed.out);
  const denied = await kubectl(['apply', '-f', '-'], svc('coverage-denied', { 'metallb.io/loadBalancerIPs': '192.0.2.9' }));
  assert.notEqual(denied.code, 0, `a Service asking for 192.0.2.9 (outside every pool) was accepted:\n${denied.out}`);
  assert.match(denied.out, /denied the request/);

  const speakerPort = await speakerMetricsPort(speaker);

  const controllerUrl = `http://127.0.0.1:${s.controller!.metricsPort!}/metrics`;
  const webhookUrl = `https://127.0.0.1:${s.webhookPort!}/metrics`;
  const speakerUrl = `http://127.0.0.1:${speakerPort}/metrics`;
  // The controller has reconciled the Service: the pool gauge counts its IP, and the claim cache its claim.
  const controllerText = await eventually('metallb_allocator_addresses_in_use_total and berth_claims_held {pool="default"} 1 on the controller', async () => {
    const text = await get(controllerUrl);
    const ok = /^metallb_allocator_addresses_in_use_total\{pool="default"\} 1$/m.test(text) && /^berth_claims_held\{pool="default"\} 1$/m.test(text);
    return ok ? text : undefined;
  });
  const webhookText = await get(webhookUrl);
  assert.match(webhookText, /^berth_webhook_decisions_total\{webhook="mutate-service",result="allowed",reason="none"\} [1-9]/m);
  assert.match(webhookText, /^berth_webhook_decisions_total\{webhook="mutate-service",result="denied",reason="LB_[A-Z_]+"\} [1-9]/m);
  // The speaker announces the Service's IP from lab-node-1 (layer 2, gratuitous packets on the dry-run link), and holds
  // a BGP session and a BFD session towards PEER, both down (nothing answers there).
  const ip = await eventually('coverage-ok to have its IP in status', async () => {
    const r = await kubectl(['get', 'svc', 'coverage-ok', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    return r.code === 0 && r.out.trim() !== '' ? r.out.trim() : undefined;
  });
  const bgpPeer = `${PEER}:${peerPort}`;
  const speakerText = await eventually(`the speaker: ${ip} announced with gratuitous packets, BGP session ${bgpPeer} and BFD session ${PEER} sampled`, async () => {
    const text = await get(speakerUrl);
    const ok =
      metricValue(text, `metallb_speaker_announced{service="default/coverage-ok",protocol="layer2",node="${NODE}",ip="${ip}"}`) === 1 &&
      (metricValue(text, `metallb_layer2_gratuitous_sent{ip="${ip}"}`) ?? 0) > 0 &&
      metricValue(text, `metallb_bgp_session_up{peer="${bgpPeer}"}`) !== undefined &&
      new RegExp(`^metallb_bfd_session_up\\{peer="${PEER.replace(/\./g, '\\.')}",vrf="[^"]*"\\} [01]$`, 'm').test(text);
    return ok ? text : undefined;
  }, 60_000).catch((e: unknown) => {
    throw new Error(`${String(e)}\nspeaker output:\n${speaker!.output().slice(-4000)}`);
  });
  assert.equal(metricValue(speakerText, `metallb_bgp_session_up{peer="${bgpPeer}"}`), 0, 'nothing listens on the peer: the session is down');
  t.diagnostic(`speaker: metallb_bfd_session_up ${/^metallb_bfd_session_up\{[^\n]*$/m.exec(speakerText)?.[0] ?? ''}`);

  const byProcess = { controller: exported(controllerText), webhook: exported(webhookText), speaker: exported(speakerText) };
  const used = usedNames();
  for (const n of ['metallb_allocator_addresses_in_use_total', 'metallb_allocator_addresses_total', 'metallb_bgp_session_up', 'metallb_speaker_announced']) {
    assert.ok(used.has(n), `${n} is used by the rules/seed/dashboard/docs: ${[...used.keys()].join(' ')}`);
  }
  const missing: string[] = [];
  for (const [name, where] of [...used].sort(([a], [b]) => a.localeCompare(b))) {
    const by = Object.entries(byProcess).filter(([, names]) => names.has(name)).map(([p]) => p);
    const line = `${name} (${[...where].join(', ')})`;
    const event = AFTER_EVENT.get(name);
    if (event !== undefined) {
      assert.deepEqual(by, [], `${name} is listed in AFTER_EVENT but is sampled by ${by.join(', ')}: remove it from AFTER_EVENT`);
      assert.match(speakerText, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), `${name}: the speaker does not declare it`);
      t.diagnostic(`declared by the speaker, sampled once ${event}: ${line}`);
    } else if (by.length === 0) missing.push(line);
    else t.diagnostic(`exported by ${by.join(' and ')}: ${line}`);
  }
  for (const name of AFTER_EVENT.keys()) assert.ok(used.has(name), `AFTER_EVENT lists ${name}, which nothing uses: remove it`);
  assert.deepEqual(missing, [], `used but exported by no lab process:\n${missing.join('\n')}`);
});
