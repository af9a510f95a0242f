// The webhook app served over HTTPS (server.ts): TLS floor, certificate reload without restart, and a bounded fuzz
// of malformed AdmissionReviews — every answer is a well-formed review or a 4xx, and the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import fc from 'fast-check';
import { buildApp } from '../../src/webhook/app.ts';
import { serve, type WebhookServer } from '../../src/webhook/server.ts';
import { createCa, issueServing, servingNames, type TlsMaterial } from '../../src/webhook/tls.ts';
import { ipAddressPool, memoryWorld, reviewFor, service, type MemoryWorld } from '../../src/webhook/testing.ts';

let world: MemoryWorld;
let server: WebhookServer;
let material: TlsMaterial;
const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });

before(async () => {
  const ca = await createCa(new Date());
  material = await issueServing(ca, servingNames('berth-webhook-service', 'metallb-system'), new Date());
  world = memoryWorld({ objects: [ipAddressPool('metallb-system', 'default', ['10.20.0.0/24'])] });
  server = await serve(buildApp(world.deps), { host: '127.0.0.1', port: 0, cert: material });
});

after(async () => {
  agent.destroy();
  world.stop();
  await server.close();
});

function request(
  path: string,
  body: string | Buffer | undefined,
  opts: { ca?: string; method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; peerCert?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: opts.method ?? 'POST',
        ca: opts.ca ?? material.caPem,
        servername: 'berth-webhook-service.metallb-system.svc',
        agent: opts.ca ? false : agent,
        headers: { 'content-type': 'application/json', ...(opts.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const peer = (res.socket as tls.TLSSocket).getPeerCertificate?.()?.fingerprint256;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ...(peer ? { peerCert: peer } : {}) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function assertWellFormed(status: number, text: string, ctx: string): void {
  if (status >= 400 && status < 500) return;
  assert.equal(status, 200, `${ctx}: status ${status} ${text.slice(0, 200)}`);
  const r = JSON.parse(text) as { apiVersion?: unknown; kind?: unknown; response?: { uid?: unknown; allowed?: unknown } };
  assert.equal(r.apiVersion, 'admission.k8s.io/v1', ctx);
  assert.equal(r.kind, 'AdmissionReview', ctx);
  assert.equal(typeof r.response?.uid, 'string', ctx);
  assert.equal(typeof r.response?.allowed, 'boolean', ctx);
}

test('serves a mutate review over TLS with the DNS name the API server uses', async () => {
  const r = await request('/mutate/service', JSON.stringify(reviewFor(service('shop', 'web'), { uid: 'tls-1' })));
  assert.equal(r.status, 200);
  const review = JSON.parse(r.text) as { response: { uid: string; allowed: boolean; patch?: string } };
  assert.equal(review.response.uid, 'tls-1');
  assert.equal(review.response.allowed, true);
  assert.ok(review.response.patch);
});

test('refuses TLS 1.1 and accepts TLS 1.2', async () => {
  const tryVersion = (v: tls.SecureVersion) =>
    new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, ca: material.caPem, servername: 'berth-webhook-service.metallb-system.svc', minVersion: v, maxVersion: v }, () => {
        const p = s.getProtocol() ?? '';
        s.end();
        resolve(p);
      });
      s.on('error', () => resolve('refused'));
    });
  assert.equal(await tryVersion('TLSv1.1'), 'refused');
  assert.equal(await tryVersion('TLSv1.2'), 'TLSv1.2');
});

test('a new certificate is served to new connections without a restart', async () => {
  const before1 = await request('/healthz', undefined, { method: 'GET', ca: material.caPem });
  const ca2 = await createCa(new Date(), 'second-ca');
  const next = await issueServing(ca2, servingNames('berth-webhook-service', 'metallb-system'), new Date());
  server.setCertificate(next);
  try {
    const after1 = await request('/healthz', undefined, { method: 'GET', ca: next.caPem });
    assert.equal(after1.status, 200);
    assert.notEqual(after1.peerCert, before1.peerCert);
    await assert.rejects(request('/healthz', undefined, { method: 'GET', ca: material.caPem }), /self-signed|unable to verify|certificate/i);
  } finally {
    server.setCertificate(material);
  }
});

test('bounded fuzz: malformed reviews always get a well-formed review or a 4xx, and the server keeps serving', async () => {
  const valid = JSON.stringify(reviewFor(service('fuzz', 'svc')));
  const paths = ['/mutate/service', '/validate/service', '/validate/ipaddresspool', '/validate/bgppeer'];
  const json = fc.jsonValue({ maxDepth: 4 });
  const body = fc.oneof(
    // truncated valid reviews
    fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n)),
    // arbitrary JSON
    json.map((v) => JSON.stringify(v)),
    // reviews with a wrong-typed or missing field
    fc.record({ field: fc.constantFrom('uid', 'kind', 'operation', 'object', 'oldObject', 'dryRun', 'namespace', 'name'), value: json }).map(({ field, value }) => {
      const r = JSON.parse(valid) as { request: Record<string, unknown> };
      if (value === null) delete r.request[field];
      else r.request[field] = value;
      return JSON.stringify(r);
    }),
    // a Service object full of junk
    json.map((spec) => {
      const r = JSON.parse(valid) as { request: { object: { spec: unknown } } };
      r.request.object.spec = spec;
      return JSON.stringify(r);
    }),
    // bytes
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...paths), body, async (path, b) => {
      const r = await request(path, b);
      assertWellFormed(r.status, r.text, `${path} ${b.slice(0, 80)}`);
    }),
    { numRuns: 200, seed: 42 },
  );
  // Huge bodies: over the limit, and a deep one under it.
  const huge = await request('/mutate/service', Buffer.alloc(7 * 1024 * 1024, 0x61));
  assertWellFormed(huge.status, huge.text, 'huge');
  const deep = await request('/validate/service', '['.repeat(50_000) + ']'.repeat(50_000));
  assertWellFormed(deep.status, deep.text, 'deep');
  const wrongType = await request('/mutate/service', valid, { headers: { 'content-type': 'text/plain' } });
  assertWellFormed(wrongType.status, wrongType.text, 'text/plain');

  // Still serving, and still right.
  assert.equal((await request('/healthz', undefined, { method: 'GET' })).status, 200);
  const ok = await request('/mutate/service', JSON.stringify(reviewFor(service('after', 'fuzz'), { uid: 'after' })));
  assert.equal((JSON.parse(ok.text) as { response: { allowed: boolean; uid: string } }).response.uid, 'after');
});
