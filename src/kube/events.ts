// core/v1 Events with MetalLB's reasons and messages (spec metallb-compat.md §8.1). `source.component` stays
// `metallb-controller` so existing `kubectl get events --field-selector source=metallb-controller` habits and alerts
// keep working; `reportingComponent` says who really wrote it (`berth-controller`).
//
// Correlation follows client-go's EventCorrelator (k8s.io/client-go/tools/record/events_cache.go), in its order:
// 1. EventAggregator: events about one object with the same type and reason that differ only in message — once 10
//    distinct messages were seen within 10 minutes — become one Event "(combined from similar events): <latest>".
// 2. EventLogger: a repeat of the same (object, type, reason, message) bumps `count` and `lastTimestamp` (and the
//    message) on the existing Event instead of creating a new one.
// 3. Spam filter: a token bucket per source and object (burst 25, refilled 1 per 5 minutes); an event without a
//    token is not written, but its occurrence is still counted in the Event it belongs to.
// berth adds `oncePerObject`: reasons written at most once per object uid and message (e.g. `deprecatedAnnotation`,
// which MetalLB re-emits on every resync), and `cause`: Warning messages that differ only in numbers (free counts,
// addresses) are one cause, so a pending Service keeps ONE AllocationFailed Event whose count grows.
// Sending is asynchronous and bounded: events never delay a reconcile, writes of one Event are coalesced (a repeat
// queued behind a pending write only updates it), and under a flood the oldest pending writes are dropped.
import { randomBytes } from 'node:crypto';
import { kubeTime, microTime, realClock, type Clock } from './clock.ts';
import type { KubeClient } from './client.ts';
import { Resources } from './resources.ts';

export type EventType = 'Normal' | 'Warning';

export interface ObjectRef {
  kind: string;
  apiVersion?: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

/** What the controller calls (a recording fake in unit tests). */
export interface EventSink {
  event(obj: ObjectRef, type: EventType, reason: string, message: string): void;
}

export interface EventRecorderOptions {
  readonly client: KubeClient;
  /** `source.component` (default `metallb-controller`). */
  readonly component?: string;
  readonly reportingComponent?: string;
  readonly reportingInstance?: string;
  readonly clock?: Clock;
  /** Concurrent writes (default 4). */
  readonly concurrency?: number;
  /** Queue bound (default 1000): beyond it the oldest pending writes are dropped. */
  readonly maxQueue?: number;
  /** Reasons written at most once per (object uid, reason, message) for the recorder's lifetime. */
  readonly oncePerObject?: readonly string[];
  /**
   * The cause an event stands for: events about one object with the same type, reason and cause update one Event
   * (count, lastTimestamp and the latest message) — default: the message itself (client-go's EventLogger key).
   * `ignoreNumbers` makes messages that differ only in counts or addresses one cause.
   */
  readonly cause?: (type: EventType, reason: string, message: string) => string;
  /** Spam filter burst per source+object (default 25, client-go's defaultSpamBurst). */
  readonly spamBurst?: number;
  /** Spam filter refill in tokens per second (default 1/300, client-go's defaultSpamQPS). */
  readonly spamQps?: number;
  readonly log?: (line: string) => void;
}

/** client-go events_cache.go constants. */
export const CORRELATION = {
  maxLruCacheEntries: 4096,
  aggregateMaxEvents: 10,
  aggregateIntervalMs: 600_000,
  spamBurst: 25,
  spamQps: 1 / 300,
  combinedPrefix: '(combined from similar events): ',
} as const;

/** One Event object as berth last wrote (or will write) it. */
interface Observed {
  /**
   * The Event's name suffix, 62 random bits as two small integers (held in the object itself, no string): the name
   * is `<object name>.<16 hex digits>` (eventName). The namespace is the object's (default: `default`).
   */
  readonly id0: number;
  readonly id1: number;
  readonly obj: ObjectRef;
  readonly type: EventType;
  readonly reason: string;
  /** The cause it stands for within its group; null for the group's combined Event. */
  readonly cause: string | null;
  message: string;
  count: number;
  /** Occurrences counted since the last write started (0 = nothing to write). */
  unwritten: number;
  first: number;
  last: number;
  created: boolean;
  state: 'idle' | 'queued' | 'running';
  dirty: boolean;
}

/**
 * The events of one (object, type, reason) — client-go's aggregate record and the Events it leads to: the causes seen
 * within the aggregation window, and one Event per cause (plus the combined one). Nearly always a single cause and a
 * single Event, held as such (no Set, no list).
 */
interface Group {
  readonly type: EventType;
  readonly reason: string;
  causes: string | Set<string>;
  last: number;
  events: Observed | Observed[];
}

/**
 * Everything the recorder keeps about one object: its spam-filter bucket and its groups. One LRU entry per object
 * (client-go keeps three LRUs keyed by strings built from the object, reason and message: with 10,000 Services given an
 * IP, 4,096 entries in each and their keys were ~4 MB of the controller's heap after a fill; issue 12).
 */
interface PerObject {
  tokens: number;
  spamLast: number;
  groups: Group | Group[];
}

/** A Map used as an LRU of at most `max` entries (get refreshes, set evicts the least recently used). */
class Lru<V> {
  readonly #m = new Map<string, V>();
  constructor(readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.#m.get(k);
    if (v !== undefined) {
      this.#m.delete(k);
      this.#m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.#m.delete(k);
    this.#m.set(k, v);
    if (this.#m.size > this.max) {
      const oldest = this.#m.keys().next().value;
      if (oldest !== undefined) this.#m.delete(oldest);
    }
  }
  get size(): number {
    return this.#m.size;
  }
}

/**
 * A `cause` for Warning events: the message with every number replaced (`pool "tiny" is exhausted: 1/1 addresses in
 * use; pool "default" has 29 free` and `… has 30 free` are one cause). Normal events keep their message as cause.
 */
export function ignoreNumbers(type: EventType, _reason: string, message: string): string {
  return type === 'Warning' ? message.replace(/\d+/g, '#') : message;
}

export class EventRecorder implements EventSink {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #queue: Observed[] = [];
  /** Per object (uid, or its reference): spam bucket, aggregation and Events (client-go's three LRUs in one). */
  readonly #objects = new Lru<PerObject>(CORRELATION.maxLruCacheEntries);
  readonly #once = new Lru<true>(CORRELATION.maxLruCacheEntries);
  readonly #onceReasons: ReadonlySet<string>;
  #active = 0;
  #idle: Array<() => void> = [];
  /** Pending writes dropped because the queue was full. */
  dropped = 0;
  /** Events not written because their object had no spam-filter token (still counted in their Event). */
  filtered = 0;
  /** Events skipped by `oncePerObject`. */
  suppressed = 0;
  /** Successful writes (creates and patches). */
  written = 0;

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#onceReasons = new Set(opts.oncePerObject ?? []);
  }

