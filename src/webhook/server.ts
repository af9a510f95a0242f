// Serves the app over HTTPS: TLS ≥ 1.2, HTTP/1.1 keep-alive (the API server reuses connections), bounded header and
// request times, and certificate reload without restart (tls.Server#setSecureContext: existing connections keep their
// context, new handshakes get the new one; nodejs.org/api/tls.html#serversetsecurecontextoptions).
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';

export interface ServingCert {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ServeOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly cert: ServingCert;
  /** Whole-request bound (default 10 s; the API server gives up after timeoutSeconds ≤ 5). */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive (default 75 s: longer than Go's client idle timeout, so the server is not the one to close). */
  readonly keepAliveTimeoutMs?: number;
}

export interface WebhookServer {
  readonly port: number;
  readonly host: string;
  /** Replaces the serving certificate for new connections. Throws if the PEMs are not a usable pair. */
  setCertificate(cert: ServingCert): void;
  /** The certificate being served now. */
  certificate(): ServingCert;
  /** Serves new requests with `app` from now on (a process listens for probes before its admission app exists). */
  setHandler(app: RequestListener): void;
  close(): Promise<void>;
}

const TLS_OPTIONS = { minVersion: 'TLSv1.2' as const };

export async function serve(app: RequestListener, opts: ServeOptions): Promise<WebhookServer> {
  let current = opts.cert;
  let handler = app;
  const server = https.createServer({ ...TLS_OPTIONS, cert: current.certPem, key: current.keyPem }, (req, res) => handler(req, res));
  server.requestTimeout = opts.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 75_000;
  // Broken clients must not kill the process: a TLS or parse error is that connection's problem.
  server.on('tlsClientError', () => undefined);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    port: addr.port,
    host: opts.host,
    setCertificate(cert) {
      server.setSecureContext({ ...TLS_OPTIONS, cert: cert.certPem, key: cert.keyPem });
      current = cert;
    },
    certificate: () => current,
    setHandler(next) {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
