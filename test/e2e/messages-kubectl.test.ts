// Issue 7 §4 "Messages that tell the user what to do", end to end (lab + webhook process + real kubectl):
// - with no pool, `kubectl apply` of a Service is admitted with a warning that says no pool exists yet, and
//   `berth plan` of the same YAML prints the same warning (both read policies/admission.json);
// - a CREATE on an exhausted pool is denied with MetalLB's text first, then the other pools (an autoAssign: false
//   one with its free count and the annotation that requests it) and the remedies;
// - an overlapping pool is denied with MetalLB's text, naming the pool it overlaps (MetalLB #1577);
// - a refused pool delete prints no warning computed from the configuration without that pool.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordingIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { eventually, NS, poolYaml, serviceYaml, startStack, type Stack } from './correctness-harness.ts';

/** kubectl's `Warning: <text>` lines. */
const warningsOf = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning: '))
    .map((l) => l.slice('Warning: '.length));

describe('messages that tell the user what to do (kubectl against the lab)', { timeout: 120_000 }, () => {
  let S: Stack | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'berth-messages-'));
  before(async () => {
    S = await startStack({ webhooks: 1, controller: false });
  });
  after(async () => {
    await S?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no pool: admitted as <pending> with the no-pool warning, the same text berth plan prints', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const yaml = serviceYaml('early');
    const r = await S.run(['apply', '-f', '-'], yaml);
    assert.equal(r.code, 0, r.stderr);
    const lab = warningsOf(r.stderr).filter((w) => w.startsWith('no IPAddressPool is configured'));
    assert.equal(lab.length, 1, r.stderr);
    assert.match(lab[0]!, /^no IPAddressPool is configured yet: the Service is admitted without an IP \(<pending>\)/);
    assert.doesNotMatch(r.stderr, /until an IP is free/);

    const file = join(dir, 'early.yaml');
    writeFileSync(file, yaml);
    const io = recordingIO();
    assert.equal(await main(['plan', file], io), 0, io.stderr.join('\n'));
    assert.match(io.stdout.join('\n'), /^shop\s+early\s+-\s+<pending>\s+LB_NO_POOLS: /m);
    const planned = io.stderr.filter((l) => l.startsWith('warning: shop/early: ')).map((l) => l.slice('warning: shop/early: '.length));
    assert.deepEqual(planned, lab);
  });

  it('exhausted on CREATE: denied with MetalLB text first, then the other pools and the remedies', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(['apply', '-f', '-'], `${poolYaml('tiny', ['192.0.2.10/32'])}---\n${poolYaml('manual', ['192.0.2.16/29'], { autoAssign: false })}`);
    // The webhook sees the pools through its informer: probe with a server-side dry run until it does.
    await eventually(async () => {
      const probe = await S!.run(['apply', '--dry-run=server', '-f', '-'], serviceYaml('probe'));
      return probe.code === 0 && !/no IPAddressPool/.test(probe.stderr) ? true : undefined;
    }, 'the webhook to see the pools');
    await S.ok(['apply', '-f', '-'], serviceYaml('first'));
    const second = await S.run(['apply', '-f', '-'], serviceYaml('second', { port: 81 }));
    assert.notEqual(second.code, 0);
    assert.match(
      second.stderr,
      /denied the request: no available IPs: pool "tiny" 1\/1 in use\. Other pools: pool "manual" has 8 free but autoAssign is false \(request it with metallb\.io\/address-pool: manual\)\. To fix: add addresses to pool "tiny", or share an IP between Services \(same metallb\.io\/allow-shared-ip key, different ports\)/,
    );
    // The hint works.
    await S.ok(['apply', '-f', '-'], serviceYaml('second', { port: 81, annotations: { 'metallb.io/address-pool': 'manual' } }));
  });

  it('overlap: MetalLB text, then the pool it overlaps', async (t) => {
    if (!S) return t.skip('kubectl not found');
    const later = await S.run(['apply', '-f', '-'], poolYaml('zeta', ['192.0.2.0/28']));
    assert.notEqual(later.code, 0);
    assert.match(
      later.stderr,
      /denied the request: CIDR "192\.0\.2\.0\/28" in pool "zeta" overlaps with already defined CIDR "192\.0\.2\.10\/32" \(IPAddressPool "tiny", spec\.addresses\[0\]\)/,
    );
    // Pools are checked in name order (as MetalLB lists them), so a new pool named before "tiny" makes "tiny" the
    // reported one: the suffix is what names the new pool.
    const earlier = await S.run(['apply', '-f', '-'], poolYaml('other', ['192.0.2.0/28']));
    assert.notEqual(earlier.code, 0);
    assert.match(
      earlier.stderr,
      /denied the request: CIDR "192\.0\.2\.10\/32" in pool "tiny" overlaps with already defined CIDR "192\.0\.2\.0\/28" \(IPAddressPool "other", spec\.addresses\[0\]\)/,
    );
  });

  it('a refused pool delete prints no warning about the configuration without that pool', async (t) => {
    if (!S) return t.skip('kubectl not found');
    await S.ok(
      ['apply', '-f', '-'],
      `apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2-tiny, namespace: ${NS}}\nspec: {ipAddressPools: [tiny]}\n`,
    );
    const r = await S.run(['delete', 'ipaddresspool', 'tiny', '-n', NS]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /deleting IPAddressPool "tiny" would orphan 1 IP held by 1 Service: shop\/first \(192\.0\.2\.10\)/);
    assert.deepEqual(warningsOf(r.stderr), [], r.stderr);
  });
});
