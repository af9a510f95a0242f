// HTTP(S) to the API server: JSON requests over one keep-alive agent, and streaming watches.
// Why not client-node's generated clients for this: they build a new https.Agent (so a new TLS handshake) for every call
// and deserialize into model classes (timestamps become Date objects), while watches deliver raw JSON. berth keeps one
// shape (the API's JSON) from list and watch alike, and reuses connections: the controller writes thousands of
// status patches in a burst. Authentication still follows kubeconfig (see kubeconfig.ts).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { ClusterAccess } from './kubeconfig.ts';
import { kubeError, transportError, type KubeError, type KubeResult } from './errors.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  /** Sent as JSON unless it is already a string. */
  readonly body?: unknown;
  /** Default `application/json`. Patches name their type (see patch.ts). */
  readonly contentType?: string;
  /** Default 30 s. */
  readonly timeoutMs?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: unknown;
}

/** Why a watch stream ended: the server closed it (timeoutSeconds; restart from the last resourceVersion) or it failed. */
export type WatchEnd = { readonly kind: 'closed' } | { readonly kind: 'error'; readonly error: KubeError };

export interface WatchHandle {
  readonly done: Promise<WatchEnd>;
  abort(): void;
}

/** The seam between berth and the API server; tests substitute fakes. */
export interface Transport {
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<KubeResult<T>>;
  watch(path: string, query: Query, onEvent: (e: WatchEvent) => void): WatchHandle;
  close(): void;
}

export interface HttpsTransportOptions {
  /**
   * Connections per API server (default 8); more concurrent requests wait in the agent for a free one. A request on
   * loopback or a LAN takes 1-3 ms of the API server's time, so 8 connections carry thousands of requests per second,
   * and more only add TLS handshakes and memory (docs/controller.md "Connections").
   */
  readonly maxSockets?: number;
  /**
   * Idle keep-alive connections kept after a burst (default: maxSockets, so a steady load never closes and re-opens
   * connections — each re-open is a TLS handshake on both ends, 8 % of a controller's CPU at 100
   * creates/s with 4 kept); the others are closed as their requests end. Each idle TLS connection costs 100-130 KiB of
   * RSS outside the V8 heap: a controller that filled 10,000 Services with 32 connections kept 27 of them.
   */
  readonly maxFreeSockets?: number;
  readonly userAgent?: string;
}

/** A non-empty path whose characters a request target holds as they are (RFC 3986 pchar and `/`), with no dot segment. */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~%!$&'()*+,;=:@]*)+$/;

export class HttpsTransport implements Transport {
  readonly #access: ClusterAccess;
  readonly #mod: typeof https | typeof http;
  readonly #agent: http.Agent;
  readonly #watchAgent: http.Agent;
  readonly #ua: string;
  readonly #watches = new Set<WatchHandle>();
  /** The server URL's parts, parsed once (a URL object per request was 2 % of a controller's CPU: issue 12). */
  readonly #base: { readonly protocol: string; readonly hostname: string; readonly port?: number; readonly auth?: string; readonly prefix: string };

