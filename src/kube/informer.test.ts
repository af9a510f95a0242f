import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubeClient, type KubeObject } from './client.ts';
import { settle } from './clock.ts';
import { FakeTransport } from './fake-transport.ts';
import { Informer, onlyStatusChanged, slim } from './informer.ts';
import { Resources } from './resources.ts';

function svc(name: string, rv: string, extra: Partial<KubeObject> = {}): KubeObject {
  return { metadata: { name, namespace: 'default', resourceVersion: rv }, ...extra };
}

/** A transport whose list answers `items` (changed by the test) at `rv`. */
function listing(t: FakeTransport, state: { items: KubeObject[]; rv: string; fail?: boolean }): void {
  t.handler = (req) => {
    if (req.method === 'GET' && req.path === '/api/v1/services') {
      if (state.fail) return { ok: false, error: { kind: 'ServerError', status: 500, reason: '', message: 'boom' } };
      return { ok: true, value: { metadata: { resourceVersion: state.rv }, items: structuredClone(state.items) } };
    }
    return { ok: false, error: { kind: 'NotFound', status: 404, reason: 'NotFound', message: 'nope' } };
  };
}

function recorder(inf: Informer): string[] {
  const log: string[] = [];
  inf.on({
    add: (o) => log.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    update: (o, old) => log.push(`update ${o.metadata?.name}@${old.metadata?.resourceVersion}->${o.metadata?.resourceVersion}`),
    delete: (o) => log.push(`delete ${o.metadata?.name}`),
  });
  return log;
}

