// Issue 7 §3 "With no pool, keep what Services hold" (MetalLB #2887), end to end (lab + webhook process + controller
// process + real kubectl): with zero IPAddressPools, a Service whose status already carries an IP (set before berth
// was installed, or by MetalLB: here written through the status subresource with kubectl) keeps it, with no
// ClearAssignment; once a pool containing that IP is created, the Service keeps the same IP and a claim for it appears.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, pause, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const IP = '203.0.113.7';

describe('with no pool, a Service keeps the IP it already has and is adopted once a pool contains it', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    // No controller yet: the IP is written as if before berth was installed, then the controller starts.
    S = await startStack({ webhooks: 1, controller: false });
  });
  after(async () => {
    await S?.stop();
  });

  it('keeps the IP with zero pools, then is adopted (same IP, claim) when a pool containing it appears', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['apply', '-f', '-'], serviceYaml('legacy'));
    await S.ok(['apply', '-f', '-'], serviceYaml('marker', { port: 81 }));
    await S.ok([
      'patch', 'svc', 'legacy', '-n', 'shop', '--subresource=status', '--type=merge',
      '-p', JSON.stringify({ status: { loadBalancer: { ingress: [{ ip: IP }] } } }),
    ]);
    assert.deepEqual(await S.ips('legacy'), [IP]);
    await S.startController();
    // The controller has synced both Services; watch for a while (the Service must keep its IP the whole time).
    const seen: string[] = [];
    for (let i = 0; i < 15; i++) {
      seen.push((await S.ips('legacy')).join(',') || '<none>');
      await pause(200);
    }
    const clears = (await S.events()).filter((e) => (e.involvedObject?.name ?? e.regarding?.name) === 'legacy' && e.reason === 'ClearAssignment');
    assert.deepEqual(
      [...new Set(seen)],
      [IP],
      `legacy kept ${IP} while no pool exists (statuses seen: ${[...new Set(seen)].join(' ')}; ClearAssignment: ${clears.map((e) => e.message ?? e.note).join(' | ')})`,
    );
    assert.deepEqual(clears.map((e) => e.message ?? e.note), [], 'no ClearAssignment for a Service while no pool exists');

    await S.ok(['apply', '-f', '-'], poolYaml('legacy-range', ['203.0.113.0/28']));
    // The other pending Service gets an IP: the controller has processed the new pool.
    await eventually(async () => (await S!.ips('marker'))[0], 'marker to get an IP from the new pool');
    const claim = await eventually(async () => (await S!.claims()).find((c) => c.spec.ip === IP), `a claim for ${IP}`, 20_000).catch(async (e: Error) =>
      assert.fail(`${e.message}; legacy shows ${JSON.stringify(await S!.ips('legacy'))}; claims: ${JSON.stringify((await S!.claims()).map((c) => [c.spec.ip, c.spec.holders.map((h) => h.name)]))}`),
    );
    assert.deepEqual(claim.spec.holders.map((h) => `${h.namespace}/${h.name}`), ['shop/legacy']);
    assert.equal(claim.spec.pool, 'legacy-range');
    assert.deepEqual(await S.ips('legacy'), [IP], 'legacy still shows the same IP');
    assert.notEqual((await S.ips('marker'))[0], IP, 'the adopted IP is not handed to another Service');
  });
});