  /** Records one occurrence; never throws, never waits (the write happens in the background). */
  event(obj: ObjectRef, type: EventType, reason: string, message: string): void {
    const namespace = obj.namespace || 'default';
    const now = this.#clock.now();
    // A uid names one object of one kind for good: it alone is the key (36 characters instead of ~80, and often the
    // object's own string).
    // Without one, every part of the reference (that form always contains NUL, a uid never does: no collision).
    const objectKey = obj.uid ? obj.uid : [obj.kind, obj.apiVersion ?? 'v1', namespace, obj.name, ''].join('\u0000');
    if (this.#onceReasons.has(reason)) {
      const k = [objectKey, reason, message].join('\u0000');
      if (this.#once.get(k)) {
        this.suppressed++;
        return;
      }
      this.#once.set(k, true);
    }
    const burst = this.#o.spamBurst ?? CORRELATION.spamBurst;
    let per = this.#objects.get(objectKey);
    if (!per) {
      per = { tokens: burst, spamLast: now, groups: [] };
      this.#objects.set(objectKey, per);
    }
    // 1. EventAggregator (EventAggregatorByReasonFunc: the key is everything but the message).
    const cause = this.#o.cause ? this.#o.cause(type, reason, message) : message;
    let group = findGroup(per.groups, type, reason);
    if (!group) {
      group = { type, reason, causes: cause, last: now, events: [] };
      per.groups = Array.isArray(per.groups) ? (per.groups.length === 0 ? group : [...per.groups, group]) : [per.groups, group];
    } else if (now - group.last > CORRELATION.aggregateIntervalMs) group.causes = cause;
    else if (typeof group.causes === 'string') {
      if (group.causes !== cause) group.causes = new Set([group.causes, cause]);
    } else group.causes.add(cause);
    group.last = now;
    let key: string | null = cause;
    let text = message;
    if (typeof group.causes !== 'string' && group.causes.size >= CORRELATION.aggregateMaxEvents) {
      // Do not let the set grow past the threshold (client-go pops any one key).
      const any = group.causes.values().next().value;
      if (any !== undefined) group.causes.delete(any);
      key = null;
      text = CORRELATION.combinedPrefix + message;
    }
    // 2. EventLogger.
    let ev = findEvent(group.events, key);
    if (ev) {
      ev.count++;
      ev.unwritten++;
      ev.last = now;
      ev.message = text;
    } else {
      const id = randomBytes(8);
      ev = {
        id0: id.readUInt32BE(0) >>> 1,
        id1: id.readUInt32BE(4) >>> 1,
        obj,
        type,
        reason,
        cause: key,
        message: text,
        count: 1,
        unwritten: 1,
        first: now,
        last: now,
        created: false,
        state: 'idle',
        dirty: false,
      };
      group.events = addEvent(group.events, ev);
    }
    // 3. EventSourceObjectSpamFilter (getSpamKey: source and object).
    // client-go keys it by source and object; the source is this recorder's own (one component): the object's key.
    const qps = this.#o.spamQps ?? CORRELATION.spamQps;
    per.tokens = Math.min(burst, per.tokens + (Math.max(0, now - per.spamLast) / 1000) * qps);
    per.spamLast = now;
    if (per.tokens < 1) {
      this.filtered++;
      return;
    }
    per.tokens -= 1;
    this.#schedule(ev);
  }

