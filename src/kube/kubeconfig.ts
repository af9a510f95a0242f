// Where the API server is and how to authenticate: an explicit kubeconfig file, $KUBECONFIG, ~/.kube/config, or the
// in-cluster service account (the same order as client-node's loadFromDefault). Certificate and token users are read
// here directly; users with an `exec` plugin or an `auth-provider` are delegated to client-node's KubeConfig (imported
// lazily: it loads every generated API model, ~30 MB of heap the controller does not otherwise need).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

export interface ClusterAccess {
  /** `https://host:port` (no trailing slash). */
  readonly server: string;
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string;
  /** Value of the Authorization header, re-evaluated per request (token files rotate; exec plugins refresh). */
  readonly authorization: () => Promise<string | undefined>;
  /** The context's namespace (or the pod's namespace in-cluster), when known. */
  readonly namespace?: string;
  /** Human description of where this came from, for logs. */
  readonly source: string;
}

export interface LoadOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
  /** Root of the service-account files (tests). */
  serviceAccountDir?: string;
}

export type LoadResult = { ok: true; access: ClusterAccess } | { ok: false; message: string };

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedCluster {
  name: string;
  cluster?: Record<string, unknown>;
}
interface NamedUser {
  name: string;
  user?: Record<string, unknown>;
}
interface NamedContext {
  name: string;
  context?: { cluster?: string; user?: string; namespace?: string };
}
interface KubeconfigDoc {
  'current-context'?: string;
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
}

export async function loadClusterAccess(opts: LoadOptions = {}): Promise<LoadResult> {
  const env = opts.env ?? process.env;
  const files: string[] = [];
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig)) return { ok: false, message: `kubeconfig ${opts.kubeconfig} does not exist` };
    files.push(opts.kubeconfig);
  } else if (env.KUBECONFIG) {
    for (const f of env.KUBECONFIG.split(':')) if (f && existsSync(f)) files.push(f);
  } else {
    const home = join(env.HOME ?? homedir(), '.kube', 'config');
    if (existsSync(home)) files.push(home);
  }
  if (files.length > 0) {
    // yaml is loaded only when a kubeconfig file is read: in-cluster processes (the speaker) never load it.
    // yaml is CommonJS: Node's ESM loader and the esbuild bundle both give its exports as the default export.
    const yaml = (await import('yaml')) as unknown as { default: { parse: (text: string) => unknown } };
    return fromFiles(files, yaml.default.parse, opts.context);
  }
  const sa = opts.serviceAccountDir ?? SA_DIR;
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(sa, 'token'))) return inCluster(env, sa);
  return { ok: false, message: 'no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster' };
}

