// An L2Advertisement whose `interfaces` holds a name Linux cannot give an interface is refused at `kubectl apply` by
// the metallb.io validating webhook (LB_BAD_INTERFACE, the value and the rule in kubectl's output); valid names,
// 15 bytes included, are stored. Real kubectl against the lab stack (API server + webhook, no controller).
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

function apply(yaml: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath!,
      [`--kubeconfig=${stack!.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=20s', 'apply', '-f', '-'],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(yaml);
  });
}

const l2 = (name: string, interfaces: string[]): string => `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: ${name}, namespace: ${LAB_NAMESPACE}}
spec:
  ipAddressPools: [default]
  interfaces: ${JSON.stringify(interfaces)}
`;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-l2-ifname-'));
  stack = await startLabStack({ dir: join(dir, 'lab'), controller: false, nodes: 0 });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('kubectl apply of an L2Advertisement with a bad interface name is denied naming the value and the rule', { skip }, async () => {
  const long = await apply(l2('too-long', ['eth0', 'enp0s31f6.100.200']));
  assert.notEqual(long.code, 0, long.out);
  assert.match(long.out, /denied the request/);
  assert.match(long.out, /invalid interface "enp0s31f6\.100\.200" in interfaces: an interface name is at most 15 bytes \(IFNAMSIZ-1\), this one has 17/);
  const slash = await apply(l2('slash', ['br/0']));
  assert.notEqual(slash.code, 0, slash.out);
  assert.match(slash.out, /invalid interface "br\/0" in interfaces: an interface name must not contain '\/', ':', whitespace or NUL/);
  const good = await apply(l2('good', ['eth0', 'abcdefghijklmno']));
  assert.equal(good.code, 0, good.out);
});
