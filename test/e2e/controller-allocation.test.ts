// The controller against the lab with the real kubectl, no webhook (its fallback path allocates every Service):
// apply the dev pool and the example Services, see the IPs in `kubectl get svc -o json`, claims matching, events,
// pool status; delete frees; a restarted controller moves no IP; the repair loop deletes an orphaned claim.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newClaim } from '../../src/api/claim.ts';
import { Resources } from '../../src/kube/resources.ts';
import { controllerLab, eventually, NS, type ControllerLab } from './controller-harness.ts';

describe('controller end-to-end (lab + kubectl, no webhook)', { timeout: 180_000 }, () => {
  let L: ControllerLab | undefined;
  before(async () => {
    L = await controllerLab();
  });
  after(async () => {
    await L?.stop();
  });

  it('allocates the example Services, frees on delete, keeps every IP across a controller restart', async (t) => {
    if (!L) return t.skip('kubectl not found (scripts/fetch-kubectl.sh puts one in .lab/bin)');
    await L.startController('ctl-a', ['--claim-grace', '2s']);
    for (const f of ['basic', 'fixed-ip', 'pool-annotation', 'shared-ip']) await L.kubectl(['apply', '-f', `examples/services/${f}.yaml`]);

    const ips = await eventually(async () => {
      const m = await L!.serviceIPs();
      const names = ['my-service', 'my-service-fixed-ip', 'my-service-pool', 'my-service-http', 'my-service-https'];
      return names.every((n) => (m.get(`default/${n}`) ?? []).length > 0) ? m : undefined;
    }, 'every example Service to get an IP');
    assert.deepEqual(ips.get('default/my-service-fixed-ip'), ['192.168.1.225']);
    assert.deepEqual(ips.get('default/my-service-http'), ['192.168.1.230']);
    assert.deepEqual(ips.get('default/my-service-https'), ['192.168.1.230'], 'shared IP (same allow-shared-ip key)');
    const auto = [ips.get('default/my-service')![0], ips.get('default/my-service-pool')![0]].sort();
    assert.deepEqual(auto, ['192.168.1.220', '192.168.1.221']);

    // Claims are the truth: one per IP, holders = the Services showing it.
    const claims = await L.claims();
    const byIp = new Map(claims.map((c) => [c.spec.ip, c.spec.holders.map((h) => `${h.namespace}/${h.name}`).sort()]));
    for (const [key, list] of ips) for (const ip of list) assert.ok(byIp.get(ip)?.includes(key), `claim of ${ip} lists ${key}`);
    assert.equal(claims.length, 4);
    assert.ok(claims.every((c) => c.spec.holders.every((h) => h.uid)), 'uids bound');

    // Annotation, event and pool status, as MetalLB writes them.
    const svc = JSON.parse(await L.kubectl(['get', 'svc', 'my-service-fixed-ip', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
    assert.equal(svc.metadata.annotations['metallb.io/ip-allocated-from-pool'], 'default');
    const events = await L.kubectl(['get', 'events', '-o', 'json']);
    assert.match(events, /Assigned IP \[\\"192\.168\.1\.225\\"\]/);
    await eventually(async () => {
      const p = JSON.parse(await L!.kubectl(['get', 'ipaddresspool', '-n', NS, 'default', '-o', 'json'])) as { status?: { assignedIPv4?: number; availableIPv4?: number } };
      return p.status?.assignedIPv4 === 4 && p.status.availableIPv4 === 27 ? true : undefined;
    }, 'pool status 4 assigned / 27 available');

    // Delete frees the IP (claim gone) and the next Service gets the lowest free IP again.
    await L.kubectl(['delete', 'svc', 'my-service-fixed-ip']);
    await eventually(async () => ((await L!.claims()).some((c) => c.spec.ip === '192.168.1.225') ? undefined : true), 'claim of .225 deleted');

    // Restart: stop the controller, change things while it is down, start a new one: no IP moves.
    const before = await L.serviceIPs();
    await L.controllers[0]!.stop();
    await L.kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata:\n  name: while-down\nspec:\n  type: LoadBalancer\n  ports:\n  - port: 80\n');
    await L.startController('ctl-b', ['--claim-grace', '2s']);
    const afterRestart = await eventually(async () => {
      const m = await L!.serviceIPs();
      return (m.get('default/while-down') ?? []).length > 0 ? m : undefined;
    }, 'the Service created while the controller was down to get an IP');
    for (const [key, list] of before) assert.deepEqual(afterRestart.get(key), list, `${key} kept its IP`);
    const taken = new Set([...before.values()].flat());
    assert.ok(!taken.has(afterRestart.get('default/while-down')![0]!), 'a held IP was not handed out again');
  });

  it('repair loop: a claim whose Service never existed is deleted after the grace period', async (t) => {
    if (!L) return t.skip('kubectl not found');
    if (L.controllers.every((c) => c.exited)) await L.startController('ctl-c', ['--claim-grace', '2s']);
    const ghost = newClaim({ ip: '192.168.1.249', pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'default', name: 'never-stored', ports: [] }] });
    const r = await L.client.create(Resources.ipAddressClaims, ghost as never);
    assert.ok(r.ok);
    await eventually(async () => ((await L!.claims()).some((c) => c.spec.ip === '192.168.1.249') ? undefined : true), 'the orphaned claim to be deleted', 30_000);
  });
});
