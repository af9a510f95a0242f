// The shared test helpers on their own: until() returns the first defined value, retries through throws and names
// what it waited for, the last error and the detail on timeout; freePort/freeUdpPort give ports a server can bind;
// httpGet returns status and body whatever the status; metricValue reads one exact series; webhookServiceYaml
// parses as the two objects the lab resolves a webhook through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { parseAllDocuments } from 'yaml';
import { metricValue } from './metrics.ts';
import { freePort, freeUdpPort, httpGet } from './net.ts';
import { until } from './poll.ts';
import { webhookServiceYaml } from './webhook.ts';

test('until: the first value other than undefined, after throws and undefined', async () => {
  let calls = 0;
  const v = await until(
    'the third call',
    async () => {
      calls++;
      if (calls === 1) throw new Error('not yet');
      return calls === 3 ? 0 : undefined;
    },
    5_000,
    1,
  );
  assert.equal(v, 0, 'a falsy value other than undefined counts');
  assert.equal(calls, 3);
});

test('until: on timeout, names what, the last error and the detail', async () => {
  await assert.rejects(
    until(
      'the impossible',
      async () => {
        throw new Error('API server down');
      },
      20,
      5,
      () => 'speaker log tail',
    ),
    (e: Error) => {
      assert.match(
        e.message,
        /^timed out after 20 ms waiting for the impossible \(last error: API server down\)\nspeaker log tail$/,
      );
      return true;
    },
  );
});

test('freePort and freeUdpPort: a server can bind the port they return', async () => {
  const tcp = await freePort();
  const s = net.createServer();
  await new Promise<void>((r, j) => s.once('error', j).listen(tcp, '127.0.0.1', () => r()));
  s.close();
  const udp = await freeUdpPort();
  const u = dgram.createSocket('udp4');
  await new Promise<void>((r, j) => u.once('error', j).bind(udp, '127.0.0.1', () => r()));
  u.close();
});

test('httpGet: status and body, also for a 503', async (t) => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/readyz' ? 503 : 200;
    res.end(req.url === '/readyz' ? 'not synced' : 'ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/healthz`), { status: 200, body: 'ok' });
  assert.deepEqual(await httpGet(`http://127.0.0.1:${port}/readyz`), { status: 503, body: 'not synced' });
});

test('metricValue: the exact series only', () => {
  const text = [
    '# TYPE metallb_speaker_announced gauge',
    'metallb_speaker_announced{ip="198.51.100.10"} 1',
    'metallb_speaker_announced_total 7',
    'berth_l2_failover_seconds_sum 0.009',
  ].join('\n');
  assert.equal(metricValue(text, 'metallb_speaker_announced{ip="198.51.100.10"}'), 1);
  assert.equal(metricValue(text, 'berth_l2_failover_seconds_sum'), 0.009);
  assert.equal(
    metricValue(text, 'metallb_speaker_announced'),
    undefined,
    'a prefix of another series is not it',
  );
});

interface Doc {
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  endpoints?: Array<{ addresses: string[] }>;
  ports?: Array<{ port: number }>;
}

test('webhookServiceYaml: the Service and an EndpointSlice to 127.0.0.1:<port>', () => {
  const [svc, slice] = parseAllDocuments(webhookServiceYaml('metallb-system', 40443)).map(
    (d) => d.toJS() as Doc,
  );
  assert.deepEqual(
    [svc?.kind, svc?.metadata.namespace, slice?.kind, slice?.metadata.namespace],
    ['Service', 'metallb-system', 'EndpointSlice', 'metallb-system'],
  );
  assert.equal(slice?.metadata.labels?.['kubernetes.io/service-name'], svc?.metadata.name);
  assert.deepEqual(slice?.endpoints?.[0]?.addresses, ['127.0.0.1']);
  assert.equal(slice?.ports?.[0]?.port, 40443);
});
