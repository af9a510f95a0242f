// `berth status` says why a Service with an IP is announced by nobody (ANNOUNCED-BY `-`), against the `npm start` lab
// (API server, webhook, controller, dev pool `default` with L2Advertisement l2-advert, Nodes lab-node-1..3) and one
// real `berth speaker --dry-run-link` on lab-node-1; every object is created with the real kubectl:
// - no-ad: pool `unadvertised`, which no L2Advertisement/BGPAdvertisement selects → noMatchingAdvertisement;
// - no-endpoints: no EndpointSlice → noEndpoints;
// - local-excluded: ETP=Local, its only endpoint on lab-node-3, labelled exclude-from-external-load-balancers →
//   noLocalEndpoints naming lab-node-3 and the label;
// - n3-only: pool `n3pool`, whose L2Advertisement selects lab-node-3 only (excluded) → noMatchingAdvertisement: no
//   eligible Node, each node with its reason;
// - no-speaker: ETP=Local, endpoint on lab-node-2 where no speaker runs → speakerNotRunning naming lab-node-2;
// - announced: ETP=Local, endpoint on lab-node-1 → announced by lab-node-1's speaker, no reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { LAB_NAMESPACE, type LabStack } from '../../src/cli/lab.ts';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';
import { readyEndpointSlice, startLabStackInTempDir, stopLabStackInTempDir } from '../helpers/lab-stack.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { eventually } from './controller-harness.ts';

const kubectlPath = findKubectl();
const SPEAKER_MAIN = fileURLToPath(new URL('../../src/speaker/main.ts', import.meta.url));
const EXCLUDE = 'node.kubernetes.io/exclude-from-external-load-balancers';
let dir = '';
let stack: LabStack | undefined;
let speaker: NodeProcess | undefined;

function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=20s', ...args],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input ?? '');
  });
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.out}`);
  return r.out;
}

const svc = (name: string, o: { local?: boolean; pool?: string; port?: number } = {}): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: ${JSON.stringify(o.pool ? { 'metallb.io/address-pool': o.pool } : {})}
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${o.local ? 'Local' : 'Cluster'}
  ports: [{port: ${o.port ?? 80}, protocol: TCP}]
`;

const slice = readyEndpointSlice;

const config = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: unadvertised, namespace: ${LAB_NAMESPACE}}
spec: {addresses: [198.51.100.0/29]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: n3pool, namespace: ${LAB_NAMESPACE}}
spec: {addresses: [198.51.100.8/29]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: only-n3, namespace: ${LAB_NAMESPACE}}
spec:
  ipAddressPools: [n3pool]
  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: lab-node-3}}]
