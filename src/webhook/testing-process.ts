// Test and bench helpers that run the real webhook process (src/webhook/main.ts) and talk to it over HTTPS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface WebhookProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `main.ts` and resolves once it printed its ready line (rejects on exit or after `timeoutMs`). */
export function startWebhookProcess(args: readonly string[], opts: { timeoutMs?: number; waitReady?: boolean } = {}): Promise<WebhookProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN, '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  const exitedP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  return new Promise((resolve, reject) => {
    let port = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`webhook process not ready after ${opts.timeoutMs ?? 30_000} ms:\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /webhook: listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && port === 0) port = Number(m[1]);
      const ready = opts.waitReady === false ? port !== 0 : /webhook: ready /.test(out);
      if (port !== 0 && ready) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (x: Buffer) => (out += x.toString()));
        resolve({
          url: `https://127.0.0.1:${port}`,
          port,
          pid: child.pid!,
          output: () => out,
          stop: async () => {
            if (!exited) child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exitedP;
            clearTimeout(t);
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (port === 0 || !/webhook: ready /.test(out)) reject(new Error(`webhook process exited (${code}):\n${out}`));
    });
  });
}

/** POSTs a JSON body over HTTPS, trusting `caPem`; resolves with the status and parsed body. */
export function postJson(
  agent: https.Agent,
  url: string,
  body: unknown,
  caPem: string,
): Promise<{ status: number; body: unknown }> {
  const u = new URL(url);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent,
        ca: caPem,
        servername: 'berth-webhook-service.metallb-system.svc',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: text });
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Objects from berth's YAML files (multi-document), e.g. the CRDs in gitops/base/crds or policies/webhooks. */
export function yamlObjects(files: readonly string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const f of files) {
    for (const d of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const o = d.toJSON() as Record<string, unknown> | null;
      if (o && typeof o === 'object' && o['kind'] !== 'Kustomization') out.push(o);
    }
  }
  return out;
}

/** Every YAML file of a folder of this checkout (sorted), e.g. `repoPath('gitops/base/crds')`. */
export function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .map((f) => join(dir, f));
}

export function repoPath(rel: string): string {
  return fileURLToPath(new URL(`../../${rel}`, import.meta.url));
}
