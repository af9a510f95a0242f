// berth's ValidatingAdmissionPolicy fallbacks (policies/vap) enforced by the lab with no berth webhook running,
// driven by the real kubectl: `kubectl apply -k policies/vap`, then Services and IPAddressPools denied with the
// policies' messages or admitted. Each rule is covered deny/allow in src/lab/admission/vap-admission.test.ts;
// this checks the wiring end to end (apply, match, kubectl's rendering of 422/403 denials, warnings).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestLab, findKubectl, type TestLab } from '../../src/lab/testing.ts';

const ROOT = join(import.meta.dirname, '../..');
const skip = findKubectl() ? false : 'no kubectl found (.lab/bin/kubectl, /usr/lib/google-cloud-sdk/bin/kubectl.1.32 or PATH); run scripts/fetch-kubectl.sh';
const SVC = "ValidatingAdmissionPolicy 'berth-service-static-checks' with binding 'berth-service-static-checks' denied request: ";
const POOL = "ValidatingAdmissionPolicy 'berth-ipaddresspool-static-checks' with binding 'berth-ipaddresspool-static-checks' denied request: ";

let t: TestLab;

before(async () => {
  if (skip) return;
  t = await startTestLab();
  await ok(['apply', '-k', join(ROOT, 'gitops/base/crds')]);
  await ok(['apply', '-k', join(ROOT, 'policies/vap')]);
  await ok(['create', 'namespace', 'metallb-system']);
  await ok(['create', 'namespace', 'shop']);
});

after(async () => {
  await t?.stop();
});

