// PolicyAdmission: matching (matchConstraints, binding matchResources, selectors, resourceNames, excludes),
// matchConditions, variables, messages, failurePolicy, validationActions; then every rule of berth's own
// policies/vap/*.yaml, each denied and admitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PolicyAdmission } from './vap-admission.ts';
import { Store } from '../store.ts';
import { Registry } from '../registry.ts';
import { isFailure } from '../status.ts';
import type { AdmissionAttributes } from '../rest.ts';
import type { KubeObject } from '../types.ts';

const POLICIES = 'admissionregistration.k8s.io/validatingadmissionpolicies';
const BINDINGS = 'admissionregistration.k8s.io/validatingadmissionpolicybindings';

function setup(objs: KubeObject[]) {
  const store = new Store();
  const registry = new Registry();
  for (const ns of ['shop', 'metallb-system']) {
    store.put('core/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns, env: ns === 'shop' ? 'prod' : 'sys' } } });
  }
  for (const o of objs) store.put(o.kind === 'ValidatingAdmissionPolicy' ? POLICIES : BINDINGS, o);
  const crd = parseAllDocuments(readFileSync(resolve(import.meta.dirname, '../../../gitops/base/crds/ipaddresspools.metallb.io.yaml'), 'utf8'))[0]!.toJS() as KubeObject;
  const poolType = registry.applyCrd(crd)!;
  const logs: string[] = [];
  const adm = new PolicyAdmission({ store, log: (l) => logs.push(l) });
  const svc = (spec: Record<string, unknown>, meta: Record<string, unknown> = {}, over: Partial<AdmissionAttributes> = {}): AdmissionAttributes => ({
    type: registry.resolve('', 'v1', 'services')!,
    version: 'v1',
    subresource: '',
    operation: 'CREATE',
    namespace: 'shop',
    name: 'web',
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', ...meta }, spec: { type: 'LoadBalancer', ...spec } },
    oldObject: null,
    dryRun: false,
    options: {},
    ...over,
  });
  const pool = (addresses: unknown, over: Partial<AdmissionAttributes> = {}): AdmissionAttributes => {
    const ns = over.namespace ?? 'metallb-system';
    return {
      type: poolType,
      version: 'v1beta1',
      subresource: '',
      operation: 'CREATE',
      namespace: ns,
      name: 'p',
      object: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'p', namespace: ns }, ...(addresses === 'no-spec' ? {} : { spec: addresses === undefined ? {} : { addresses } }) },
      oldObject: null,
      dryRun: false,
      options: {},
      ...over,
    };
  };
  return { adm, svc, pool, logs };
}

const out = (r: unknown) => (isFailure(r) ? `${r.code} ${r.status.reason}: ${r.status.message}` : `allowed${(r as { warnings: string[] }).warnings.map((w) => ` | ${w}`).join('')}`);

const policy = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicy',
  metadata: { name },
  spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['CREATE', 'UPDATE'] }] }, ...spec },
});
const binding = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec });

test('deny text, code from reason, messageExpression then message then the expression', () => {
  const { adm, svc } = setup([
    policy('p', {
      variables: [{ name: 'n', expression: 'object.metadata.name' }],
      validations: [
        { expression: "variables.n != 'web'", messageExpression: "'name ' + variables.n + ' is taken'", reason: 'Forbidden' },
        { expression: 'false', message: 'second' },
      ],
    }),
    binding('b', { policyName: 'p', validationActions: ['Deny'] }),
  ]);
  const r = adm.validate(svc({}));
  assert.equal(out(r), `403 Forbidden: services "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: name web is taken`);
  assert.ok(isFailure(r) && r.status.details?.causes?.[0]?.message?.startsWith("ValidatingAdmissionPolicy 'p'"));
  const { adm: a2, svc: s2 } = setup([
    policy('p', { validations: [{ expression: ' 1 > 2 ', messageExpression: "'two\\nlines'" }, { expression: 'false', messageExpression: 'object.nope', message: ' fallback ' }] }),
    binding('b', { policyName: 'p', validationActions: ['Warn'] }),
  ]);
  assert.equal(out(a2.validate(s2({}))), "allowed | Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': failed expression: 1 > 2 | Validation failed for ValidatingAdmissionPolicy 'p' with binding 'b': fallback");
});

