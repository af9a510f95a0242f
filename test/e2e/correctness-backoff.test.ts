// Issue 12 defects 1 and 2, end to end (lab + webhook process + controller process + real kubectl): every IPv6
// IPAddressClaim create is refused by a ValidatingAdmissionPolicy (as a 403 from the API server), and a
// RequireDualStack Service created with generateName and metallb.io/address-pool is allocated by the controller.
// Each reconcile takes the IPv4 claim, is refused the IPv6 one and rolls the IPv4 claim back: its own claim events
// must not requeue it past the backoff (100 ms doubling: at most 8 attempts in 10 s; at 17cd0f0 thousands), no IPv4
// claim is left, the Service stays <pending> with one SyncFailed Warning naming the refusal, and once the policy is
// gone the next retry gives it both families.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, pause, poolYaml, startStack, type KubeEvent, type Stack } from './correctness-harness.ts';

const POLICY = 'test-no-v6-claims';
const REFUSAL = 'IPv6 claims are refused by the test policy';

/**
 * A ValidatingAdmissionPolicy `name` and its Deny binding refusing every IPAddressClaim create for which the CEL
 * `expression` is false, with `message` (and `reason` when given), as multi-document YAML for `kubectl apply -f -`.
 */
function claimPolicyYaml(name: string, expression: string, message: string, reason?: string): string {
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [berth.io], apiVersions: ["*"], operations: [CREATE], resources: [ipaddressclaims]}
  validations:
  - expression: ${JSON.stringify(expression)}
    message: ${message}
${reason === undefined ? '' : `    reason: ${reason}\n`}---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec:
  policyName: ${name}
  validationActions: [Deny]
`;
}

/** Refuses every IPv6 IPAddressClaim create (spec.ip with a colon). */
const NO_V6_CLAIMS = claimPolicyYaml(POLICY, "!object.spec.ip.contains(':')", REFUSAL, 'Forbidden');

const dualStackService = `apiVersion: v1
kind: Service
metadata:
  generateName: bo-
  namespace: shop
  annotations:
    metallb.io/address-pool: dual
spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  selector: {app: bo}
  ports:
  - port: 80
    targetPort: 8080
