// A service webhook with several endpoints (issue 12, chaos suite: 3 webhook replicas): the lab spreads calls
// over every ready endpoint of the Service's EndpointSlices, as kube-apiserver's Service routing does, never uses
// a not-ready one, and an unreachable ready one fails only the calls sent to it (failurePolicy decides).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { WebhookAdmission } from './webhook-admission.ts';
import { Store } from '../store.ts';
import { Registry } from '../registry.ts';
import { createCa, issueCert } from '../certs.ts';
import { isFailure } from '../status.ts';
import type { AdmissionAttributes } from '../rest.ts';

interface Replica {
  server: Server;
  port: number;
  calls: number;
}
const replicas: Replica[] = [];
let caBundle = '';
let deadPort = 0;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

before(async () => {
  const ca = await createCa('spread-ca');
  const cert = await issueCert(ca, { dnsNames: ['hooks.sys.svc'], ips: ['127.0.0.1'] });
  caBundle = Buffer.from(ca.certPem).toString('base64');
  // Four live replicas: three ready, the fourth listed with ready: false.
  for (let i = 0; i < 4; i++) {
    const r: Replica = { server: undefined as unknown as Server, port: 0, calls: 0 };
    r.server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        r.calls++;
        const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
      });
    });
    r.port = await listen(r.server);
    replicas.push(r);
  }
  // A port nobody listens on: bound then closed.
  const gone = createServer();
  deadPort = await listen(gone);
  await new Promise<void>((r) => gone.close(() => r()));
});

after(() => {
  for (const r of replicas) r.server.close();
});

/** One EndpointSlice per replica (each listens on its own port, as the lab's webhook processes do). */
function setup(failurePolicy: 'Fail' | 'Ignore', withDead: boolean, random?: () => number) {
  const store = new Store();
  const registry = new Registry();
  store.put('core/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } });
  store.put('core/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'hooks', namespace: 'sys' }, spec: { ports: [{ name: 'https', port: 443, targetPort: 9443 }] } });
  const slice = (name: string, port: number, ready: boolean | undefined) =>
    store.put('discovery.k8s.io/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'sys', labels: { 'kubernetes.io/service-name': 'hooks' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], ...(ready === undefined ? {} : { conditions: { ready } }) }],
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    });
  slice('hooks-a', replicas[0]!.port, true);
  slice('hooks-b', replicas[1]!.port, true);
  slice('hooks-c', replicas[2]!.port, undefined); // no conditions: ready
  slice('hooks-not-ready', replicas[3]!.port, false);
  if (withDead) slice('hooks-dead', deadPort, true);
  store.put('admissionregistration.k8s.io/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'v' },
    webhooks: [
      {
        name: 'svc.hooks.io',
        clientConfig: { service: { namespace: 'sys', name: 'hooks', path: '/validate', port: 443 }, caBundle },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy,
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['services'] }],
      },
    ],
  });
  const adm = new WebhookAdmission({ store, registry, log: () => undefined, ...(random ? { random } : {}) });
  const attrs: AdmissionAttributes = {
    type: registry.resolve('', 'v1', 'services')!,
    version: 'v1',
    subresource: '',
    operation: 'CREATE',
    namespace: 'shop',
    name: 'web',
    object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'ClusterIP' } },
    oldObject: null,
    dryRun: false,
    options: {},
  };
  return { adm, attrs };
}

test('calls to a service webhook reach every ready endpoint, never a not-ready one', async () => {
  for (const r of replicas) r.calls = 0;
  const { adm, attrs } = setup('Fail', false);
  try {
    for (let i = 0; i < 90; i++) {
      const out = await adm.validate(attrs);
      assert.equal(isFailure(out), false, JSON.stringify(out));
    }
  } finally {
    adm.close();
  }
  const [a, b, c, notReady] = replicas.map((r) => r.calls);
  // Random choice per call: the chance that one of 3 endpoints gets none of 90 calls is 3·(2/3)^90 ≈ 4e-16.
  assert.ok(a! > 0 && b! > 0 && c! > 0, `calls per endpoint: ${a}, ${b}, ${c}`);
  assert.equal(a! + b! + c!, 90);
  assert.equal(notReady, 0, 'the endpoint with ready: false is never called');
});

test('an unreachable ready endpoint fails only the calls sent to it; the others keep answering', async () => {
  for (const r of replicas) r.calls = 0;
  const { adm, attrs } = setup('Fail', true);
  const errors: string[] = [];
  let allowed = 0;
  try {
    for (let i = 0; i < 80; i++) {
      const out = await adm.validate(attrs);
      if (isFailure(out)) errors.push(out.status.message ?? '');
      else allowed++;
    }
  } finally {
    adm.close();
  }
  // Each call picks one of 4 endpoints: all-dead or never-dead over 80 calls is (1/4)^80 or (3/4)^80 ≈ 1e-10.
  assert.ok(errors.length > 0 && allowed > 0, `errors ${errors.length}, allowed ${allowed}`);
  for (const e of errors) {
    assert.equal(
      e,
      `Internal error occurred: failed calling webhook "svc.hooks.io": failed to call webhook: Post "https://hooks.sys.svc:443/validate?timeout=10s": dial tcp 127.0.0.1:${deadPort}: connect: connection refused`,
    );
  }
  assert.equal(replicas[0]!.calls + replicas[1]!.calls + replicas[2]!.calls, allowed);

  // Under failurePolicy Ignore the same failures fail open: every request is admitted.
  const ign = setup('Ignore', true);
  try {
    for (let i = 0; i < 20; i++) assert.equal(isFailure(await ign.adm.validate(ign.attrs)), false);
  } finally {
    ign.adm.close();
  }
});

test('the endpoint is chosen per call by the injected random source', async () => {
  for (const r of replicas) r.calls = 0;
  const seq = [0, 0.34, 0.67, 0.99];
  let n = 0;
  const { adm, attrs } = setup('Fail', false, () => seq[n++ % seq.length]!);
  try {
    for (let i = 0; i < 4; i++) assert.equal(isFailure(await adm.validate(attrs)), false);
  } finally {
    adm.close();
  }
  // Slices are listed by name: hooks-a, hooks-b, hooks-c (hooks-not-ready skipped).
  assert.deepEqual(
    replicas.map((r) => r.calls),
    [1, 1, 2, 0],
  );
});
