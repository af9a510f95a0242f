// The lab API server driven by the real kubectl binary: apply/get/delete, Table output, CRDs, server dry run,
// AlreadyExists, and admission webhooks (mutating, validating, failurePolicy, service routing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { kubectlLabForFile } from '../helpers/kubectl-lab.ts';
import { createCa, issueCert } from '../../src/lab/certs.ts';

const FIX = join(import.meta.dirname, '../fixtures/lab');
const { skip, lab, ok } = kubectlLabForFile();

async function fails(args: string[], input?: string): Promise<string> {
  const r = await lab().kubectl(args, input === undefined ? {} : { input });
  assert.notEqual(r.code, 0, `kubectl ${args.join(' ')} should have failed:\n${r.stdout}`);
  return r.stderr;
}

function svcYaml(name: string, ns: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
${extra}spec:
  type: LoadBalancer
  ports:
  - port: 80
`;
}

test('apply creates a Service, an identical apply is a no-op, a changed one merges ports by port', { skip }, async () => {
  assert.match(await ok(['apply', '-f', join(FIX, 'service.yaml')]), /service\/web created/);
  const before1 = JSON.parse(await ok(['get', 'svc', 'web', '-o', 'json'])) as { metadata: { resourceVersion: string } };
  assert.match(await ok(['apply', '-f', join(FIX, 'service.yaml')]), /service\/web unchanged/);
  const after1 = JSON.parse(await ok(['get', 'svc', 'web', '-o', 'json'])) as { metadata: { resourceVersion: string } };
  assert.equal(after1.metadata.resourceVersion, before1.metadata.resourceVersion, 'no-op apply must not write');
  assert.match(await ok(['apply', '-f', join(FIX, 'service-v2.yaml')]), /service\/web configured/);
  assert.match(await ok(['apply', '-f', join(FIX, 'service-v2.yaml')]), /service\/web unchanged/);
  const svc = JSON.parse(await ok(['get', 'svc', 'web', '-o', 'json'])) as {
    spec: { clusterIP: string; ports: Array<{ name: string; port: number; targetPort: number; nodePort: number; protocol: string }> };
    status: unknown;
  };
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.port, p.targetPort, p.protocol]),
    [
      ['http', 80, 8081, 'TCP'],
      ['https', 443, 8443, 'TCP'],
    ],
  );
  assert.ok(svc.spec.ports.every((p) => p.nodePort >= 30000 && p.nodePort <= 32767));
  assert.match(svc.spec.clusterIP, /^10\.(9[6-9]|1[01]\d)\./);
  assert.deepEqual(svc.status, { loadBalancer: {} });
  assert.ok(!JSON.stringify(svc).includes('$setElementOrder'), 'directives must not be stored');
});

test('get svc prints the Table columns with EXTERNAL-IP <pending> for a LoadBalancer without ingress', { skip }, async () => {
  await ok(['apply', '-f', join(FIX, 'service.yaml')]);
  const out = await ok(['get', 'svc']);
  const lines = out.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
  const web = lines.find((l) => l.startsWith('web '));
  assert.ok(web, out);
  assert.match(web, /^web\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:3\d{4}\/TCP/);
  // The status subresource takes an ingress IP; the table then shows it.
  await ok(['patch', 'svc', 'web', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}']);
  const out2 = await ok(['get', 'svc', 'web']);
  assert.match(out2, /web\s+LoadBalancer\s+10\.\S+\s+192\.0\.2\.10\s/);
  const svc = JSON.parse(await ok(['get', 'svc', 'web', '-o', 'json'])) as { status: { loadBalancer: { ingress: Array<{ ip: string; ipMode: string }> } } };
  assert.deepEqual(svc.status.loadBalancer.ingress, [{ ip: '192.0.2.10', ipMode: 'VIP' }]);
});

test('a CRD is served at once: CR apply, get by singular and short name, printer columns, delete', { skip }, async () => {
  assert.match(await ok(['apply', '-f', join(FIX, 'widget-crd.yaml')]), /customresourcedefinition.apiextensions.k8s.io\/widgets.lab.berth.io created/);
  assert.match(await ok(['apply', '-f', join(FIX, 'widget.yaml')]), /widget.lab.berth.io\/gizmo created/);
  assert.match(await ok(['apply', '-f', join(FIX, 'widget.yaml')]), /widget.lab.berth.io\/gizmo unchanged/);
  const one = JSON.parse(await ok(['get', 'widget', 'gizmo', '-o', 'json'])) as { apiVersion: string; spec: { size: number }; metadata: { generation: number } };
  assert.equal(one.apiVersion, 'lab.berth.io/v1');
  assert.equal(one.spec.size, 3);
  assert.equal(one.metadata.generation, 1);
  const table = await ok(['get', 'wdg']);
  assert.match(table, /^NAME\s+SIZE\s+PHASE\s+AGE\n/);
  assert.match(table, /gizmo\s+3\s+\d+s/);
  // The other served version reads the same object.
  const beta = JSON.parse(await ok(['get', 'widgets.v1beta1.lab.berth.io', 'gizmo', '-o', 'json'])) as { apiVersion: string };
  assert.equal(beta.apiVersion, 'lab.berth.io/v1beta1');
  assert.match(await ok(['delete', 'widget', 'gizmo']), /widget.lab.berth.io "gizmo" deleted/);
  assert.match(await fails(['get', 'widget', 'gizmo']), /widgets.lab.berth.io "gizmo" not found/);
});

test('--dry-run=server stores nothing', { skip }, async () => {
  const out = await ok(['apply', '--dry-run=server', '-f', '-'], svcYaml('dry', 'default'));
  assert.match(out, /service\/dry created \(server dry run\)/);
  assert.match(await fails(['get', 'svc', 'dry']), /services "dry" not found/);
});

test('kubectl create of an existing object is 409 AlreadyExists', { skip }, async () => {
  // The imperative form goes through a typed client (protobuf body).
  await ok(['create', 'configmap', 'twice', '--from-literal=a=b']);
  assert.match(await fails(['create', 'configmap', 'twice', '--from-literal=a=b']), /configmaps "twice" already exists/);
  // The file form (JSON body) prints the Status reason.
  const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice-file\ndata:\n  a: b\n';
  await ok(['create', '-f', '-'], cm);
  assert.match(await fails(['create', '-f', '-'], cm), /Error from server \(AlreadyExists\): error when creating "STDIN": configmaps "twice-file" already exists/);
});

test('invalid objects answer 422 with kube-apiserver messages', { skip }, async () => {
  const err = await fails(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\nspec:\n  ports:\n  - port: 80\n');
  assert.match(err, /The Service "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of/);
  const err2 = await fails(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata:\n  name: noports\nspec:\n  type: ClusterIP\n');
  assert.match(err2, /spec.ports: Required value/);
});

// ---------- admission webhooks ----------

interface Review {
  request: { uid: string; name?: string; namespace?: string; operation: string; object: { metadata: { name?: string; uid?: string; annotations?: Record<string, string> }; status?: unknown }; dryRun: boolean };
}

async function startWebhookServer(dnsNames: string[]): Promise<{ server: Server; port: number; caBundle: string; seen: Review[] }> {
  const ca = await createCa('webhook-test-ca');
  const cert = await issueCert(ca, { dnsNames, ips: ['127.0.0.1'] });
  const seen: Review[] = [];
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString()) as Review;
      seen.push(review);
      const uid = review.request.uid;
      let response: Record<string, unknown>;
      if (req.url?.startsWith('/mutate')) {
        const hasAnn = !!review.request.object.metadata.annotations;
        const patch = hasAnn
          ? [{ op: 'add', path: '/metadata/annotations/lab.berth.io~1mutated', value: 'yes' }]
          : [{ op: 'add', path: '/metadata/annotations', value: { 'lab.berth.io/mutated': 'yes' } }];
        response = { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64'), warnings: ['mutated by the lab test'] };
      } else {
        const name = review.request.name ?? '';
        response =
          name === 'forbidden'
            ? { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: `the name "${name}" is not allowed here` } }
            : { uid, allowed: true };
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, port, caBundle: Buffer.from(ca.certPem).toString('base64'), seen };
}

function webhookConfigs(ns: string, clientConfig: (path: string) => Record<string, unknown>, opts: { failurePolicy?: string; sideEffects?: string; name?: string } = {}): string {
  const prefix = opts.name ?? ns;
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: opts.sideEffects ?? 'None',
    failurePolicy: opts.failurePolicy ?? 'Fail',
    timeoutSeconds: 5,
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
    rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['services'] }],
    matchConditions: [{ name: 'lb-only', expression: "object.spec.type == 'LoadBalancer'" }],
  };
  const m = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: `${prefix}-mutate` },
    webhooks: [{ name: `mutate.${prefix}.lab.berth.io`, clientConfig: clientConfig('/mutate'), ...common }],
  };
  const v = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `${prefix}-validate` },
    webhooks: [{ name: `validate.${prefix}.lab.berth.io`, clientConfig: clientConfig('/validate'), ...common }],
  };
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [m, v] });
}

test('webhooks: a mutating one annotates, a validating one denies with the API server message, nothing stored', { skip }, async () => {
  const wh = await startWebhookServer(['localhost']);
  try {
    await ok(['create', 'namespace', 'wh-a']);
    await ok(['apply', '-f', '-'], webhookConfigs('wh-a', (path) => ({ url: `https://127.0.0.1:${wh.port}${path}`, caBundle: wh.caBundle })));
    const r = await lab().kubectl(['apply', '-f', '-'], { input: svcYaml('good', 'wh-a') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: mutated by the lab test/);
    const good = JSON.parse(await ok(['get', 'svc', 'good', '-n', 'wh-a', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
    assert.equal(good.metadata.annotations['lab.berth.io/mutated'], 'yes');
    // Mutating webhooks saw no uid; validating ones the final object (uid, clusterIPs, wiped status).
    const creates = wh.seen.filter((s) => s.request.name === 'good' && s.request.operation === 'CREATE');
    assert.equal(creates.length, 2);
    assert.equal(creates[0]!.request.object.metadata.uid, undefined);
    assert.ok(creates[1]!.request.object.metadata.uid);
    assert.equal(creates[1]!.request.object.metadata.annotations?.['lab.berth.io/mutated'], 'yes');
    assert.deepEqual(creates[1]!.request.object.status, { loadBalancer: {} });

    const err = await fails(['apply', '-f', '-'], svcYaml('forbidden', 'wh-a'));
    assert.match(err, /Error from server \(Forbidden\): error when creating "STDIN": admission webhook "validate.wh-a.lab.berth.io" denied the request: the name "forbidden" is not allowed here/);
    assert.match(await fails(['get', 'svc', 'forbidden', '-n', 'wh-a']), /not found/);

    // matchConditions: a ClusterIP Service is not sent to the webhooks at all.
    const n = wh.seen.length;
    await ok(['create', 'service', 'clusterip', 'plain', '--tcp=80', '-n', 'wh-a']);
    assert.equal(wh.seen.length, n);
    // Other namespaces are outside the namespaceSelector.
    await ok(['apply', '-f', '-'], svcYaml('forbidden', 'default'));
    assert.equal(wh.seen.length, n);
  } finally {
    await ok(['delete', 'mutatingwebhookconfiguration', 'wh-a-mutate']);
    await ok(['delete', 'validatingwebhookconfiguration', 'wh-a-validate']);
    wh.server.close();
  }
});

test('webhooks: failurePolicy Fail with the webhook down refuses, Ignore lets the request through', { skip }, async () => {
  // A port nothing listens on.
  const tmp = createTcpServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  const addr = tmp.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => tmp.close(() => r()));
  await ok(['create', 'namespace', 'wh-down']);
  const cfg = (fp: string) => webhookConfigs('wh-down', (path) => ({ url: `https://127.0.0.1:${port}${path}` }), { failurePolicy: fp });
  try {
    await ok(['apply', '-f', '-'], cfg('Fail'));
    const err = await fails(['apply', '-f', '-'], svcYaml('s1', 'wh-down'));
    assert.match(
      err,
      new RegExp(
        `Error from server \\(InternalError\\): error when creating "STDIN": Internal error occurred: failed calling webhook "mutate.wh-down.lab.berth.io": failed to call webhook: Post "https://127.0.0.1:${port}/mutate\\?timeout=5s": dial tcp 127.0.0.1:${port}: connect: connection refused`,
      ),
    );
    await ok(['apply', '-f', '-'], cfg('Ignore'));
    assert.match(await ok(['apply', '-f', '-'], svcYaml('s1', 'wh-down')), /service\/s1 created/);
  } finally {
    await ok(['delete', 'mutatingwebhookconfiguration', 'wh-down-mutate']);
    await ok(['delete', 'validatingwebhookconfiguration', 'wh-down-validate']);
  }
});

test('webhooks: clientConfig.service is reached through the EndpointSlice; dry run needs sideEffects None', { skip }, async () => {
  const wh = await startWebhookServer(['hooks.wh-sys.svc']);
  try {
    await ok(['create', 'namespace', 'wh-sys']);
    await ok(['create', 'namespace', 'wh-b']);
    await ok(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hooks', namespace: 'wh-sys' }, spec: { ports: [{ name: 'https', port: 443, targetPort: 9443 }] } },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'hooks-1', namespace: 'wh-sys', labels: { 'kubernetes.io/service-name': 'hooks' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
          ports: [{ name: 'https', port: wh.port, protocol: 'TCP' }],
        },
      ],
    }));
    const svcRef = (path: string) => ({ service: { namespace: 'wh-sys', name: 'hooks', path, port: 443 }, caBundle: wh.caBundle });
    await ok(['apply', '-f', '-'], webhookConfigs('wh-b', svcRef));
    await ok(['apply', '-f', '-'], svcYaml('via-service', 'wh-b'));
    const got = JSON.parse(await ok(['get', 'svc', 'via-service', '-n', 'wh-b', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
    assert.equal(got.metadata.annotations['lab.berth.io/mutated'], 'yes');
    // Dry run is sent to None webhooks with dryRun: true...
    await ok(['apply', '--dry-run=server', '-f', '-'], svcYaml('dry-hooked', 'wh-b'));
    assert.ok(wh.seen.some((s) => s.request.name === 'dry-hooked' && s.request.dryRun === true));
    // ...and refused for webhooks with side effects.
    await ok(['apply', '-f', '-'], webhookConfigs('wh-b', svcRef, { sideEffects: 'Some' }));
    const err = await fails(['apply', '--dry-run=server', '-f', '-'], svcYaml('dry-refused', 'wh-b'));
    assert.match(err, /admission webhook "mutate.wh-b.lab.berth.io" does not support dry run/);
  } finally {
    await ok(['delete', 'mutatingwebhookconfiguration', 'wh-b-mutate']);
    await ok(['delete', 'validatingwebhookconfiguration', 'wh-b-validate']);
    wh.server.close();
  }
});
