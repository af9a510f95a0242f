// `berth lab` restarts a killed webhook as a kubelet would restart its Pod (fresh-user problem 8): after a SIGKILL of
// the webhook the lab says so and when it restarts it, metallb.io writes (webhooks with failurePolicy Fail) work
// again once the restart is logged, and a later Ctrl-C ends with "stopped". Real processes: `berth lab`
// (src/cli/main.ts) and its webhook; writes through berth's own Kubernetes client.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyObject } from '../../src/kube/apply.ts';
import { connect } from '../../src/kube/connect.ts';
import { spawnLab } from '../helpers/lab-process.ts';

test('a SIGKILLed webhook is reported and restarted with back-off; pools can be written again; Ctrl-C ends with "stopped"', { timeout: 240_000 }, async (t) => {
  const { lab, dir, kids } = spawnLab(t, 'berth-labrestart-', []);
  await lab.waitFor(/berth lab: ready/, 150_000);
  const webhookPid = Number(/berth lab: webhook pid (\d+)/.exec(lab.output())?.[1]);
  kids.push(webhookPid, Number(/berth lab: controller pid (\d+)/.exec(lab.output())?.[1]));
  const conn = await connect({ kubeconfig: join(dir, 'kubeconfig'), component: 'lab-restart-test' });
  assert.ok(conn.ok, conn.ok ? '' : conn.message);
  t.after(() => conn.kube.close());
  const pool = (name: string, address: string) => ({
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name, namespace: 'metallb-system' },
    spec: { addresses: [`${address}/32`] },
  });

  process.kill(webhookPid, 'SIGKILL');
  const down = await lab.waitFor(/berth lab: webhook \(pid (\d+)\) killed by SIGKILL; see \S+; restarting it in (\d+) s/, 30_000);
  assert.equal(Number(down[1]), webhookPid);
  // Down: the metallb.io webhooks fail closed.
  const refused = await applyObject(conn.kube.client, pool('while-down', '203.0.113.10'));
  assert.equal(refused.ok, false, 'a pool was admitted while the webhook was down');

  const up = await lab.waitFor(/berth lab: webhook restarted: pid (\d+)/, 120_000);
  const newPid = Number(up[1]);
  kids.push(newPid);
  assert.notEqual(newPid, webhookPid);
  const created = await applyObject(conn.kube.client, pool('after-restart', '203.0.113.11'));
  assert.ok(created.ok, created.ok ? '' : `after the restart: ${created.error.message}`);

  process.kill(lab.pid, 'SIGINT');
  const code = await lab.done;
  const out = lab.output();
  assert.equal(lab.exitSignal, null, out.slice(-2000));
  assert.equal(code, 0, out.slice(-2000));
  assert.match(out, /^berth lab: stopped$/m);
});
