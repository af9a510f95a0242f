// Optional persistence, crash-safe like etcd's WAL + snapshot: every committed store event is appended to a
// journal segment (one JSON line per event, written synchronously before any watcher or client sees it) and made
// durable by a group fdatasync (one fsync covers every record appended meanwhile); the lab answers a request only
// once the records before the answer are durable (HttpApi waits on `Store.durable()`). The journal is compacted
// into the snapshot at start, when it outgrows max(minJournalBytes, 2 × the last snapshot) and on stop, so disk use
// stays bounded. Files in the lab's folder:
//   state.json                 snapshot {resourceVersion, buckets}, written to a temp file, fsync'd, renamed
//   state.journal-<rv>         records with resourceVersion > <rv> (the snapshot taken when the segment began)
// Recovery (`loadSnapshot`): the snapshot, then every segment in order, skipping records the snapshot holds;
// resourceVersions must follow one another (a gap or a corrupt complete line is an error naming file and line);
// an unterminated last line is a torn write that was never acknowledged, and is dropped.
// Source: etcd server/storage/wal (append + fsync before commit, torn-tail repair) and snapshot compaction.
import { closeSync, existsSync, fdatasync, fdatasyncSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Journal, Snapshot, Store, StoreEvent } from './store.ts';
import type { KubeObject } from './types.ts';

/** One journal line: a stored object (`o`) or a deletion (`d` = [namespace, name]). */
interface JournalRecord {
  rv: number;
  k: string;
  o?: KubeObject;
  d?: [string, string];
}

function segmentPrefix(file: string): string {
  return `${basename(file).replace(/\.json$/, '')}.journal-`;
}

/** Journal segments of a snapshot file, ordered by the resourceVersion each began after. */
export function journalSegments(file: string): Array<{ path: string; rv: number }> {
  const dir = dirname(file);
  const prefix = segmentPrefix(file);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(prefix) && /^\d+$/.test(n.slice(prefix.length)))
    .map((n) => ({ path: join(dir, n), rv: Number(n.slice(prefix.length)) }))
    .sort((a, b) => a.rv - b.rv);
}

function keyOf(ns: string | undefined, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

/**
 * The persisted state of a lab folder: the snapshot `file` (state.json) plus its journal segments replayed, or
 * undefined when neither exists. Throws an Error naming the file (and line) when the snapshot is not one, a
 * complete journal line is not a record, or records are missing (resourceVersion gap). `log` hears about a
 * dropped torn last record.
 */
export function loadSnapshot(file: string, log: (line: string) => void = () => undefined): Snapshot | undefined {
  let base: Snapshot | undefined;
  if (existsSync(file)) {
    let v: Snapshot;
    try {
      v = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    } catch (e) {
      throw new Error(`lab state ${file}: not a snapshot (${(e as Error).message})`);
    }
    if (typeof v?.resourceVersion !== 'number' || typeof v.buckets !== 'object' || v.buckets === null) throw new Error(`lab state ${file}: not a snapshot`);
    base = v;
  }
  const segments = journalSegments(file);
  if (!base && segments.length === 0) return undefined;
  let rv = base?.resourceVersion ?? 0;
  const buckets = new Map<string, Map<string, KubeObject>>();
  for (const [k, objs] of Object.entries(base?.buckets ?? {})) {
    const b = new Map<string, KubeObject>();
    for (const o of objs) b.set(keyOf(o.metadata.namespace || undefined, o.metadata.name ?? ''), o);
    buckets.set(k, b);
  }
  let replayed = 0;
  for (const seg of segments) {
    const text = readFileSync(seg.path, 'utf8');
    const lines = text.split('\n');
    const torn = lines.pop() ?? ''; // '' when the segment ends with a newline
    if (torn !== '') log(`lab: ${seg.path}: dropped a torn last record (${torn.length} bytes, never acknowledged)`);
    for (let i = 0; i < lines.length; i++) {
      const where = `lab state ${seg.path}:${i + 1}`;
      let r: JournalRecord;
      try {
        r = JSON.parse(lines[i]!) as JournalRecord;
      } catch (e) {
        throw new Error(`${where}: corrupt journal record (${(e as Error).message})`);
      }
      if (typeof r?.rv !== 'number' || typeof r.k !== 'string' || (r.o === undefined) === (r.d === undefined)) {
        throw new Error(`${where}: not a journal record (needs rv, k and one of o, d)`);
      }
      if (r.rv <= rv) continue; // already in the snapshot (a segment older than it, kept by a crash mid-compaction)
      if (r.rv !== rv + 1) throw new Error(`${where}: record at resourceVersion ${r.rv} follows ${rv}: records are missing`);
      rv = r.rv;
      replayed++;
      let b = buckets.get(r.k);
      if (!b) buckets.set(r.k, (b = new Map()));
      if (r.o) b.set(keyOf(r.o.metadata.namespace || undefined, r.o.metadata.name ?? ''), r.o);
      else b.delete(keyOf(r.d![0] || undefined, r.d![1]));
    }
  }
  if (replayed > 0) log(`lab: replayed ${replayed} journal records up to resourceVersion ${rv}`);
  const out: Record<string, KubeObject[]> = {};
  for (const [k, b] of buckets) out[k] = [...b.values()];
  return { resourceVersion: rv, buckets: out };
}

export interface PersisterOptions {
  log?: (line: string) => void;
  /** Compact when the journal exceeds max(this, 2 × the last snapshot's size). Bytes; default 8 MiB. */
  minJournalBytes?: number;
  /** fdatasync the journal before answering (default true). false: survives a SIGKILL (the page cache keeps the
   * records) but not a power loss. */
  fsync?: boolean;
}

/** Writes `data` to `file` through a temp file: write, fsync, rename, fsync the folder. */
function writeDurableSync(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is then as durable as they make it.
  }
}

