// `berth plan --live` against the lab (webhook + controller processes, real kubectl), the fresh-user case of h12: the
// input's pool overlaps a live pool it does not name. The real webhook refuses `kubectl apply --dry-run=server` of it,
// and berth plan --live says the same (naming both pools, exit 1) instead of planning orphans; it states its reading
// of the input on stderr; --merge with a pool that does not overlap keeps the live Service (exit 0).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { eventually, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

describe('berth plan --live: input pools against the live pools they do not replace', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'berth-plan-live-'));
  before(async () => {
    S = await startStack({ webhooks: 1, config: poolYaml('default', ['192.0.2.0/28']) });
    if (!S) return;
    await eventually(async () => {
      const probe = await S!.run(['apply', '--dry-run=server', '-f', '-'], serviceYaml('probe'));
      return probe.code === 0 && !/no IPAddressPool/.test(probe.stderr) ? true : undefined;
    }, 'the webhook to see the pool');
    await S.ok(['apply', '-f', '-'], serviceYaml('web'));
    await eventually(async () => ((await S!.ips('web')).length === 1 ? true : undefined), 'web to get an IP');
  });
  after(async () => {
    await S?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an overlapping pool: the webhook refuses it, plan --live names both pools (exit 1); --merge keeps what the input lacks', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const overlapping = join(dir, 'overlapping.yaml');
    writeFileSync(overlapping, poolYaml('development', ['192.0.2.0/30']));
    const dry = await S.run(['apply', '--dry-run=server', '-f', overlapping]);
    assert.notEqual(dry.code, 0, 'the webhook refuses the overlapping pool');
    assert.match(dry.stderr, /overlaps/);
    const kubeconfig = S.t.lab.kubeconfigPath;
    for (const extra of [[], ['--merge']]) {
      const io = recordingIO();
      assert.equal(await main(['plan', '--live', ...extra, '--kubeconfig', kubeconfig, overlapping], io), 1, io.stderr.join('\n'));
      const out = io.stdout.join('\n');
      assert.match(out, /IPAddressPool\/development: .*in pool "development" overlaps with already defined CIDR "192\.0\.2\.0\/28" \(IPAddressPool "default"/);
      assert.ok(io.stderr.some((l) => /the webhook would refuse the input/.test(l)), io.stderr.join('\n'));
    }
    const other = join(dir, 'other.yaml');
    writeFileSync(other, poolYaml('development', ['203.0.113.0/28']));
    const replace = recordingIO();
    assert.equal(await main(['plan', '--live', '--kubeconfig', kubeconfig, other], replace), 1, replace.stderr.join('\n'));
    assert.ok(
      replace.stderr.includes('berth plan --live: the input is taken as the whole configuration (kubectl apply --prune, Argo CD sync with prune): live pool(s) "default", not in it, count as deleted; --merge plans kubectl apply without --prune instead'),
      replace.stderr.join('\n'),
    );
    assert.match(replace.stdout.join('\n'), /^shop\s+web\s+192\.0\.2\.\d+\s+<none>\s+orphaned/m);
    const merge = recordingIO();
    assert.equal(await main(['plan', '--live', '--merge', '--kubeconfig', kubeconfig, other], merge), 0, merge.stderr.join('\n'));
    assert.ok(merge.stderr.some((l) => l.includes('--merge: kubectl apply without --prune); live pool(s) "default", not in it, are kept')), merge.stderr.join('\n'));
    assert.match(merge.stdout.join('\n'), /^shop\s+web\s+(192\.0\.2\.\d+)\s+\1\s+keeps\s+default/m);
  });
});
