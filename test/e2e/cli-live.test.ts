// Issue 11 "The live CLI", end to end: `berth status` and `berth plan --live` against the lab (webhook + controller
// processes), with objects created by real kubectl — two Services that got IPs, one admitted while the webhook was
// away and left <pending> by the controller because the pool is full, and (for plan --live) a Service in the Git
// overlay that the webhook would deny.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { eventually, NS, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

interface StatusJson {
  problems: string[];
  pools: Array<{ pool: string; ipv4InUse: number; ipv4Total: number }>;
  services: Array<{ namespace: string; name: string; ips: string[]; pool?: string; pending?: { code: string; message: string } }>;
}
interface PlanJson {
  problems: string[];
  orphaned: number;
  rows: Array<{ name: string; source: string; now: string[]; next: string[]; change: string; reason?: { code: string } }>;
}

describe('berth status and berth plan --live against the lab', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'berth-live-'));
  const kubeconfig = (): string => S!.t.lab.kubeconfigPath;
  before(async () => {
    S = await startStack({ webhooks: 1, config: poolYaml('small', ['192.0.2.10/31']) });
    if (!S) return;
    await eventually(async () => {
      const probe = await S!.run(['apply', '--dry-run=server', '-f', '-'], serviceYaml('probe'));
      return probe.code === 0 && !/no IPAddressPool/.test(probe.stderr) ? true : undefined;
    }, 'the webhook to see the pool');
    await S.ok(['apply', '-f', '-'], serviceYaml('a'));
    await S.ok(['apply', '-f', '-'], serviceYaml('b', { port: 81 }));
    await eventually(async () => ((await S!.ips('a')).length === 1 && (await S!.ips('b')).length === 1 ? true : undefined), 'a and b to get IPs');
    // The webhook is away (failurePolicy Ignore): c is stored without an IP and the controller cannot give it one.
    await S.routeToNone();
    await S.ok(['apply', '-f', '-'], serviceYaml('c', { port: 82 }));
    await S.routeToAll();
    await eventually(async () => ((await S!.events()).some((e) => e.reason === 'AllocationFailed' && e.involvedObject?.name === 'c') ? true : undefined), 'the controller to fail c');
  });
  after(async () => {
    await S?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('status: pools used/total, Services with IP and pool, the pending one with the reason the allocator gives', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const io = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', kubeconfig(), '-o', 'json'], io), 0, io.stderr.join('\n'));
    const r = JSON.parse(io.stdout.join('\n')) as StatusJson;
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.pools.map((p) => [p.pool, p.ipv4InUse, p.ipv4Total]), [['small', 2, 2]]);
    const byName = new Map(r.services.map((s) => [s.name, s]));
    for (const n of ['a', 'b']) {
      assert.deepEqual(byName.get(n)?.ips, await S.ips(n), n);
      assert.equal(byName.get(n)?.pool, 'small');
      assert.equal(byName.get(n)?.pending, undefined);
    }
    const c = byName.get('c');
    assert.deepEqual(c?.ips, []);
    assert.equal(c?.pending?.code, 'LB_POOL_EXHAUSTED');
    assert.match(c?.pending?.message ?? '', /pool "small" 2\/2 in use/);

    const text = recordingIO();
    assert.equal(await main(['status', '--kubeconfig', kubeconfig(), '--progress'], text), 0);
    const out = text.stdout.join('\n');
    assert.match(out, /^POOL\s+AUTO-ASSIGN\s+IPV4 IN USE\s+IPV6 IN USE\nsmall\s+true\s+2\/2\s+0\/0$/m);
    assert.match(out, /^shop\s+c\s+<pending>\s+-\s+-\s+LB_POOL_EXHAUSTED: no available IPs/m);
    assert.ok(text.stderr.some((l) => /^berth status: listed \d+ services$/.test(l)), text.stderr.join('\n'));
  });

  it('plan --live: a shrunk pool orphans a Service (exit 1), a grown one gives the pending Service an IP (exit 0)', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const ipsB = await S.ips('b');
    // Keep only b's IP: a is orphaned; a Service in the overlay asking for an IP outside every pool is denied.
    const shrunk = join(dir, 'shrunk.yaml');
    writeFileSync(shrunk, `${poolYaml('small', [`${ipsB[0]}/32`])}---\n${serviceYaml('d', { port: 83, extraSpec: '  loadBalancerIP: 203.0.113.5\n' })}`);
    const io = recordingIO();
    assert.equal(await main(['plan', '--live', '--kubeconfig', kubeconfig(), '-o', 'json', shrunk], io), 1, io.stderr.join('\n'));
    const p = JSON.parse(io.stdout.join('\n')) as PlanJson;
    const row = new Map(p.rows.map((r) => [r.name, r]));
    assert.equal(p.orphaned, 1);
    assert.equal(row.get('a')?.change, 'orphaned');
    assert.deepEqual(row.get('a')?.now, await S.ips('a'));
    assert.equal(row.get('b')?.change, 'keeps');
    assert.deepEqual(row.get('b')?.next, ipsB);
    assert.equal(row.get('c')?.change, 'pending');
    assert.equal(row.get('d')?.change, 'denied');
    assert.match(row.get('d')?.source ?? '', /shrunk\.yaml:\d+$/);

    const grown = join(dir, 'grown.yaml');
    writeFileSync(grown, poolYaml('small', ['192.0.2.10/31', '192.0.2.12/32']));
    const io2 = recordingIO();
    assert.equal(await main(['plan', '--live', '--kubeconfig', kubeconfig(), grown], io2), 0, io2.stderr.join('\n'));
    const out = io2.stdout.join('\n');
    assert.match(out, /^shop\s+c\s+<none>\s+192\.0\.2\.12\s+gets\s+small/m);
    assert.match(out, /^shop\s+a\s+\S+\s+\S+\s+keeps\s+small/m);

    // An overlay folder is read per kustomize root, as berth validate reads it: one plan per overlay, never merged.
    const io3 = recordingIO();
    assert.equal(await main(['plan', '--live', '--kubeconfig', kubeconfig(), '-o', 'json', 'gitops'], io3), 1, io3.stderr.join('\n'));
    const sets = (JSON.parse(io3.stdout.join('\n')) as { sets: Array<PlanJson & { path: string }> }).sets;
    assert.deepEqual(sets.map((x) => x.path), ['gitops/dev', 'gitops/prod']);
    for (const x of sets) {
      assert.deepEqual(x.problems, [], x.path);
      // The lab's pool `small` (192.0.2.10/31) is in neither overlay: a and b would lose their IPs.
      assert.equal(x.orphaned, 2, x.path);
      assert.deepEqual(x.rows.filter((r) => r.change === 'orphaned').map((r) => r.name).sort(), ['a', 'b'], x.path);
    }

    // The live cluster is untouched by planning.
    assert.deepEqual((await S.claims()).length, 2);
    assert.equal(NS, 'metallb-system');
  });
});
