import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaim } from '../api/claim.ts';
import type { ClaimEvent } from '../claims/store.ts';
import { informerClaimCache, compactClaim } from './claim-cache.ts';
import { KubeClient } from './client.ts';
import type { Kube } from './connect.ts';
import { FakeTransport } from './fake-transport.ts';
import { Informer } from './informer.ts';
import { interner } from './intern.ts';

function claim(ip: string, rv: string) {
  const c = newClaim({ ip, pool: 'default', sharingKey: '', backendKey: '', holders: [{ namespace: 'shop', name: 'web', ports: [{ protocol: 'TCP', port: 80 }] }] });
  c.metadata.resourceVersion = rv;
  c.metadata.creationTimestamp = '2025-01-01T00:00:00Z';
  return JSON.parse(JSON.stringify(c)) as typeof c;
}

describe('informerClaimCache', () => {
  it('serves the ClaimCache contract from a list+watch informer: get by IP, list, events', async () => {
    const t = new FakeTransport(() => ({ ok: true, value: { metadata: { resourceVersion: '5' }, items: [claim('192.168.1.220', '4')] } }));
    const client = new KubeClient(t);
    const kube = { informer: (r, o) => new Informer({ ...o, client, resource: r }) } as Pick<Kube, 'informer'> as Kube;
    const cache = informerClaimCache(kube);
    const events: string[] = [];
    cache.subscribe((e: ClaimEvent) => events.push(`${e.type} ${e.claim.spec.ip}`));
    const w = t.nextWatch();
    cache.informer.start();
    await cache.informer.synced;
    assert.equal(cache.get('192.168.1.220')?.spec.holders[0]?.name, 'web');
    assert.equal(cache.list().length, 1);
    const watch = await w;
    watch.emit({ type: 'ADDED', object: claim('192.168.1.221', '6') });
    watch.emit({ type: 'DELETED', object: claim('192.168.1.220', '7') });
    assert.deepEqual(events, ['added 192.168.1.220', 'added 192.168.1.221', 'deleted 192.168.1.220']);
    assert.equal(cache.get('192.168.1.220'), undefined);
    await cache.informer.stop();
  });

  it('compactClaim shares repeated strings between claims and changes no value', () => {
    const intern = interner();
    const a = compactClaim(claim('10.0.0.1', '1'), intern);
    const b = compactClaim(claim('10.0.0.2', '2'), intern);
    assert.deepEqual(a, claim('10.0.0.1', '1'));
    assert.equal(a.spec.pool, b.spec.pool);
    assert.equal(a.metadata.creationTimestamp, b.metadata.creationTimestamp);
    // Label sets and port lists are shared (one frozen object for all), not copied per claim.
    assert.equal(a.metadata.labels, b.metadata.labels);
    assert.equal(a.spec.holders[0]!.ports, b.spec.holders[0]!.ports);
    assert.ok(Object.isFrozen(a.spec.holders[0]!.ports) && Object.isFrozen(a.spec.holders[0]!.ports[0]));
    const udp = compactClaim(claim('10.0.0.3', '3'), intern);
    udp.spec.holders[0]!.ports = [{ protocol: 'UDP', port: 53 }];
    const other = compactClaim(JSON.parse(JSON.stringify(udp)) as typeof udp, intern);
    assert.deepEqual(other.spec.holders[0]!.ports, [{ protocol: 'UDP', port: 53 }], 'another port list is its own');
    assert.notEqual(other.spec.holders[0]!.ports, a.spec.holders[0]!.ports);
  });

  it('compactClaim drops managedFields and the last-applied copy (kube-apiserver stores them; berth never reads them)', () => {
    const c = claim('10.0.0.9', '9') as ReturnType<typeof claim> & { metadata: { managedFields?: unknown[]; annotations?: Record<string, string> } };
    c.metadata.managedFields = [{ manager: 'berth-controller', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:holders': {} } } }];
    c.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}', keep: 'me' };
    const out = compactClaim(c, interner()) as typeof c;
    assert.equal(out.metadata.managedFields, undefined);
    assert.deepEqual(out.metadata.annotations, { keep: 'me' });
    assert.equal(out.spec.ip, '10.0.0.9');
  });

  it('compactClaim drops the claim uid (kube-apiserver keeps the stored one on an update) and keeps every other field', () => {
    const c = claim('10.0.0.4', '4') as ReturnType<typeof claim> & { metadata: { uid?: string; finalizers?: string[] } };
    c.metadata.uid = '0b6f2d1e-2f65-4c38-9d0e-111111111111';
    c.metadata.finalizers = ['example.com/keep'];
    const out = compactClaim(c, interner()) as typeof c;
    assert.equal(out.metadata.uid, undefined);
    const want = claim('10.0.0.4', '4') as typeof c;
    want.metadata.finalizers = ['example.com/keep'];
    assert.deepEqual(JSON.parse(JSON.stringify(out)), want, 'what a replace sends: no uid, every other field');
  });

  it('compactClaim with the previous version and the holder\'s Service changes no value (only equal strings are swapped in)', () => {
    const intern = interner();
    const old = compactClaim(claim('10.0.0.5', '5'), intern);
    const next = claim('10.0.0.5', '6');
    next.spec.holders[0]!.uid = 'uid-web';
    next.spec.holders[0]!.service = 'shop/web';
    const seen: string[] = [];
    const service = (ns: string, name: string) => (
      seen.push(`${ns}/${name}`),
      { metadata: { name: 'web', uid: 'uid-web', annotations: { 'berth.io/assigned-ips': '10.0.0.5' } } }
    );
    const want = structuredClone(next);
    const out = compactClaim(next, intern, old, service);
    assert.deepEqual(out, want);
    assert.deepEqual(seen, ['shop/web']);
    // Another Service under that name (other uid) or another IP: the claim's own values stay.
    const other = claim('10.0.0.5', '7');
    other.spec.holders[0]!.uid = 'uid-old';
    const wantOther = structuredClone(other);
    assert.deepEqual(compactClaim(other, intern, out, service), wantOther);
  });
});
