import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.ts';
import { recordingIO } from './io.ts';

async function run(args: string[], stdin = '') {
  const io = recordingIO(stdin);
  const code = await main(args, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

test("validate accepts the seeds' dev pool, L2Advertisement and BGP objects", async () => {
  const r = await run(['validate', 'examples/dev', 'examples/bgp']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /4 metallb.io object\(s\) valid/);
});

test('validate - reads the README\'s concatenated examples as two objects, and names a missing "---" instead of losing one', async () => {
  const files = ['examples/dev/ipaddresspool.yaml', 'examples/dev/l2advertisement.yaml'].map((f) =>
    readFileSync(f, 'utf8'),
  );
  const both = await run(['validate', '-'], files.join(''));
  assert.equal(both.code, 0, both.out + both.err);
  assert.match(both.err, /2 metallb.io object\(s\) valid/);
  assert.doesNotMatch(both.err, /does not exist/);
  const glued = files.map((t) => t.replace(/^---\n/, '')).join('');
  const r = await run(['validate', '-'], glued);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /<stdin>:\d+: duplicate key "apiVersion" \(first at line \d+\): is a "---" missing between two objects\?/,
  );
});

test('berth <command> --help / -h prints the usage on stdout and exits 0, for every command of the usage', async () => {
  const top = await run(['--help']);
  const block = top.out.slice(top.out.indexOf('commands:\n'), top.out.indexOf('\n\n', top.out.indexOf('commands:\n')));
  const commands = [...block.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'version');
  assert.deepEqual(commands, ['validate', 'plan', 'status', 'migrate', 'lab', 'controller', 'webhook', 'speaker']);
  for (const cmd of commands) {
    for (const flag of ['--help', '-h']) {
      const r = await run([cmd, flag]);
      assert.equal(r.code, 0, `${cmd} ${flag}: ${r.err}`);
      assert.match(r.out, new RegExp(`^usage: berth ${cmd} `), `${cmd} ${flag}`);
      assert.equal(r.err, '', `${cmd} ${flag}: nothing on stderr (no "Unknown option")`);
      assert.doesNotMatch(r.out, /Unknown option/);
    }
  }
});

test("validate accepts the seeds' prod pool and the multi-pool example", async () => {
  assert.equal((await run(['validate', 'examples/prod'])).code, 0);
  assert.equal((await run(['validate', 'examples/multi-pool'])).code, 0);
});

test('validate rejects overlapping pools (dev and prod together) with MetalLB message', async () => {
  const r = await run(['validate', 'examples/dev', 'examples/prod']);
  assert.equal(r.code, 1);
  assert.match(
    r.out,
    /examples\/(dev|prod)\/ipaddresspool\.yaml:\d+ IPAddressPool\/default: .*overlaps with already defined CIDR/,
  );
});

test('validate names file, line, object and value for a bad CIDR and a backwards range', async () => {
  const r = await run(['validate', 'test/fixtures/cli/bad-pools.yaml']);
  assert.equal(r.code, 1);
  const lines = r.out.split('\n');
  const cidr = lines.find((l) => l.includes('100.200.300.400/24'));
  assert.ok(cidr, r.out);
  assert.match(
    cidr,
    /^test\/fixtures\/cli\/bad-pools\.yaml:9 IPAddressPool\/broken: .*invalid CIDR "100\.200\.300\.400\/24"/,
  );
  const range = lines.find((l) => l.includes('IPAddressPool/backwards'));
  assert.ok(range, r.out);
  assert.match(range, /start IP "198\.51\.100\.20" is after the end IP "198\.51\.100\.10"/);
});

test('validate --output json reports problems as data', async () => {
  const r = await run(['validate', '--output', 'json', 'test/fixtures/cli/bad-pools.yaml']);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out) as { valid: boolean; problems: Array<{ code: string; line: number }> };
  assert.equal(j.valid, false);
  assert.ok(j.problems.some((p) => p.code === 'LB_BAD_CIDR' && p.line === 9));
});

test('validate reads stdin with -', async () => {
  const text = readFileSync('examples/dev/ipaddresspool.yaml', 'utf8');
  assert.equal((await run(['validate', '-'], text)).code, 0);
  const bad = await run(['validate', '-'], readFileSync('test/fixtures/cli/bad-pools.yaml', 'utf8'));
  assert.equal(bad.code, 1);
  assert.match(bad.out, /^<stdin>:9 /m);
});

