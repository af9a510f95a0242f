import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeContinue, encodeContinue, parseLimit } from './paging.ts';
import { isFailure } from './status.ts';
import { Store } from './store.ts';
import { withLab, type TestLab } from './testing.ts';
import type { KubeObject } from './types.ts';

const cm = (name: string, ns = 'default', d = '1'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { d } });

test('continue tokens round-trip; garbled ones are a 400 naming the value', () => {
  const t = encodeContinue(42, 'default/web');
  assert.deepEqual(decodeContinue(t), { rv: 42, start: 'default/web\u0000' });
  for (const bad of ['%%%', 'bm90IGpzb24', Buffer.from('{"v":"x","rv":1,"start":"a"}').toString('base64url'), Buffer.from('{"v":"meta.k8s.io/v1","rv":-3,"start":"a"}').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
    const r = decodeContinue(bad);
    assert.ok(isFailure(r), bad);
    assert.equal(r.code, 400);
    assert.match(r.status.message, new RegExp(`invalid continue token "${bad.replace(/[%]/g, '\\$&')}"`));
  }
  assert.equal(parseLimit(null), 0);
  assert.equal(parseLimit('500'), 500);
  const l = parseLimit('-1');
  assert.ok(isFailure(l) && l.code === 400 && l.status.message.includes('"-1"'));
});

test('listAt: the bucket as it was at a revision, from the current state and the history', () => {
  const s = new Store({ historyLimit: 100 });
  s.put('core/configmaps', cm('a'));
  s.put('core/configmaps', cm('b'));
  s.put('core/configmaps', cm('c', 'other'));
  const rv = s.resourceVersion; // 3
  s.put('core/configmaps', cm('b', 'default', '2')); // modified after rv
  s.remove('core/configmaps', 'default', 'a'); // deleted after rv
  s.put('core/configmaps', cm('0')); // created after rv
  s.put('core/secrets', { ...cm('s'), kind: 'Secret' }); // another bucket
  const at = s.listAt('core/configmaps', undefined, rv);
  assert.notEqual(at, 'gone');
  const view = (at as Array<[string, KubeObject]>).map(([k, o]) => `${k}@${o.metadata.resourceVersion}`);
  assert.deepEqual(view, ['default/a@1', 'default/b@2', 'other/c@3']);
  assert.deepEqual((s.listAt('core/configmaps', 'other', rv) as Array<[string, KubeObject]>).map(([k]) => k), ['other/c']);
  const now = (s.listAt('core/configmaps', undefined, s.resourceVersion) as Array<[string, KubeObject]>).map(([k]) => k);
  assert.deepEqual(now, ['default/0', 'default/b', 'other/c']);
  const from = (start: string) => (s.listAt('core/configmaps', undefined, s.resourceVersion, start) as Array<[string, KubeObject]>).map(([k]) => k);
  assert.deepEqual(from('default/b'), ['default/b', 'other/c'], 'from a start key, inclusive');
  s.put('core/configmaps', cm('c')); // a new key: the cached order is rebuilt
  assert.deepEqual(from('default/b\u0000'), ['default/c', 'other/c']);
  s.remove('core/configmaps', 'other', 'c');
  assert.deepEqual(from('default/b\u0000'), ['default/c']);
  const small = new Store({ historyLimit: 2 });
  for (let i = 0; i < 5; i++) small.put('core/configmaps', cm(`c${i}`));
  assert.equal(small.listAt('core/configmaps', undefined, 1), 'gone');
});

/** GET/POST/DELETE against the lab with its CA and token; the parsed JSON body (or the raw text of a watch). */
function call(t: TestLab, method: string, path: string, body?: unknown): Promise<{ code: number; json: Record<string, unknown>; text: string }> {
  const token = readFileSync(join(t.dir, 'token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = request(
      `${t.lab.url}${path}`,
      { method, ca: t.lab.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            /* a watch stream: several JSON lines */
          }
          resolve({ code: res.statusCode ?? 0, json, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const names = (list: Record<string, unknown>) => (list['items'] as KubeObject[]).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
const meta = (list: Record<string, unknown>) => list['metadata'] as { resourceVersion: string; continue?: string; remainingItemCount?: number };
const CMS = '/api/v1/namespaces/default/configmaps';

test('LIST pages: limit/continue concatenate to the full list; selectors apply before paging; watch from the list RV sees changes made while paging', async () => {
  await withLab(async (t) => {
    await call(t, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    for (let i = 0; i < 7; i++) {
      const ns = i % 2 ? 'other' : 'default';
      const r = await call(t, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { ...cm(`cm${i}`, ns), metadata: { name: `cm${i}`, namespace: ns, labels: { odd: String(i % 2 === 1), tier: i < 4 ? 'low' : 'high' } } });
      assert.equal(r.code, 201, r.text);
    }
    const full = await call(t, 'GET', '/api/v1/configmaps');
    const want = names(full.json).filter((n) => n.includes('/cm'));
    assert.equal(meta(full.json).continue, undefined, 'no limit: everything in one answer');

    const sel = 'labelSelector=' + encodeURIComponent('tier=high');
    const pages: string[][] = [];
    let cont: string | undefined;
    let firstRv: string | undefined;
    let created = false;
    do {
      const r = await call(t, 'GET', `/api/v1/configmaps?limit=2&${sel}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      assert.equal(r.code, 200, r.text);
      firstRv ??= meta(r.json).resourceVersion;
      assert.equal(meta(r.json).resourceVersion, firstRv, 'every page carries the first page\'s resourceVersion');
      assert.equal(meta(r.json).remainingItemCount, undefined, 'no remainingItemCount with a selector');
      pages.push(names(r.json));
      cont = meta(r.json).continue;
      if (!created) {
        // Changes while paging: not in this list (read at firstRv), but in the watch from firstRv.
        created = true;
        assert.equal((await call(t, 'POST', CMS, { ...cm('zz-new'), metadata: { name: 'zz-new', namespace: 'default', labels: { tier: 'high' } } })).code, 201);
        assert.equal((await call(t, 'DELETE', '/api/v1/namespaces/other/configmaps/cm5')).code, 200);
      }
    } while (cont);
    assert.deepEqual(pages.flat(), want.filter((n) => ['cm4', 'cm5', 'cm6'].includes(n.split('/')[1]!)), 'the filtered list as of the first page');
    assert.ok(pages.every((p) => p.length <= 2) && pages.length === 2, `pages ${JSON.stringify(pages)}`);

    const w = await call(t, 'GET', `/api/v1/configmaps?watch=true&resourceVersion=${firstRv}&timeoutSeconds=1&${sel}`);
    const events = w.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; object: KubeObject });
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`), ['ADDED default/zz-new', 'DELETED other/cm5']);

    // Without a selector: remainingItemCount; a namespaced list pages its namespace only.
    const p1 = await call(t, 'GET', `${CMS}?limit=3`);
    const all = names((await call(t, 'GET', CMS)).json);
    assert.deepEqual(names(p1.json), all.slice(0, 3));
    assert.equal(meta(p1.json).remainingItemCount, all.length - 3);
    const p2 = await call(t, 'GET', `${CMS}?limit=100&continue=${encodeURIComponent(meta(p1.json).continue!)}`);
    assert.deepEqual([...names(p1.json), ...names(p2.json)], all);
    assert.equal(meta(p2.json).continue, undefined);

    const garbled = await call(t, 'GET', `${CMS}?limit=2&continue=not-a-token`);
    assert.equal(garbled.code, 400);
    assert.match(String(garbled.json['message']), /invalid continue token "not-a-token"/);
    const badLimit = await call(t, 'GET', `${CMS}?limit=many`);
    assert.equal(badLimit.code, 400);
    assert.match(String(badLimit.json['message']), /invalid limit "many"/);
  });
});

test('a continue token older than the watch history is 410 Expired', async () => {
  await withLab(
    async (t) => {
      for (let i = 0; i < 3; i++) assert.equal((await call(t, 'POST', CMS, cm(`c${i}`))).code, 201);
      const p1 = await call(t, 'GET', `${CMS}?limit=1`);
      const cont = meta(p1.json).continue;
      assert.ok(cont);
      for (let i = 0; i < 6; i++) await call(t, 'POST', CMS, cm(`later${i}`));
      const r = await call(t, 'GET', `${CMS}?limit=1&continue=${encodeURIComponent(cont)}`);
      assert.equal(r.code, 410, r.text);
      assert.equal(r.json['reason'], 'Expired');
      assert.match(String(r.json['message']), /too old/);
    },
    { watchHistory: 4 },
  );
});

test('real kubectl pages with --chunk-size=2 and gets every Service', async (t) => {
  await withLab(async (lab) => {
    if (!lab.kubectlPath) {
      t.skip('kubectl not found (scripts/fetch-kubectl.sh)');
      return;
    }
    const svc = (n: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: `web${n}`, namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
    for (let i = 0; i < 5; i++) assert.equal((await call(lab, 'POST', '/api/v1/namespaces/default/services', svc(i))).code, 201);
    const r = await lab.kubectl(['get', 'services', '--chunk-size=2', '-o', 'name', '-v=6']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['service/kubernetes', 'service/web0', 'service/web1', 'service/web2', 'service/web3', 'service/web4']);
    const continued = r.stderr.split('\n').filter((l) => /GET .*services\?.*continue=/.test(l));
    assert.ok(continued.length >= 2, `kubectl followed continue tokens: ${r.stderr}`);
    const table = await lab.kubectl(['get', 'services', '--chunk-size=2']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.trim().split('\n').length, 7, table.stdout);
  });
});
