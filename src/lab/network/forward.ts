// Reaching the lab API server from inside a network namespace without touching the main namespace's interfaces.
// The lab listens on 127.0.0.1 of the main namespace, which a namespace cannot reach; a filesystem unix socket can
// be reached from every namespace. So:
//   lab process:  unix socket <dir>/api.sock  →  TCP 127.0.0.1:<lab port>     (bridgeUnixToTcp)
//   namespace:    TCP 127.0.0.1:<lab port>   →  unix socket <dir>/api.sock   (forwarder-main.ts, one per namespace)
// Bytes pass through untouched (TLS end to end), so a speaker in a namespace uses the lab's own kubeconfig
// (`https://127.0.0.1:<lab port>`, the lab CA) unchanged.
import net from 'node:net';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The forwarder process's entry point (run with `ip netns exec <ns> node --import tsx`). */
export const FORWARDER_MAIN = fileURLToPath(new URL('./forwarder-main.ts', import.meta.url));

/** A running byte pipe listener. */
export interface Bridge {
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening and destroys the open connections. Idempotent. */
  close(): Promise<void>;
}

/** Joins two sockets both ways; either side's end or error ends the other. */
export function splice(a: net.Socket, b: net.Socket): void {
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
  a.pipe(b);
  b.pipe(a);
}

/**
 * Listens on `listen` (a unix socket path, or `{ host, port }`) and pipes every connection to `target` (a unix
 * socket path, or `{ host, port }`). A connection whose target refuses is closed at once (as a down API server
 * would be seen). Rejects when `listen` cannot be bound (e.g. EADDRINUSE), with the address in the message.
 */
export async function startBridge(listen: string | { host: string; port: number }, target: string | { host: string; port: number }): Promise<Bridge> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((inbound) => {
    accepted++;
    inbound.setNoDelay?.(true);
    const outbound = typeof target === 'string' ? net.connect(target) : net.connect({ host: target.host, port: target.port, noDelay: true });
    open.add(inbound);
    open.add(outbound);
    inbound.once('close', () => open.delete(inbound));
    outbound.once('close', () => open.delete(outbound));
    splice(inbound, outbound);
  });
  server.on('error', () => undefined);
  if (typeof listen === 'string') rmSync(listen, { force: true });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => reject(new Error(`lab network: cannot listen on ${describe(listen)}: ${e.message}`));
    server.once('error', fail);
    const done = (): void => {
      server.off('error', fail);
      resolve();
    };
    if (typeof listen === 'string') server.listen(listen, done);
    else server.listen(listen.port, listen.host, done);
  });
  let closed: Promise<void> | undefined;
  return {
    get accepted() {
      return accepted;
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => {
          if (typeof listen === 'string') rmSync(listen, { force: true });
          resolve();
        });
        for (const s of open) s.destroy();
      })),
  };
}

function describe(a: string | { host: string; port: number }): string {
  return typeof a === 'string' ? `unix:${a}` : `${a.host}:${a.port}`;
}