`;

const about = (e: KubeEvent, name: string): boolean => (e.involvedObject?.name ?? e.regarding?.name) === name;

describe('claim writes refused by admission: the controller backs off, rolls back and says why', { timeout: 150_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({
      webhooks: 1,
      config: [
        poolYaml('dual', ['198.51.100.0/28', '2001:db8:22::/124'], { autoAssign: false }),
        poolYaml('p1', ['192.0.2.0/28'], { autoAssign: false }),
        poolYaml('p2', ['203.0.113.0/28'], { autoAssign: false }),
        NO_V6_CLAIMS,
      ].join('---\n'),
    });
  });
  after(async () => {
    await S?.stop();
  });

  it('IPv6 claim creates refused: few attempts in 10 s, no IPv4 claim kept, one SyncFailed; both families once allowed', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const ctl = S.controller!;
    // The controller leads (its config loaded) before the observation starts.
    await eventually(async () => ((await S!.controllerMetric('metallb_k8s_client_config_loaded_bool')) === 1 ? true : undefined), 'the controller to load its configuration', 30_000);
    const errors0 = (await S.controllerMetric('metallb_k8s_client_update_errors_total')) ?? 0;
    const updates0 = (await S.controllerMetric('metallb_k8s_client_updates_total')) ?? 0;
    const log0 = ctl.output().length;
    // Claim writes seen by a watch (each ADDED/MODIFIED/DELETED line is one write; refused creates write nothing).
    const watch = S.t.kubectl(['get', 'ipaddressclaims.berth.io', '--watch-only', '-o', 'name', '--request-timeout=14s'], { timeoutMs: 16_000 });
    await pause(1_000);
    const out = await S.ok(['create', '-f', '-'], dualStackService);
    const name = /service\/(bo-[a-z0-9]+) created/.exec(out)?.[1];
    assert.ok(name, `generated name in ${JSON.stringify(out)}`);
    await pause(10_000); // observation window: counts below are what happened in it, not timings
    const failed = ((await S.controllerMetric('metallb_k8s_client_update_errors_total')) ?? 0) - errors0;
    const reconciles = ((await S.controllerMetric('metallb_k8s_client_updates_total')) ?? 0) - updates0;
    const claimWrites = (await watch).stdout.split('\n').filter((l) => l.trim() !== '').length;
    const lines = ctl.output().slice(log0).split('\n').filter((l) => l.trim() !== '');
    t.diagnostic(`${name}: ${reconciles} reconciles (${failed} failed), ${claimWrites} claim writes, ${lines.length} controller lines in ~10 s`);

    // Retried (the failure is transient), on the backoff: attempts at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s (12.7 s is
    // past the window) — at most 8 whatever the machine's speed; an event-driven re-run would double that at least.
    assert.ok(failed >= 2, `the controller retried the failed reconcile (${failed} failed reconciles)`);
    assert.ok(failed <= 8, `${failed} failed reconciles in ~10 s: more than the backoff allows (100 ms doubling) — its own claim events requeue it`);
    assert.ok(reconciles <= failed + 1, `${reconciles} reconciles for ${failed} failures: reconciles beside the retries`);
    // Each attempt creates the IPv4 claim and deletes it again: two writes per attempt.
    assert.ok(claimWrites <= 2 * failed + 2, `${claimWrites} claim writes for ${failed} attempts`);
    assert.ok(lines.length < 50, `the controller logged ${lines.length} lines in ~10 s:\n${lines.slice(-3).join('\n')}`);

    // <pending>, and no claim of it left (the rollback; polled: an attempt may be between its create and its undo).
    assert.deepEqual(await S.ips(name), []);
    await eventually(
      async () => ((await S!.claims()).some((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === name)) ? undefined : true),
      `no claim held by ${name} (the IPv4 claim rolled back)`,
      5_000,
    );
    // One Warning for the run of failures, naming the refusal (not one per retry).
    const warnings = (await S.events()).filter((e) => about(e, name) && e.type === 'Warning');
    assert.equal(warnings.length, 1, `Warnings on ${name}: ${JSON.stringify(warnings)}`);
    const w = warnings[0]!;
    assert.equal(w.reason, 'SyncFailed');
    assert.match(w.message ?? w.note ?? '', new RegExp(`ValidatingAdmissionPolicy '${POLICY}' .*${REFUSAL}.*; retrying with backoff`));
    assert.equal(w.series?.count ?? w.count ?? 1, 1, 'recorded once, not once per retry');

    // The refusal lifted: a later retry (backoff ≤ 60 s) gives it both families, with their claims.
    await S.ok(['delete', 'validatingadmissionpolicybinding', POLICY]);
    await S.ok(['delete', 'validatingadmissionpolicy', POLICY]);
    const ips = await eventually(async () => {
      const got = await S!.ips(name);
      return got.length === 2 ? got : undefined;
    }, `${name} to get an IPv4 and an IPv6 address once IPv6 claims are allowed`, 60_000);
    assert.equal(ips.filter((ip) => ip.startsWith('198.51.100.')).length, 1, ips.join());
    assert.equal(ips.filter((ip) => ip.startsWith('2001:db8:22:')).length, 1, ips.join());
    const mine = (await S.claims()).filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === name)).map((c) => c.spec.ip);
    assert.deepEqual(mine.sort(), [...ips].sort(), 'its claims are its IPs');
    const later = (await S.events()).filter((e) => about(e, name));
    assert.equal(later.filter((e) => e.type === 'Warning').length, 1, 'the success adds no Warning');
    assert.ok(later.some((e) => e.reason === 'IPAllocated'), `an IPAllocated event: ${JSON.stringify(later)}`);
  });

  it('webhook down, claim writes refused: one SyncFailed per run of failures, none for a success, a new one for the next run', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const P2 = 'test-no-p2-claims';
    const REFUSE_P2 = claimPolicyYaml(P2, "object.spec.pool != 'p2'", 'claims in pool p2 are refused by the test policy');
    await S.ok(['apply', '-f', '-'], REFUSE_P2);
    // Warning SyncFailed occurrences on `sf` (an Event's count grows when the same message repeats).
    const syncFailed = async (): Promise<{ n: number; messages: string[] }> => {
      const ev = (await S!.events()).filter((e) => about(e, 'sf') && e.type === 'Warning' && e.reason === 'SyncFailed');
      return { n: ev.reduce((a, e) => a + (e.series?.count ?? e.count ?? 1), 0), messages: ev.map((e) => e.message ?? e.note ?? '') };
    };
    const held = async (): Promise<string[]> =>
      (await S!.claims()).filter((c) => c.spec.holders.some((h) => h.namespace === 'shop' && h.name === 'sf')).map((c) => c.spec.ip);
    const svcYaml = (pool: string): string =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: sf\n  namespace: shop\n  annotations: {metallb.io/address-pool: ${pool}}\nspec:\n  type: LoadBalancer\n  selector: {app: sf}\n  ports:\n  - port: 80\n`;
    await S.routeToNone(); // the webhook is down (failurePolicy Ignore): the controller allocates
    try {
      // Run 1: every claim create in p2 refused.
      await S.ok(['apply', '-f', '-'], svcYaml('p2'));
      const first = await eventually(async () => ((await syncFailed()).n > 0 ? syncFailed() : undefined), 'a SyncFailed Warning on sf', 20_000);
      assert.match(first.messages[0] ?? '', new RegExp(`ValidatingAdmissionPolicy '${P2}' .*claims in pool p2 are refused by the test policy; retrying with backoff`));
      await pause(3_000); // several retries (0.1 + 0.2 + 0.4 + 0.8 + 1.6 s)
      assert.equal((await syncFailed()).n, 1, 'one Warning for the whole run, not one per retry');
      // A success (pool p1) ends the run without a Warning.
      await S.ok(['apply', '-f', '-'], svcYaml('p1'));
      const ips = await eventually(async () => ((await S!.ips('sf')).length === 1 ? S!.ips('sf') : undefined), 'sf to get an IP from p1', 30_000);
      assert.match(ips[0]!, /^192\.0\.2\./);
      assert.deepEqual(await held(), ips);
      assert.equal((await syncFailed()).n, 1, 'a success adds no Warning');
      // Run 2: back to p2 (its p1 IP released, the p2 claim refused): a new Warning.
      await S.ok(['apply', '-f', '-'], svcYaml('p2'));
      await eventually(async () => ((await syncFailed()).n === 2 ? true : undefined), 'a second SyncFailed occurrence on sf (a new run of failures)', 20_000);
      await pause(3_000);
      assert.equal((await syncFailed()).n, 2, 'one Warning per run of failures');
      // Whatever it shows in status, it holds a claim for (a released IP is not shown as its own).
      const shown = await S.ips('sf');
      const claimed = await held();
      t.diagnostic(`sf after run 2: status [${shown.join(', ')}], claims [${claimed.join(', ')}]`);
      assert.deepEqual(shown.filter((ip) => !claimed.includes(ip)), [], `sf shows ${shown.join(', ')} in status but holds claims for [${claimed.join(', ')}]`);
    } finally {
      await S.routeToAll();
      await S.run(['delete', 'svc', 'sf', '-n', 'shop', '--wait=false']);
      await S.run(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', P2]);
    }
  });
});
