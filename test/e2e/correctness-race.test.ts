// Issue 7 §2 "The webhook and the controller must not race", end to end (lab + webhook process + controller process +
// real kubectl). (a) A Service whose metallb.io/loadBalancerIPs annotation is toggled between two IPs and re-applied
// back to back 40 times: every apply is admitted and the Service ends with the last requested IP and exactly one claim
// (at 17cd0f0 the controller, reconciling an older version of the Service, released the claim the mutating webhook had
// just created, and 1-5 of the 40 applies were denied). (b) A Service of a shared pair that switches to
// externalTrafficPolicy Local: the same outcome every run (moved with a ClearAssignment event, or denied).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const A = '192.0.2.51';
const B = '192.0.2.52';

describe('webhook and controller do not race', { timeout: 150_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({ webhooks: 1, config: poolYaml('default', ['192.0.2.0/24']) });
  });
  after(async () => {
    await S?.stop();
  });

  it('40 back-to-back applies toggling metallb.io/loadBalancerIPs between two IPs are all admitted; one claim at the end', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const manifest = (ip: string): string => serviceYaml('cache', { annotations: { 'metallb.io/loadBalancerIPs': ip } });
    await S.ok(['apply', '-f', '-'], manifest(A));
    await eventually(async () => ((await S!.ips('cache'))[0] === A ? true : undefined), `cache to get ${A}`);
    const denied: string[] = [];
    let last = A;
    for (let i = 1; i <= 40; i++) {
      last = i % 2 === 1 ? B : A;
      const r = await S.run(['apply', '-f', '-'], manifest(last));
      if (r.code !== 0) denied.push(`apply ${i} (${last}): ${r.stderr.trim()}`);
    }
    assert.deepEqual(denied, [], `${denied.length} of 40 applies were denied`);
    const want = last;
    await eventually(async () => ((await S!.ips('cache')).join(',') === want ? true : undefined), `cache to show ${want} in status`, 20_000).catch(
      async (e: Error) => assert.fail(`${e.message}; status shows ${JSON.stringify(await S!.ips('cache'))}`),
    );
    const mine = await eventually(async () => {
      const cs = (await S!.claims()).filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === 'cache'));
      return cs.length === 1 ? cs : undefined;
    }, 'exactly one claim held by shop/cache', 20_000).catch(async (e: Error) =>
      assert.fail(`${e.message}; claims: ${JSON.stringify((await S!.claims()).map((c) => [c.spec.ip, c.spec.holders.map((h) => h.name)]))}`),
    );
    assert.equal(mine[0]!.spec.ip, want);
    const svc = await S.svc('cache');
    assert.equal(svc?.metadata.annotations?.['berth.io/assigned-ips'], want);
    assert.equal(svc?.metadata.uid, mine[0]!.spec.holders[0]!.uid, 'the claim is bound to the Service uid');
  });

  it('a shared pair where one Service switches to externalTrafficPolicy Local: the same outcome on every run', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const RUNS = 5;
    const outcomes: string[] = [];
    const details: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const key = `pair-${run}`;
      const ann = { 'metallb.io/allow-shared-ip': key };
      const [p, q] = [`pa-${run}`, `pb-${run}`];
      await S.ok(['apply', '-f', '-'], serviceYaml(p, { annotations: ann, port: 80, etp: 'Cluster' }) + '---\n' + serviceYaml(q, { annotations: ann, port: 443, etp: 'Cluster' }));
      const ip = await eventually(async () => {
        const [a, b] = [await S!.ips(p), await S!.ips(q)];
        return a.length === 1 && a.join() === b.join() ? a[0] : undefined;
      }, `${p} and ${q} to share one IP`);
      // Back to back: q switches to Local (different selector from p, so it cannot keep sharing p's IP).
      const r = await S.run(['apply', '-f', '-'], serviceYaml(q, { annotations: ann, port: 443, etp: 'Local' }));
      if (r.code !== 0) {
        outcomes.push('denied');
        details.push(`run ${run}: denied: ${r.stderr.trim()}`);
        assert.doesNotMatch(r.stderr, /remove the annotation/, 'a denial never tells the user to remove an annotation berth wrote itself');
        continue;
      }
      // Admitted: wait until the controller has settled q (status equals the assigned-ips annotation, and the claims
      // agree), then classify.
      const settled = await eventually(async () => {
        const s = await S!.svc(q);
        const status = (s?.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').join(',');
        const assigned = s?.metadata.annotations?.['berth.io/assigned-ips'] ?? '';
        const claims = (await S!.claims()).filter((c) => c.spec.holders.some((h) => h.name === q)).map((c) => c.spec.ip);
        return status !== '' && status === assigned && claims.join(',') === status && s?.spec.externalTrafficPolicy === 'Local' ? status : undefined;
      }, `${q} to settle after the ETP change`, 20_000).catch(() => 'unsettled');
      const events = (await S.events()).filter((e) => (e.involvedObject?.name ?? e.regarding?.name) === q && e.reason === 'ClearAssignment');
      const warned = /Warning:/.test(r.stderr);
      const outcome =
        settled === ip ? 'kept' : settled === 'unsettled' ? 'unsettled' : events.length > 0 && warned ? 'moved (warning + ClearAssignment)' : `moved (warning: ${warned}, ClearAssignment: ${events.length > 0})`;
      outcomes.push(outcome);
      details.push(`run ${run}: ${outcome} (${ip} -> ${settled}); warnings: ${r.stderr.trim() || 'none'}`);
    }
    t.diagnostic(details.join('\n'));
    assert.equal(new Set(outcomes).size, 1, `outcomes differ between runs:\n${details.join('\n')}`);
    assert.ok(['denied', 'moved (warning + ClearAssignment)'].includes(outcomes[0]!), `outcome must be a denial or a move with a warning and a ClearAssignment event:\n${details.join('\n')}`);
  });
});
