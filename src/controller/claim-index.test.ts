import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaim } from '../api/claim.ts';
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
});
