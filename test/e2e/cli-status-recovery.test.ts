// `berth status` after a layer-2 fault is fixed (fresh-user report): the `npm start` lab (API server, webhook,
// controller) and one real `berth speaker --dry-run-link` on lab-node-1 (its only link is the fake `dry0`); objects
// are written with the real kubectl; the Service is externalTrafficPolicy Local with its endpoint on lab-node-1, so
// lab-node-1 is its only candidate. An L2Advertisement listing `interfaces: [eth9]`, which lab-node-1 does not have,
// makes the speaker write Warning announceFailed and status mark the node `(announce failed)`; once the advertisement
// is reverted (no interfaces), the speaker writes Normal announceResumed and status shows lab-node-1 announcing with
// no fault, although the Warning Event is still there (Events live an hour).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
const NODE = 'lab-node-1';
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

const advertisement = (interfaces: string[] | undefined): string => `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: recov, namespace: ${LAB_NAMESPACE}}
spec:
  ipAddressPools: [recov]
${interfaces ? `  interfaces: ${JSON.stringify(interfaces)}\n` : ''}`;

const objects = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: recov, namespace: ${LAB_NAMESPACE}}
spec: {addresses: [198.51.100.16/29]}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  annotations: {metallb.io/address-pool: recov}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80, protocol: TCP}]
---
${readyEndpointSlice('web', NODE)}`;

interface WebRow {
  name: string;
  ips: string[];
  announcedBy: { layer2: string[] };
  unconfirmed?: Array<{ node: string; reason: string; message: string }>;
}

before(async () => {
  if (!kubectlPath) return;
  ({ dir, stack } = await startLabStackInTempDir('berth-status-recovery-'));
});

after(async () => {
  await stopLabStackInTempDir({ speaker, stack, dir });
});

test('announceFailed via a missing interface, then reverted: status shows the node announcing and no fault', { skip: kubectlPath ? false : 'kubectl not found', timeout: 240_000 }, async () => {
  const s = stack!;
  speaker = spawnNode(SPEAKER_MAIN, [
    '--node-name', NODE,
    '--kubeconfig', s.lab.kubeconfigPath,
    '--namespace', LAB_NAMESPACE,
    '--metrics-port', 'auto',
    '--metrics-host', '127.0.0.1',
    '--dry-run-link',
  ], { logFile: join(dir, 'speaker.log') });
  await ok(['apply', '-f', '-'], `${advertisement(['eth9'])}---\n${objects}`);

  const web = async (): Promise<WebRow | undefined> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath, '-o', 'json'], io), 0, io.stderr.join('\n'));
    return (JSON.parse(io.stdout.join('\n')) as { services: WebRow[] }).services.find((x) => x.name === 'web');
  };
  const text = async (): Promise<string> => {
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', s.lab.kubeconfigPath], io), 0, io.stderr.join('\n'));
    return io.stdout.join('\n');
  };

  let last: WebRow | undefined;
  const failed = await eventually(async () => {
    const w = (last = await web());
    return w?.unconfirmed?.some((u) => u.reason === 'announceFailed') ? w : undefined;
  }, 'web reported by lab-node-1 and marked announceFailed (eth9 is not a link of lab-node-1)', 90_000).catch(async (e: unknown) => {
    const evs = await kubectl(['get', 'events', '-A']);
    const log = existsSync(join(dir, 'speaker.log')) ? readFileSync(join(dir, 'speaker.log'), 'utf8').slice(-3000) : '(no log)';
    throw new Error(`${String(e)}; last status row: ${JSON.stringify(last)}; events: ${evs.out}; speaker log: ${log}`);
  });
  assert.deepEqual(failed.announcedBy.layer2, []);
  assert.deepEqual(failed.unconfirmed?.map((u) => [u.node, u.reason]), [[NODE, 'announceFailed']]);
  assert.match(await text(), /^default\s+web\s+198\.51\.100\.(1[6-9]|2[0-3])\s+recov\s+layer2: lab-node-1 \(announce failed\)/m);

  // Reverted: no interfaces listed (every layer-2 link, dry0 here).
  await ok(['apply', '-f', '-'], advertisement(undefined));
  const fixed = await eventually(async () => {
    const w = (last = await web());
    return w?.announcedBy.layer2.includes(NODE) ? w : undefined;
  }, 'web announced by lab-node-1 again', 90_000).catch((e: unknown) => {
    throw new Error(`${String(e)}; last status row: ${JSON.stringify(last)}`);
  });
  assert.equal(fixed.unconfirmed, undefined, `no fault left: ${JSON.stringify(fixed.unconfirmed)}`);
  const out = await text();
  assert.match(out, /^default\s+web\s+198\.51\.100\.(1[6-9]|2[0-3])\s+recov\s+layer2: lab-node-1\s*$/m);
  assert.doesNotMatch(out, /announce failed/);
  // The Warning is still in the cluster: status judged it history because of the later Normal Event.
  const events = await ok(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=web', '-o', 'custom-columns=TYPE:.type,REASON:.reason', '--no-headers']);
  assert.match(events, /Warning\s+announceFailed/);
  assert.match(events, /Normal\s+announceResumed/);
});