test('failurePolicy: an evaluation error denies under Fail (422), is skipped under Ignore; Audit does nothing', () => {
  const bad = { validations: [{ expression: 'object.spec.nope == 1' }] };
  const a = setup([policy('p', bad), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
  assert.equal(out(a.adm.validate(a.svc({}))), `422 Invalid: services "web" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.nope == 1' resulted in error: no such key: nope`);
  const b = setup([policy('p', { ...bad, failurePolicy: 'Ignore' }), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
  assert.equal(out(b.adm.validate(b.svc({}))), 'allowed');
  assert.equal(b.logs.length, 1);
  const c = setup([policy('p', { validations: [{ expression: 'false' }] }), binding('b', { policyName: 'p', validationActions: ['Audit'] })]);
  assert.equal(out(c.adm.validate(c.svc({}))), 'allowed');
  const d = setup([policy('p', { validations: [{ expression: "'x'" }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
  assert.match(out(d.adm.validate(d.svc({}))), /^422 .*resulted in a string, expected a bool$/);
  const e = setup([policy('p', { matchConditions: [{ name: 'c', expression: 'object.nope' }], validations: [{ expression: 'true' }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] })]);
  assert.match(out(e.adm.validate(e.svc({}))), /denied request: failed to evaluate match conditions: expression 'c' resulted in error: no such key: nope$/);
});

test('matching: rules, resourceNames, excludes, namespace/object selectors, binding matchResources, missing policy', () => {
  const deny = { validations: [{ expression: 'false', message: 'no' }] };
  const cases: Array<[string, KubeObject[], Partial<AdmissionAttributes>, boolean]> = [
    ['matches', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'] })], {}, true],
    ['operation not in rule', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'] })], { operation: 'DELETE', object: null }, false],
    ['subresource not in rule', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'] })], { subresource: 'status' }, false],
    ['binding to a missing policy', [policy('p', deny), binding('b', { policyName: 'other', validationActions: ['Deny'] })], {}, false],
    ['no binding', [policy('p', deny)], {}, false],
    [
      'resourceNames',
      [policy('p', { ...deny, matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['*'], resources: ['*'], operations: ['*'], resourceNames: ['api'] }] } }), binding('b', { policyName: 'p', validationActions: ['Deny'] })],
      {},
      false,
    ],
    [
      'excludeResourceRules',
      [
        policy('p', { ...deny, matchConstraints: { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], resources: ['*'], operations: ['CREATE'] }], excludeResourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['*'] }] } }),
        binding('b', { policyName: 'p', validationActions: ['Deny'] }),
      ],
      {},
      false,
    ],
    ['policy namespaceSelector', [policy('p', { ...deny, matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['CREATE'] }], namespaceSelector: { matchLabels: { env: 'sys' } } } }), binding('b', { policyName: 'p', validationActions: ['Deny'] })], {}, false],
    ['binding namespaceSelector NotIn', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['shop'] }] } } })], {}, false],
    ['binding objectSelector', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'], matchResources: { objectSelector: { matchLabels: { tier: 'x' } } } })], {}, false],
    ['binding resourceRules narrow', [policy('p', deny), binding('b', { policyName: 'p', validationActions: ['Deny'], matchResources: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['services'], operations: ['UPDATE'] }] } })], {}, false],
    ['matchCondition false', [policy('p', { ...deny, matchConditions: [{ name: 'c', expression: "object.spec.type == 'NodePort'" }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] })], {}, false],
    ['namespaceObject bound', [policy('p', { validations: [{ expression: "namespaceObject.metadata.labels.env != 'prod'" }] }), binding('b', { policyName: 'p', validationActions: ['Deny'] })], {}, true],
  ];
  for (const [name, objs, over, denied] of cases) {
    const { adm, svc } = setup(objs);
    assert.equal(isFailure(adm.validate(svc({}, {}, over))), denied, name);
  }
});

// berth's own fallback policies, loaded from the repository.
const berth = (): KubeObject[] =>
  ['service-static-checks.yaml', 'ipaddresspool-static-checks.yaml'].flatMap((f) =>
    parseAllDocuments(readFileSync(resolve(import.meta.dirname, '../../../policies/vap', f), 'utf8')).map((d) => d.toJS() as KubeObject),
  );

