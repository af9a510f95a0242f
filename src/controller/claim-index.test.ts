import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaim, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent } from '../claims/store.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import { ClaimIndex } from './claim-index.ts';

const holder = (name: string) => ({ namespace: 'default', name, ports: [] });

describe('ClaimIndex', () => {
  it('follows creates, holder changes and deletes; dual stack sorted v4 first; reports the holders concerned', async () => {
    const store = new MemoryClaimStore();
    await store.create(newClaim({ ip: '10.0.0.1', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }));
    const idx = new ClaimIndex(store.asCache());
    const changes: string[] = [];
    idx.onChange((e, hs) => changes.push(`${e.type} ${e.claim.spec.ip} ${hs.join(',')}`));
    assert.deepEqual(idx.heldBy('default/a').map((c) => c.spec.ip), ['10.0.0.1']);
    await store.create(newClaim({ ip: 'fd00::1', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }));
    await store.create(newClaim({ ip: '10.0.0.0', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }));
    assert.deepEqual(idx.heldBy('default/a').map((c) => c.spec.ip), ['10.0.0.0', '10.0.0.1', 'fd00::1']);
    const c = (await store.get('10.0.0.1'))!;
    await store.update({ ...c, spec: { ...c.spec, sharingKey: 'k', holders: [holder('a'), holder('b')] } });
    assert.deepEqual(idx.heldBy('default/b').map((x) => x.spec.ip), ['10.0.0.1']);
    assert.equal(idx.heldBy('default/a').find((x) => x.spec.ip === '10.0.0.1')?.spec.sharingKey, 'k', 'the updated claim replaced the old');
    await store.delete('10.0.0.1');
    await store.delete('10.0.0.0');
    assert.deepEqual(idx.heldBy('default/a').map((x) => x.spec.ip), ['fd00::1']);
    assert.deepEqual(idx.heldBy('default/b'), []);
    await store.delete('fd00::1');
    assert.deepEqual([...idx.holderKeys()], []);
    assert.deepEqual(changes, [
      'added fd00::1 default/a',
      'added 10.0.0.0 default/a',
      'modified 10.0.0.1 default/a,default/b',
      'deleted 10.0.0.1 default/a,default/b',
      'deleted 10.0.0.0 default/a',
      'deleted fd00::1 default/a',
    ]);
  });

  it('get() answers the version this replica wrote until the informer delivers any event of that claim', () => {
    // A cache that lags: events only when the test says so.
    const cached = new Map<string, IPAddressClaim>();
    const listeners = new Set<(e: ClaimEvent) => void>();
    const cache: ClaimCache = {
      list: () => [...cached.values()],
      get: (ip) => cached.get(ip),
      subscribe: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    };
    const deliver = (c: IPAddressClaim) => {
      cached.set(c.spec.ip, c);
      for (const fn of listeners) fn({ type: 'modified', claim: c });
    };
    const v = (rv: string, uid?: string): IPAddressClaim => {
      const c = newClaim({ ip: '192.0.2.7', pool: 'p', sharingKey: '', backendKey: '', holders: [{ ...holder('a'), ...(uid ? { uid } : {}) }] });
      c.metadata.resourceVersion = rv;
      return c;
    };
    cached.set('192.0.2.7', v('5'));
    const idx = new ClaimIndex(cache);
    idx.noteWritten(v('9', 'u1'));
    assert.equal(idx.get('192.0.2.7')?.metadata.resourceVersion, '9', 'the written version, ahead of the informer');
    assert.equal(idx.get('192.0.2.7')?.spec.holders[0]?.uid, 'u1');
    assert.equal(idx.get('192.0.2.8'), undefined);
    // Any event of that claim (here an older version still in flight) hands get() back to the informer's view.
    deliver(v('7'));
    assert.equal(idx.get('192.0.2.7')?.metadata.resourceVersion, '7');
    deliver(v('9', 'u1'));
    assert.equal(idx.get('192.0.2.7')?.metadata.resourceVersion, '9');
  });
});
