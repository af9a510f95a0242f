// RFC 2385 TCP MD5 signatures through setTcpMd5Sig/openTcpSocket on loopback: with the same key on both ends the
// connection completes and carries data; with a wrong or a missing client key the server's kernel drops the SYN
// (its TcpExt TCPMD5Failure / TCPMD5NotFound counter rises) and the connection never completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTcpSocket, setTcpMd5Sig, socketFd } from '../../src/speaker/link/packet.ts';

/** TcpExt counters of this network namespace (/proc/net/netstat). */
function tcpExt(): Record<string, number> {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const names = (lines[i] ?? '').split(/\s+/).slice(1);
  const values = (lines[i + 1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, k) => [n, values[k] ?? 0]));
}

async function listen(
  host: string,
  peer: string,
  key: string,
): Promise<{ server: net.Server; port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((c) => {
    accepted++;
    c.end('OPEN');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  setTcpMd5Sig(socketFd(server), { address: peer }, key);
  return { server, port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

for (const [family, host] of [
  [4, '127.0.0.1'],
  [6, '::1'],
] as const) {
  test(`TCP MD5 over IPv${family}: same key connects and carries data`, { timeout: 20_000 }, async (t) => {
    const { server, port, accepted } = await listen(host, host, 'berth-K');
    t.after(() => server.close());
    const sock = openTcpSocket({ family, md5: { peer: { address: host }, key: 'berth-K' } });
    t.after(() => sock.destroy());
    const data = await new Promise<string>((resolve, reject) => {
      let got = '';
      sock.on('data', (d) => (got += d.toString()));
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
      sock.connect(port, host);
    });
    assert.equal(data, 'OPEN');
    assert.equal(accepted(), 1);
  });
}

for (const [label, clientKey, counter] of [
  ['a wrong key', 'berth-X', 'TCPMD5Failure'],
  ['no key', undefined, 'TCPMD5NotFound'],
] as const) {
  test(
    `TCP MD5: a client with ${label} never connects (kernel counts ${counter})`,
    { timeout: 20_000 },
    async (t) => {
      const host = '127.0.0.1';
      const { server, port, accepted } = await listen(host, host, 'berth-K');
      t.after(() => server.close());
      const before = tcpExt()[counter] ?? 0;
      const sock = openTcpSocket({
        family: 4,
        md5: clientKey === undefined ? undefined : { peer: { address: host }, key: clientKey },
      });
      t.after(() => sock.destroy());
      let connected = false;
      sock.on('connect', () => (connected = true));
      sock.on('error', () => {});
      sock.connect(port, host);
      // The SYN reaches the server's kernel and is dropped there: wait for that drop to be counted.
      while ((tcpExt()[counter] ?? 0) <= before) await sleep(20);
      await sleep(200); // a margin in which a (wrongly) accepted handshake would have completed on loopback
      assert.equal(connected, false);
      assert.equal(accepted(), 0);
    },
  );
}