/**
 * The store's journal (see the file comment). Created after the store is restored: it compacts what was loaded
 * into a fresh snapshot, removes the old segments, starts a new one and registers itself with `store`.
 * Errors writing the journal are logged and make `durable()` reject, so the answers of later requests are 500s.
 */
export class Persister implements Journal {
  private readonly log: (line: string) => void;
  private readonly minJournalBytes: number;
  private readonly fsync: boolean;
  private fd = -1;
  private bytes = 0;
  private snapshotBytes = 0;
  private appendedRv = 0;
  private syncedRv = 0;
  private syncing = false;
  /** fds replaced by a newer segment while an fdatasync on them was in flight: closed when it ends. */
  private retired: number[] = [];
  private waiters: Array<{ rv: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;
  private compacting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly store: Store,
    opts: PersisterOptions = {},
  ) {
    this.log = opts.log ?? (() => undefined);
    this.minJournalBytes = opts.minJournalBytes ?? 8 * 1024 * 1024;
    this.fsync = opts.fsync ?? true;
    const snap = store.snapshot();
    const data = JSON.stringify(snap);
    writeDurableSync(file, data);
    this.snapshotBytes = data.length;
    this.openSegment(snap.resourceVersion);
    for (const s of journalSegments(file)) if (s.rv < snap.resourceVersion) unlinkSync(s.path);
    store.setJournal(this);
  }

  private openSegment(rv: number): void {
    const path = join(dirname(this.file), `${segmentPrefix(this.file)}${rv}`);
    // 'w': a segment of that name can only hold records the snapshot already has (and maybe a torn tail).
    this.fd = openSync(path, 'w');
    this.bytes = 0;
    this.appendedRv = this.syncedRv = rv;
    syncDir(dirname(this.file));
  }

  /** Kept for callers of the debounced-snapshot version: compaction is now driven by the journal's size. */
  schedule(): void {}

