// connect(): the one entry point to an API server (the lab or a real cluster).
import { KubeClient } from './client.ts';
import type { KubeObject } from './client.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { loadClusterAccess, type ClusterAccess } from './kubeconfig.ts';
import type { Resource } from './resources.ts';
import { HttpsTransport } from './transport.ts';

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
