// `berth migrate` in-process on the seeds' legacy ConfigMaps; its output goes through `berth validate` and `berth plan`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { main } from './main.ts';
import { recordingIO } from './io.ts';

async function run(args: string[], stdin = '') {
  const io = recordingIO(stdin);
  const code = await main(args, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const F = 'test/fixtures/migrate';

/** `berth plan` on the migrated objects (stdin) and a Services file: NAME → [POOL, EXTERNAL-IP]. */
async function planned(migrated: string, services: string): Promise<Map<string, [string, string]>> {
  const r = await run(['plan', '--output', 'json', '-', services], migrated);
  assert.equal(r.code, 0, r.out + r.err);
  const j = JSON.parse(r.out) as { services: Array<{ namespace: string; name: string; pool?: string; ips: string[] }> };
  return new Map(j.services.map((s) => [`${s.namespace}/${s.name}`, [s.pool ?? '-', s.ips.join(',')]]));
}

test("seed 003's ConfigMap (pool default) converts, validates, and plans the seed's Services on the IPs MetalLB gave", async () => {
  const m = await run(['migrate', `${F}/seed-003-default.yaml`]);
  assert.equal(m.code, 0, m.err);
  assert.match(m.err, /2 object\(s\) in namespace metallb-system/);
  assert.match(m.out, /kind: IPAddressPool\nmetadata:\n {2}name: default\n {2}namespace: metallb-system\nspec:\n {2}addresses:\n {2}- 192\.168\.1\.200-192\.168\.1\.210\n/);
  assert.match(m.out, /kind: L2Advertisement\nmetadata:\n {2}name: l2advertisement1\n {2}namespace: metallb-system\nspec:\n {2}ipAddressPools:\n {2}- default$/);
  const v = await run(['validate', '-'], m.out);
  assert.equal(v.code, 0, v.out + v.err);
  assert.equal(v.err, '2 metallb.io object(s) valid');
  // "Range total": nginx-lb 192.168.1.200, ingress-controller .201, monitoring-grafana .202, app-production .203.
  assert.deepEqual(
    [...(await planned(m.out, `${F}/seed-003-in-use.yaml`))],
    [
      ['default/nginx-lb', ['default', '192.168.1.200']],
      ['ingress/ingress-controller', ['default', '192.168.1.201']],
      ['observability/monitoring-grafana', ['default', '192.168.1.202']],
      ['prod/app-production', ['default', '192.168.1.203']],
    ],
  );
  // "Services LoadBalancer Multiples": app1 .200, app2 .201, app3 .202.
  assert.deepEqual(
    [...(await planned(m.out, `${F}/seed-003-apps.yaml`)).values()].map(([, ip]) => ip),
    ['192.168.1.200', '192.168.1.201', '192.168.1.202'],
  );
});

test("seed 003's two-pool ConfigMap converts; web-prod asking for production gets its first IP", async () => {
  const m = await run(['migrate', 'test/fixtures/cli/legacy-configmap.yaml']);
  assert.equal(m.code, 0, m.err);
  assert.deepEqual(
    [...m.out.matchAll(/^kind: (\S+)\nmetadata:\n {2}name: (\S+)/gm)].map((x) => `${x[1]}/${x[2]}`),
    ['IPAddressPool/production', 'IPAddressPool/development', 'L2Advertisement/l2advertisement1', 'L2Advertisement/l2advertisement2'],
  );
  const v = await run(['validate', '-'], m.out);
  assert.equal(v.code, 0, v.out + v.err);
  assert.doesNotMatch(v.err, /not announced/);
  assert.deepEqual([...(await planned(m.out, `${F}/seed-003-web-prod.yaml`))], [['default/web-prod', ['production', '192.168.1.200']]]);
});

test("the seed's bare config text (stdin) converts too; --namespace sets the objects' namespace", async () => {
  const text = readFileSync(`${F}/seed-003-environments.yaml`, 'utf8');
  const m = await run(['migrate', '--namespace', 'lb', '-'], text);
  assert.equal(m.code, 0, m.err);
  assert.equal([...m.out.matchAll(/^ {2}namespace: lb$/gm)].length, 6);
  assert.equal((await run(['validate', '--namespace', 'lb', '-'], m.out)).code, 0);
  // Without --namespace: the ConfigMap's namespace (configmaptocrs), else metallb-system.
  const other = readFileSync('test/fixtures/cli/legacy-configmap.yaml', 'utf8').replace('namespace: metallb-system', 'namespace: lb-system');
  assert.match((await run(['migrate', '-'], other)).out, /namespace: lb-system/);
  assert.match((await run(['migrate', '-'], text)).out, /namespace: metallb-system/);
});

test('a legacy ConfigMap among other documents is found; the others are ignored', async () => {
  const seed = readFileSync(`${F}/seed-003-default.yaml`, 'utf8');
  const services = readFileSync(`${F}/seed-003-apps.yaml`, 'utf8');
  const m = await run(['migrate', '-'], `${services}\n---\n${seed}`);
  assert.equal(m.code, 0, m.err);
  assert.doesNotMatch(m.out, /kind: Service\n/);
  assert.match(m.out, /name: default/);
});

test('golden: MetalLB\'s own full BGP example converts to what configmaptocrs prints (without its empty status fields)', async () => {
  const m = await run(['migrate', `${F}/bgp-configmap.yaml`]);
  assert.equal(m.code, 0, m.err);
  assert.equal(`${m.out}\n`, readFileSync(`${F}/bgp-configmap.golden.yaml`, 'utf8'));
  const v = await run(['validate', '-'], m.out);
  assert.equal(v.code, 0, v.out + v.err);
  assert.match(v.err, /7 metallb\.io object\(s\) valid/);
});

test('problems name file:line and the legacy field; nothing on stdout; exit 1', async () => {
  const bad = readFileSync(`${F}/seed-003-default.yaml`, 'utf8')
    .replace('protocol: layer2', 'protocol: l2')
    .replace('    - name: default\n', '    - name: default\n      auto-assign: nope\n');
  const r = await run(['migrate', '-'], bad);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  const lines = r.err.split('\n');
  assert.deepEqual(lines, [
    '<stdin>:12 ConfigMap/config: address-pools[0].auto-assign: must be true or false, not "nope"',
    '<stdin>:13 ConfigMap/config: address-pools[0].protocol: unknown protocol "l2": MetalLB\'s legacy format has layer2 and bgp',
    'berth migrate: 2 problem(s); nothing converted',
  ]);
  // A value berth validate refuses, in the bare text: the line of the address.
  const cidr = await run(['migrate', '-'], 'address-pools:\n- name: a\n  protocol: layer2\n  addresses:\n  - 10.0.0.0/24\n  - 192.168.1.300/24\n');
  assert.equal(cidr.code, 1);
  assert.match(cidr.err, /^<stdin>:6 address-pools\[0\]\.addresses\[1\]: converted to IPAddressPool\/a spec\.addresses\[1\]: .*invalid CIDR "192\.168\.1\.300\/24"/);
});

test('renamed pools are reported with the Services annotation to update', async () => {
  const r = await run(['migrate', '-'], 'address-pools: [{name: Prod_Pool, protocol: layer2, addresses: [10.0.0.0/24]}]\n');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /name: prod-pool/);
  assert.match(r.err, /note: IPAddressPool "Prod_Pool" is named "prod-pool" .*metallb\.universe\.tf\/address-pool: Prod_Pool/);
});

test('no legacy configuration, two of them, unreadable input, usage', async () => {
  const none = await run(['migrate', 'examples/dev']);
  assert.equal(none.code, 1);
  assert.match(none.err, /examples\/dev holds no MetalLB legacy configuration/);
  const seed = readFileSync(`${F}/seed-003-default.yaml`, 'utf8');
  const two = await run(['migrate', '-'], `${seed}\n---\n${seed}`);
  assert.equal(two.code, 1);
  assert.match(two.err, /2 legacy configurations \(<stdin>:3, <stdin>:\d+\); MetalLB read one/);
  const notLegacy = await run(['migrate', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: "log-level: debug"\n');
  assert.equal(notLegacy.code, 1);
  assert.match(notLegacy.err, /<stdin>:5 ConfigMap\/config: data\.config is not MetalLB's legacy configuration/);
  const badYaml = await run(['migrate', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata:\n  config: |\n    address-pools:\n    - name: [a\n');
  assert.equal(badYaml.code, 1);
  assert.match(badYaml.err, /^<stdin>:\d+ ConfigMap\/config: data\.config is invalid YAML: /);
  const missing = await run(['migrate', 'no/such/file.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no\/such\/file\.yaml: no such file or directory/);
  assert.equal((await run(['migrate', '-'], 'a: [')).code, 2);
  assert.equal((await run(['migrate'])).code, 2);
  assert.equal((await run(['migrate', 'a.yaml', 'b.yaml'])).code, 2);
});
