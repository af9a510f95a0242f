// Issue 7 §1 "Stale annotations", third cause, end to end (lab + webhook process + controller process + real
// kubectl): a namespace label change takes a Service's namespace out of its pool's namespaceSelectors. The Service
// loses its IP (as MetalLB's ClearAssignment), `berth.io/assigned-ips` and `metallb.io/ip-allocated-from-pool` stop
// naming the old IP, and the Service stays editable (label/annotate admitted with a warning).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { APP_NS, eventually, NS, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const POOL = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: teams
  namespace: ${NS}
spec:
  addresses: ["203.0.113.32/29"]
  serviceAllocation:
    namespaceSelectors:
    - matchLabels: {team: a}
`;

describe('a namespace leaving a pool’s namespaceSelectors: the Service loses its IP and its annotations, stays editable', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({ webhooks: 1, config: POOL });
  });
  after(async () => {
    await S?.stop();
  });

  it('kubectl label ns shop team- : IP, status and annotations cleared; label/annotate admitted with a warning', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['label', 'ns', APP_NS, 'team=a']);
    // Another namespace keeps the pool's selector resolving to something: a pool whose namespaceSelectors match no
    // namespace at all accepts explicit requests from anyone (MetalLB's isPoolCompatibleWithService, spec §10B quirk,
    // kept), so taking the last namespace out would not take the Service out of the pool.
    await S.ok(['create', 'namespace', 'team-a-other']);
    await S.ok(['label', 'ns', 'team-a-other', 'team=a']);
    await S.ok(['apply', '-f', '-'], serviceYaml('web'));
    const ip = await eventually(async () => (await S!.ips('web'))[0], 'web to get an IP from teams');
    assert.match(ip, /^203\.0\.113\.(3[2-9])$/);

    await S.ok(['label', 'ns', APP_NS, 'team-']);
    await eventually(async () => ((await S!.ips('web')).length === 0 ? true : undefined), 'web to lose its IP in status', 20_000).catch(async (e: Error) =>
      assert.fail(`${e.message}; web shows ${JSON.stringify(await S!.ips('web'))}`),
    );
    const events = (await S.events()).filter((e) => (e.involvedObject?.name ?? e.regarding?.name) === 'web' && e.reason === 'ClearAssignment');
    assert.ok(events.length > 0, 'a ClearAssignment event says why web lost its IP');

    const l = await S.run(['label', 'svc', 'web', '-n', APP_NS, 'tier=front', '--overwrite']);
    assert.equal(l.code, 0, `kubectl label svc web must succeed: ${l.stderr}`);
    assert.match(l.stderr, /Warning:/, 'the label is admitted with a warning saying why web has no IP');
    const a = await S.run(['annotate', 'svc', 'web', '-n', APP_NS, 'note=hello', '--overwrite']);
    assert.equal(a.code, 0, `kubectl annotate svc web must succeed: ${a.stderr}`);

    await eventually(async () => {
      const ann = (await S!.svc('web'))?.metadata.annotations ?? {};
      return !(ann['berth.io/assigned-ips'] ?? '').split(',').includes(ip) && ann['metallb.io/ip-allocated-from-pool'] !== 'teams' ? true : undefined;
    }, `web's annotations to stop naming ${ip}`, 15_000).catch(async (e: Error) =>
      assert.fail(`${e.message}; annotations: ${JSON.stringify((await S!.svc('web'))?.metadata.annotations)}`),
    );
    assert.equal((await S.claims()).filter((c) => c.spec.ip === ip).length, 0, `the claim of ${ip} is released`);
  });
});
