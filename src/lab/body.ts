// Request bodies: size-limited reads (kube-apiserver's 3 MiB MaxRequestBodyBytes) and JSON-or-YAML decoding.
import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { Errors, type Failure } from './status.ts';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer | Failure> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve(Errors.tooLarge(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        resolve(Errors.tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        resolve(Errors.badRequest('error reading the request body'));
      }
    });
  });
}

/** Decodes JSON, or YAML when JSON fails (kubectl sends JSON; people and scripts send YAML). */
export function decodeBody(buf: Buffer, contentType: string | undefined): { ok: true; value: unknown } | { ok: false; failure: Failure } {
  const text = buf.toString('utf8');
  if (text.trim() === '') return { ok: false, failure: Errors.badRequest('the request body is empty') };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    const jsonErr = (e as Error).message;
    const ct = (contentType ?? '').toLowerCase();
    const yamlish = ct.includes('yaml') || !ct.includes('json');
    if (yamlish || !/^\s*[[{]/.test(text)) {
      try {
        const v = parseYaml(text, { maxAliasCount: 100, uniqueKeys: false }) as unknown;
        if (v !== null && typeof v === 'object') return { ok: true, value: v };
        return { ok: false, failure: Errors.badRequest(`couldn't get version/kind; json parse error: ${jsonErr}`) };
      } catch (ye) {
        return { ok: false, failure: Errors.badRequest(`error converting YAML to JSON: ${(ye as Error).message.split('\n')[0]}`) };
      }
    }
    return { ok: false, failure: Errors.badRequest(`couldn't get version/kind; json parse error: ${jsonErr}`) };
  }
}
