// The lab over raw HTTPS: bad input answers like Kubernetes (Status objects with 400/404/405/409/413/415/422),
// a bounded garbage run never stops it serving, and a persisted lab survives a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../../src/lab/server.ts';
import { withLab } from '../../src/lab/testing.ts';

interface Res {
  code: number;
  body: string;
  json: Record<string, unknown> | undefined;
  headers: Record<string, string | string[] | undefined>;
}

function call(lab: Lab, token: string, method: string, path: string, body?: string | Buffer, contentType = 'application/json', extra: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(lab.url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method,
        ca: lab.caPem,
        // Explicit length: Node sends DELETE bodies unframed otherwise.
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType, ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...extra },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ code: res.statusCode ?? 0, body: text, json, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const tokenOf = (dir: string) => readFileSync(join(dir, 'token'), 'utf8').trim();

test('bad input answers with Kubernetes Status objects', async () => {
  await withLab(async ({ lab, dir }) => {
    const tok = tokenOf(dir);
    const c = (m: string, p: string, b?: string, ct?: string) => call(lab, tok, m, p, b, ct);
    const expectStatus = async (r: Promise<Res>, code: number, reason: string, message?: RegExp) => {
      const res = await r;
      assert.equal(res.code, code, res.body);
      assert.equal(res.json?.['kind'], 'Status');
      assert.equal(res.json?.['apiVersion'], 'v1');
      assert.equal(res.json?.['status'], 'Failure');
      assert.equal(res.json?.['code'], code);
      assert.equal(res.json?.['reason'], reason);
      if (message) assert.match(String(res.json?.['message']), message);
    };
    await expectStatus(call(lab, 'wrong', 'GET', '/api/v1/services'), 401, 'Unauthorized');
    await expectStatus(c('POST', '/api/v1/namespaces/default/services', '{"apiVersion":"v1","kind":"Service","metadata":{"name":'), 400, 'BadRequest');
    await expectStatus(c('POST', '/api/v1/namespaces/default/services', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'), 400, 'BadRequest', /does not match/);
    await expectStatus(
      c('POST', '/api/v1/namespaces/default/configmaps', '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}}'),
      400,
      'BadRequest',
      /the namespace of the provided object does not match the namespace sent on the request/,
    );
    await expectStatus(c('GET', '/api/v1/namespaces/default/services/nope'), 404, 'NotFound', /^services "nope" not found$/);
    await expectStatus(c('GET', '/api/v2/services'), 404, 'NotFound');
    await expectStatus(c('GET', '/apis/nope.io/v1/things'), 404, 'NotFound');
    await expectStatus(c('GET', '/api/v1/namespaces/default/services/web/bogus'), 404, 'NotFound');
    await expectStatus(c('POST', '/api/v1/namespaces/nowhere/configmaps', '{"metadata":{"name":"x"}}'), 404, 'NotFound', /namespaces "nowhere" not found/);
    await expectStatus(c('PUT', '/api/v1/namespaces/default/configmaps'), 405, 'MethodNotAllowed');
    await expectStatus(c('POST', '/api/v1/namespaces/default/configmaps', JSON.stringify({ metadata: { name: 'big' }, data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) } })), 413, 'RequestEntityTooLarge');
    await expectStatus(c('POST', '/api/v1/namespaces/default/configmaps', '{"metadata":{"name":"Not_Valid"}}'), 422, 'Invalid', /ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid"/);
    await expectStatus(
      c('POST', '/api/v1/namespaces/default/services', '{"metadata":{"name":"t"},"spec":{"type":"Weird","ports":[{"port":80}]}}'),
      422,
      'Invalid',
      /spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"/,
    );
    // YAML bodies are accepted.
    const y = await c('POST', '/api/v1/namespaces/default/configmaps', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n', 'application/yaml');
    assert.equal(y.code, 201, y.body);
    await expectStatus(c('POST', '/api/v1/namespaces/default/configmaps', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n', 'application/yaml'), 409, 'AlreadyExists');
    await expectStatus(c('PATCH', '/api/v1/namespaces/default/configmaps/from-yaml', '{}', 'text/plain'), 415, 'UnsupportedMediaType');
    await expectStatus(c('PATCH', '/api/v1/namespaces/default/configmaps/from-yaml', '[{"op":"test","path":"/data/a","value":"2"}]', 'application/json-patch+json'), 422, 'Invalid', /test failed/);
    await expectStatus(
      c('PUT', '/api/v1/namespaces/default/configmaps/from-yaml', '{"metadata":{"name":"from-yaml","resourceVersion":"1"},"data":{}}'),
      409,
      'Conflict',
      /^Operation cannot be fulfilled on configmaps "from-yaml": the object has been modified; please apply your changes to the latest version and try again$/,
    );
    await expectStatus(c('GET', '/api/v1/configmaps?labelSelector=a%20in%20('), 400, 'BadRequest');
    await expectStatus(c('GET', '/api/v1/configmaps?fieldSelector=spec.nope%3D1'), 400, 'BadRequest', /field label not supported: spec.nope/);
  });
});

/** Opens a watch and collects its event lines until the server ends it (or `stop` is called). */
function openWatch(lab: Lab, token: string, path: string): { lines: string[]; ended: Promise<void>; stop: () => void } {
  const lines: string[] = [];
  let buf = '';
  const u = new URL(lab.url);
  let stop = () => undefined as void;
  const ended = new Promise<void>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', ca: lab.caPem, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
    req.on('error', (e) => (String(e).includes('socket hang up') ? resolve() : reject(e)));
    req.end();
    stop = () => req.destroy();
  });
  return { lines, ended, stop };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

test('watches stream later changes, honour selectors, timeoutSeconds and bookmarks; namespaces terminate', async () => {
  await withLab(async ({ lab, dir }) => {
    const tok = tokenOf(dir);
    const w = openWatch(lab, tok, '/api/v1/namespaces/default/configmaps?watch=true&labelSelector=pick%3Dyes');
    const w2 = openWatch(lab, tok, '/api/v1/watch/namespaces/default/configmaps?timeoutSeconds=1&allowWatchBookmarks=true');
    // Let both watches be established before writing (they must stay open, not end with their empty body).
    await new Promise((r) => setTimeout(r, 200));
    const post = (b: object) => call(lab, tok, 'POST', '/api/v1/namespaces/default/configmaps', JSON.stringify(b));
    assert.equal((await post({ metadata: { name: 'a', labels: { pick: 'yes' } } })).code, 201);
    assert.equal((await post({ metadata: { name: 'b', labels: { pick: 'no' } } })).code, 201);
    // Relabelling moves objects in and out of the selection: ADDED / DELETED on the filtered watch.
    const patch = (name: string, v: string) =>
      call(lab, tok, 'PATCH', `/api/v1/namespaces/default/configmaps/${name}`, JSON.stringify({ metadata: { labels: { pick: v } } }), 'application/merge-patch+json');
    assert.equal((await patch('b', 'yes')).code, 200);
    assert.equal((await patch('a', 'no')).code, 200);
    await until(() => w.lines.length >= 3, 'three filtered events');
    w.stop();
    assert.deepEqual(
      w.lines.map((l) => {
        const e = JSON.parse(l) as { type: string; object: { metadata: { name: string } } };
        return `${e.type} ${e.object.metadata.name}`;
      }),
      ['ADDED a', 'ADDED b', 'DELETED a'],
    );
    await w2.ended;
    const types = w2.lines.map((l) => (JSON.parse(l) as { type: string }).type);
    assert.deepEqual(types.slice(0, 4), ['ADDED', 'ADDED', 'MODIFIED', 'MODIFIED']);
    assert.equal(types[types.length - 1], 'BOOKMARK');

    // Namespace deletion: Terminating at once (creates refused), gone with its contents shortly after.
    assert.equal((await call(lab, tok, 'POST', '/api/v1/namespaces', '{"metadata":{"name":"doomed"}}')).code, 201);
    assert.equal((await call(lab, tok, 'POST', '/api/v1/namespaces/doomed/configmaps', '{"metadata":{"name":"c"}}')).code, 201);
    const del = await call(lab, tok, 'DELETE', '/api/v1/namespaces/doomed');
    assert.equal((del.json?.['status'] as { phase: string }).phase, 'Terminating');
    const refused = await call(lab, tok, 'POST', '/api/v1/namespaces/doomed/configmaps', '{"metadata":{"name":"d"}}');
    assert.equal(refused.code, 403);
    assert.match(String(refused.json?.['message']), /unable to create new content in namespace doomed because it is being terminated/);
    let gone = false;
    for (let i = 0; i < 200 && !gone; i++) {
      gone = (await call(lab, tok, 'GET', '/api/v1/namespaces/doomed')).code === 404;
      if (!gone) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(gone, 'namespace removed');
    assert.equal((await call(lab, tok, 'GET', '/api/v1/namespaces/doomed/configmaps/c')).code, 404);
  });
});

test('finalizers hold a deleted object until removed; a CR status subresource splits spec and status writes', async () => {
  await withLab(async ({ lab, dir }) => {
    const tok = tokenOf(dir);
    const base = '/api/v1/namespaces/default/configmaps';
    assert.equal((await call(lab, tok, 'POST', base, '{"metadata":{"name":"held","finalizers":["lab.berth.io/hold"]}}')).code, 201);
    const del = await call(lab, tok, 'DELETE', `${base}/held`);
    assert.equal(del.code, 200);
    assert.ok((del.json?.['metadata'] as { deletionTimestamp?: string }).deletionTimestamp);
    assert.equal((await call(lab, tok, 'GET', `${base}/held`)).code, 200);
    const rel = await call(lab, tok, 'PATCH', `${base}/held`, '{"metadata":{"finalizers":null}}', 'application/merge-patch+json');
    assert.equal(rel.code, 200, rel.body);
    assert.equal((await call(lab, tok, 'GET', `${base}/held`)).code, 404);

    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'pools.lab.berth.io' },
      spec: { group: 'lab.berth.io', scope: 'Namespaced', names: { plural: 'pools', kind: 'Pool' }, versions: [{ name: 'v1', served: true, storage: true, subresources: { status: {} } }] },
    };
    assert.equal((await call(lab, tok, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', JSON.stringify(crd))).code, 201);
    const p = '/apis/lab.berth.io/v1/namespaces/default/pools';
    const created = await call(lab, tok, 'POST', p, '{"apiVersion":"lab.berth.io/v1","kind":"Pool","metadata":{"name":"a"},"spec":{"n":1},"status":{"used":9}}');
    assert.equal(created.code, 201, created.body);
    assert.equal(created.json?.['status'], undefined);
    const st = await call(lab, tok, 'PATCH', `${p}/a/status`, '{"spec":{"n":5},"status":{"used":2}}', 'application/merge-patch+json');
    assert.deepEqual([st.json?.['spec'], st.json?.['status']], [{ n: 1 }, { used: 2 }]);
    assert.equal((st.json?.['metadata'] as { generation: number }).generation, 1, 'status writes do not bump generation');
    const main = await call(lab, tok, 'PATCH', `${p}/a`, '{"spec":{"n":3},"status":{"used":7}}', 'application/merge-patch+json');
    assert.deepEqual([main.json?.['spec'], main.json?.['status']], [{ n: 3 }, { used: 2 }]);
    assert.equal((main.json?.['metadata'] as { generation: number }).generation, 2);
    const smp = await call(lab, tok, 'PATCH', `${p}/a`, '{"spec":{"n":4}}', 'application/strategic-merge-patch+json');
    assert.equal(smp.code, 415);
    // PUT of a custom resource needs metadata.resourceVersion.
    const put = await call(lab, tok, 'PUT', `${p}/a`, '{"apiVersion":"lab.berth.io/v1","kind":"Pool","metadata":{"name":"a"},"spec":{"n":8}}');
    assert.equal(put.code, 422);
    assert.match(String(put.json?.['message']), /metadata.resourceVersion: Invalid value: 0x0: must be specified for an update/);
  });
});

/** Deterministic PRNG (mulberry32) for the garbage run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('a bounded garbage run gets only well-formed answers and the server keeps serving', async () => {
  await withLab(async ({ lab, dir }) => {
    const tok = tokenOf(dir);
    const rand = rng(42);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const paths = [
      '/api/v1/namespaces/default/services',
      '/api/v1/namespaces/default/services/web',
      '/api/v1/namespaces/default/services/web/status',
      '/api/v1/namespaces/default/configmaps/x',
      '/api/v1/namespaces',
      '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      '/api/v1/namespaces/%E0%A4%A/services',
      '/api/v1/namespaces/default/services?labelSelector=%21%21%21',
      '/api/v1/namespaces/default/services?watch=true&resourceVersion=abc',
    ];
    const bodies = [
      '',
      'null',
      '[]',
      '42',
      '"str"',
      '{',
      '{"metadata":null}',
      '{"metadata":{"name":5}}',
      '{"metadata":{"name":"web","labels":{"a":5}},"spec":{"ports":"x"}}',
      '{"metadata":{"name":"web"},"spec":{"ports":[{"port":"80"}],"clusterIP":"banana"}}',
      '{"metadata":{"name":"web"},"spec":{"type":"LoadBalancer","ports":[null,{"port":70000}]}}',
      '{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"x"},"spec":{"versions":[1]}}',
      '{"apiVersion":"admissionregistration.k8s.io/v1","kind":"MutatingWebhookConfiguration","metadata":{"name":"m"},"webhooks":[{"name":"a","clientConfig":{"url":"http://x"},"rules":"no"}]}',
      '[{"op":"move","from":"/a","path":"/a/b"}]',
      '[{"op":"add","path":"/metadata/annotations/x","value":1}]',
      '{"spec":{"$patch":"explode"}}',
      '{"spec":{"ports":[{"$patch":"delete"}]}}',
      'a: &a [*a, *a]\nb: *a\n',
      '- - - - -',
      '\u0000\u0001\u0002',
      'k8s\u0000\u0008garbage',
      '['.repeat(5000),
    ];
    const types = ['application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'application/vnd.kubernetes.protobuf'];
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
    for (let i = 0; i < 300; i++) {
      const m = pick(methods);
      let p = pick(paths);
      if (m === 'PATCH' && !p.includes('?')) p += '?fieldManager=fuzz';
      if (p.includes('watch=true') && m === 'GET') continue;
      const r = await call(lab, tok, m, p, m === 'GET' ? undefined : pick(bodies), pick(types));
      assert.ok(r.code >= 200 && r.code < 600, `${m} ${p}: ${r.code}`);
      if (r.code >= 400) {
        assert.equal(r.json?.['kind'], 'Status', `${m} ${p} -> ${r.code}: ${r.body.slice(0, 200)}`);
        // A 500 may only be a deliberate InternalError, never an exception caught by the safety net.
        assert.ok(r.code !== 500 || !String(r.json?.['message']).startsWith('Internal error occurred: lab:'), `${m} ${p}: ${r.body}`);
      }
    }
    const ok = await call(lab, tok, 'GET', '/api/v1/namespaces');
    assert.equal(ok.code, 200);
  });
});

test('a persisted lab survives a restart with its objects, allocations and monotonic resourceVersions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-lab-persist-'));
  try {
    const lab1 = await startLab({ dir, persist: true });
    const tok = tokenOf(dir);
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'things.lab.berth.io' },
      spec: { group: 'lab.berth.io', scope: 'Cluster', names: { plural: 'things', kind: 'Thing' }, versions: [{ name: 'v1', served: true, storage: true }] },
    };
    assert.equal((await call(lab1, tok, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', JSON.stringify(crd))).code, 201);
    assert.equal((await call(lab1, tok, 'POST', '/apis/lab.berth.io/v1/things', '{"apiVersion":"lab.berth.io/v1","kind":"Thing","metadata":{"name":"t1"}}')).code, 201);
    const s1 = await call(lab1, tok, 'POST', '/api/v1/namespaces/default/services', '{"metadata":{"name":"keep"},"spec":{"type":"NodePort","ports":[{"port":80}]}}');
    assert.equal(s1.code, 201, s1.body);
    const spec1 = s1.json?.['spec'] as { clusterIP: string; ports: Array<{ nodePort: number }> };
    const rv1 = Number((s1.json?.['metadata'] as { resourceVersion: string }).resourceVersion);
    await lab1.stop();

    const lab2 = await startLab({ dir, persist: true });
    try {
      const got = await call(lab2, tok, 'GET', '/api/v1/namespaces/default/services/keep');
      assert.equal(got.code, 200);
      assert.equal((got.json?.['spec'] as { clusterIP: string }).clusterIP, spec1.clusterIP);
      assert.equal((await call(lab2, tok, 'GET', '/apis/lab.berth.io/v1/things/t1')).code, 200);
      const s2 = await call(lab2, tok, 'POST', '/api/v1/namespaces/default/services', '{"metadata":{"name":"new"},"spec":{"type":"NodePort","ports":[{"port":80}]}}');
      assert.equal(s2.code, 201, s2.body);
      const spec2 = s2.json?.['spec'] as { clusterIP: string; ports: Array<{ nodePort: number }> };
      assert.notEqual(spec2.clusterIP, spec1.clusterIP);
      assert.notEqual(spec2.ports[0]!.nodePort, spec1.ports[0]!.nodePort);
      assert.ok(Number((s2.json?.['metadata'] as { resourceVersion: string }).resourceVersion) > rv1);
      // History does not survive: a watch from before the restart is 410 Gone.
      const w = await call(lab2, tok, 'GET', `/api/v1/namespaces/default/services?watch=true&resourceVersion=${rv1 - 1}`);
      assert.match(w.body, /"type":"ERROR".*"code":410/);
    } finally {
      await lab2.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
