// `berth migrate` against real components: the seed's legacy ConfigMap is applied to the lab and read back with the
// real `kubectl get configmap -o yaml` (managedFields and all), converted in-process, applied with `kubectl apply`
// (the lab checks the CRD schemas), and berth's controller then gives the seed's Services the IPs MetalLB gave.
// MetalLB's full BGP example goes the same way: the objects are stored as written (communities stay strings such as
// `64512:1`, which berth quotes as MetalLB's converter does for YAML 1.1 readers; durations in Go's format).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { main } from '../../src/cli/main.ts';
import { recordingIO } from '../../src/cli/io.ts';
import { repoObjects } from '../../src/cli/lab.ts';
import { applyObject } from '../../src/kube/apply.ts';
import { connect, type Kube } from '../../src/kube/connect.ts';
import { startControllerProcess, type ControllerProcess } from '../../src/lab/processes.ts';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';
import { until } from '../helpers/poll.ts';

const NS = 'metallb-system';
const skip = findKubectl() ? false : 'no kubectl found (.lab/bin/kubectl or PATH); run scripts/fetch-kubectl.sh';
let t: TestLab | undefined;
let kube: Kube | undefined;
let ctl: ControllerProcess | undefined;

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await t!.kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

async function migrate(input: string): Promise<string> {
  const io = recordingIO(input);
  const code = await main(['migrate', '-'], io);
  assert.equal(code, 0, io.stderr.join('\n'));
  return io.stdout.join('\n');
}

before(async () => {
  if (skip) return;
  t = await startTestLab();
  const conn = await connect({ kubeconfig: t.lab.kubeconfigPath, component: 'e2e' });
  if (!conn.ok) throw new Error(conn.message);
  kube = conn.kube;
  for (const crd of repoObjects('gitops/base/crds')) {
    const r = await applyObject(kube.client, crd);
    if (!r.ok) throw new Error(`CRD ${crd.metadata?.name}: ${r.error.message}`);
  }
  await kubectl(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n`);
});

after(async () => {
  await ctl?.stop();
  kube?.close();
  await t?.stop();
});

test("seed 003's ConfigMap, read back with kubectl, migrates; applied, the controller gives the seed's Services MetalLB's IPs", { skip }, async () => {
  await kubectl(['apply', '-f', 'test/fixtures/migrate/seed-003-default.yaml']);
  const cm = await kubectl(['get', 'configmap', '-n', NS, 'config', '-o', 'yaml']);
  const objects = await migrate(cm);
  assert.match(await kubectl(['apply', '-f', '-'], objects), /ipaddresspool\.metallb\.io\/default created\nl2advertisement\.metallb\.io\/l2advertisement1 created/);
  const pool = JSON.parse(await kubectl(['get', 'ipaddresspool', '-n', NS, 'default', '-o', 'json'])) as { spec: { addresses: string[] } };
  assert.deepEqual(pool.spec.addresses, ['192.168.1.200-192.168.1.210']);

  ctl = await startControllerProcess(['--kubeconfig', t!.lab.kubeconfigPath, '--namespace', NS, '--metrics-port', '0']);
  // One Service at a time, as the seed's reader typed them: app1 .200, app2 .201, app3 .202.
  const docs = readFileSync('test/fixtures/migrate/seed-003-apps.yaml', 'utf8').split(/^---\n/m).filter((d) => d.includes('kind: Service'));
  const got: string[] = [];
  for (const doc of docs) {
    const name = /name: (\S+)/.exec(doc)![1]!;
    await kubectl(['apply', '-f', '-'], doc);
    got.push(
      await until(`an IP for ${name}`, async () => {
        const s = JSON.parse(await kubectl(['get', 'svc', name, '-o', 'json'])) as { status?: { loadBalancer?: { ingress?: Array<{ ip: string }> } } };
        return s.status?.loadBalancer?.ingress?.[0]?.ip;
      }),
    );
  }
  assert.deepEqual(got, ['192.168.1.200', '192.168.1.201', '192.168.1.202']);
});

test("MetalLB's full BGP example: kubectl applies the migrated objects and reads the communities back as strings", { skip }, async () => {
  const objects = await migrate(readFileSync('test/fixtures/migrate/bgp-configmap.yaml', 'utf8'));
  await kubectl(['apply', '-f', '-'], objects);
  const adv = JSON.parse(await kubectl(['get', 'bgpadvertisement', '-n', NS, 'bgpadvertisement1', '-o', 'json'])) as {
    spec: { communities: unknown[]; localPref: number; aggregationLength: number; ipAddressPools: string[] };
  };
  assert.deepEqual(adv.spec.communities, ['64512:1', 'no-export']);
  assert.equal(adv.spec.localPref, 100);
  assert.deepEqual(adv.spec.ipAddressPools, ['my-ip-space']);
  const community = JSON.parse(await kubectl(['get', 'community', '-n', NS, 'communities', '-o', 'json'])) as {
    spec: { communities: Array<{ name: string; value: unknown }> };
  };
  assert.deepEqual(community.spec.communities, [{ name: 'no-export', value: '65535:65281' }]);
  const peer = JSON.parse(await kubectl(['get', 'bgppeers.v1beta2.metallb.io', '-n', NS, 'peer1', '-o', 'json'])) as {
    apiVersion: string;
    spec: { holdTime: string; keepaliveTime: string; bfdProfile: string };
  };
  assert.deepEqual([peer.spec.holdTime, peer.spec.keepaliveTime, peer.spec.bfdProfile], ['2m0s', '30s', 'bfdprofile1']);
});
