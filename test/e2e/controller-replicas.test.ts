// HA: two controller replicas against the lab. One leads (Lease berth-controller), and 50 Services created at once
// get 50 distinct IPs with exactly matching claims; when the leader dies, the standby takes over and keeps
// allocating without moving anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Resources } from '../../src/kube/resources.ts';
import { controllerLab, eventually, NS, servicesYaml, type ControllerLab } from './controller-harness.ts';

interface Lease {
  spec?: { holderIdentity?: string };
}

describe('two controller replicas (lab + kubectl)', { timeout: 180_000 }, () => {
  let L: ControllerLab | undefined;
  before(async () => {
    L = await controllerLab();
  });
  after(async () => {
    await L?.stop();
  });

  it('never double-allocate: 50 Services at once, distinct IPs, one claim each; then leader failover', async (t) => {
    if (!L) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
    const a = await L.startController('replica-a');
    const b = await L.startController('replica-b');
    const holder = async () => {
      const l = await L!.client.get<Lease>(Resources.leases, 'berth-controller', NS);
      return l.ok && l.value.spec?.holderIdentity ? l.value.spec.holderIdentity : undefined;
    };
    const leader = await eventually(holder, 'a leader');
    assert.ok(['replica-a', 'replica-b'].includes(leader));

    await L.kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: load\n');
    // The dev pool has 31 addresses: add a second pool so 52 Services fit (fallback pools are tried by name).
    await L.kubectl(['apply', '-f', '-'], `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: load\n  namespace: ${NS}\nspec:\n  addresses:\n  - 10.50.0.0/24\n`);
    await L.kubectl(['apply', '-f', '-'], servicesYaml('load', 'svc', 50));
    const ips = await eventually(async () => {
      const m = await L!.serviceIPs();
      const mine = [...m].filter(([k]) => k.startsWith('load/'));
      return mine.length === 50 && mine.every(([, v]) => v.length === 1) ? new Map(mine) : undefined;
    }, '50 Services with an IP', 60_000);
    const all = [...ips.values()].flat();
    assert.equal(new Set(all).size, 50, 'no IP given twice');
    const claims = (await L.claims()).filter((c) => c.spec.holders.some((h) => h.namespace === 'load'));
    assert.equal(claims.length, 50);
    for (const c of claims) {
      assert.equal(c.spec.holders.length, 1);
      const h = c.spec.holders[0]!;
      assert.deepEqual(ips.get(`load/${h.name}`), [c.spec.ip], `claim ${c.metadata.name} matches the Service's status`);
    }

    // Failover: the leader dies without releasing its Lease (SIGKILL); the standby takes over after the lease
    // duration and serves new Services; nothing moves.
    const [dead, survivor] = leader === 'replica-a' ? [a, 'replica-b'] : [b, 'replica-a'];
    await dead.stop('SIGKILL');
    await eventually(async () => ((await holder()) === survivor ? true : undefined), `${survivor} to take the Lease`, 30_000);
    await L.kubectl(['apply', '-f', '-'], servicesYaml('load', 'after-failover', 2));
    const later = await eventually(async () => {
      const m = await L!.serviceIPs();
      const n = ['load/after-failover-0', 'load/after-failover-1'].map((k) => m.get(k) ?? []);
      return n.every((x) => x.length === 1) ? m : undefined;
    }, 'Services created after failover to get an IP', 30_000);
    for (const [k, v] of ips) assert.deepEqual(later.get(k), v, `${k} kept its IP`);
    const fresh = ['load/after-failover-0', 'load/after-failover-1'].map((k) => later.get(k)![0]!);
    assert.ok(fresh.every((ip) => !all.includes(ip)), 'new IPs only');
  });
});