  /** Resolves when every queued event has been written (or failed). */
  flush(): Promise<void> {
    if (this.#active === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #schedule(ev: Observed): void {
    if (ev.state === 'queued') return;
    if (ev.state === 'running') {
      ev.dirty = true;
      return;
    }
    const max = this.#o.maxQueue ?? 1000;
    if (this.#queue.length >= max) {
      const old = this.#queue.shift()!;
      old.state = 'idle';
      this.dropped++;
    }
    ev.state = 'queued';
    this.#queue.push(ev);
    this.#pump();
  }

  async #write(ev: Observed): Promise<void> {
    const { count, last, message } = ev;
    const name = eventName(ev);
    const namespace = ev.obj.namespace || 'default';
    ev.unwritten = 0;
    const client = this.#o.client;
    if (ev.created) {
      const r = await client.patch(Resources.events, name, { count, lastTimestamp: kubeTime(last), message }, { namespace });
      if (r.ok) {
        this.written++;
        return;
      }
      if (r.error.kind !== 'NotFound') {
        this.#o.log?.(`event ${ev.reason} for ${ev.obj.kind} ${namespace}/${ev.obj.name} not updated: ${r.error.message}`);
        return;
      }
      // The Event expired (TTL 1 h) or was deleted: create it again.
      ev.created = false;
    }
    const obj = ev.obj;
    const body = {
      metadata: { name, namespace },
      involvedObject: {
        kind: obj.kind,
        apiVersion: obj.apiVersion ?? 'v1',
        namespace,
        name: obj.name,
        ...(obj.uid ? { uid: obj.uid } : {}),
        ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
      },
      reason: ev.reason,
      message,
      type: ev.type,
      source: { component: this.#o.component ?? 'metallb-controller' },
      reportingComponent: this.#o.reportingComponent ?? 'berth-controller',
      reportingInstance: this.#o.reportingInstance ?? '',
      firstTimestamp: kubeTime(ev.first),
      lastTimestamp: kubeTime(last),
      eventTime: microTime(ev.first),
      action: ev.reason,
      count,
    };
    const r = await client.create(Resources.events, body, { namespace });
    if (r.ok) {
      ev.created = true;
      this.written++;
    } else if (r.error.kind === 'AlreadyExists') {
      // Written meanwhile under this name: bring its count up to date with a patch.
      ev.created = true;
      ev.unwritten = Math.max(ev.unwritten, 1);
      ev.dirty = true;
    } else {
      this.#o.log?.(`event ${ev.reason} for ${obj.kind} ${namespace}/${obj.name} not written: ${r.error.message}`);
    }
  }

  #pump(): void {
    const limit = this.#o.concurrency ?? 4;
    while (this.#active < limit && this.#queue.length > 0) {
      const ev = this.#queue.shift()!;
      ev.state = 'running';
      this.#active++;
      void this.#write(ev)
        .catch((e: unknown) => this.#o.log?.(`event write failed: ${String(e)}`))
        .finally(() => {
          this.#active--;
          ev.state = 'idle';
          if (ev.dirty) {
            ev.dirty = false;
            if (ev.unwritten > 0) this.#schedule(ev);
          }
          this.#pump();
          if (this.#active === 0 && this.#queue.length === 0) {
            const waiters = this.#idle;
            this.#idle = [];
            for (const w of waiters) w();
          }
        });
    }
  }
}

/** An Event's name: its object's name, a dot and 16 hex digits (client-go: name + "." + hex UnixNano; berth: random). */
function eventName(ev: Observed): string {
  return `${ev.obj.name}.${ev.id0.toString(16).padStart(8, '0')}${ev.id1.toString(16).padStart(8, '0')}`;
}

function findGroup(groups: Group | Group[], type: EventType, reason: string): Group | undefined {
  if (!Array.isArray(groups)) return groups.type === type && groups.reason === reason ? groups : undefined;
  return groups.find((g) => g.type === type && g.reason === reason);
}

function findEvent(events: Observed | Observed[], cause: string | null): Observed | undefined {
  if (!Array.isArray(events)) return events.cause === cause ? events : undefined;
  return events.find((e) => e.cause === cause);
}

/**
 * `events` with `ev` added. A group keeps at most aggregateMaxEvents + 1 Events (one per cause of the window and the
 * combined one; client-go's LRU bounds them globally): past that, the one seen least recently is forgotten (a repeat of
 * its cause then starts a new Event, as after an LRU eviction in client-go).
 */
function addEvent(events: Observed | Observed[], ev: Observed): Observed | Observed[] {
  if (!Array.isArray(events)) return [events, ev];
  if (events.length === 0) return ev;
  const next = [...events, ev];
  if (next.length > CORRELATION.aggregateMaxEvents + 1) {
    let oldest = 0;
    for (let i = 1; i < next.length - 1; i++) if (next[i]!.last < next[oldest]!.last) oldest = i;
    next.splice(oldest, 1);
  }
  return next;
}