async function ok(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const r = await t.kubectl(args, input === undefined ? {} : { input });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

async function fails(args: string[], input?: string): Promise<string> {
  const r = await t.kubectl(args, input === undefined ? {} : { input });
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should have failed:\n${r.stdout}`);
  return r.stderr;
}

const svc = (name: string, spec = '', annotations = '', ns = 'shop') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
  type: LoadBalancer
  ports: [{ port: 80 }]
${spec}`;

const pool = (name: string, addresses: string, ns = 'metallb-system') => `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  addresses: ${addresses}
`;

const apply = ['apply', '-f', '-'];

test('the policies are stored and served', { skip }, async () => {
  const { stdout } = await ok(['get', 'validatingadmissionpolicies,validatingadmissionpolicybindings', '-o', 'name']);
  assert.match(stdout, /validatingadmissionpolicy.admissionregistration.k8s.io\/berth-service-static-checks/);
  assert.match(stdout, /validatingadmissionpolicybinding.admissionregistration.k8s.io\/berth-ipaddresspool-static-checks/);
});

test('Services: loadBalancerIP and metallb.io/loadBalancerIPs checks deny, valid requests are admitted', { skip }, async () => {
  // kube-apiserver's own Service validation refuses a non-IP loadBalancerIP before admission policies run.
  assert.match(await fails(apply, svc('bad-field', '  loadBalancerIP: 192.168.1.300')), /spec.loadBalancerIP: Invalid value: "192.168.1.300"/);
  assert.match(
    await fails(apply, svc('same-family', '', '    metallb.io/loadBalancerIPs: "192.0.2.1,192.0.2.2"')),
    new RegExp(`The services "same-family" is invalid: : ${SVC}metallb.io/loadBalancerIPs requests 192.0.2.1,192.0.2.2: two IPs must be one IPv4 and one IPv6`),
  );
  assert.match(await fails(apply, svc('not-ips', '', '    metallb.io/loadBalancerIPs: "192.0.2.1,web"')), new RegExp(`${SVC}metallb.io/loadBalancerIPs "192.0.2.1,web" is not a comma-separated list of IP addresses`));
  assert.match(await fails(apply, svc('three', '', '    metallb.io/loadBalancerIPs: "192.0.2.1,2001:db8::1,192.0.2.3"')), new RegExp(`${SVC}metallb.io/loadBalancerIPs requests 3 IPs; at most 2`));
  assert.match(await fails(apply, svc('both', '  loadBalancerIP: 192.0.2.9', '    metallb.io/loadBalancerIPs: "192.0.2.9"')), new RegExp(`${SVC}service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP`));
  assert.match(await fails(apply, svc('assigned', '', '    berth.io/assigned-ips: "nope"')), new RegExp(`${SVC}berth.io/assigned-ips "nope" is not a comma-separated list of IP addresses`));
  await ok(apply, svc('dual', '', '    metallb.io/loadBalancerIPs: "192.0.2.1, 2001:db8::1"'));
  await ok(apply, svc('field', '  loadBalancerIP: 192.0.2.20'));
  // An UPDATE is checked too, and berth's own namespace is excluded by the binding.
  assert.match(await fails(['annotate', '-n', 'shop', 'service', 'field', 'metallb.io/loadBalancerIPs=192.0.2.20']), new RegExp(`${SVC}service can not have both`));
  await ok(apply, svc('sys', '', '    metallb.io/loadBalancerIPs: "192.0.2.1,192.0.2.2"', 'metallb-system'));
  // Server-side dry run is admitted or denied the same way.
  assert.match(await fails([...apply, '--dry-run=server'], svc('dry', '', '    metallb.io/loadBalancerIPs: "x"')), new RegExp(SVC));
});

test('IPAddressPools: namespace, non-empty and address syntax checks deny, valid pools are admitted', { skip }, async () => {
  assert.match(
    await fails(apply, pool('bad-cidr', '["100.200.300.400/24"]')),
    new RegExp(`The ipaddresspools "bad-cidr" is invalid: : ${POOL}invalid address entries in pool "bad-cidr": 100.200.300.400/24 \\(each must be a CIDR or a range a-b\\)`),
  );
  assert.match(await fails(apply, pool('bad-range', '["192.0.2.1-192.0.2"]')), new RegExp(`${POOL}invalid address entries in pool "bad-range": 192.0.2.1-192.0.2 `));
  assert.match(await fails(apply, pool('empty', '[]')), new RegExp(`${POOL}pool has no prefixes defined`));
  assert.match(
    await fails(apply, pool('mixed', '["192.0.2.1-2001:db8::1"]')),
    new RegExp(`${POOL}invalid address entries in pool "mixed": 192.0.2.1-2001:db8::1 `),
  );
  assert.match(
    await fails(apply, pool('elsewhere', '["192.0.2.0/24"]', 'shop')),
    new RegExp(`Error from server \\(Forbidden\\).*ipaddresspools.metallb.io "elsewhere" is forbidden: ${POOL}resource must be created in metallb-system namespace`),
  );
  await ok(apply, pool('good', '["192.0.2.0/24", "198.51.100.7/24", "203.0.113.1 - 203.0.113.9", "2001:db8::/64"]'));
  const { stdout } = await ok(['get', '-n', 'metallb-system', 'ipaddresspools', 'good', '-o', 'jsonpath={.spec.addresses[2]}']);
  assert.equal(stdout, '203.0.113.1 - 203.0.113.9');
});

test('validationActions Warn: kubectl prints the warning and the object is admitted', { skip }, async () => {
  await ok(apply, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: warn-names }
spec:
  matchConstraints:
    resourceRules: [{ apiGroups: [''], apiVersions: [v1], resources: [configmaps], operations: [CREATE] }]
  validations:
    - expression: "object.metadata.name.startsWith('cm-')"
      messageExpression: "'name ' + object.metadata.name + ' lacks the cm- prefix'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: warn-names }
spec: { policyName: warn-names, validationActions: [Warn] }
`);
  const r = await ok(['create', 'configmap', '-n', 'shop', 'plain']);
  assert.match(r.stderr, /Warning: Validation failed for ValidatingAdmissionPolicy 'warn-names' with binding 'warn-names': name plain lacks the cm- prefix/);
});