  constructor(access: ClusterAccess, opts: HttpsTransportOptions = {}) {
    this.#access = access;
    const server = new URL(access.server);
    const secure = server.protocol === 'https:';
    this.#base = {
      protocol: server.protocol,
      // http.request takes an IPv6 host without its brackets (as url.urlToHttpOptions gives it).
      hostname: server.hostname.startsWith('[') ? server.hostname.slice(1, -1) : server.hostname,
      ...(server.port !== '' ? { port: Number(server.port) } : {}),
      // Credentials in the server URL, as url.urlToHttpOptions passes them (Basic authentication).
      ...(server.username || server.password ? { auth: `${decodeURIComponent(server.username)}:${decodeURIComponent(server.password)}` } : {}),
      prefix: server.pathname === '/' ? '' : server.pathname,
    };
    this.#mod = secure ? https : http;
    // One SecureContext for every connection: given ca/cert/key instead, Node builds a new one per connection (parsing
    // the CA bundle each time: 3.4 % of a controller's CPU in a profile at 100 creates/s).
    const tlsOpts = secure
      ? {
          secureContext: tls.createSecureContext({
            ...(access.ca ? { ca: access.ca } : {}),
            ...(access.cert ? { cert: access.cert } : {}),
            ...(access.key ? { key: access.key } : {}),
          }),
          rejectUnauthorized: !access.insecureSkipTlsVerify,
          ...(access.tlsServerName ? { servername: access.tlsServerName } : {}),
        }
      : {};
    const Agent = secure ? https.Agent : http.Agent;
    const maxSockets = opts.maxSockets ?? 8;
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: opts.maxFreeSockets ?? maxSockets, ...tlsOpts });
    // Watches are long-lived: their own agent so they never starve ordinary requests of sockets.
    this.#watchAgent = new Agent({ keepAlive: false, ...tlsOpts });
    this.#ua = opts.userAgent ?? 'berth';
  }

  get server(): string {
    return this.#access.server;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<KubeResult<T>> {
    const what = `${method} ${path}`;
    let auth: string | undefined;
    try {
      auth = await this.#access.authorization();
    } catch (e) {
      return { ok: false, error: transportError(e, `${what}: authentication`) };
    }
    const body =
      opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.#ua };
    if (auth) headers.Authorization = auth;
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve) => {
      const req = this.#mod.request(
        this.#target(path, opts.query, { method, headers, agent: this.#agent }),
        (res) => {
          // Decoded chunk by chunk into a V8 string rather than kept as Buffers and concatenated: a 10,000-item list
          // is megabytes, and as malloc'd Buffers (the chunks, then their concatenation) it left glibc's arena that
          // much bigger for good after the burst; V8's heap hands the same memory back once the string dies.
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (c: string) => (text += c));
          res.on('error', (e) => resolve({ ok: false, error: transportError(e, what) }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let parsed: unknown = text;
            if (text !== '') {
              try {
                parsed = JSON.parse(text);
              } catch {
                // keep the text: error bodies from proxies are not always JSON
              }
            } else {
              parsed = undefined;
            }
            if (status >= 200 && status < 300) resolve({ ok: true, value: parsed as T });
            else resolve({ ok: false, error: kubeError(status, parsed, what) });
          });
        },
      );
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error('request timed out')));
      req.on('error', (e) => resolve({ ok: false, error: transportError(e, what) }));
      req.end(body);
    });
  }

  watch(path: string, query: Query, onEvent: (e: WatchEvent) => void): WatchHandle {
    const what = `WATCH ${path}`;
    let req: http.ClientRequest | undefined;
    let aborted = false;
    let finish!: (end: WatchEnd) => void;
    const done = new Promise<WatchEnd>((resolve) => {
      let settled = false;
      finish = (end) => {
        if (settled) return;
        settled = true;
        resolve(end);
      };
    });
    const handle: WatchHandle = {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
        finish({ kind: 'closed' });
      },
    };
    this.#watches.add(handle);
    void done.then(() => this.#watches.delete(handle));
    void (async () => {
      let auth: string | undefined;
      try {
        auth = await this.#access.authorization();
      } catch (e) {
        finish({ kind: 'error', error: transportError(e, `${what}: authentication`) });
        return;
      }
      if (aborted) return;
      const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.#ua };
      if (auth) headers.Authorization = auth;
      // A silent stream is a dead one: the server's timeoutSeconds plus a margin bounds the wait for any byte.
      const idleMs = (Number(query.timeoutSeconds ?? 300) + 30) * 1000;
      req = this.#mod.request(
        this.#target(path, { ...query, watch: 'true' }, { method: 'GET', headers, agent: this.#watchAgent }),
        (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {
                // not JSON
              }
              finish({ kind: 'error', error: kubeError(status, parsed, what) });
            });
            res.on('error', (e) => finish({ kind: 'error', error: transportError(e, what) }));
            return;
          }
          res.setEncoding('utf8');
          let buf = '';
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (line === '') continue;
              let ev: WatchEvent;
              try {
                ev = JSON.parse(line) as WatchEvent;
              } catch {
                continue; // a torn line cannot be trusted; the informer relists if it missed something
              }
              if (aborted) return;
              onEvent(ev);
            }
          });
          res.on('end', () => finish({ kind: 'closed' }));
          res.on('close', () => finish({ kind: 'closed' }));
          res.on('error', (e) => finish(aborted ? { kind: 'closed' } : { kind: 'error', error: transportError(e, what) }));
        },
      );
      req.setTimeout(idleMs, () => req?.destroy(new Error('watch idle timeout')));
      req.on('error', (e) => finish(aborted ? { kind: 'closed' } : { kind: 'error', error: transportError(e, what) }));
      req.end();
    })();
    return handle;
  }

  close(): void {
    for (const w of [...this.#watches]) w.abort();
    this.#agent.destroy();
    this.#watchAgent.destroy();
  }

  /**
   * The request options for `path` (and `query`) on the server: its protocol, host and port parsed once, the path
   * concatenated to the server's path prefix (a server URL may carry one: proxies such as Rancher's), the query encoded
   * as URLSearchParams does. A path with characters a request target may not hold as they are goes through a URL
   * (which percent-encodes them), as every path did before.
   */
  #target(path: string, query: Query | undefined, extra: http.RequestOptions): http.RequestOptions {
    const b = this.#base;
    let target: string;
    if (PLAIN_PATH.test(path)) target = b.prefix + path;
    else {
      const u = new URL(this.#access.server + path);
      target = u.pathname;
    }
    if (query) {
      let search: URLSearchParams | undefined;
      for (const k in query) {
        const v = query[k];
        if (v !== undefined) (search ??= new URLSearchParams()).set(k, String(v));
      }
      if (search) target += `?${search.toString()}`;
    }
    return {
      protocol: b.protocol,
      hostname: b.hostname,
      ...(b.port !== undefined ? { port: b.port } : {}),
      ...(b.auth !== undefined ? { auth: b.auth } : {}),
      path: target,
      ...extra,
    };
  }
}
