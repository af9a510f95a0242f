import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadClusterAccess } from './kubeconfig.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, doc: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : stringify(doc));
  return p;
}

const base = {
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [
    { name: 'lab', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority-data': Buffer.from('CA').toString('base64') } },
    { name: 'other', cluster: { server: 'https://10.0.0.1', 'insecure-skip-tls-verify': true, 'tls-server-name': 'kube' } },
  ],
  users: [
    { name: 'tok', user: { token: 'abc' } },
    { name: 'cert', user: { 'client-certificate': 'certs/c.pem', 'client-key': 'certs/k.pem' } },
    { name: 'basic', user: { username: 'u', password: 'p' } },
  ],
  contexts: [
    { name: 'lab', context: { cluster: 'lab', user: 'tok', namespace: 'team' } },
    { name: 'other', context: { cluster: 'other', user: 'cert' } },
    { name: 'pw', context: { cluster: 'lab', user: 'basic' } },
  ],
  'current-context': 'lab',
};

describe('loadClusterAccess', () => {
  it('reads the current context: server without trailing slash, embedded CA, bearer token, namespace', async () => {
    const r = await loadClusterAccess({ kubeconfig: write('a.yaml', base), env: {} });
    assert.ok(r.ok);
    assert.equal(r.access.server, 'https://127.0.0.1:6443');
    assert.equal(String(r.access.ca), 'CA');
    assert.equal(await r.access.authorization(), 'Bearer abc');
    assert.equal(r.access.namespace, 'team');
    assert.equal(r.access.insecureSkipTlsVerify, false);
  });

  it('honours --context, file paths relative to the kubeconfig, skip-verify and tls-server-name', async () => {
    mkdirSync(join(dir, 'certs'), { recursive: true });
    writeFileSync(join(dir, 'certs', 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'certs', 'k.pem'), 'KEY');
    const r = await loadClusterAccess({ kubeconfig: write('b.yaml', base), context: 'other', env: {} });
    assert.ok(r.ok);
    assert.equal(String(r.access.cert), 'CERT');
    assert.equal(String(r.access.key), 'KEY');
    assert.equal(r.access.insecureSkipTlsVerify, true);
    assert.equal(r.access.tlsServerName, 'kube');
    assert.equal(await r.access.authorization(), undefined);
  });

  it('basic auth users get a Basic header', async () => {
    const r = await loadClusterAccess({ kubeconfig: write('c.yaml', base), context: 'pw', env: {} });
    assert.ok(r.ok);
    assert.equal(await r.access.authorization(), `Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('uses $KUBECONFIG when no file is given; the first file setting current-context wins', async () => {
    const a = write('d1.yaml', { ...base, 'current-context': 'pw' });
    const b = write('d2.yaml', { ...base, 'current-context': 'lab' });
    const r = await loadClusterAccess({ env: { KUBECONFIG: `${a}:${b}` } });
    assert.ok(r.ok);
    assert.match(await r.access.authorization() ?? '', /^Basic /);
  });

  it('answers a message naming the problem: missing file, unknown context, bad YAML', async () => {
    const missing = await loadClusterAccess({ kubeconfig: join(dir, 'nope.yaml'), env: {} });
    assert.deepEqual(missing, { ok: false, message: `kubeconfig ${join(dir, 'nope.yaml')} does not exist` });
    const ctx = await loadClusterAccess({ kubeconfig: write('e.yaml', base), context: 'zzz', env: {} });
    assert.equal(ctx.ok, false);
    assert.match(!ctx.ok ? ctx.message : '', /context "zzz" not found/);
    const bad = await loadClusterAccess({ kubeconfig: write('f.yaml', 'a: [b'), env: {} });
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.message : '', /is not valid YAML/);
  });

  it('falls back to the in-cluster service account (token file re-read, pod namespace)', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token\n');
    writeFileSync(join(sa, 'ca.crt'), 'SACA');
    writeFileSync(join(sa, 'namespace'), 'metallb-system');
    const r = await loadClusterAccess({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: join(dir, 'nohome') },
      serviceAccountDir: sa,
    });
    assert.ok(r.ok);
    assert.equal(r.access.server, 'https://[fd00::1]:443');
    assert.equal(await r.access.authorization(), 'Bearer sa-token');
    assert.equal(r.access.namespace, 'metallb-system');
  });
});