test('validate exits 2 on unreadable input and on invalid YAML, naming file and line', async () => {
  const missing = await run(['validate', 'no/such/file.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no\/such\/file\.yaml: no such file or directory/);
  const bad = await run(['validate', 'test/fixtures/cli/bad-yaml.yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad-yaml\.yaml:\d+: invalid YAML/);
});

test('usage errors exit 2', async () => {
  assert.equal((await run(['validate'])).code, 2);
  assert.equal((await run(['plan', '--bogus', 'x'])).code, 2);
  assert.equal((await run(['nope'])).code, 2);
});

test("plan assigns the seeds' Services: lowest free IP, fixed IP, pool annotation, the shared pair on .230", async () => {
  const r = await run(['plan', '--output', 'json', 'examples/dev', 'examples/services']);
  assert.equal(r.code, 0, r.out + r.err);
  const j = JSON.parse(r.out) as { services: Array<{ name: string; ips: string[]; pool?: string }> };
  const ip = (n: string) => j.services.find((s) => s.name === n)?.ips.join(',');
  assert.equal(ip('my-service'), '192.168.1.220');
  assert.equal(ip('my-service-fixed-ip'), '192.168.1.225');
  assert.equal(ip('my-service-pool'), '192.168.1.221');
  assert.equal(ip('my-service-http'), '192.168.1.230');
  assert.equal(ip('my-service-https'), '192.168.1.230');
  assert.ok(j.services.every((s) => s.pool === 'default'));
});

test('plan prints a kubectl-like table and pool usage', async () => {
  const r = await run(['plan', 'examples/dev', 'examples/services']);
  assert.equal(r.code, 0);
  assert.match(r.out, /^NAMESPACE\s+NAME\s+POOL\s+EXTERNAL-IP\s+REASON$/m);
  assert.match(r.out, /^default\s+my-service\s+default\s+192\.168\.1\.220$/m);
  assert.match(r.out, /^default\s+4\/31\s+0\/0$/m); // the shared .230 counts once (distinct IPs, as MetalLB)
  assert.match(r.err, /metallb.universe.tf\/allow-shared-ip is deprecated/);
});

test('plan denies a third Service on port 80 of the shared IP and an IP outside every pool, naming the values', async () => {
  const r = await run([
    'plan',
    '--output',
    'json',
    'examples/dev',
    'examples/services',
    'test/fixtures/cli/third-on-shared-ip.yaml',
  ]);
  assert.equal(r.code, 1);
  const j = JSON.parse(r.out) as {
    services: Array<{ name: string; denied?: { code: string; message: string } }>;
  };
  const alt = j.services.find((s) => s.name === 'my-service-http-alt');
  assert.equal(alt?.denied?.code, 'LB_PORT_CONFLICT');
  assert.match(alt!.denied!.message, /TCP\/80/);
  assert.match(alt!.denied!.message, /192\.168\.1\.230/);
  const out = j.services.find((s) => s.name === 'outside');
  assert.equal(out?.denied?.code, 'LB_IP_NOT_IN_POOL');
  assert.match(
    out!.denied!.message,
    /192\.168\.1\.99 is not in any IPAddressPool \(default: 192\.168\.1\.220-192\.168\.1\.250\)/,
  );
});

test('plan denies Services the API server would refuse (LB_BAD_SERVICE) with the field, the value and the rule', async () => {
  const r = await run(['plan', '--output', 'json', 'examples/dev', 'test/fixtures/cli/malformed-services.yaml']);
  assert.equal(r.code, 1, r.err);
  const j = JSON.parse(r.out) as { services: Array<{ name: string; ips: string[]; denied?: { code: string; message: string } }> };
  const by = new Map(j.services.map((s) => [s.name, s]));
  assert.deepEqual(by.get('port-zero')?.denied, { code: 'LB_BAD_SERVICE', message: 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive' });
  assert.deepEqual(by.get('bad-protocol')?.denied, {
    code: 'LB_BAD_SERVICE',
    message: 'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"; spec.ports[1].port: Invalid value: "8080": must be an integer',
  });
  assert.equal(by.get('typo-type')?.denied?.code, 'LB_BAD_SERVICE');
  assert.match(by.get('typo-type')!.denied!.message, /^spec\.type: Unsupported value: "Loadbalancer"/);
  assert.deepEqual(by.get('fine')?.ips, ['192.168.1.220'], 'the denied ones took no IP');
  const text = await run(['plan', 'examples/dev', 'test/fixtures/cli/malformed-services.yaml']);
  assert.match(text.out, /^default\s+port-zero\s+-\s+<denied>\s+LB_BAD_SERVICE: spec\.ports\[0\]\.port: Invalid value: 0: must be between 1 and 65535, inclusive$/m);
});

test('plan refuses to plan on an invalid configuration', async () => {
  const r = await run(['plan', 'examples/dev', 'examples/prod', 'examples/services']);
  assert.equal(r.code, 1);
  assert.match(r.out, /overlaps with already defined CIDR/);
});

test('plan with no pool answers as admission does (policy onNoPools: pending): <pending>, the webhook warning, exit 0', async () => {
  const r = await run(['plan', 'examples/services/basic.yaml']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(
    r.out,
    /^default\s+my-service\s+-\s+<pending>\s+LB_NO_POOLS: no IPAddressPool is configured$/m,
  );
  assert.match(
    r.err,
    /warning: default\/my-service: no IPAddressPool is configured yet: the Service is admitted without an IP/,
  );
  assert.doesNotMatch(r.err, /until an IP is free/);
  const j = JSON.parse((await run(['plan', '-o', 'json', 'examples/services/basic.yaml'])).out) as {
    services: Array<{ denied?: unknown; pending?: { code: string }; warnings: string[] }>;
  };
  assert.equal(j.services[0]?.denied, undefined);
  assert.equal(j.services[0]?.pending?.code, 'LB_NO_POOLS');
  assert.match(j.services[0]!.warnings.at(-1)!, /gets one as soon as an IPAddressPool with a usable range/);
});

test('plan reads the admission policy file (--policy): onNoPools deny denies, onPoolExhausted pending admits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-plan-'));
  try {
    const deny = join(dir, 'deny.json');
    writeFileSync(deny, JSON.stringify({ onNoPools: 'deny' }));
    const r = await run(['plan', '--policy', deny, 'examples/services/basic.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.out, /<denied>\s+LB_NO_POOLS: no IPAddressPool is configured/);

    const tiny = join(dir, 'tiny.yaml');
    writeFileSync(
      tiny,
      'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: tiny, namespace: metallb-system}\n' +
        'spec: {addresses: [192.168.1.220/32]}\n',
    );
    const denied = await run([
      'plan',
      tiny,
      'examples/services/basic.yaml',
      'test/fixtures/cli/second-service.yaml',
    ]);
    assert.equal(denied.code, 1, denied.out + denied.err);
    assert.match(
      denied.out,
      /^default\s+second\s+-\s+<denied>\s+LB_POOL_EXHAUSTED: no available IPs: pool "tiny" 1\/1 in use\. To fix: /m,
    );
    const pending = join(dir, 'pending.json');
    writeFileSync(pending, JSON.stringify({ onPoolExhausted: 'pending' }));
    const admitted = await run([
      'plan',
      '--policy',
      pending,
      '-o',
      'json',
      tiny,
      'examples/services/basic.yaml',
      'test/fixtures/cli/second-service.yaml',
    ]);
    assert.equal(admitted.code, 0, admitted.out + admitted.err);
    const j = JSON.parse(admitted.out) as {
      services: Array<{ name: string; pending?: { code: string }; warnings: string[] }>;
    };
    const second = j.services.find((s) => s.name === 'second');
    assert.equal(second?.pending?.code, 'LB_POOL_EXHAUSTED');
    assert.match(
      second!.warnings.at(-1)!,
      /^no available IPs: pool "tiny" 1\/1 in use; the Service stays <pending> until an IP is free\. To fix: /,
    );

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, JSON.stringify({ onNoPools: 'maybe' }));
    const bad = await run(['plan', '--policy', broken, 'examples/services/basic.yaml']);
    assert.equal(bad.code, 2);
    assert.match(
      bad.err,
      /broken\.json: admission policy onNoPools must be "deny" or "pending", not "maybe"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plan --output json prints pool usage as numbers, exact even for a /64', async () => {
  const r = await run(['plan', '-o', 'json', 'examples/dev', 'examples/services']);
  const j = JSON.parse(r.out) as { pools: Array<Record<string, unknown>> };
  assert.deepEqual(j.pools[0], { pool: 'default', ipv4InUse: 4, ipv4Total: 31, ipv6InUse: 0, ipv6Total: 0 });
  const v6 =
    'apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: six, namespace: metallb-system}\n' +
    'spec: {addresses: ["fc00::/64"]}\n';
  const big = await run(['plan', '-o', 'json', '-'], v6);
  assert.match(big.out, /"ipv6Total": 18446744073709551616\b/);
});

test('validate warns (exit 0, LB_POOL_NOT_ADVERTISED) about a pool no advertisement selects', async () => {
  const r = await run(['validate', 'examples/multi-pool']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.equal(r.out, '');
  assert.match(
    r.err,
    /^warning: examples\/multi-pool\/pools\.yaml:4 IPAddressPool\/production: pool "production" is not announced: there is no L2Advertisement or BGPAdvertisement, so its IPs would be assigned to Services but never reachable/m,
  );
  assert.match(r.err, /IPAddressPool\/development: pool "development" is not announced/);
  const j = JSON.parse((await run(['validate', '-o', 'json', 'examples/multi-pool'])).out) as {
    valid: boolean;
    notices: Array<{ code: string; object: string; line: number }>;
  };
  assert.equal(j.valid, true);
  assert.deepEqual(
    j.notices.map((n) => [n.code, n.object, n.line]),
    [
      ['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/production', 4],
      ['LB_POOL_NOT_ADVERTISED', 'IPAddressPool/development', 15],
    ],
  );
});

test('validate: an advertisement naming one pool leaves the other unannounced; one with no pool list announces all', async () => {
  const pools = readFileSync('examples/multi-pool/pools.yaml', 'utf8');
  const l2 = (spec: string) =>
    `${pools}\n---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: metallb-system}\n${spec}`;
  const one = await run(['validate', '-'], l2('spec: {ipAddressPools: [production]}\n'));
  assert.equal(one.code, 0);
  assert.doesNotMatch(one.err, /"production" is not announced/);
  assert.match(
    one.err,
    /pool "development" is not announced: no L2Advertisement or BGPAdvertisement selects it/,
  );
  const all = await run(['validate', '-'], l2('spec: {}\n'));
  assert.equal(all.code, 0);
  assert.doesNotMatch(all.err, /not announced/);
  // No pool in the input: nothing to say (an advertisement alone is fine).
  assert.doesNotMatch((await run(['validate', 'examples/bgp'])).err, /not announced/);
});

test("validate reports the seed's legacy MetalLB ConfigMap as not read, naming berth migrate", async () => {
  const r = await run(['validate', 'test/fixtures/cli/legacy-configmap.yaml']);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(
    r.out,
    /^test\/fixtures\/cli\/legacy-configmap\.yaml:8 ConfigMap\/config: ConfigMap metallb-system\/config holds MetalLB's legacy configuration \(address-pools: production, development\) in data\.config; berth does not read it/,
  );
  assert.match(r.out, /with `berth migrate <file>`/);
  assert.doesNotMatch(r.err, /0 metallb\.io object\(s\) valid/);
  assert.match(
    r.err,
    /1 problem\(s\) in 0 metallb\.io object\(s\); 1 legacy MetalLB ConfigMap\(s\) not read/,
  );
  const j = JSON.parse(
    (await run(['validate', '-o', 'json', 'test/fixtures/cli/legacy-configmap.yaml'])).out,
  ) as {
    problems: Array<{ code: string }>;
  };
  assert.deepEqual(
    j.problems.map((p) => p.code),
    ['LB_LEGACY_CONFIGMAP'],
  );
  // Next to metallb.io objects it is a leftover: a warning, exit 0.
  const mixed = await run(['validate', 'examples/dev', 'test/fixtures/cli/legacy-configmap.yaml']);
  assert.equal(mixed.code, 0, mixed.out + mixed.err);
  assert.equal(mixed.out, '');
  assert.match(
    mixed.err,
    /^warning: test\/fixtures\/cli\/legacy-configmap\.yaml:8 ConfigMap\/config: .*berth does not read it/m,
  );
  assert.match(mixed.err, /2 metallb\.io object\(s\) valid; 1 legacy MetalLB ConfigMap\(s\) not read/);
});

// plan and validate read a kustomize root through its kustomization: src/cli/plan.test.ts, src/cli/validate.test.ts.
