// Loopback plumbing for end-to-end tests: free ports for the processes under test, and plain GETs of their HTTP
// endpoints (/metrics, /healthz, /readyz).
import dgram from 'node:dgram';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (bound to port 0, read, closed): for a server the test starts next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * A TCP port on `host` that nothing listens on, in 10000-15999 (within the BGPPeer CRD's peerPort range, at most
 * 16384): a random one bound once to check, then closed; throws after 50 tries naming `host`.
 */
export async function unusedPeerPort(host: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 6000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt > 50) throw new Error(`no free TCP port found on ${host} in 10000-15999`);
  }
}

/** A UDP port free on 127.0.0.1 right now (e.g. for the speakers' heartbeats, --memberlist-port). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * GET `url` (http or https; https accepts any certificate, e.g. the webhook's self-signed one) with a 5 s socket
 * timeout. Resolves with the status code and the body whatever the status; rejects on a connection error.
 */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.on('error', reject);
  });
}
