// Issue 12 defect 5, end to end (lab + 3 webhook processes + controller process + real kubectl): updates that keep
// the IP request never move an IP, whichever webhook replica answers. Each replica sits behind its own EndpointSlice of
// berth-webhook-service; before each round the test makes exactly one replica ready, so rounds go to replicas 0, 1, 2,
// 0, … whether or not the lab spreads calls over endpoints by itself. The second case has a replica whose allocator
// leads the claims: it admitted a change that a ValidatingAdmissionPolicy then refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

const NAMES = ['r0', 'r1', 'r2', 'r3', 'r4'];

/** Refuses, after the mutating webhooks ran, any Service update carrying the label `reject`. */
const REJECT_POLICY = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: test-reject}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [services]}
  validations:
  - expression: "!has(object.metadata.labels) || !('reject' in object.metadata.labels)"
    message: refused by the test policy
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: test-reject}
spec:
  policyName: test-reject
  validationActions: [Deny]
`;
const ROUNDS = 20;

describe('updates that keep the IP request never move an IP, whichever webhook replica answers', { timeout: 150_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({
      webhooks: 3,
      config: [poolYaml('default', ['192.0.2.0/27']), poolYaml('reserved', ['198.51.100.32/29'], { autoAssign: false })].join('---\n'),
    });
  });
  after(async () => {
    await S?.stop();
  });

  it(`${ROUNDS} rounds of label/annotation updates over 3 replicas: assigned IPs, status and claims never change`, async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.routeTo(0);
    // Every kind of IP request: automatic, from a named pool, a requested IP, and a pair sharing one IP.
    const shared = { 'metallb.io/allow-shared-ip': 'pair' };
    await S.ok(
      ['apply', '-f', '-'],
      [
        serviceYaml('r0', { port: 80 }),
        serviceYaml('r1', { port: 81, annotations: { 'metallb.io/address-pool': 'reserved' } }),
        serviceYaml('r2', { port: 82, annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.20' } }),
        serviceYaml('r3', { port: 83, annotations: shared }),
        serviceYaml('r4', { port: 84, annotations: shared }),
      ].join('---\n'),
    );
    const ipsOf = async (): Promise<Map<string, { assigned: string; status: string; uid: string }>> => {
      const list = JSON.parse(await S!.ok(['get', 'svc', '-n', 'shop', '-o', 'json'])) as {
        items: Array<{ metadata: { name: string; uid: string; annotations?: Record<string, string> }; status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } }>;
      };
      return new Map(
        list.items.map((s) => [
          s.metadata.name,
          {
            assigned: s.metadata.annotations?.['berth.io/assigned-ips'] ?? '',
            status: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').join(','),
            uid: s.metadata.uid,
          },
        ]),
      );
    };
    const initial = await eventually(async () => {
      const m = await ipsOf();
      return NAMES.every((n) => m.get(n)?.status && m.get(n)?.status === m.get(n)?.assigned) ? m : undefined;
    }, 'every Service to get an IP');
    assert.equal(initial.get('r3')!.status, initial.get('r4')!.status, 'r3 and r4 share an IP');
    assert.equal(new Set(NAMES.map((n) => initial.get(n)!.status)).size, NAMES.length - 1, 'distinct IPs otherwise');

    const moves: string[] = [];
    const denials: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const replica = round % 3;
      await S.routeTo(replica);
      const r = round % 2 === 0
        ? await S.run(['label', 'svc', '-n', 'shop', ...NAMES, `round=r${round}`, '--overwrite'])
        : await S.run(['annotate', 'svc', '-n', 'shop', ...NAMES, `note=round-${round}`, '--overwrite']);
      if (r.code !== 0) denials.push(`round ${round} (replica ${replica}): ${r.stderr.trim()}`);
      const now = await ipsOf();
      for (const n of NAMES) {
        const a = initial.get(n)!;
        const b = now.get(n);
        if (b?.assigned !== a.assigned || (b.status !== '' && b.status !== a.status)) {
          moves.push(`round ${round} (replica ${replica}): ${n} ${a.assigned} -> assigned ${b?.assigned ?? '?'}, status ${b?.status ?? '?'}`);
        }
      }
    }
    assert.deepEqual(denials, [], 'every update is admitted');
    assert.deepEqual(moves, [], 'no IP moved');
    // At the end: status, annotations and claims still agree with the start.
    await S.routeToAll();
    const end = await eventually(async () => {
      const m = await ipsOf();
      return NAMES.every((n) => m.get(n)?.status === initial.get(n)!.status) ? m : undefined;
    }, 'status to settle', 10_000);
    const claims = await S.claims();
    for (const n of NAMES) {
      const held = claims.filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === n));
      assert.deepEqual(held.map((c) => c.spec.ip), [initial.get(n)!.status], `${n} holds exactly its claim`);
      const mine = held[0]!.spec.holders.filter((h) => h.name === n);
      assert.deepEqual(mine.map((h) => h.uid), [end.get(n)!.uid], `${n}'s claim entry is bound to its uid`);
    }
  });

  it('after a change refused later in the admission chain, label updates through every replica keep the IP', async (t) => {
    if (!S) return t.skip('kubectl not found');
    // At 17cd0f0 the replica that admitted the refused change kept it in its allocator, and the next unrelated update
    // it answered moved the Service to the lowest free IP.
    await S.ok(['apply', '-f', '-'], REJECT_POLICY);
    await S.routeTo(0);
    await S.ok(['apply', '-f', '-'], serviceYaml('filler', { port: 90 }) + '---\n' + serviceYaml('m', { port: 91 }));
    const ip = await eventually(async () => ((await S!.ips('filler')).length > 0 ? (await S!.ips('m'))[0] : undefined), 'filler and m to get an IP');
    // A free IP below m's: the lowest-free answer differs from what m holds.
    await S.ok(['delete', 'svc', 'filler', '-n', 'shop']);
    await eventually(async () => ((await S!.claims()).some((c) => c.spec.holders.some((h) => h.name === 'filler')) ? undefined : true), "filler's claim released");

    await S.routeTo(1);
    const refused = await S.run(['apply', '-f', '-'], serviceYaml('m', { port: 91, labels: { reject: 'yes' }, annotations: { 'metallb.io/address-pool': 'reserved' } }));
    assert.notEqual(refused.code, 0, 'the test policy refuses the change');
    assert.match(refused.stderr, /refused by the test policy/);

    const moves: string[] = [];
    for (const [round, replica] of [1, 2, 0, 1].entries()) {
      await S.routeTo(replica);
      const l = await S.run(['label', 'svc', 'm', '-n', 'shop', `round=${round}`, '--overwrite']);
      assert.equal(l.code, 0, `label via replica ${replica}: ${l.stderr}`);
      const s = await S.svc('m');
      const assigned = s?.metadata.annotations?.['berth.io/assigned-ips'];
      if (assigned !== ip) moves.push(`label ${round} via replica ${replica}: berth.io/assigned-ips ${ip} -> ${assigned}`);
    }
    await S.routeToAll();
    assert.deepEqual(moves, [], `m held ${ip}; an update that keeps the IP request moved it`);
    await eventually(async () => {
      const held = (await S!.claims()).filter((c) => c.spec.holders.some((h) => h.name === 'm')).map((c) => c.spec.ip);
      return (await S!.ips('m')).join() === ip && held.join() === ip ? true : undefined;
    }, `m to show ${ip} with exactly its claim`, 15_000);
  });
});

