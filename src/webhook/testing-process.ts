// Test and bench helpers that talk to a real webhook process over HTTPS and read the repo's manifests.
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

// The webhook process itself is started with startWebhookProcess (src/lab/processes.ts).

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
