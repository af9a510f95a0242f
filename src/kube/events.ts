// core/v1 Events with MetalLB's reasons and messages (spec metallb-compat.md §8.1). `source.component` stays
// `metallb-controller` so existing `kubectl get events --field-selector source=metallb-controller` habits and alerts
// keep working; `reportingComponent` says who really wrote it (`berth-controller`).
// Repeats of the same (object, type, reason, message) within 10 minutes bump `count` and `lastTimestamp` on the
// existing Event instead of creating a new one (client-go's EventCorrelator does the same).
// Sending is asynchronous and bounded: events never delay a reconcile, and under a flood the oldest are dropped.
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
  /** Queue bound (default 1000): beyond it the oldest pending events are dropped. */
  readonly maxQueue?: number;
  readonly log?: (line: string) => void;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: string;
  last: number;
}

const AGGREGATE_WINDOW_MS = 10 * 60_000;
const MAX_SEEN = 4096;

export class EventRecorder implements EventSink {
  readonly #o: EventRecorderOptions;
  readonly #clock: Clock;
  readonly #queue: Array<() => Promise<void>> = [];
  readonly #seen = new Map<string, Seen>();
  #active = 0;
  #idle: Array<() => void> = [];
  dropped = 0;
  written = 0;

  constructor(opts: EventRecorderOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
  }

  event(obj: ObjectRef, type: EventType, reason: string, message: string): void {
    const namespace = obj.namespace || 'default';
    const key = [namespace, obj.kind, obj.name, obj.uid ?? '', type, reason, message].join('\u0000');
    const now = this.#clock.now();
    this.#enqueue(async () => {
      const prev = this.#seen.get(key);
      if (prev && now - prev.last < AGGREGATE_WINDOW_MS) {
        prev.count++;
        prev.last = now;
        const r = await this.#o.client.patch(
          Resources.events,
          prev.name,
          { count: prev.count, lastTimestamp: kubeTime(now) },
          { namespace },
        );
        if (r.ok) {
          this.written++;
          return;
        }
        // The Event expired (TTL 1 h) or was deleted: start a new one.
      }
      const name = `${obj.name}.${randomBytes(8).toString('hex')}`;
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
        reason,
        message,
        type,
        source: { component: this.#o.component ?? 'metallb-controller' },
        reportingComponent: this.#o.reportingComponent ?? 'berth-controller',
        reportingInstance: this.#o.reportingInstance ?? '',
        firstTimestamp: kubeTime(now),
        lastTimestamp: kubeTime(now),
        eventTime: microTime(now),
        action: reason,
        count: 1,
      };
      const r = await this.#o.client.create(Resources.events, body, { namespace });
      if (!r.ok) {
        this.#o.log?.(`event ${reason} for ${obj.kind} ${namespace}/${obj.name} not written: ${r.error.message}`);
        return;
      }
      this.written++;
      this.#seen.delete(key);
      this.#seen.set(key, { name, namespace, count: 1, first: kubeTime(now), last: now });
      if (this.#seen.size > MAX_SEEN) {
        const oldest = this.#seen.keys().next().value;
        if (oldest !== undefined) this.#seen.delete(oldest);
      }
    });
  }

  /** Resolves when every queued event has been written (or failed). */
  flush(): Promise<void> {
    if (this.#active === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #enqueue(job: () => Promise<void>): void {
    const max = this.#o.maxQueue ?? 1000;
    if (this.#queue.length >= max) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(job);
    this.#pump();
  }

  #pump(): void {
    const limit = this.#o.concurrency ?? 4;
    while (this.#active < limit && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#active++;
      void job()
        .catch((e: unknown) => this.#o.log?.(`event write failed: ${String(e)}`))
        .finally(() => {
          this.#active--;
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
