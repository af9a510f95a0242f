// Issue 7 §1 "No lock-out", end to end (lab + webhook process + controller process + real kubectl): a Service that
// holds no IP (orphaned by a pool shrink, by a pool delete, or created before any pool existed) stays editable
// (label/annotate are admitted with a warning saying why it has no IP), loses the annotations naming its old IP,
// and the controller does not fight the webhook over it (update-error counter flat, no repeated denied write).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, linesMatching, NS, pause, poolYaml, serviceYaml, startStack, type Stack, type Svc } from './correctness-harness.ts';

const ASSIGNED = 'berth.io/assigned-ips';
const FROM_POOL = 'metallb.io/ip-allocated-from-pool';

/** The Service has no IP in status and no annotation naming `oldIP` or `oldPool`. */
function lostIP(s: Svc | undefined, oldIP: string, oldPool: string): boolean {
  if (!s) return false;
  const ingress = s.status?.loadBalancer?.ingress ?? [];
  const a = s.metadata.annotations ?? {};
  return ingress.length === 0 && !(a[ASSIGNED] ?? '').split(',').includes(oldIP) && a[FROM_POOL] !== oldPool;
}

describe('no lock-out: a Service without an IP stays editable and the controller stays quiet', { timeout: 240_000 }, () => {
  let S: Stack | undefined;
  before(async () => {
    S = await startStack({ webhooks: 1 });
  });
  after(async () => {
    await S?.stop();
  });

  /** label + annotate the Service: both admitted, each with a warning that names `why`. */
  async function editable(name: string, why: RegExp): Promise<void> {
    const l = await S!.run(['label', 'svc', name, '-n', 'shop', 'team=x', '--overwrite']);
    assert.equal(l.code, 0, `kubectl label svc ${name} must succeed: ${l.stderr}`);
    assert.match(l.stderr, /Warning:/, `kubectl label svc ${name} warns why it has no IP`);
    assert.match(l.stderr, why, `the warning says why ${name} has no IP`);
    const a = await S!.run(['annotate', 'svc', name, '-n', 'shop', 'note=hello', '--overwrite']);
    assert.equal(a.code, 0, `kubectl annotate svc ${name} must succeed: ${a.stderr}`);
    assert.match(a.stderr, /Warning:/, `kubectl annotate svc ${name} warns why it has no IP`);
    const s = await S!.svc(name);
    assert.equal(s?.metadata.labels?.['team'], 'x');
    assert.equal(s?.metadata.annotations?.['note'], 'hello');
  }

  it('a Service created while no pool exists is admitted pending and stays editable', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const c = await S.run(['apply', '-f', '-'], serviceYaml('s0', { port: 79 }));
    assert.equal(c.code, 0, `creating s0 with no pool: ${c.stderr}`);
    assert.deepEqual(await S.ips('s0'), []);
    await editable('s0', /pool/i);
    // Then the pools appear: s0 gets the first IP of default.
    await S.ok(['apply', '-f', '-'], [poolYaml('default', ['192.0.2.10-192.0.2.12']), poolYaml('production', ['198.51.100.8/30'], { autoAssign: false })].join('---\n'));
    assert.equal(await eventually(async () => (await S!.ips('s0'))[0], 's0 to get an IP once a pool exists'), '192.0.2.10');
  });

  it('pool shrink with allow-orphaning: s2 loses its IP and its annotations, and stays editable', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['apply', '-f', '-'], serviceYaml('s1') + '---\n' + serviceYaml('s2', { port: 81 }));
    const ips = await eventually(async () => {
      const [a, b] = [await S!.ips('s1'), await S!.ips('s2')];
      return a.length === 1 && b.length === 1 ? [a[0]!, b[0]!] : undefined;
    }, 's1 and s2 to get an IP');
    assert.deepEqual(ips, ['192.0.2.11', '192.0.2.12']);

    await S.ok(['annotate', 'ipaddresspool', 'default', '-n', NS, 'berth.io/allow-orphaning=true']);
    const shrink = await S.run(['apply', '-f', '-'], poolYaml('default', ['192.0.2.10-192.0.2.11'], { annotations: { 'berth.io/allow-orphaning': 'true' } }));
    assert.equal(shrink.code, 0, shrink.stderr);

    await eventually(async () => ((await S!.ips('s2')).length === 0 ? true : undefined), 's2 to lose its IP in status', 20_000);
    assert.deepEqual(await S.ips('s1'), ['192.0.2.11'], 's1 keeps its IP');
    await editable('s2', /default|no available IP|in use|exhausted/i);
    await eventually(async () => (lostIP(await S!.svc('s2'), '192.0.2.12', 'default') ? true : undefined), 's2 annotations to stop naming 192.0.2.12', 10_000)
      .catch(async (e: Error) => assert.fail(`${e.message}\ns2 annotations: ${JSON.stringify((await S!.svc('s2'))?.metadata.annotations)}`));
  });

  it('pool delete with allow-orphaning: a Service whose metallb.io/address-pool names it stays editable', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['apply', '-f', '-'], serviceYaml('s3', { port: 82, annotations: { 'metallb.io/address-pool': 'production' } }));
    const ip = await eventually(async () => (await S!.ips('s3'))[0], 's3 to get an IP from production');
    assert.match(ip, /^198\.51\.100\.(8|9|10|11)$/);

    await S.ok(['annotate', 'ipaddresspool', 'production', '-n', NS, 'berth.io/allow-orphaning=true']);
    const del = await S.run(['delete', 'ipaddresspool', 'production', '-n', NS]);
    assert.equal(del.code, 0, del.stderr);
    await eventually(async () => ((await S!.ips('s3')).length === 0 ? true : undefined), 's3 to lose its IP in status', 20_000);
    await editable('s3', /production/);
    await eventually(async () => (lostIP(await S!.svc('s3'), ip, 'production') ? true : undefined), `s3 annotations to stop naming ${ip}`, 10_000)
      .catch(async (e: Error) => assert.fail(`${e.message}\ns3 annotations: ${JSON.stringify((await S!.svc('s3'))?.metadata.annotations)}`));
  });

  it('a Service created while the webhook was down, with its pool full, stays editable', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.routeToNone();
    try {
      const c = await S.run(['apply', '-f', '-'], serviceYaml('s5', { port: 85 }));
      assert.equal(c.code, 0, `creating s5 with the webhook down (failurePolicy Ignore): ${c.stderr}`);
    } finally {
      await S.routeToAll();
    }
    // default (192.0.2.10-11) is full: s5 stays pending.
    assert.equal((await S.svc('s5'))?.metadata.annotations?.[ASSIGNED], undefined);
    await editable('s5', /default|no available IP|in use|exhausted/i);
  });

  it('while Services are pending, the controller does not retry denied writes: update errors flat, no repeated denial', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const ctl = S.controller!;
    // Let the controller settle on the state above (its own backoff, events), then watch it for 60 s (issue 7).
    await pause(3_000);
    const errors0 = await S.controllerMetric('metallb_k8s_client_update_errors_total');
    const log0 = ctl.output().length;
    await pause(60_000);
    const errors1 = await S.controllerMetric('metallb_k8s_client_update_errors_total');
    const window = ctl.output().slice(log0);
    const denied = linesMatching(window, /denied/);
    if (process.env['BERTH_E2E_DEBUG']) console.error(ctl.output());
    // Still pending, still editable at the end of the window.
    for (const n of ['s2', 's3', 's5']) assert.deepEqual(await S.ips(n), [], `${n} is still pending`);
    assert.equal(errors1, errors0, `metallb_k8s_client_update_errors_total moved from ${errors0} to ${errors1} in 60 s; controller log:\n${window.slice(-3000)}`);
    assert.ok(denied.length <= 1, `the controller logged ${denied.length} denied writes in 60 s:\n${denied.slice(0, 5).join('\n')}`);
  });
});
