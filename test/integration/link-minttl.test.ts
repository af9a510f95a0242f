// GTSM (RFC 5082) through setMinTtl / setTtl / openTcpSocket on loopback: a server whose listening socket has a
// minimum TTL of 255 accepts a client that sends with TTL 255 and drops the SYNs of one that sends with TTL 64 (the
// kernel's TcpExt TCPMinTTLDrop counter rises). Also pins a kernel fact the BFD code relies on: IP_MINTTL does not
// filter UDP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTcpSocket, setMinTtl, setTtl, socketFd } from '../../src/speaker/link/packet.ts';

function tcpExt(name: string): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const k = (lines[i] ?? '').split(/\s+/).indexOf(name);
  return Number((lines[i + 1] ?? '').split(/\s+/)[k] ?? 0);
}

async function gtsmServer(
  host: string,
  family: 4 | 6,
): Promise<{ server: net.Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((c) => {
    accepted++;
    c.end('OPEN');
  });
  server.listen(0, host);
  await once(server, 'listening');
  setMinTtl(socketFd(server), family, 255);
  setTtl(socketFd(server), family, 255); // its SYN-ACK must pass the client's own GTSM check
  return { server, port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

for (const [family, host] of [
  [4, '127.0.0.1'],
  [6, '::1'],
] as const) {
  test(`GTSM over IPv${family}: a client sending with TTL 255 connects`, { timeout: 20_000 }, async (t) => {
    const { server, port, accepted } = await gtsmServer(host, family);
    t.after(() => server.close());
    const sock = openTcpSocket({ family, ttl: 255, minTtl: 255 });
    t.after(() => sock.destroy());
    sock.connect(port, host);
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    await once(sock, 'end');
    assert.equal(got, 'OPEN');
    assert.equal(accepted(), 1);
  });

  test(
    `GTSM over IPv${family}: a client sending with TTL 64 is dropped (TCPMinTTLDrop)`,
    { timeout: 20_000 },
    async (t) => {
      const { server, port, accepted } = await gtsmServer(host, family);
      t.after(() => server.close());
      const before = tcpExt('TCPMinTTLDrop');
      const sock = openTcpSocket({ family, ttl: 64 });
      t.after(() => sock.destroy());
      let connected = false;
      sock.on('connect', () => (connected = true));
      sock.on('error', () => {});
      sock.connect(port, host);
      while (tcpExt('TCPMinTTLDrop') <= before) await sleep(20);
      await sleep(200); // a margin in which a (wrongly) accepted handshake would have completed on loopback
      assert.equal(connected, false);
      assert.equal(accepted(), 0);
    },
  );
}

test(
  'IP_MINTTL does not filter UDP on Linux (BFD must check the TTL itself)',
  { timeout: 20_000 },
  async (t) => {
    const rx = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    t.after(() => {
      rx.close();
      tx.close();
    });
    rx.bind(0, '127.0.0.1');
    await once(rx, 'listening');
    tx.bind(0, '127.0.0.1');
    await once(tx, 'listening');
    // dgram keeps its handle under a symbol-keyed state object.
    const fdOf = (s: dgram.Socket): number =>
      Object.getOwnPropertySymbols(s)
        .map(
          (sym) =>
            (s as unknown as Record<symbol, { handle?: { fd?: number } } | undefined>)[sym]?.handle?.fd,
        )
        .find((fd): fd is number => typeof fd === 'number' && fd >= 0) ?? -1;
    setMinTtl(fdOf(rx), 4, 255);
    setTtl(fdOf(tx), 4, 64);
    const message = once(rx, 'message');
    tx.send('low', rx.address().port, '127.0.0.1');
    const [msg] = (await message) as [Buffer];
    assert.equal(msg.toString(), 'low');
  },
);

test('setMinTtl / setTtl: bad family or TTL is a clear error', () => {
  assert.throws(() => setMinTtl(3, 5 as 4, 255), /family 5 is invalid/);
  assert.throws(() => setMinTtl(3, 4, 256), /minimum TTL 256 is invalid: an integer in 0\.\.255/);
  assert.throws(() => setTtl(3, 6, 0), /TTL 0 is invalid: an integer in 1\.\.255/);
});
