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
  it('keeps at most maxFreeSockets idle connections after a burst of concurrent requests', async () => {
    const open = new Set<Socket>();
    const held: http.ServerResponse[] = [];
    let arrived = 0;
    let allArrived: () => void = () => {};
    const burst = new Promise<void>((r) => (allArrived = r));
    const server = http.createServer((_req, res) => {
      held.push(res);
      if (++arrived === 12) allArrived();
    });
    server.on('connection', (s) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const transport = new HttpsTransport(
      { server: `http://127.0.0.1:${port}`, insecureSkipTlsVerify: false, authorization: () => Promise.resolve(undefined), source: 'test' },
      { maxFreeSockets: 3 },
    );
    try {
      const calls = Array.from({ length: 12 }, () => transport.request('GET', '/x'));
      await burst;
      assert.equal(open.size, 12, 'the burst uses 12 connections at once');
      for (const res of held) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      await Promise.all(calls);
      // The client closes the connections beyond maxFreeSockets; the server sees them close.
      for (let i = 0; i < 200 && open.size > 3; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(open.size, 3);
    } finally {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
