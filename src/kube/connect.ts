// connect(): the one entry point to an API server (the lab or a real cluster).
import { KubeClient } from './client.ts';
import type { KubeObject } from './client.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { loadClusterAccess, type ClusterAccess } from './kubeconfig.ts';
import type { Resource } from './resources.ts';
import { HttpsTransport } from './transport.ts';
import { realClock } from './clock.ts';

export interface ConnectOptions {
  /** Path of a kubeconfig; else $KUBECONFIG, ~/.kube/config, in-cluster. */
  kubeconfig?: string;
  context?: string;
  /** `fieldManager` for writes and the User-Agent (e.g. `berth-controller`). */
  component?: string;
  maxSockets?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Kube {
  readonly client: KubeClient;
  readonly access: ClusterAccess;
  /** The kubeconfig context's namespace (or the pod's), when known. */
  readonly namespace: string | undefined;
  informer<T extends KubeObject = KubeObject>(
    resource: Resource,
    opts?: Omit<InformerOptions<T>, 'client' | 'resource'>,
  ): Informer<T>;
  close(): void;
}

export type ConnectResult = { ok: true; kube: Kube } | { ok: false; message: string };

export async function connect(opts: ConnectOptions = {}): Promise<ConnectResult> {
  const loaded = await loadClusterAccess({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
  if (!loaded.ok) return loaded;
  const access = loaded.access;
  const transport = new HttpsTransport(access, {
    ...(opts.maxSockets !== undefined ? { maxSockets: opts.maxSockets } : {}),
    userAgent: opts.component ?? 'berth',
  });
  const client = new KubeClient(transport, { fieldManager: opts.component ?? 'berth' });
  const informers = new Set<Informer<KubeObject>>();
  const kube: Kube = {
    client,
    access,
    namespace: access.namespace,
    informer<T extends KubeObject = KubeObject>(
      resource: Resource,
      io: Omit<InformerOptions<T>, 'client' | 'resource'> = {},
    ): Informer<T> {
      const inf = new Informer<T>({ ...io, client, resource });
      informers.add(inf as unknown as Informer<KubeObject>);
      return inf;
    },
    close() {
      for (const i of informers) void i.stop();
      transport.close();
    },
  };
  return { ok: true, kube };
}

export interface RetryOptions {
  /** First delay (default 500 ms); doubles after each failure. */
  readonly initialMs?: number;
  /** Cap of the delay (default 30 s, as the informers). */
  readonly maxMs?: number;
  /** One line per failure (so once per backoff step), naming what failed, why, and the next delay. */
  readonly log?: (line: string) => void;
  /** Stops retrying: the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Waits `ms` (tests pass a fake; default setTimeout, woken early by `signal`). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> => realClock.sleep(ms, signal);

/** The delays of capped exponential backoff: initial, 2×initial, … up to max (no jitter: processes are few). */
export function backoffDelay(attempt: number, initialMs = 500, maxMs = 30_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}

/**
 * Runs `attempt` until it resolves, waiting with capped exponential backoff after each rejection, and logging each
 * failure once (`<what> failed: <message>; retrying in <n> ms`). Never gives up on its own: a process that needs the
 * API server waits for it instead of exiting (a CrashLoopBackOff during every control-plane hiccup otherwise).
 * Rejects only when `signal` aborts.
 */
export async function retryWithBackoff<T>(what: string, attempt: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const sleep = o.sleep ?? realSleep;
  for (let n = 0; ; n++) {
    if (o.signal?.aborted) throw o.signal.reason ?? new Error(`${what}: stopped`);
    try {
      return await attempt();
    } catch (e) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error(`${what}: stopped`);
      const ms = backoffDelay(n, o.initialMs, o.maxMs);
      o.log?.(`${what} failed: ${e instanceof Error ? e.message : String(e)}; retrying in ${ms} ms`);
      await sleep(ms, o.signal);
    }
  }
}

/**
 * connect(), retried with backoff while the kubeconfig cannot be loaded (not written yet, a mounted token not there
 * yet). Loading does not contact the API server: an unreachable server shows later, in the informers and writes,
 * which retry by themselves.
 */
export function connectWithRetry(opts: ConnectOptions, retry: RetryOptions = {}): Promise<Kube> {
  return retryWithBackoff(
    'loading the kubeconfig',
    async () => {
      const r = await connect(opts);
      if (!r.ok) throw new Error(r.message);
      return r.kube;
    },
    retry,
  );
}
