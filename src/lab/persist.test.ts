// The lab's journal + snapshot (persist.ts): a write is in the journal (and durable once durable() settles) before
// anyone hears of it; recovery replays the journal over the snapshot, drops a torn last record, refuses gaps and
// corrupt lines; compaction keeps the folder bounded; a crash in the middle of a compaction loses nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store.ts';
import { Persister, journalSegments, loadSnapshot } from './persist.ts';
import type { KubeObject } from './types.ts';

const cm = (name: string, data = '1', ns = 'default'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { d: data } });

function folder(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-persist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store loaded from the folder, as the lab does at start. */
function reopen(file: string): Store {
  const s = new Store();
  const snap = loadSnapshot(file);
  if (snap) s.restore(snap);
  return s;
}

test('every commit is in the journal before put returns; recovery without a clean stop has them all', async (t) => {
  const file = join(folder(t), 'state.json');
  const s = new Store();
  const p = new Persister(file, s);
  for (let i = 0; i < 50; i++) s.put('core/configmaps', cm(`c${i}`, String(i)));
  s.put('core/configmaps', cm('c7', 'changed'));
  s.remove('core/configmaps', 'default', 'c3');
  const pending = s.durable();
  assert.ok(pending, 'writes not yet fsync’d are pending');
  await pending;
  assert.equal(s.durable(), undefined, 'nothing pending once synced');
  // No close(): the process "dies" here. The records are in the segment (page cache at least).
  const r = reopen(file);
  assert.equal(r.resourceVersion, 52);
  assert.equal(r.count('core/configmaps'), 49);
  assert.equal(r.get('core/configmaps', 'default', 'c3'), undefined);
  assert.deepEqual(r.get('core/configmaps', 'default', 'c7')?.data, { d: 'changed' });
  assert.equal(r.get('core/configmaps', 'default', 'c7')?.metadata.resourceVersion, '51');
  await p.close();
});

test('restart: what was loaded becomes the snapshot, resourceVersions continue, a clean stop leaves state.json only', async (t) => {
  const dir = folder(t);
  const file = join(dir, 'state.json');
  const s1 = new Store();
  new Persister(file, s1); // never closed: a crash
  s1.put('core/configmaps', cm('a'));
  s1.put('core/configmaps', cm('b'));
  const s2 = reopen(file);
  const p2 = new Persister(file, s2);
  assert.deepEqual(
    journalSegments(file).map((x) => x.rv),
    [2],
    'old segments removed, a fresh one begins after the snapshot',
  );
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).resourceVersion, 2);
  const c = s2.put('core/configmaps', cm('c'));
  assert.equal(c.metadata.resourceVersion, '3');
  await p2.close();
  assert.deepEqual(journalSegments(file), []);
  const s3 = reopen(file);
  assert.equal(s3.resourceVersion, 3);
  assert.deepEqual(
    s3.list('core/configmaps').map((o) => o.metadata.name),
    ['a', 'b', 'c'],
  );
});

test('a torn last record (never acknowledged) is dropped; the next start appends cleanly after it', async (t) => {
  const file = join(folder(t), 'state.json');
  const s = new Store();
  new Persister(file, s);
  s.put('core/configmaps', cm('a'));
  s.put('core/configmaps', cm('b'));
  const seg = journalSegments(file).at(-1)!.path;
  appendFileSync(seg, '{"rv":3,"k":"core/configmaps","o":{"metadata":{"na'); // killed in the middle of a write
  const logs: string[] = [];
  const snap = loadSnapshot(file, (l) => logs.push(l));
  assert.equal(snap?.resourceVersion, 2);
  assert.match(logs.join('\n'), /dropped a torn last record/);
  const s2 = new Store();
  s2.restore(snap!);
  const p2 = new Persister(file, s2);
  s2.put('core/configmaps', cm('c'));
  const s3 = reopen(file);
  assert.equal(s3.resourceVersion, 3);
  assert.equal(s3.get('core/configmaps', 'default', 'c')?.metadata.resourceVersion, '3');
  await p2.close();
});

