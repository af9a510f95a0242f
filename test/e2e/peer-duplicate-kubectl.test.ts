// A second BGPPeer for a router address (and port) that another BGPPeer already peers with from the same nodes is
// refused at `kubectl apply` by the metallb.io validating webhook (LB_PEER_DUPLICATE; MetalLB's FRR mode: "peer <address>
// already exists, FRR mode doesn't support duplicate BGPPeers"), naming both objects, the address and the rule; one
// with disjoint nodeSelectors is stored. Real kubectl against the lab stack (API server + webhook, no controller).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LAB_NAMESPACE, startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { findKubectl } from '../../src/lab/testing.ts';

const kubectlPath = findKubectl();
const skip = kubectlPath ? undefined : 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
let dir = '';
let stack: LabStack | undefined;

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

const peer = (name: string, spec: string): string => `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: ${name}, namespace: ${LAB_NAMESPACE}}
spec: {myASN: 64500, peerASN: 64501, peerAddress: 198.51.100.1, ${spec}}
`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-peer-dup-'));
  stack = await startLabStack({ dir: join(dir, 'lab'), controller: false, nodes: 0 });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kubectl apply of a duplicate BGPPeer is denied naming both peers, the address and the rule', { skip }, async () => {
  const first = await kubectl(['apply', '-f', '-'], peer('tor-a', 'holdTime: 90s'));
  assert.equal(first.code, 0, first.out);
  const second = await kubectl(['apply', '-f', '-'], peer('tor-b', 'holdTime: 30s'));
  assert.notEqual(second.code, 0, second.out);
  assert.match(
    second.out,
    /admission webhook "bgppeervalidationwebhook\.metallb\.io" denied the request: peer 198\.51\.100\.1 already exists: BGPPeers tor-a and tor-b both peer with 198\.51\.100\.1 port 179 and both apply to every node; duplicate BGPPeers are not supported \(one BGPPeer per router address, port and node/,
  );
  const stored = await kubectl(['get', 'bgppeers', '-n', LAB_NAMESPACE, '-o', 'name']);
  assert.equal(stored.code, 0, stored.out);
  assert.deepEqual(stored.out.trim().split('\n'), ['bgppeer.metallb.io/tor-a']);

  // Disjoint nodes: rack a keeps tor-a's address for itself once tor-a is limited to it.
  const limited = await kubectl(['apply', '-f', '-'], peer('tor-a', 'nodeSelectors: [{matchLabels: {rack: a}}]'));
  assert.equal(limited.code, 0, limited.out);
  const other = await kubectl(['apply', '-f', '-'], peer('tor-b', 'nodeSelectors: [{matchLabels: {rack: b}}]'));
  assert.equal(other.code, 0, other.out);
});