function inCluster(env: NodeJS.ProcessEnv, sa: string): LoadResult {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const tokenFile = join(sa, 'token');
  const nsFile = join(sa, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined;
  return {
    ok: true,
    access: {
      server: `https://${hostPart}:${port}`,
      ca: readFileSync(join(sa, 'ca.crt')),
      insecureSkipTlsVerify: false,
      authorization: tokenFileAuth(tokenFile),
      ...(namespace ? { namespace } : {}),
      source: 'in-cluster service account',
    },
  };
}

/** Bound service-account tokens rotate (about hourly): re-read the file at most once a minute. */
function tokenFileAuth(file: string): () => Promise<string | undefined> {
  let cached = '';
  let readAt = 0;
  return async () => {
    const now = Date.now();
    if (now - readAt > 60_000 || cached === '') {
      cached = readFileSync(file, 'utf8').trim();
      readAt = now;
    }
    return cached ? `Bearer ${cached}` : undefined;
  };
}

function fromFiles(files: string[], parseYaml: (text: string) => unknown, contextName?: string): LoadResult {
  // Merge like kubectl: the first file that sets a value wins (current-context, and each named entry).
  const merged: Required<Pick<KubeconfigDoc, 'clusters' | 'users' | 'contexts'>> & { current?: string } = {
    clusters: [],
    users: [],
    contexts: [],
  };
  const dirOf = new Map<object, string>();
  for (const file of files) {
    let doc: KubeconfigDoc;
    try {
      doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as KubeconfigDoc;
    } catch (e) {
      return { ok: false, message: `kubeconfig ${file} is not valid YAML: ${(e as Error).message}` };
    }
    merged.current ??= doc['current-context'] || undefined;
    for (const c of doc.clusters ?? []) {
      if (!merged.clusters.some((x) => x.name === c.name)) {
        merged.clusters.push(c);
        dirOf.set(c, dirname(file));
      }
    }
    for (const u of doc.users ?? []) {
      if (!merged.users.some((x) => x.name === u.name)) {
        merged.users.push(u);
        dirOf.set(u, dirname(file));
      }
    }
    for (const c of doc.contexts ?? []) if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c);
  }
  const wanted = contextName ?? merged.current;
  const ctx = merged.contexts.find((c) => c.name === wanted);
  if (!ctx) return { ok: false, message: `kubeconfig ${files.join(':')}: context "${wanted ?? ''}" not found` };
  const cluster = merged.clusters.find((c) => c.name === ctx.context?.cluster);
  if (!cluster?.cluster) {
    return { ok: false, message: `kubeconfig: cluster "${ctx.context?.cluster ?? ''}" of context "${ctx.name}" not found` };
  }
  const user = merged.users.find((u) => u.name === ctx.context?.user);
  const c = cluster.cluster;
  const u = user?.user ?? {};
  const cdir = dirOf.get(cluster) ?? '.';
  const udir = user ? (dirOf.get(user) ?? '.') : '.';
  const server = String(c.server ?? '').replace(/\/+$/, '');
  if (!server) return { ok: false, message: `kubeconfig: cluster "${cluster.name}" has no server` };
  const ca = dataOrFile(c['certificate-authority-data'], c['certificate-authority'], cdir);
  const cert = dataOrFile(u['client-certificate-data'], u['client-certificate'], udir);
  const key = dataOrFile(u['client-key-data'], u['client-key'], udir);
  let authorization: () => Promise<string | undefined>;
  if (u.exec || u['auth-provider']) {
    authorization = delegatedAuth(files, ctx.name);
  } else if (typeof u.token === 'string' && u.token) {
    const header = `Bearer ${u.token}`;
    authorization = async () => header;
  } else if (typeof u.tokenFile === 'string' && u.tokenFile) {
    authorization = tokenFileAuth(resolvePath(u.tokenFile, udir));
  } else if (typeof u.username === 'string' && u.username) {
    const header = `Basic ${Buffer.from(`${u.username}:${String(u.password ?? '')}`).toString('base64')}`;
    authorization = async () => header;
  } else {
    authorization = async () => undefined;
  }
  const namespace = ctx.context?.namespace;
  return {
    ok: true,
    access: {
      server,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
      ...(typeof c['tls-server-name'] === 'string' ? { tlsServerName: c['tls-server-name'] } : {}),
      authorization,
      ...(namespace ? { namespace } : {}),
      source: `kubeconfig ${files.join(':')} (context ${ctx.name})`,
    },
  };
}

function dataOrFile(data: unknown, file: unknown, dir: string): Buffer | undefined {
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  if (typeof file === 'string' && file) return readFileSync(resolvePath(file, dir));
  return undefined;
}

function resolvePath(p: string, dir: string): string {
  return isAbsolute(p) ? p : join(dir, p);
}

/** exec plugins and auth-providers: let client-node run them, caching the header for 30 s. */
function delegatedAuth(files: string[], context: string): () => Promise<string | undefined> {
  let kc: { applyToHTTPSOptions(o: object): Promise<void> } | undefined;
  let cached: string | undefined;
  let at = 0;
  return async () => {
    if (Date.now() - at < 30_000) return cached;
    if (!kc) {
      const k8s = await import('@kubernetes/client-node');
      const cfg = new k8s.KubeConfig();
      cfg.loadFromFile(files[0]!);
      cfg.setCurrentContext(context);
      kc = cfg;
    }
    const opts: { headers?: Record<string, unknown> } = {};
    await kc.applyToHTTPSOptions(opts);
    const h = opts.headers?.Authorization ?? opts.headers?.authorization;
    cached = typeof h === 'string' ? h : undefined;
    at = Date.now();
    return cached;
  };
}
