// WatchHub on the wire: a plain HTTP server in this process serving WatchHub.serve, read by a raw TCP client that
// decodes the chunked encoding itself, so the tests see what a client sees: when headers arrive, which events share a
// chunk (one socket write), their order and resourceVersions, and how the stream ends.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Store } from './store.ts';
import { WatchHub, type WatchRequest } from './watch.ts';
import { Registry } from './registry.ts';
import type { KubeObject } from './types.ts';

const cm = (name: string, data = '1'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { d: data } });

interface Wire {
  /** Raw bytes so far. */
  raw(): Buffer;
  /** Status line and headers, once complete. */
  head(): string | undefined;
  /** Decoded body chunks so far (the terminating 0-chunk excluded). */
  chunks(): string[];
  /** Whether the terminating 0-length chunk arrived. */
  ended(): boolean;
  socket: Socket;
}

/** Decodes an HTTP/1.1 chunked response from `buf` (as far as it goes). */
function decode(buf: Buffer): { head?: string; chunks: string[]; ended: boolean } {
  const sep = buf.indexOf('\r\n\r\n');
  if (sep < 0) return { chunks: [], ended: false };
  const head = buf.subarray(0, sep).toString('latin1');
  const chunks: string[] = [];
  let i = sep + 4;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return { head, chunks, ended: false };
    const len = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
    assert.ok(Number.isInteger(len), `chunk size line "${buf.subarray(i, eol).toString('latin1')}" is hex`);
    if (len === 0) return { head, chunks, ended: true };
    if (buf.length < eol + 2 + len + 2) return { head, chunks, ended: false };
    chunks.push(buf.subarray(eol + 2, eol + 2 + len).toString('utf8'));
    assert.equal(buf.subarray(eol + 2 + len, eol + 4 + len).toString('latin1'), '\r\n', 'a chunk ends with CRLF');
    i = eol + 4 + len;
  }
}

