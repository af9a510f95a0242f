// Issue 12 defect 4, end to end (lab + webhook process + controller process + real kubectl): a Service deleted and
// re-created under the same name while the controller is paused (SIGSTOP) must not inherit the old Service's claim.
// Pool `small` (autoAssign false) + a default pool; `a` with metallb.io/address-pool: small gets an IP from small; the
// controller is stopped; `a` is deleted and created again without the annotation; the controller resumes: the new `a`
// gets an IP from the default pool (never the old one), the old IP is released and the claim's holder uid is the new
// `a`'s uid. Claims must be bound to the Service's identity (uid), not only its name.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const SMALL = ['198.51.100.16', '198.51.100.17', '198.51.100.18', '198.51.100.19'];
const inDefault = (ip: string): boolean => /^192\.0\.2\.([0-9]|1[0-5])$/.test(ip);

describe('a Service re-created under the same name does not inherit the old claim', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({
      webhooks: 1,
      config: [poolYaml('default', ['192.0.2.0/28']), poolYaml('small', ['198.51.100.16/30'], { autoAssign: false })].join('---\n'),
    });
  });
  after(async () => {
    if (S?.controller && !S.controller.exited) process.kill(S.controller.pid, 'SIGCONT');
    await S?.stop();
  });

  it('delete + create while the controller is stopped: the new a gets a default-pool IP, claims follow the uid', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['apply', '-f', '-'], serviceYaml('a', { annotations: { 'metallb.io/address-pool': 'small' } }));
    const oldIP = await eventually(async () => (await S!.ips('a'))[0], 'a to get an IP from small');
    assert.ok(SMALL.includes(oldIP), `${oldIP} is in small`);
    const oldUid = (await S.svc('a'))!.metadata.uid;

    const ctl = S.controller!;
    process.kill(ctl.pid, 'SIGSTOP');
    let newUid: string;
    const seen = new Set<string>();
    try {
      await S.ok(['delete', 'svc', 'a', '-n', 'shop']);
      const created = await S.run(['apply', '-f', '-'], serviceYaml('a'));
      assert.equal(created.code, 0, `re-creating a: ${created.stderr}`);
      const s = (await S.svc('a'))!;
      newUid = s.metadata.uid;
      assert.notEqual(newUid, oldUid);
      const assigned = s.metadata.annotations?.['berth.io/assigned-ips'] ?? '';
      if (assigned) seen.add(assigned);
    } finally {
      process.kill(ctl.pid, 'SIGCONT');
    }

    // The new a gets an IP (from status): never the old a's IP, and from the default pool.
    const first = await eventually(async () => (await S!.ips('a'))[0], 'the new a to get an IP', 30_000);
    seen.add(first);
    assert.ok(!seen.has(oldIP), `the new a (uid ${newUid}) must not inherit the old a's IP ${oldIP} from small (seen: ${[...seen].join(', ')})`);
    assert.ok(inDefault(first), `the new a's IP ${first} is from the default pool`);

    // Converged: the new a shows a default-pool IP; exactly one claim names a, bound to the new uid; the old IP is free.
    const settled = await eventually(async () => {
      const s = await S!.svc('a');
      const ips = (s?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
      for (const ip of ips) seen.add(ip);
      const mine = (await S!.claims()).filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === 'a'));
      const oldClaim = (await S!.claims()).find((c) => c.spec.ip === oldIP);
      if (ips.length === 1 && mine.length === 1 && mine[0]!.spec.ip === ips[0] && !oldClaim) return { ip: ips[0]!, claim: mine[0]! };
      return undefined;
    }, 'the new a and the claims to converge', 30_000).catch(async (e: Error) =>
      assert.fail(
        `${e.message}; a shows ${JSON.stringify(await S!.ips('a'))} (uid ${newUid}); claims: ${JSON.stringify((await S!.claims()).map((c) => [c.spec.ip, c.spec.pool, c.spec.holders]))}`,
      ),
    );
    assert.ok(!seen.has(oldIP), `the new a never shows the old a's IP ${oldIP} (seen: ${[...seen].join(', ')})`);
    assert.ok(inDefault(settled.ip), `the new a's IP ${settled.ip} is from the default pool`);
    assert.equal(settled.claim.spec.pool, 'default');
    assert.deepEqual(settled.claim.spec.holders.map((h) => h.uid), [newUid], 'the claim is bound to the new a');
  });
});
