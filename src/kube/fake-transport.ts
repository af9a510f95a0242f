// A scriptable Transport for unit tests of src/kube and of code built on KubeClient: records every request, answers
// through a handler, and exposes each watch so a test can push events and end the stream.
import type { KubeResult } from './errors.ts';
import type { Query, RequestOptions, Transport, WatchEnd, WatchEvent, WatchHandle } from './transport.ts';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Query;
  readonly body: unknown;
  readonly contentType: string | undefined;
}

export interface FakeWatch {
  readonly path: string;
  readonly query: Query;
  emit(e: WatchEvent): void;
  end(end?: WatchEnd): void;
  readonly ended: boolean;
}

export type FakeHandler = (req: RecordedRequest) => KubeResult<unknown> | Promise<KubeResult<unknown>>;

export class FakeTransport implements Transport {
  readonly requests: RecordedRequest[] = [];
  readonly watches: FakeWatch[] = [];
  handler: FakeHandler;
  #watchWaiters: Array<(w: FakeWatch) => void> = [];

  constructor(handler: FakeHandler = () => ({ ok: false, error: { kind: 'NotFound', status: 404, reason: 'NotFound', message: 'not found' } })) {
    this.handler = handler;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<KubeResult<T>> {
    const body = typeof opts.body === 'string' ? safeParse(opts.body) : opts.body;
    const req: RecordedRequest = { method, path, query: opts.query ?? {}, body, contentType: opts.contentType };
    this.requests.push(req);
    return (await this.handler(req)) as KubeResult<T>;
  }

  watch(path: string, query: Query, onEvent: (e: WatchEvent) => void): WatchHandle {
    let finish!: (e: WatchEnd) => void;
    let ended = false;
    const done = new Promise<WatchEnd>((r) => (finish = r));
    const w: FakeWatch = {
      path,
      query,
      emit: (e) => {
        if (!ended) onEvent(e);
      },
      end: (e = { kind: 'closed' }) => {
        if (ended) return;
        ended = true;
        finish(e);
      },
      get ended() {
        return ended;
      },
    };
    this.watches.push(w);
    const waiters = this.#watchWaiters;
    this.#watchWaiters = [];
    for (const f of waiters) f(w);
    return { done, abort: () => w.end({ kind: 'closed' }) };
  }

  /** Resolves with the next watch opened (or the latest one still open, if any). */
  nextWatch(): Promise<FakeWatch> {
    return new Promise((r) => this.#watchWaiters.push(r));
  }

  close(): void {
    for (const w of this.watches) w.end();
  }
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