describe('Informer', () => {
  it('lists, fills in apiVersion/kind, then watches from the list resourceVersion', async () => {
    const t = new FakeTransport();
    const state = { items: [svc('a', '5')], rv: '7' };
    listing(t, state);
    const inf = new Informer({ client: new KubeClient(t), resource: Resources.services });
    const log = recorder(inf);
    const w = t.nextWatch();
    inf.start();
    await inf.synced;
    assert.equal(inf.hasSynced, true);
    assert.deepEqual(log, ['add a@5']);
    assert.equal(inf.get('a', 'default')?.kind, 'Service');
    assert.equal(inf.get('a', 'default')?.apiVersion, 'v1');
    const watch = await w;
    assert.equal(watch.query.resourceVersion, '7');
    assert.equal(watch.query.allowWatchBookmarks, true);
    watch.emit({ type: 'ADDED', object: svc('b', '8') });
    watch.emit({ type: 'MODIFIED', object: svc('a', '9') });
    watch.emit({ type: 'MODIFIED', object: svc('a', '9') }); // same resourceVersion: no update event
    watch.emit({ type: 'DELETED', object: svc('b', '10') });
    watch.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } });
    assert.deepEqual(log, ['add a@5', 'add b@8', 'update a@5->9', 'delete b']);
    assert.equal(inf.resourceVersion, '12');
    assert.deepEqual([...inf.keys()], ['default/a']);
    await inf.stop();
  });

  it('resumes a watch closed by the server from the last resourceVersion, without relisting', async () => {
    const t = new FakeTransport();
    listing(t, { items: [], rv: '1' });
    const inf = new Informer({ client: new KubeClient(t), resource: Resources.services });
    const first = t.nextWatch();
    inf.start();
    const w1 = await first;
    w1.emit({ type: 'ADDED', object: svc('a', '3') });
    const second = t.nextWatch();
    w1.end({ kind: 'closed' });
    const w2 = await second;
    assert.equal(w2.query.resourceVersion, '3');
    assert.equal(inf.stats.lists, 1);
    await inf.stop();
  });

  it('relists on 410 Gone and emits exactly what changed meanwhile (adds, updates, deletes)', async () => {
    const t = new FakeTransport();
    const state = { items: [svc('a', '1'), svc('b', '2')], rv: '2' };
    listing(t, state);
    const inf = new Informer({ client: new KubeClient(t), resource: Resources.services });
    const log = recorder(inf);
    const first = t.nextWatch();
    inf.start();
    const w1 = await first;
    state.items = [svc('a', '1'), svc('b', '20'), svc('c', '21')];
    state.rv = '22';
    const second = t.nextWatch();
    w1.emit({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } });
    const w2 = await second;
    assert.equal(inf.stats.relistsOnGone, 1);
    assert.equal(w2.query.resourceVersion, '22');
    assert.deepEqual(log, ['add a@1', 'add b@2', 'add c@21', 'update b@2->20']);
    // A delete missed while not watching:
    state.items = [svc('c', '21')];
    state.rv = '30';
    const third = t.nextWatch();
    w2.end({ kind: 'error', error: { kind: 'Gone', status: 410, reason: 'Expired', message: 'gone' } });
    await third;
    assert.deepEqual(log.slice(4), ['delete a', 'delete b']);
    await inf.stop();
  });

  it('lists page by page, asking for the next page before transforming the current one (one ahead at most); a failed later page fails the list', async () => {
    const t = new FakeTransport();
    const pages: Array<{ items: KubeObject[]; cont?: string }> = [
      { items: [svc('a', '1'), svc('b', '2')], cont: 'p2' },
      { items: [svc('c', '3')], cont: 'p3' },
      { items: [svc('d', '4')] },
    ];
    let failPage3 = true;
    const transformed: string[] = [];
    const asked: string[] = [];
    t.handler = (req) => {
      const cont = String(req.query.continue ?? '');
      // What had been transformed when this page was asked for.
      asked.push(`${cont || 'p1'}:${transformed.join(',')}`);
      if (cont === 'p3' && failPage3) {
        failPage3 = false;
        return { ok: false, error: { kind: 'Gone', status: 410, reason: 'Expired', message: 'continue token expired' } };
      }
      const p = pages[cont === '' ? 0 : cont === 'p2' ? 1 : 2]!;
      return { ok: true, value: { metadata: { resourceVersion: '9', ...(p.cont ? { continue: p.cont } : {}) }, items: structuredClone(p.items) } };
    };
    const inf = new Informer({
      client: new KubeClient(t),
      resource: Resources.services,
      backoff: { initialMs: 1, maxMs: 1 },
      transform: (o) => {
        transformed.push(o.metadata?.name ?? '');
        return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion } };
      },
    });
    const log = recorder(inf);
    inf.start();
    await inf.synced;
    // Page k+1 is asked for once page k arrived, before its items are transformed; never before page k-1's were.
    assert.deepEqual(asked, ['p1:', 'p2:', 'p3:a,b', 'p1:a,b,c', 'p2:a,b,c', 'p3:a,b,c,a,b']);
    // The failed attempt changed nothing: handlers saw the complete list once, after it succeeded.
    assert.deepEqual(log, ['add a@1', 'add b@2', 'add c@3', 'add d@4']);
    assert.equal(inf.stats.errors, 1);
    assert.equal(inf.size, 4);
    await inf.stop();
  });

  it('keeps retrying a failing list with backoff and syncs once the server answers', async () => {
    const t = new FakeTransport();
    const state = { items: [svc('a', '1')], rv: '1', fail: true };
    listing(t, state);
    const inf = new Informer({ client: new KubeClient(t), resource: Resources.services, backoff: { initialMs: 5, maxMs: 20 } });
    inf.start();
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(inf.hasSynced, false);
    assert.ok(inf.stats.errors >= 2, `retried: ${inf.stats.errors}`);
    assert.match(inf.stats.lastError ?? '', /boom/);
    state.fail = false;
    await inf.synced;
    assert.equal(inf.size, 1);
    await inf.stop();
  });

  it('restarts a watch that failed (not 410) after a backoff, from the same resourceVersion', async () => {
    const t = new FakeTransport();
    listing(t, { items: [], rv: '4' });
    const inf = new Informer({ client: new KubeClient(t), resource: Resources.services, backoff: { initialMs: 5, maxMs: 5 } });
    const first = t.nextWatch();
    inf.start();
    const w1 = await first;
    const second = t.nextWatch();
    w1.end({ kind: 'error', error: { kind: 'Unavailable', status: 0, reason: '', message: 'ECONNRESET' } });
    const w2 = await second;
    assert.equal(w2.query.resourceVersion, '4');
    assert.equal(inf.stats.lists, 1, 'no relist for a transport error');
    assert.equal(inf.stats.errors, 1);
    await inf.stop();
    await settle();
    assert.equal(w2.ended, true, 'stop aborts the open watch');
  });

  it('transform gets the cached version of the object (none for a new one), on watch events and on a relist', async () => {
    const t = new FakeTransport();
    const state = { items: [svc('a', '5')], rv: '7' };
    listing(t, state);
    const seen: string[] = [];
    const inf = new Informer({
      client: new KubeClient(t),
      resource: Resources.services,
      transform: (o, old) => (seen.push(`${o.metadata?.name}@${o.metadata?.resourceVersion} old ${old?.metadata?.resourceVersion ?? '-'}`), o),
    });
    const w = t.nextWatch();
    inf.start();
    await inf.synced;
    const watch = await w;
    watch.emit({ type: 'MODIFIED', object: svc('a', '9') });
    watch.emit({ type: 'ADDED', object: svc('b', '10') });
    state.items = [svc('a', '11'), svc('b', '10')];
    state.rv = '12';
    const w2 = t.nextWatch();
    watch.emit({ type: 'ERROR', object: { code: 410, reason: 'Expired' } as unknown as KubeObject });
    await w2;
    assert.deepEqual(seen, ['a@5 old -', 'a@9 old 5', 'b@10 old -', 'a@11 old 9', 'b@10 old 10']);
    await inf.stop();
  });

  it('slim() drops managedFields and the last-applied annotation, keeping other annotations', () => {
    const o = slim({
      metadata: {
        name: 'x',
        managedFields: [{ manager: 'kubectl' }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', keep: 'me' },
      },
    });
    assert.equal(o.metadata?.managedFields, undefined);
    assert.deepEqual(o.metadata?.annotations, { keep: 'me' });
  });

  it('onlyStatusChanged: a status write (new resourceVersion, managedFields, status) is not a configuration change', () => {
    const pool = (rv: string, extra: Record<string, unknown> = {}): KubeObject =>
      ({
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: 'p', namespace: 'metallb-system', resourceVersion: rv, generation: 1, labels: { a: 'b' } },
        spec: { addresses: ['10.0.0.0/24'] },
        ...extra,
      }) as KubeObject;
    const withStatus = pool('2', { status: { assignedIPv4: 3 } });
    withStatus.metadata!.managedFields = [{ manager: 'berth-controller', subresource: 'status' }];
    assert.equal(onlyStatusChanged(withStatus, pool('1', { status: { assignedIPv4: 2 } })), true);
    assert.equal(onlyStatusChanged(pool('2', { spec: { addresses: ['10.0.1.0/24'] } }), pool('1')), false, 'spec');
    const relabelled = pool('2');
    relabelled.metadata!.labels = { a: 'c' };
    assert.equal(onlyStatusChanged(relabelled, pool('1')), false, 'labels');
    const annotated = pool('2');
    annotated.metadata!.annotations = { x: 'y' };
    assert.equal(onlyStatusChanged(annotated, pool('1')), false, 'annotations');
  });
});