`;

interface StatusJson {
  services: Array<{
    name: string;
    ips: string[];
    pool?: string;
    announcedBy: { layer2: string[]; bgp: unknown[] };
    notAnnounced?: { reason: string; message: string };
  }>;
}

before(async () => {
  if (!kubectlPath) return;
  ({ dir, stack } = await startLabStackInTempDir('berth-status-reasons-'));
});

after(async () => {
  await stopLabStackInTempDir({ speaker, stack, dir });
});

test('berth status says why a Service with an IP is announced by nobody', { skip: kubectlPath ? false : 'kubectl not found', timeout: 240_000 }, async () => {
  const s = stack!;
  speaker = spawnNode(SPEAKER_MAIN, [
    '--node-name', 'lab-node-1',
    '--kubeconfig', s.lab.kubeconfigPath,
    '--namespace', LAB_NAMESPACE,
    '--metrics-port', 'auto',
    '--metrics-host', '127.0.0.1',
    '--dry-run-link',
  ], { logFile: join(dir, 'speaker.log') });
  await ok(['apply', '-f', '-'], config);
  await ok(['label', 'node', 'lab-node-3', `${EXCLUDE}=true`]);
  await ok(['apply', '-f', '-'], [
    svc('no-ad', { pool: 'unadvertised' }), slice('no-ad', 'lab-node-1'),
    svc('no-endpoints', { port: 81 }),
    svc('local-excluded', { local: true, port: 82 }), slice('local-excluded', 'lab-node-3'),
    svc('n3-only', { pool: 'n3pool' }), slice('n3-only', 'lab-node-1'),
    svc('no-speaker', { local: true, port: 83 }), slice('no-speaker', 'lab-node-2'),
    svc('announced', { local: true, port: 84 }), slice('announced', 'lab-node-1'),
  ].join('---\n'));

  const status = async (): Promise<StatusJson> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath, '-o', 'json'], io), 0, io.stderr.join('\n'));
    return JSON.parse(io.stdout.join('\n')) as StatusJson;
  };
  const r = await eventually(async () => {
    const j = await status();
    const byName = new Map(j.services.map((x) => [x.name, x]));
    const all = ['no-ad', 'no-endpoints', 'local-excluded', 'n3-only', 'no-speaker', 'announced'].every((n) => (byName.get(n)?.ips.length ?? 0) > 0);
    return all && byName.get('announced')?.announcedBy.layer2.length ? byName : undefined;
  }, 'every Service with an IP, and `announced` announced by lab-node-1', 90_000);

  assert.deepEqual(r.get('announced')?.announcedBy.layer2, ['lab-node-1']);
  assert.equal(r.get('announced')?.notAnnounced, undefined);

  const why = (n: string) => r.get(n)?.notAnnounced;
  assert.equal(why('no-ad')?.reason, 'noMatchingAdvertisement');
  assert.match(why('no-ad')!.message, /no L2Advertisement or BGPAdvertisement selects pool "unadvertised"/);

  assert.equal(why('no-endpoints')?.reason, 'noEndpoints');
  assert.match(why('no-endpoints')!.message, /no ready endpoint/);

  assert.equal(why('local-excluded')?.reason, 'noLocalEndpoints');
  assert.match(why('local-excluded')!.message, /externalTrafficPolicy is Local .*lab-node-3 \(labelled node\.kubernetes\.io\/exclude-from-external-load-balancers\)/);

  assert.equal(why('n3-only')?.reason, 'noMatchingAdvertisement');
  assert.match(why('n3-only')!.message, /L2Advertisements of pool "n3pool" \(only-n3\) select no eligible Node/);
  assert.match(why('n3-only')!.message, /lab-node-1: not selected by the nodeSelectors of only-n3/);
  assert.match(why('n3-only')!.message, /lab-node-3: labelled node\.kubernetes\.io\/exclude-from-external-load-balancers/);

  assert.equal(why('no-speaker')?.reason, 'speakerNotRunning');
  assert.match(why('no-speaker')!.message, /layer2 may be announced from lab-node-2 \(failover order, externalTrafficPolicy Local: nodes with a ready endpoint only\), but no speaker reports announcing it \(no ServiceL2Status\/ServiceBGPStatus\): is the speaker running there\?/);
  assert.match(why('no-speaker')!.message, /speaker Leases: lab-node-2 none/);

  // The table: ANNOUNCED-BY `-` and the reason in REASON.
  const io = recordingIO();
  assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath], io), 0);
  const out = io.stdout.join('\n');
  assert.match(out, /^default\s+no-endpoints\s+192\.168\.1\.\d+\s+default\s+-\s+noEndpoints: no ready endpoint/m);
  assert.match(out, /^default\s+announced\s+192\.168\.1\.\d+\s+default\s+layer2: lab-node-1\s*$/m);

  // Removing the label makes lab-node-3 eligible again: local-excluded's reason becomes "speaker not running there".
  await ok(['label', 'node', 'lab-node-3', `${EXCLUDE}-`]);
  const after3 = await status();
  const le = after3.services.find((x) => x.name === 'local-excluded');
  assert.equal(le?.notAnnounced?.reason, 'speakerNotRunning');
  assert.match(le?.notAnnounced?.message ?? '', /from lab-node-3/);
});
