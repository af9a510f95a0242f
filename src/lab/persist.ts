// Optional persistence: a JSON snapshot of the store, written atomically (tmp + rename), debounced after
// writes and once more on stop. Restart restores objects and the resourceVersion counter (monotonic).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { Snapshot, Store } from './store.ts';

export function loadSnapshot(file: string): Snapshot | undefined {
  if (!existsSync(file)) return undefined;
  const v = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  if (typeof v?.resourceVersion !== 'number' || typeof v.buckets !== 'object') throw new Error(`lab state ${file}: not a snapshot`);
  return v;
}

export class Persister {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private seq = 0;

  constructor(
    private readonly file: string,
    private readonly store: Store,
    private readonly delayMs = 500,
    private readonly log: (l: string) => void = () => undefined,
  ) {}

  /** Called after every commit. */
  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flushAsync();
    }, this.delayMs);
    this.timer.unref();
  }

  private async flushAsync(): Promise<void> {
    if (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    const data = JSON.stringify(this.store.snapshot());
    this.writing = writeFile(tmp, data)
      .then(() => rename(tmp, this.file))
      .catch((e: unknown) => this.log(`lab: persisting state failed: ${(e as Error).message}`))
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
  }

  /** Final synchronous write (stop). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing) await this.writing;
    const tmp = `${this.file}.${process.pid}.final.tmp`;
    writeFileSync(tmp, JSON.stringify(this.store.snapshot()));
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}
