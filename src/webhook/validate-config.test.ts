import { test } from 'node:test';
import assert from 'node:assert/strict';
import { svc } from '../allocator/testing.ts';
import type { KubeObject } from '../api/object.ts';
import { decodeReview } from './review.ts';
import { ipAddressPool, memoryWorld, reviewFor } from './testing.ts';
import { validateConfigObject } from './validate-config.ts';

const NS = 'metallb-system';

function request(obj: KubeObject, opts: Parameters<typeof reviewFor>[1] = {}) {
  const d = decodeReview(reviewFor(obj, opts));
  assert.ok(d.ok);
  return d.request;
}

const peer = (name: string, bfdProfile?: string): KubeObject => ({
  apiVersion: 'metallb.io/v1beta2',
  kind: 'BGPPeer',
  metadata: { name, namespace: NS },
  spec: { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.1', ...(bfdProfile ? { bfdProfile } : {}) },
});
const bfd = (name: string): KubeObject => ({ apiVersion: 'metallb.io/v1beta1', kind: 'BFDProfile', metadata: { name, namespace: NS }, spec: {} });

test('only problems the change introduces are denials: an old bad pool does not block a good new one', async () => {
  const w = memoryWorld({
    objects: [ipAddressPool(NS, 'a', ['10.0.0.0/24']), ipAddressPool(NS, 'b', ['10.0.0.128/25'])],
  });
  try {
    const good = await validateConfigObject(w.deps.config, 'IPAddressPool', request(ipAddressPool(NS, 'c', ['10.9.0.0/24'])));
    assert.equal(good.allowed, true, good.status?.message);
    const bad = await validateConfigObject(w.deps.config, 'IPAddressPool', request(ipAddressPool(NS, 'd', ['10.0.0.0/16'])));
    assert.equal(bad.allowed, false);
    assert.match(bad.status!.message, /overlaps/);
  } finally {
    w.stop();
  }
});

test('a peer may name a BFDProfile that does not exist yet; a BFDProfile in use cannot be deleted', async () => {
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'a', ['10.0.0.0/24']), bfd('fast')] });
  try {
    const early = await validateConfigObject(w.deps.config, 'BGPPeer', request(peer('r2', 'later')));
    assert.equal(early.allowed, true, early.status?.message);
    w.objects.push(peer('r1', 'fast'));
    const del = await validateConfigObject(w.deps.config, 'BFDProfile', request(bfd('fast'), { operation: 'DELETE' }));
    assert.equal(del.allowed, false);
    assert.equal(del.status?.message, 'failed to delete BFDProfile fast, used by BGPPeer r1');
    const unused = await validateConfigObject(w.deps.config, 'BFDProfile', request(bfd('slow'), { operation: 'CREATE' }));
    assert.equal(unused.allowed, true, unused.status?.message);
  } finally {
    w.stop();
  }
});

test('operations a webhook does not cover are allowed; a request for another kind is an error', async () => {
  const w = memoryWorld({ objects: [] });
  try {
    const l2del = await validateConfigObject(
      w.deps.config,
      'L2Advertisement',
      request({ apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'x', namespace: NS } }, { operation: 'DELETE' }),
    );
    assert.equal(l2del.allowed, true);
    const wrong = await validateConfigObject(w.deps.config, 'IPAddressPool', request(bfd('x')));
    assert.equal(wrong.allowed, false);
    assert.equal(wrong.status?.code, 400);
  } finally {
    w.stop();
  }
});

test('a refused pool delete prints no warning computed from the configuration without that pool', async () => {
  const l2: KubeObject = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: 'l2', namespace: NS },
    spec: { ipAddressPools: ['default'] },
  };
  const poolObj = ipAddressPool(NS, 'default', ['10.0.0.0/30']);
  const w = memoryWorld({ objects: [poolObj, l2] });
  try {
    assert.equal(w.allocator.assign('shop/web', svc('shop/web'), ['10.0.0.1']).ok, true);
    const del = await validateConfigObject(w.deps.config, 'IPAddressPool', request(poolObj, { operation: 'DELETE' }));
    assert.equal(del.allowed, false);
    assert.match(del.status!.message, /deleting IPAddressPool "default" would orphan .*shop\/web \(10\.0\.0\.1\)/);
    // The pool stays: "L2Advertisement l2: ipAddressPools names pool "default", which does not exist" would be false.
    assert.deepEqual(del.warnings ?? [], []);
    // Allowed with the opt-out: the pool does go away, so the warning is true and is given.
    const optOut = ipAddressPool(NS, 'default', ['10.0.0.0/30'], { 'berth.io/allow-orphaning': 'true' });
    const gone = await validateConfigObject(w.deps.config, 'IPAddressPool', request(optOut, { operation: 'DELETE' }));
    assert.equal(gone.allowed, true);
    assert.ok(gone.warnings?.some((m) => m.includes('names pool "default", which does not exist')), String(gone.warnings));
  } finally {
    w.stop();
  }
});

test('a denied change carries only the warnings about the object sent, none about the rest of the configuration', async () => {
  const l2: KubeObject = {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'L2Advertisement',
    metadata: { name: 'l2', namespace: NS },
    spec: { ipAddressPools: ['gone'] },
  };
  const w = memoryWorld({ objects: [ipAddressPool(NS, 'a', ['10.0.0.0/24']), l2] });
  try {
    const overlap = await validateConfigObject(w.deps.config, 'IPAddressPool', request(ipAddressPool(NS, 'b', ['10.0.0.0/25'])));
    assert.equal(overlap.allowed, false);
    assert.match(overlap.status!.message, /overlaps/);
    assert.deepEqual(overlap.warnings ?? [], []);
    const mp = { ...peer('r1'), spec: { peerASN: 64501, peerAddress: '10.0.0.1', disableMP: true } };
    const bad = await validateConfigObject(w.deps.config, 'BGPPeer', request(mp));
    assert.equal(bad.allowed, false);
    assert.match(bad.status!.message, /missing local ASN/);
    assert.equal(bad.warnings?.length, 1, String(bad.warnings));
    assert.match(bad.warnings![0]!, /^BGPPeer r1: /);
  } finally {
    w.stop();
  }
});
