import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { allocatorMetrics, clientMetrics, serveMetrics } from './index.ts';

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

const stats = (pool: string, v4: bigint, v6: bigint, used4: number, used6: number, services: number) => ({
  pool,
  ipv4Total: v4,
  ipv6Total: v6,
  ipv4InUse: used4,
  ipv6InUse: used6,
  services,
});

describe('metrics', () => {
  it("sets MetalLB's allocator gauges per pool, saturating huge IPv6 pools, and removes a deleted pool's series", async () => {
    const reg = new Registry();
    const m = allocatorMetrics(reg);
    m.update([stats('default', 31n, 0n, 2, 0, 2), stats('v6', 0n, 1n << 64n, 0, 3, 2)]);
    const text = await reg.metrics();
    assert.match(text, /^metallb_allocator_addresses_total\{pool="default"\} 31$/m);
    assert.match(text, /^metallb_allocator_ipv4_addresses_in_use_total\{pool="default"\} 2$/m);
    assert.match(text, /^metallb_allocator_ipv6_addresses_total\{pool="v6"\} 9223372036854776000$/m);
    assert.match(text, /^metallb_allocator_addresses_in_use_total\{pool="v6"\} 3$/m);
    assert.match(text, /^metallb_allocator_services_allocated_total\{pool="default"\} 2$/m);
    m.update([stats('default', 31n, 0n, 1, 0, 1)]);
    const after = await reg.metrics();
    assert.doesNotMatch(after, /pool="v6"/);
    assert.match(after, /^metallb_allocator_addresses_in_use_total\{pool="default"\} 1$/m);
  });

  it('counts updates and errors, config loaded/stale, on an injected registry (no global state)', async () => {
    const a = new Registry();
    const b = new Registry();
    const ma = clientMetrics(a);
    clientMetrics(b); // a second registry can hold the same names
    ma.update(true);
    ma.update(false);
    ma.configLoaded(true);
    ma.configStale(true);
    const text = await a.metrics();
    assert.match(text, /^metallb_k8s_client_updates_total 2$/m);
    assert.match(text, /^metallb_k8s_client_update_errors_total 1$/m);
    assert.match(text, /^metallb_k8s_client_config_loaded_bool 1$/m);
    assert.match(text, /^metallb_k8s_client_config_stale_bool 1$/m);
    assert.match(await b.metrics(), /^metallb_k8s_client_updates_total 0$/m);
  });

  it('serves /metrics over HTTP on loopback', async () => {
    const reg = new Registry();
    clientMetrics(reg).update(true);
    const srv = await serveMetrics(reg, { port: 0, host: '127.0.0.1' });
    try {
      const r = await get(srv.port, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.type, /text\/plain/);
      assert.match(r.body, /metallb_k8s_client_updates_total 1/);
      assert.equal((await get(srv.port, '/nope')).status, 404);
    } finally {
      await srv.close();
    }
  });
});
