// Calls one admission webhook over HTTPS the way kube-apiserver does: POST the AdmissionReview to the URL with
// `?timeout=<N>s`, verify the serving certificate against caBundle (service webhooks: SNI and hostname
// `<svc>.<ns>.svc`), give up after timeoutSeconds. Errors read like Go's net/http ones, since users see them in
// `failed calling webhook "...": failed to call webhook: <err>`.
import { request, Agent } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { Webhook } from './webhook-config.ts';

export interface Endpoint {
  /** The URL as users see it in errors (`https://svc.ns.svc:443/path?timeout=10s`). */
  displayUrl: string;
  host: string;
  port: number;
  path: string;
  servername: string;
}

export type CallResult = { ok: true; body: unknown } | { ok: false; error: string };

function withTimeout(path: string, seconds: number): string {
  return `${path}${path.includes('?') ? '&' : '?'}timeout=${seconds}s`;
}

/** Endpoint for a `url` clientConfig. */
export function urlEndpoint(h: Webhook): Endpoint | string {
  let u: URL;
  try {
    u = new URL(h.url ?? '');
  } catch {
    return `invalid webhook url "${h.url}"`;
  }
  if (u.protocol !== 'https:') return `webhook url "${h.url}" must use https`;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : 443;
  const path = withTimeout(`${u.pathname}${u.search}`, h.timeoutSeconds);
  return { displayUrl: `https://${u.host}${path}`, host, port, path, servername: host };
}

function goNetError(e: NodeJS.ErrnoException, host: string, port: number): string {
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'ECONNRESET':
      return `read tcp ${addr}: read: connection reset by peer`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'ENOTFOUND':
      return `dial tcp: lookup ${host}: no such host`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `tls: failed to verify certificate: x509: ${e.message}`;
    case 'CERT_HAS_EXPIRED':
      return 'tls: failed to verify certificate: x509: certificate has expired or is not yet valid';
    default:
      return e.message;
  }
}

export class WebhookClient {
  /**
   * Keep-alive agents by caBundle (base64, as the configuration holds it: the same string on every call, so the lookup
   * hashes it once) and endpoint. The PEM is decoded only when an agent is made, not on every call (issue 12: the
   * lab's CPU per admission call).
   */
  private readonly agents = new Map<string, Map<string, Agent>>();

  private agentFor(ep: Endpoint, caBundle: string | undefined): Agent {
    let byEndpoint = this.agents.get(caBundle ?? '');
    if (!byEndpoint) {
      byEndpoint = new Map();
      this.agents.set(caBundle ?? '', byEndpoint);
    }
    const key = `${ep.host}|${ep.port}|${ep.servername}`;
    let a = byEndpoint.get(key);
    if (!a) {
      const caPem = caBundle ? Buffer.from(caBundle, 'base64').toString('utf8') : undefined;
      a = new Agent({ keepAlive: true, maxSockets: 64, ...(caPem ? { ca: caPem } : {}) });
      byEndpoint.set(key, a);
    }
    return a;
  }

  close(): void {
    for (const m of this.agents.values()) for (const a of m.values()) a.destroy();
    this.agents.clear();
  }

  /** POSTs `review` and returns the decoded JSON reply, or an error text (transport, HTTP status, JSON). */
  post(h: Webhook, ep: Endpoint, review: unknown): Promise<CallResult> {
    const payload = Buffer.from(JSON.stringify(review));
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: CallResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const fail = (msg: string) => done({ ok: false, error: `Post "${ep.displayUrl}": ${msg}` });
      const req = request(
        {
          host: ep.host,
          port: ep.port,
          path: ep.path,
          method: 'POST',
          agent: this.agentFor(ep, h.caBundle || undefined),
          servername: /^[\d.]+$|:/.test(ep.servername) ? undefined : ep.servername,
          checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(ep.servername, cert),
          headers: { 'Content-Type': 'application/json', Accept: 'application/json, */*', 'Content-Length': String(payload.length), 'User-Agent': 'kube-apiserver-admission' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 10 * 1024 * 1024) {
              req.destroy();
              fail('response body too large');
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const code = res.statusCode ?? 0;
            if (code < 200 || code > 299) {
              // What client-go's rest client turns non-2xx answers into (transformResponse).
              const msg =
                code === 404
                  ? 'the server could not find the requested resource'
                  : code >= 500
                    ? `an error on the server ("${text.slice(0, 200).trim()}") has prevented the request from succeeding`
                    : `the server rejected our request for an unknown reason (${code})`;
              done({ ok: false, error: msg });
              return;
            }
            try {
              done({ ok: true, body: JSON.parse(text) as unknown });
            } catch (e) {
              done({ ok: false, error: `couldn't decode the webhook response: ${(e as Error).message}` });
            }
          });
          res.on('error', (e) => fail(goNetError(e as NodeJS.ErrnoException, ep.host, ep.port)));
        },
      );
      const timer = setTimeout(() => {
        fail('context deadline exceeded');
        req.destroy();
      }, h.timeoutSeconds * 1000);
      req.on('error', (e) => fail(goNetError(e as NodeJS.ErrnoException, ep.host, ep.port)));
      req.end(payload);
    });
  }
}
