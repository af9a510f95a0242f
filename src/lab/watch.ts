// Watch streams: newline-delimited `{"type":..., "object":...}` over a chunked response
// (k8s.io/apiserver/pkg/endpoints/handlers/watch.go). Starting points as kube-apiserver: no resourceVersion or "0"
// → synthetic ADDED for the current state, then changes; a resourceVersion → replay from the history window,
// or one ERROR event with a 410 Expired Status when it is older than the window. Selector-filtered watches turn
// MODIFIED into ADDED/DELETED when an object enters or leaves the selection (cacher.go).
import type { ServerResponse } from 'node:http';
import { matchFields, matchLabels, type FieldReq, type LabelReq } from './selectors.ts';
import type { Store, StoreEvent } from './store.ts';
import type { KubeObject, ResourceType } from './types.ts';
import { buildTable, type IncludeObject } from './table.ts';

export interface WatchRequest {
  type: ResourceType;
  version: string;
  namespace: string;
  labels: LabelReq[];
  fields: FieldReq[];
  resourceVersion: string | undefined;
  timeoutSeconds: number | undefined;
  bookmarks: boolean;
  table: IncludeObject | undefined;
  present: (obj: KubeObject) => KubeObject;
}

/** Closes a watch whose client does not read (kube-apiserver drops slow watchers too). */
const MAX_BUFFERED = 64 * 1024 * 1024;
/** Queued text of one watcher written at once rather than at the end of the turn (an initial list of many objects). */
const FLUSH_AT = 256 * 1024;
const DEFAULT_TIMEOUT_S = 1800;
const BOOKMARK_EVERY_MS = 30_000;

export class WatchHub {
  private readonly open = new Set<() => void>();
  /** Serialized event lines shared by all watchers with the same view (version, event type, Table or not). */
  private readonly lines = new WeakMap<StoreEvent, Map<string, string>>();
  /** Watchers with lines queued this event-loop turn, flushed together by one setImmediate. */
  private readonly pending = new Set<() => void>();
  private flushScheduled = false;
  constructor(private readonly store: Store) {}

  /**
   * Writes every watcher's queued lines, one response chunk (one socket write) per watcher. Runs in the check phase
   * of the event loop, after every I/O callback of the turn: the events that requests of one turn produced go out
   * together, so a busy server makes fewer, larger writes, and no event waits longer than the rest of its turn.
   */
  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const ws = [...this.pending];
    this.pending.clear();
    for (const flush of ws) flush();
  };

  private schedule(flush: () => void): void {
    this.pending.add(flush);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  get size(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  /** Serves one watch on `res` (headers not yet sent). */
  serve(w: WatchRequest, res: ServerResponse, onClose: (cb: () => void) => void): void {
    const store = this.store;
    const key = w.type.storeKey;
    const apiVersion = w.type.group ? `${w.type.group}/${w.version}` : w.version;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    let closed = false;
    const sub: { off?: () => void } = {};
    const timers: NodeJS.Timeout[] = [];
    // Lines not yet written, in event order: written as one chunk at the end of the turn (flush), with the headers
    // when they have not gone yet (they go at the end of the first turn even without an event: the client sees the
    // watch established).
    let queue: string[] = [];
    let queued = 0;
    // res.headersSent turns true at writeHead, before anything is on the wire.
    let headersOut = false;
    const flush = () => {
      this.pending.delete(flush);
      const text = queue.length === 1 ? queue[0]! : queue.join('');
      queue = [];
      queued = 0;
      if (res.destroyed || res.writableEnded) return;
      if (text) res.write(text);
      else if (!headersOut) res.flushHeaders();
      headersOut = true;
      if (res.writableLength > MAX_BUFFERED) close();
    };
    const close = () => {
      if (closed) return;
      closed = true;
      sub.off?.();
      for (const t of timers) clearTimeout(t);
      this.open.delete(close);
      flush();
      if (!res.writableEnded) res.end();
    };
    this.open.add(close);
    onClose(close);

    const matches = (o: KubeObject | undefined): boolean => {
      if (!o) return false;
      if (w.namespace && o.metadata.namespace !== w.namespace) return false;
      if (w.labels.length && !matchLabels(w.labels, o.metadata.labels)) return false;
      if (w.fields.length) {
        const p = w.present(o);
        if (!matchFields(w.fields, p)) return false;
      }
      return true;
    };
    const line = (type: string, obj: KubeObject): string => {
      const p = w.present(obj);
      const object = w.table ? buildTable(w.type, w.version, [p], p.metadata.resourceVersion ?? '', w.table) : p;
      return JSON.stringify({ type, object }) + '\n';
    };
    const write = (s: string) => {
      if (closed) return;
      queue.push(s);
      queued += s.length;
      if (queued >= FLUSH_AT) flush();
      else this.schedule(flush);
    };
    const deliver = (ev: StoreEvent) => {
      const now = matches(ev.object);
      const before = ev.type === 'ADDED' ? false : matches(ev.old);
      let type: string | undefined;
      if (ev.type === 'ADDED') type = now ? 'ADDED' : undefined;
      else if (ev.type === 'DELETED') type = before || now ? 'DELETED' : undefined;
      else if (now && before) type = 'MODIFIED';
      else if (now) type = 'ADDED';
      else if (before) type = 'DELETED';
      if (!type) return;
      // One JSON.stringify per event and view, however many watchers (per-write work stays O(watchers)).
      const viewKey = `${w.type.group}/${w.type.plural}/${w.version}/${type}/${w.table ?? ''}`;
      let byView = this.lines.get(ev);
      if (!byView) this.lines.set(ev, (byView = new Map()));
      let s = byView.get(viewKey);
      if (s === undefined) byView.set(viewKey, (s = line(type, ev.object)));
      write(s);
    };

    const rvText = w.resourceVersion;
    if (!rvText || rvText === '0') {
      for (const o of store.list(key, w.type.namespaced ? w.namespace || undefined : undefined)) if (matches(o)) write(line('ADDED', o));
    } else {
      const rv = Number(rvText);
      const evs = store.eventsSince(key, rv);
      if (evs === 'gone') {
        const status = {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${rv} (${store.compactedResourceVersion + 1})`,
          reason: 'Expired',
          code: 410,
        };
        write(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
        close();
        return;
      }
      for (const ev of evs) deliver(ev);
    }
    // The headers (and the replay) go out at the end of this turn.
    this.schedule(flush);
    // Subscribing in the same tick as the replay: no event can fall between the two.
    sub.off = store.addWatcher({ storeKey: key, ...(w.type.namespaced && w.namespace ? { namespace: w.namespace } : {}), deliver });
    const bookmark = () =>
      write(JSON.stringify({ type: 'BOOKMARK', object: { kind: w.type.kind, apiVersion, metadata: { resourceVersion: String(store.resourceVersion) } } }) + '\n');
    if (w.bookmarks) {
      const t = setInterval(bookmark, BOOKMARK_EVERY_MS);
      t.unref();
      timers.push(t);
    }
    const timeoutS = w.timeoutSeconds !== undefined && w.timeoutSeconds >= 0 ? w.timeoutSeconds : DEFAULT_TIMEOUT_S * (1 + Math.random());
    const t = setTimeout(() => {
      if (w.bookmarks) bookmark();
      close();
    }, timeoutS * 1000);
    t.unref();
    timers.push(t);
  }
}
