import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaim, type IPAddressClaim } from '../api/claim.ts';
import type { ClaimCache, ClaimEvent } from '../claims/store.ts';
import { MemoryClaimStore } from '../claims/memory-store.ts';
import { ClaimIndex, isNewer } from './claim-index.ts';

const holder = (name: string) => ({ namespace: 'default', name, ports: [] });

describe('ClaimIndex', () => {
  it('noteWritten keeps nothing when the watch event came before the write answer (no leak, no stale get)', async () => {
    const store = new MemoryClaimStore();
    const idx = new ClaimIndex(store.asCache());
    // MemoryClaimStore delivers the event before create() resolves: the order a busy controller often sees.
    for (let i = 0; i < 50; i++) {
      const r = await store.create(
        newClaim({
          ip: `10.0.1.${i}`,
          pool: 'p',
          sharingKey: '',
          backendKey: '',
          holders: [holder(`s${i}`)],
        }),
      );
      assert.ok(r.ok);
      idx.noteWritten(r.claim);
    }
    assert.equal(idx.writtenPending, 0, 'every written version was already in the cache');
    // A write answered before its event: kept (and answered by get) until the event comes.
    const c = (await store.get('10.0.1.7'))!;
    const answered = {
      ...c,
      metadata: { ...c.metadata, resourceVersion: String(Number(c.metadata.resourceVersion) + 100) },
      spec: { ...c.spec, sharingKey: 'k' },
    };
    idx.noteWritten(answered);
    assert.equal(idx.writtenPending, 1);
    assert.equal(idx.get('10.0.1.7')?.spec.sharingKey, 'k');
    // An older answer than what the informer holds never shadows it.
    idx.noteWritten({
      ...c,
      metadata: { ...c.metadata, resourceVersion: '1' },
      spec: { ...c.spec, sharingKey: 'old' },
    });
    assert.equal(idx.get('10.0.1.7')?.spec.sharingKey, 'k', 'the older answer was not kept');
    await store.update({ ...c, spec: { ...c.spec, sharingKey: 'k2' } });
    assert.equal(idx.writtenPending, 0, 'any event of the claim drops the written version');
    assert.equal(idx.get('10.0.1.7')?.spec.sharingKey, 'k2');
  });

  for (const [label, mode] of [
    ['(holder keys noted per claim)', {}],
    ['(previous versions from the cache: no note per claim)', { reportsPrevious: true }],
  ] as const) {
    it(`size counts the claims indexed, following creates and deletes (the repair cadence reads it) ${label}`, async () => {
      const store = new MemoryClaimStore();
      for (let i = 0; i < 3; i++)
        await store.create(
          newClaim({
            ip: `10.0.2.${i}`,
            pool: 'p',
            sharingKey: '',
            backendKey: '',
            holders: [holder(`s${i}`)],
          }),
        );
      const idx = new ClaimIndex(store.asCache(mode));
      assert.equal(idx.size, 3);
      await store.create(
        newClaim({
          ip: '10.0.2.9',
          pool: 'p',
          sharingKey: 'k',
          backendKey: '',
          holders: [holder('a'), holder('b')],
        }),
      );
      assert.equal(idx.size, 4, 'a shared claim counts once');
      await store.delete('10.0.2.0');
      assert.equal(idx.size, 3);
    });

    it(`follows creates, holder changes and deletes; dual stack sorted v4 first; reports the holders concerned ${label}`, async () => {
      const store = new MemoryClaimStore();
      await store.create(
        newClaim({ ip: '10.0.0.1', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }),
      );
      const idx = new ClaimIndex(store.asCache(mode));
      const changes: string[] = [];
      idx.onChange((e, hs) => changes.push(`${e.type} ${e.claim.spec.ip} ${hs.join(',')}`));
      assert.deepEqual(
        idx.heldBy('default/a').map((c) => c.spec.ip),
        ['10.0.0.1'],
      );
      await store.create(
        newClaim({ ip: 'fd00::1', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }),
      );
      await store.create(
        newClaim({ ip: '10.0.0.0', pool: 'p', sharingKey: '', backendKey: '', holders: [holder('a')] }),
      );
      assert.deepEqual(
        idx.heldBy('default/a').map((c) => c.spec.ip),
        ['10.0.0.0', '10.0.0.1', 'fd00::1'],
      );
      const c = (await store.get('10.0.0.1'))!;
      await store.update({ ...c, spec: { ...c.spec, sharingKey: 'k', holders: [holder('a'), holder('b')] } });
      assert.deepEqual(
        idx.heldBy('default/b').map((x) => x.spec.ip),
        ['10.0.0.1'],
      );
      assert.equal(
        idx.heldBy('default/a').find((x) => x.spec.ip === '10.0.0.1')?.spec.sharingKey,
        'k',
        'the updated claim replaced the old',
      );
      const c2 = (await store.get('10.0.0.1'))!;
      await store.update({ ...c2, spec: { ...c2.spec, holders: [holder('b')] } });
      assert.deepEqual(
        idx.heldBy('default/a').map((x) => x.spec.ip),
        ['10.0.0.0', 'fd00::1'],
        'a holder taken off a claim is no longer indexed under it',
      );
      await store.delete('10.0.0.1');
      await store.delete('10.0.0.0');
      assert.deepEqual(
        idx.heldBy('default/a').map((x) => x.spec.ip),
        ['fd00::1'],
      );
      assert.deepEqual(idx.heldBy('default/b'), []);
      await store.delete('fd00::1');
      assert.deepEqual([...idx.holderKeys()], []);
      assert.deepEqual(changes, [
        'added fd00::1 default/a',
        'added 10.0.0.0 default/a',
        'modified 10.0.0.1 default/a,default/b',
        'modified 10.0.0.1 default/a,default/b',
        'deleted 10.0.0.1 default/b',
        'deleted 10.0.0.0 default/a',
        'deleted fd00::1 default/a',
      ]);
    });
  }

  it('isNewer compares decimal resourceVersions by value, anything else by inequality', () => {
    assert.equal(isNewer('10', '9'), true);
    assert.equal(isNewer('9', '10'), false);
    assert.equal(isNewer('10', '10'), false);
    assert.equal(isNewer('10', undefined), true);
    assert.equal(isNewer(undefined, '1'), false);
    assert.equal(isNewer('abc', 'abd'), true);
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
      const c = newClaim({
        ip: '192.0.2.7',
        pool: 'p',
        sharingKey: '',
        backendKey: '',
        holders: [{ ...holder('a'), ...(uid ? { uid } : {}) }],
      });
      c.metadata.resourceVersion = rv;
      return c;
    };
    cached.set('192.0.2.7', v('5'));
    const idx = new ClaimIndex(cache);
    idx.noteWritten(v('9', 'u1'));
    assert.equal(
      idx.get('192.0.2.7')?.metadata.resourceVersion,
      '9',
      'the written version, ahead of the informer',
    );
    assert.equal(idx.get('192.0.2.7')?.spec.holders[0]?.uid, 'u1');
    assert.equal(idx.get('192.0.2.8'), undefined);
    // Any event of that claim (here an older version still in flight) hands get() back to the informer's view.
    deliver(v('7'));
    assert.equal(idx.get('192.0.2.7')?.metadata.resourceVersion, '7');
    deliver(v('9', 'u1'));
    assert.equal(idx.get('192.0.2.7')?.metadata.resourceVersion, '9');
  });
});