test('a corrupt complete record or a gap in resourceVersions is an error naming the file and line', (t) => {
  const dir = folder(t);
  const file = join(dir, 'state.json');
  const s = new Store();
  new Persister(file, s);
  s.put('core/configmaps', cm('a'));
  s.put('core/configmaps', cm('b'));
  const seg = journalSegments(file).at(-1)!.path;
  const good = readFileSync(seg, 'utf8');
  writeFileSync(seg, good.replace('"rv":1', '"rv":1x'));
  assert.throws(() => loadSnapshot(file), new RegExp(`lab state ${seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: corrupt journal record`));
  writeFileSync(seg, good.split('\n')[1] + '\n'); // record 1 lost
  assert.throws(() => loadSnapshot(file), /:1: record at resourceVersion 2 follows 0: records are missing/);
  writeFileSync(seg, '{"rv":1,"k":"core/configmaps"}\n');
  assert.throws(() => loadSnapshot(file), /:1: not a journal record \(needs rv, k and one of o, d\)/);
  writeFileSync(file, 'nope');
  assert.throws(() => loadSnapshot(file), /lab state .*state\.json: not a snapshot/);
});

test('compaction keeps the folder bounded and loses nothing; a crash mid-compaction replays the older segment', async (t) => {
  const dir = folder(t);
  const file = join(dir, 'state.json');
  const s = new Store();
  const p = new Persister(file, s, { minJournalBytes: 20_000 });
  // 20 objects rewritten 500 times: ~1 MB of journal, while the state stays ~3 KB.
  for (let i = 0; i < 10_000; i++) {
    s.put('core/configmaps', cm(`c${i % 20}`, String(i)));
    if (i % 100 === 0) await s.durable();
  }
  await s.durable();
  await p.compacted(); // the background compactions, including a catch-up for what was written during one
  const segs = journalSegments(file);
  assert.ok(segs.length <= 2, `segments: ${segs.map((x) => x.rv).join(', ')}`);
  const total = segs.reduce((n, x) => n + statSync(x.path).size, 0) + statSync(file).size;
  assert.ok(total < 100_000, `folder holds ${total} bytes for 10,000 writes`);
  const r = reopen(file);
  assert.equal(r.resourceVersion, 10_000);
  assert.deepEqual(r.get('core/configmaps', 'default', 'c19')?.data, { d: '9999' });

  await p.close();
});

test('a crash between a segment switch and the new snapshot: the older segment is replayed, overlaps skipped', async (t) => {
  const dir = folder(t);
  const file = join(dir, 'state.json');
  const s = new Store();
  const p = new Persister(file, s);
  for (let i = 0; i < 100; i++) s.put('core/configmaps', cm(`c${i % 7}`, String(i)));
  await s.durable();
  // What a compaction at rv 50 leaves if killed before renaming its snapshot: state.json still at rv 0, the old
  // segment (records 1..100 here, a superset), and the new segment journal-50 with records 51..100.
  const lines = readFileSync(join(dir, 'state.journal-0'), 'utf8').split('\n').filter(Boolean);
  writeFileSync(join(dir, 'state.journal-50'), lines.slice(50).join('\n') + '\n');
  const r = reopen(file);
  assert.equal(r.resourceVersion, 100);
  assert.deepEqual(r.get('core/configmaps', 'default', 'c1')?.data, { d: '99' });
  // And with the new snapshot landed but the old segment not yet removed.
  const mid = new Store();
  for (const l of lines.slice(0, 50)) {
    const rec = JSON.parse(l) as { o: KubeObject };
    mid.put('core/configmaps', rec.o);
  }
  writeFileSync(file, JSON.stringify(mid.snapshot()));
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).resourceVersion, 50);
  const r2 = reopen(file);
  assert.equal(r2.resourceVersion, 100);
  assert.deepEqual(r2.get('core/configmaps', 'default', 'c1')?.data, { d: '99' });
  await p.close();
});