function open(port: number, path: string): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: lab\r\n\r\n`);
      resolve({
        socket,
        raw: () => buf,
        head: () => decode(buf).head,
        chunks: () => decode(buf).chunks,
        ended: () => decode(buf).ended,
      });
    });
  });
}

async function until(what: string, pred: () => boolean, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const lines = (chunks: string[]): Array<{ type: string; object: KubeObject }> =>
  chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; object: KubeObject });

/** A store, a hub and an HTTP server that serves every request as a ConfigMap watch with the query's options. */
async function setup(t: TestContext, store = new Store()): Promise<{ store: Store; hub: WatchHub; port: number }> {
  const type = new Registry().resolve('', 'v1', 'configmaps');
  assert.ok(type);
  const hub = new WatchHub(store);
  const server: Server = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://lab').searchParams;
    const w: WatchRequest = {
      type,
      version: 'v1',
      namespace: 'default',
      labels: [],
      fields: [],
      resourceVersion: q.get('resourceVersion') ?? undefined,
      timeoutSeconds: q.has('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : undefined,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      table: undefined,
      present: (o) => o,
    };
    hub.serve(w, res, (cb) => res.on('close', cb));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    hub.closeAll();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { store, hub, port: (server.address() as AddressInfo).port };
}

test('a watch with nothing to send still gets its headers (the client sees it established)', async (t) => {
  const { port } = await setup(t);
  const w = await open(port, '/?resourceVersion=1');
  t.after(() => w.socket.destroy());
  await until('response headers', () => w.head() !== undefined);
  assert.match(w.head()!, /^HTTP\/1\.1 200 OK/);
  assert.match(w.head()!, /transfer-encoding: chunked/i);
  assert.deepEqual(w.chunks(), []);
});

test('events committed in one event-loop turn go out as one chunk, in commit order; a later turn makes a later chunk', async (t) => {
  const { store, hub, port } = await setup(t);
  store.put('core/configmaps', cm('before'));
  const w1 = await open(port, `/?resourceVersion=${store.resourceVersion}`);
  const w2 = await open(port, `/?resourceVersion=${store.resourceVersion}`);
  t.after(() => (w1.socket.destroy(), w2.socket.destroy()));
  await until('both watches established', () => w1.head() !== undefined && w2.head() !== undefined && hub.size === 2);
  // One turn: create, update, delete, create.
  store.put('core/configmaps', cm('a'));
  store.put('core/configmaps', cm('a', '2'));
  store.remove('core/configmaps', 'default', 'a');
  store.put('core/configmaps', cm('b'));
  await until('the first turn', () => w1.chunks().length >= 1 && w2.chunks().length >= 1);
  // A later turn.
  await new Promise((r) => setTimeout(r, 20));
  store.put('core/configmaps', cm('c'));
  await until('the second turn', () => w1.chunks().length >= 2 && w2.chunks().length >= 2);
  for (const w of [w1, w2]) {
    assert.equal(w.chunks().length, 2, 'one chunk per turn');
    assert.deepEqual(
      lines(w.chunks().slice(0, 1)).map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`),
      ['ADDED a 2', 'MODIFIED a 3', 'DELETED a 4', 'ADDED b 5'],
    );
    assert.deepEqual(
      lines(w.chunks().slice(1)).map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`),
      ['ADDED c 6'],
    );
  }
  // Both watchers got the same bytes (one serialization per event and view).
  assert.deepEqual(w1.chunks(), w2.chunks());
});

test('the initial state, then the replay window: ADDED for every object, later changes after them, nothing twice', async (t) => {
  const { store, port } = await setup(t);
  // Enough objects that the initial state is written in several pieces (FLUSH_AT) before the end of the turn.
  const big = 'x'.repeat(4096);
  for (let i = 0; i < 200; i++) store.put('core/configmaps', cm(`o${String(i).padStart(3, '0')}`, big));
  const w = await open(port, '/');
  t.after(() => w.socket.destroy());
  await until('the initial state', () => lines(w.chunks()).length >= 200);
  store.put('core/configmaps', cm('o000', 'changed'));
  await until('the change', () => lines(w.chunks()).length >= 201);
  const evs = lines(w.chunks());
  assert.equal(evs.length, 201);
  assert.deepEqual(
    evs.slice(0, 200).map((e) => `${e.type} ${e.object.metadata.name}`),
    Array.from({ length: 200 }, (_, i) => `ADDED o${String(i).padStart(3, '0')}`),
  );
  assert.equal(`${evs[200]!.type} ${evs[200]!.object.metadata.name} ${evs[200]!.object.metadata.resourceVersion}`, 'MODIFIED o000 201');
});

test('a too-old resourceVersion gets one ERROR 410 Expired event, then the stream ends', async (t) => {
  const store = new Store({ historyLimit: 2 });
  for (let i = 0; i < 5; i++) store.put('core/configmaps', cm(`c${i}`));
  const { port } = await setup(t, store);
  const w = await open(port, '/?resourceVersion=1');
  t.after(() => w.socket.destroy());
  await until('the end of the stream', () => w.ended());
  const evs = lines(w.chunks());
  assert.equal(evs.length, 1);
  assert.equal(evs[0]!.type, 'ERROR');
  assert.equal((evs[0]!.object as unknown as { code: number; reason: string }).code, 410);
  assert.equal((evs[0]!.object as unknown as { code: number; reason: string }).reason, 'Expired');
});

test('timeoutSeconds with bookmarks: queued events, then a BOOKMARK at the current resourceVersion, then the end', async (t) => {
  const { store, port } = await setup(t);
  store.put('core/configmaps', cm('a'));
  const w = await open(port, '/?resourceVersion=0&timeoutSeconds=0&allowWatchBookmarks=true');
  t.after(() => w.socket.destroy());
  await until('the end of the stream', () => w.ended());
  const evs = lines(w.chunks());
  assert.deepEqual(
    evs.map((e) => `${e.type} ${e.object.metadata.resourceVersion}`),
    ['ADDED 1', 'BOOKMARK 1'],
  );
});

test('a closed watch is unsubscribed and gets nothing more', async (t) => {
  const { store, hub, port } = await setup(t);
  const w = await open(port, '/?resourceVersion=0');
  await until('established', () => w.head() !== undefined && hub.size === 1);
  w.socket.destroy();
  await until('the hub drops it', () => hub.size === 0);
  assert.equal(store.watcherCount(), 0);
  // Commits after the close must not throw (nothing to write to).
  store.put('core/configmaps', cm('late'));
  await new Promise((r) => setImmediate(r));
});