  /** Writes the event's record (synchronously, before the store notifies watchers). */
  append(ev: StoreEvent): void {
    if (this.closed || this.failed) return;
    const rec: JournalRecord =
      ev.type === 'DELETED' ? { rv: ev.rv, k: ev.storeKey, d: [ev.object.metadata.namespace ?? '', ev.object.metadata.name ?? ''] } : { rv: ev.rv, k: ev.storeKey, o: ev.object };
    const buf = Buffer.from(`${JSON.stringify(rec)}\n`);
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.bytes += buf.length;
    this.appendedRv = ev.rv;
    if (this.fsync) this.startSync();
    else this.syncedRv = ev.rv;
    if (this.bytes > Math.max(this.minJournalBytes, 2 * this.snapshotBytes)) this.compact();
  }

  /** Resolves when every record appended so far is on disk; undefined when they already are. */
  durable(): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.failed);
    if (this.syncedRv >= this.appendedRv) return undefined;
    const rv = this.appendedRv;
    return new Promise((resolve, reject) => this.waiters.push({ rv, resolve, reject }));
  }

  private fail(e: Error): void {
    this.failed = new Error(`persisting the lab's state failed: ${e.message}`);
    this.log(`lab: ${this.failed.message}`);
    for (const w of this.waiters.splice(0)) w.reject(this.failed);
  }

  private synced(rv: number): void {
    if (rv > this.syncedRv) this.syncedRv = rv;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    const ready: Array<() => void> = [];
    for (const w of this.waiters) {
      if (w.rv <= this.syncedRv) ready.push(w.resolve);
      else still.push(w);
    }
    this.waiters = still;
    for (const r of ready) r();
  }

  /** One fdatasync at a time; records appended meanwhile wait for the next one (group commit). */
  private startSync(): void {
    if (this.syncing) return;
    this.syncing = true;
    const target = this.appendedRv;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      for (const fd of this.retired.splice(0)) closeSync(fd);
      if (err) {
        this.fail(err);
        return;
      }
      this.synced(target);
      if (this.appendedRv > this.syncedRv && !this.closed) this.startSync();
    });
  }

  /** Starts a new segment at the current resourceVersion and writes the snapshot in the background. */
  private compact(): void {
    if (this.compacting || this.closed) return;
    const snap = this.store.snapshot();
    const rv = snap.resourceVersion;
    // Everything up to rv is in the old segment: make it durable, then switch (the fd closes once no fdatasync
    // is in flight on it).
    try {
      fdatasyncSync(this.fd);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (this.syncing) this.retired.push(this.fd);
    else closeSync(this.fd);
    this.openSegment(rv);
    this.synced(rv);
    this.compacting = (async () => {
      const data = JSON.stringify(snap);
      const tmp = `${this.file}.${process.pid}.compact.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      syncDir(dirname(this.file));
      this.snapshotBytes = data.length;
      for (const s of journalSegments(this.file)) if (s.rv < rv) await unlink(s.path);
    })()
      .catch((e: unknown) => this.log(`lab: compacting the lab's state failed (the journal still holds it): ${(e as Error).message}`))
      .finally(() => {
        this.compacting = undefined;
        // Records appended while this snapshot was written may already pass the threshold again; nothing else would
        // compact them until the next write (under load the folder then held more than the bound).
        if (!this.closed && !this.failed && this.bytes > Math.max(this.minJournalBytes, 2 * this.snapshotBytes)) this.compact();
      });
  }

  /** Resolves once no compaction is running (one started meanwhile is awaited too). For tests and clean stops. */
  async compacted(): Promise<void> {
    while (this.compacting) await this.compacting;
  }

  /** Stop: a final snapshot, the journal removed (a clean stop leaves state.json only). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.compacting) await this.compacting;
    this.closed = true;
    this.store.setJournal(undefined);
    const snap = this.store.snapshot();
    writeDurableSync(this.file, JSON.stringify(snap));
    if (this.fd >= 0) {
      if (this.syncing) this.retired.push(this.fd);
      else closeSync(this.fd);
      this.fd = -1;
    }
    for (const s of journalSegments(this.file)) unlinkSync(s.path);
    this.synced(snap.resourceVersion);
  }
}
