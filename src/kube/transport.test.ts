import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpsTransport } from './transport.ts';

describe('HttpsTransport.request', () => {
  let server: http.Server;
  let transport: HttpsTransport;

  before(async () => {
    // Bodies are decoded chunk by chunk: send a multi-byte UTF-8 character split across two writes (and two reads).
    server = http.createServer((req, res) => {
      const body = Buffer.from(req.url === '/json' ? '{"name":"café-ü"}' : 'not json: ü', 'utf8');
      const cut = body.indexOf(0xc3) + 1; // inside the first two-byte character
      res.writeHead(req.url === '/json' ? 200 : 502, { 'Content-Type': 'application/json' });
      res.write(body.subarray(0, cut));
      setTimeout(() => res.end(body.subarray(cut)), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    transport = new HttpsTransport({
      server: `http://127.0.0.1:${port}`,
      insecureSkipTlsVerify: false,
      authorization: () => Promise.resolve(undefined),
      source: 'test',
    });
  });

  after(async () => {
    transport.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('parses a JSON body whose multi-byte characters straddle chunks', async () => {
    const r = await transport.request<{ name: string }>('GET', '/json');
    assert.deepEqual(r, { ok: true, value: { name: 'café-ü' } });
  });

  it('keeps a non-JSON error body as text, decoded across chunks', async () => {
    const r = await transport.request('GET', '/text');
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error.message, /not json: ü/);
  });
});

describe('HttpsTransport keep-alive connections', () => {
  /** A server that holds every request until `release()`; counts connections made and open. */
  async function holdingServer(): Promise<{
    port: number;
    open: Set<Socket>;
    made: () => number;
    arrived: (n: number) => Promise<void>;
    release: () => void;
    close: () => Promise<void>;
  }> {
    const open = new Set<Socket>();
    let held: http.ServerResponse[] = [];
    let made = 0;
    let want = Infinity;
    let reached: () => void = () => {};
    const server = http.createServer((_req, res) => {
      held.push(res);
      if (held.length >= want) reached();
    });
    server.on('connection', (s) => {
      made++;
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      port: (server.address() as AddressInfo).port,
      open,
      made: () => made,
      arrived: (n) =>
        new Promise<void>((r) => {
          want = n;
          reached = r;
          if (held.length >= n) r();
        }),
      release: () => {
        for (const res of held) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        held = [];
      },
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }
  const access = (port: number) =>
    ({ server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: false, authorization: () => Promise.resolve(undefined), source: 'test' }) as const;

  it('keeps at most maxFreeSockets idle connections after a burst of concurrent requests', async () => {
    const srv = await holdingServer();
    const transport = new HttpsTransport(access(srv.port), { maxSockets: 12, maxFreeSockets: 3 });
    try {
      const calls = Array.from({ length: 12 }, () => transport.request('GET', '/x'));
      await srv.arrived(12);
      assert.equal(srv.open.size, 12, 'the burst uses 12 connections at once');
      srv.release();
      await Promise.all(calls);
      // The client closes the connections beyond maxFreeSockets; the server sees them close.
      for (let i = 0; i < 200 && srv.open.size > 3; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(srv.open.size, 3);
    } finally {
      transport.close();
      await srv.close();
    }
  });

  it('by default uses at most 8 connections and keeps them all: bursts after the first open none', async () => {
    const srv = await holdingServer();
    const transport = new HttpsTransport(access(srv.port));
    try {
      for (let burst = 0; burst < 3; burst++) {
        const calls = Array.from({ length: 20 }, () => transport.request('GET', '/x'));
        // 8 in flight, the other 12 wait in the agent for a connection.
        await srv.arrived(8);
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(srv.open.size, 8, `burst ${burst}: 8 connections at once`);
        for (let left = 20; left > 0; left -= 8) {
          await srv.arrived(Math.min(8, left));
          srv.release();
        }
        const rs = await Promise.all(calls);
        assert.ok(rs.every((r) => r.ok));
      }
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(srv.made(), 8, 'three bursts of 20 requests made 8 connections in all');
      assert.equal(srv.open.size, 8);
    } finally {
      transport.close();
      await srv.close();
    }
  });
});

describe('HttpsTransport request targets', () => {
  /** A server that records the request target of each request, on `host` (IPv4 or IPv6 loopback). */
  async function recording(host: string): Promise<{ port: number; seen: string[]; auth: string[]; close: () => Promise<void> }> {
    const seen: string[] = [];
    const auth: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      auth.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, host, r));
    return { port: (server.address() as AddressInfo).port, seen, auth, close: () => new Promise((r) => server.close(() => r())) };
  }
  const transportFor = (server: string) =>
    new HttpsTransport({ server, insecureSkipTlsVerify: false, authorization: () => Promise.resolve(undefined), source: 'test' });

  it('keeps the server path prefix and URL credentials, encodes the query as URLSearchParams and leaves undefined values out', async () => {
    const s = await recording('127.0.0.1');
    const t = transportFor(`http://u%40x:p@127.0.0.1:${s.port}/k8s/clusters/c-1`);
    try {
      const r = await t.request('GET', '/api/v1/namespaces/ns1/services', {
        query: { labelSelector: 'app in (a,b),tier!=x y', limit: 500, continue: undefined, fieldManager: 'berth' },
      });
      assert.equal(r.ok, true);
      assert.deepEqual(s.seen, [
        `/k8s/clusters/c-1/api/v1/namespaces/ns1/services?${new URLSearchParams({ labelSelector: 'app in (a,b),tier!=x y', limit: '500', fieldManager: 'berth' })}`,
      ]);
      assert.deepEqual(s.auth, [`Basic ${Buffer.from('u@x:p').toString('base64')}`], 'credentials in the server URL');
    } finally {
      t.close();
      await s.close();
    }
  });

  it('reaches an IPv6 server and percent-encodes a path a request target cannot hold as it is, as a URL does', async (t) => {
    let s: Awaited<ReturnType<typeof recording>>;
    try {
      s = await recording('::1');
    } catch (e) {
      t.skip(`no IPv6 loopback here: ${(e as Error).message}`);
      return;
    }
    const tr = transportFor(`http://[::1]:${s.port}`);
    try {
      assert.equal((await tr.request('GET', '/api/v1/namespaces/a b/x')).ok, true);
      assert.equal((await tr.request('GET', '/api/v1/namespaces/ns/services/web')).ok, true);
      assert.deepEqual(s.seen, ['/api/v1/namespaces/a%20b/x', '/api/v1/namespaces/ns/services/web']);
    } finally {
      tr.close();
      await s.close();
    }
  });
});
