// Serving a registry on /metrics over plain HTTP (the Prometheus text format). `metricsHandler` is reusable by any
// process with its own server (the webhook mounts it on its HTTPS app); `serveMetrics` is the standalone listener.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** GET/HEAD → the registry's exposition; anything else 405. */
export function metricsHandler(registry: Registry): NodeHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`collecting metrics failed: ${String(e)}\n`);
      },
    );
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 = any free port) serving /metrics (and /healthz → ok). */
export function serveMetrics(registry: Registry, opts: { port: number; host?: string }): Promise<MetricsServer> {
  const metrics = metricsHandler(registry);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics(req, res);
    if (path === '/healthz') return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