test('policies/vap service-static-checks: every rule denies and admits', () => {
  const { adm, svc } = setup(berth());
  const P = "services \"web\" is forbidden: ValidatingAdmissionPolicy 'berth-service-static-checks' with binding 'berth-service-static-checks' denied request: ";
  const ann = (a: Record<string, string>) => ({ annotations: a });
  const cases: Array<[string, AdmissionAttributes, string]> = [
    ['no IP requested', svc({}), 'allowed'],
    ['valid loadBalancerIP', svc({ loadBalancerIP: '192.0.2.10' }), 'allowed'],
    ['invalid loadBalancerIP', svc({ loadBalancerIP: '192.168.1.300' }), `422 Invalid: ${P}spec.loadBalancerIP "192.168.1.300" is not a valid IP address`],
    ['leading zero loadBalancerIP', svc({ loadBalancerIP: '192.168.001.1' }), `422 Invalid: ${P}spec.loadBalancerIP "192.168.001.1" is not a valid IP address`],
    ['not LoadBalancer', svc({ type: 'ClusterIP', loadBalancerIP: 'nope' }), 'allowed'],
    ['other loadBalancerClass', svc({ loadBalancerClass: 'example.com/lb', loadBalancerIP: 'nope' }), 'allowed'],
    ['berth namespace skipped', svc({ loadBalancerIP: 'nope' }, {}, { namespace: 'metallb-system' }), 'allowed'],
    ['dual-stack annotation', svc({}, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1, 2001:db8::1' })), 'allowed'],
    ['blank annotation', svc({}, ann({ 'metallb.io/loadBalancerIPs': ' ' })), 'allowed'],
    ['bad annotation', svc({}, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1,nope' })), `422 Invalid: ${P}metallb.io/loadBalancerIPs "192.0.2.1,nope" is not a comma-separated list of IP addresses`],
    ['deprecated key checked', svc({}, ann({ 'metallb.universe.tf/loadBalancerIPs': 'nope' })), `422 Invalid: ${P}metallb.universe.tf/loadBalancerIPs "nope" is not a comma-separated list of IP addresses`],
    ['metallb.io key wins', svc({}, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1', 'metallb.universe.tf/loadBalancerIPs': 'nope' })), 'allowed'],
    ['three IPs', svc({}, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1,2001:db8::1,192.0.2.2' })), `422 Invalid: ${P}metallb.io/loadBalancerIPs requests 3 IPs; at most 2 (one IPv4 and one IPv6)`],
    ['two of one family', svc({}, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1,192.0.2.2' })), `422 Invalid: ${P}metallb.io/loadBalancerIPs requests 192.0.2.1,192.0.2.2: two IPs must be one IPv4 and one IPv6`],
    ['both field and annotation', svc({ loadBalancerIP: '192.0.2.1' }, ann({ 'metallb.io/loadBalancerIPs': '192.0.2.1' })), `422 Invalid: ${P}service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP`],
    ['assigned-ips valid', svc({}, ann({ 'berth.io/assigned-ips': '192.0.2.1,2001:db8::1' })), 'allowed'],
    ['assigned-ips invalid', svc({}, ann({ 'berth.io/assigned-ips': '192.0.2.1;x' })), `422 Invalid: ${P}berth.io/assigned-ips "192.0.2.1;x" is not a comma-separated list of IP addresses`],
  ];
  for (const [name, a, want] of cases) assert.equal(out(adm.validate(a)), want, name);
});

test('policies/vap ipaddresspool-static-checks: every rule denies and admits', () => {
  const { adm, pool } = setup(berth());
  const P = "ipaddresspools.metallb.io \"p\" is forbidden: ValidatingAdmissionPolicy 'berth-ipaddresspool-static-checks' with binding 'berth-ipaddresspool-static-checks' denied request: ";
  const cases: Array<[string, AdmissionAttributes, string]> = [
    ['valid CIDRs and ranges', pool(['192.0.2.0/24', '10.0.0.5/24', '2001:db8::/64', '192.0.3.1 - 192.0.3.9', '2001:db8:1::1-2001:db8:1::5']), 'allowed'],
    ['other namespace', pool(['192.0.2.0/24'], { namespace: 'shop' }), `403 Forbidden: ${P}resource must be created in metallb-system namespace`],
    ['other namespace on UPDATE', pool(['192.0.2.0/24'], { namespace: 'shop', operation: 'UPDATE' }), 'allowed'],
    ['empty addresses', pool([]), `422 Invalid: ${P}pool has no prefixes defined`],
    ['no addresses', pool(undefined), `422 Invalid: ${P}pool has no prefixes defined`],
    ['invalid CIDR', pool(['192.0.2.0/24', '100.200.300.400/24']), `422 Invalid: ${P}invalid address entries in pool "p": 100.200.300.400/24 (each must be a CIDR or a range a-b)`],
    ['bad prefix length', pool(['192.0.2.0/33']), `422 Invalid: ${P}invalid address entries in pool "p": 192.0.2.0/33 (each must be a CIDR or a range a-b)`],
    ['bare IP', pool(['192.0.2.1']), `422 Invalid: ${P}invalid address entries in pool "p": 192.0.2.1 (each must be a CIDR or a range a-b)`],
    ['bad range', pool(['192.0.2.1-192.0.2.x', '1-2-3']), `422 Invalid: ${P}invalid address entries in pool "p": 192.0.2.1-192.0.2.x, 1-2-3 (each must be a CIDR or a range a-b)`],
  ];
  for (const [name, a, want] of cases) assert.equal(out(adm.validate(a)), want, name);
  // A range across families is denied and named in the message.
  assert.equal(
    out(adm.validate(pool(['192.0.2.1-2001:db8::1']))),
    `422 Invalid: ${P}invalid address entries in pool "p": 192.0.2.1-2001:db8::1 (each must be a CIDR or a range a-b)`,
  );
  // No spec at all: MetalLB's message, not a CEL evaluation error.
  assert.equal(out(adm.validate(pool('no-spec'))), `422 Invalid: ${P}pool has no prefixes defined`);
});
