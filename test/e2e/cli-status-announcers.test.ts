// `berth status` lists in ANNOUNCED-BY only what really announces (fresh-user problem 2), against the `npm start` lab
// (API server, webhook, controller, dev pool `default` with L2Advertisement l2-advert) and one real
// `berth speaker --dry-run-link` on lab-node-1 with heartbeats on 127.0.0.1 (so it keeps its Lease); objects are
// created with the real kubectl:
// - l2svc: ETP=Local, endpoint on lab-node-1 → `layer2: lab-node-1`;
// - bgpsvc: pool bgp-pool (BGPAdvertisement only), BGPPeer router-bad on 127.0.0.2:<a port nothing listens on>: the
//   speaker writes a ServiceBGPStatus naming router-bad, the session never reaches Established (its Events: at most
//   BGPSessionConnectFailed) → the pair is marked `(not established)`, REASON sessionNotEstablished;
// - kill -9 of the speaker: its status objects stay; once its Lease is older than leaseDurationSeconds (the Lease is
//   back-dated here instead of waiting 40 s) → `layer2: lab-node-1 (speaker down)`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LAB_NAMESPACE, type LabStack } from '../../src/cli/lab.ts';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import type { NodeProcess } from '../../src/lab/processes.ts';
import { readyEndpointSlice, startLabStackInTempDir, stopLabStackInTempDir } from '../helpers/lab-stack.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { runKubectl } from '../helpers/kubectl.ts';
import { freeUdpPort, unusedPeerPort } from '../helpers/net.ts';
import { spawnSpeaker, speakerReady } from '../helpers/speaker-process.ts';
import { eventually } from './controller-harness.ts';

const kubectlPath = findKubectl();
const NODE = 'lab-node-1';
const PEER = '127.0.0.2';
let dir = '';
let stack: LabStack | undefined;
let speaker: NodeProcess | undefined;

const kubectl = (args: string[], input?: string): Promise<{ code: number; out: string }> =>
  runKubectl(kubectlPath!, stack!.lab.kubeconfigPath, dir, args, input);

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** A TCP port on PEER nothing listens on (BGPPeer peerPort is at most 16384). */
const unusedPort = (): Promise<number> => unusedPeerPort(PEER);

const svc = (name: string, port: number, pool?: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: ${JSON.stringify(pool ? { 'metallb.io/address-pool': pool } : {})}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: ${port}, protocol: TCP}]
---
${readyEndpointSlice(name, NODE)}`;

const bgpObjects = (peerPort: number): string => `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp-pool, namespace: ${LAB_NAMESPACE}}
spec: {addresses: [203.0.113.0/29], autoAssign: false}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router-bad, namespace: ${LAB_NAMESPACE}}
spec: {myASN: 64500, peerASN: 64501, peerAddress: ${PEER}, peerPort: ${peerPort}, connectTime: 1s}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgp-only, namespace: ${LAB_NAMESPACE}}
spec: {ipAddressPools: [bgp-pool]}
`;

interface StatusJson {
  services: Array<{
    name: string;
    ips: string[];
    announcedBy: { layer2: string[]; bgp: Array<{ node: string; peers: string[] }> };
    notAnnounced?: { reason: string; message: string };
    unconfirmed?: Array<{ mode: string; node: string; peer?: string; reason: string; message: string }>;
  }>;
}

before(async () => {
  if (!kubectlPath) return;
  ({ dir, stack } = await startLabStackInTempDir('berth-status-announcers-'));
});

after(async () => {
  await stopLabStackInTempDir({ speaker, stack, dir });
});

test('berth status: a BGP session never Established and a dead speaker are marked, not listed as announcing', { skip: kubectlPath ? false : 'kubectl not found', timeout: 240_000 }, async () => {
  const s = stack!;
  const [peerPort, udpPort] = await Promise.all([unusedPort(), freeUdpPort()]);
  speaker = spawnSpeaker({
    node: NODE,
    kubeconfig: s.lab.kubeconfigPath,
    args: ['--namespace', LAB_NAMESPACE, '--memberlist-bind', '127.0.0.1', '--memberlist-port', String(udpPort)],
    logFile: join(dir, 'speaker.log'),
  });
  await ok(['apply', '-f', '-'], bgpObjects(peerPort));
  await ok(['apply', '-f', '-'], [svc('l2svc', 80), svc('bgpsvc', 81, 'bgp-pool')].join('---\n'));
  await speakerReady(speaker);

  const status = async (): Promise<Map<string, StatusJson['services'][number]>> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath, '-o', 'json'], io), 0, io.stderr.join('\n'));
    return new Map((JSON.parse(io.stdout.join('\n')) as StatusJson).services.map((x) => [x.name, x]));
  };
  const r = await eventually(async () => {
    const m = await status();
    return m.get('l2svc')?.announcedBy.layer2.length && m.get('bgpsvc')?.unconfirmed?.length ? m : undefined;
  }, 'l2svc announced by lab-node-1 and bgpsvc reported by its ServiceBGPStatus', 90_000);

  assert.deepEqual(r.get('l2svc')?.announcedBy, { layer2: [NODE], bgp: [] });
  const bgp = r.get('bgpsvc')!;
  assert.deepEqual(bgp.announcedBy.bgp, [], 'router-bad never reached Established: nothing is announced to it');
  assert.deepEqual(bgp.unconfirmed?.map((u) => [u.mode, u.node, u.peer, u.reason]), [['bgp', NODE, 'router-bad', 'sessionNotEstablished']]);
  assert.equal(bgp.notAnnounced?.reason, 'sessionNotEstablished');
  // The speaker's Warning BGPSessionConnectFailed (fresh-user problem 3).
  assert.match(bgp.notAnnounced!.message, /^bgp lab-node-1 → router-bad: not Established: BGPSessionConnectFailed \d+ s ago: /);

  const table = async (): Promise<string> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath], io), 0);
    return io.stdout.join('\n');
  };
  const t1 = await table();
  assert.match(t1, /^default\s+bgpsvc\s+203\.0\.113\.\d+\s+bgp-pool\s+bgp: lab-node-1 → router-bad \(not established\)\s+sessionNotEstablished: /m);
  assert.match(t1, /^default\s+l2svc\s+192\.168\.1\.\d+\s+default\s+layer2: lab-node-1\s*$/m);

  // kill -9: the ServiceL2Status stays; the Lease is no longer renewed (back-dated: what it reads 95 s later).
  await speaker.stop('SIGKILL');
  const renew = new Date(Date.now() - 95_000).toISOString().replace('Z', '000Z');
  await ok(['patch', 'lease', '-n', LAB_NAMESPACE, `metallb-speaker-${NODE}`, '--type', 'merge', '-p', JSON.stringify({ spec: { renewTime: renew } })]);
  const dead = await status();
  const l2 = dead.get('l2svc')!;
  assert.deepEqual(l2.announcedBy.layer2, []);
  assert.deepEqual(l2.unconfirmed?.map((u) => [u.mode, u.node, u.reason]), [['layer2', NODE, 'speakerDown']]);
  assert.equal(l2.notAnnounced?.reason, 'speakerDown');
  assert.match(l2.notAnnounced!.message, /Lease metallb-speaker-lab-node-1 was last renewed 9\d s ago \(lease 40 s\)/);
  const t2 = await table();
  assert.match(t2, /^default\s+l2svc\s+192\.168\.1\.\d+\s+default\s+layer2: lab-node-1 \(speaker down\)\s+speakerDown: /m);
  assert.match(t2, /^default\s+bgpsvc\s+\S+\s+bgp-pool\s+bgp: lab-node-1 \(speaker down\)/m);
});
