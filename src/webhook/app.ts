// The webhook's express app, built from injected dependencies (no listen: server.ts serves it over HTTPS).
// Every POST answer is a well-formed AdmissionReview echoing request.uid — including undecodable input, oversized
// bodies and handler failures (one error middleware, style §7.4): anything else is a failed call that failurePolicy
// would decide, and the user would read a transport error instead of the reason.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { BerthAnnotations, Annotations } from '../api/annotations.ts';
import type { ConfigDeps } from './validate-config.ts';
import { validateConfigObject, CONFIG_WEBHOOKS } from './validate-config.ts';
import type { ReviewResult, WebhookMetrics } from './metrics.ts';
import { mutateService } from './mutate-service.ts';
import { decodeReview, errored, review, type AdmissionRequest, type AdmissionResponse } from './review.ts';
import type { ServiceDeps } from './service-deps.ts';
import { validateService } from './validate-service.ts';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready (empty when ready). */
  readonly reasons: readonly string[];
}

/**
 * One admission decision, as the webhook logs it (one structured line per review answered).
 * `result`: allowed (admitted, IPs taken or nothing to do), pending (admitted without an IP: the Service stays
 * `<pending>`; `code` says why), denied (refused: `code`/`reason` say why), error (the review could not be decided).
 * `ips`/`pool`: what the Service holds after this decision, when the webhook knows it. `durationMs`: time to answer.
 */
export interface AdmissionDecision {
  readonly webhook: string;
  readonly operation: string;
  readonly uid: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly result: 'allowed' | 'pending' | 'denied' | 'error';
  readonly patched: boolean;
  readonly status?: number;
  readonly code?: string;
  readonly reason?: string;
  readonly ips?: readonly string[];
  readonly pool?: string;
  readonly warnings: number;
  readonly dryRun: boolean;
  readonly durationMs: number;
}

export interface AppDeps {
  readonly service: ServiceDeps;
  readonly config: ConfigDeps;
  readonly readiness: () => Readiness;
  readonly registry?: Registry;
  readonly metrics?: WebhookMetrics;
  /** Body limit in bytes (default 6 MiB: the API server's 3 MiB request limit, and a review carries object + oldObject). */
  readonly bodyLimit?: number;
  /** Called for handler failures (bugs, API server errors); the reply is still a review. */
  readonly onError?: (path: string, err: unknown) => void;
  /**
   * Why the webhook cannot decide yet (e.g. its caches are not synced), or undefined. While set, every review is
   * answered with an error (503) naming the reason, never with a decision made on empty caches.
   */
  readonly notDeciding?: () => string | undefined;
  /** Called once per review answered on an admission path (the webhook's decision log). */
  readonly decision?: (d: AdmissionDecision) => void;
}

type Handler = (request: AdmissionRequest) => Promise<AdmissionResponse>;

function resultOf(r: AdmissionResponse): ReviewResult {
  if (!r.allowed) return r.status && r.status.code >= 500 ? 'error' : 'denied';
  return r.patch ? 'patched' : 'allowed';
}

function annotationsOf(obj: unknown): Record<string, unknown> {
  const a = (obj as { metadata?: { annotations?: unknown } } | null)?.metadata?.annotations;
  return a !== null && typeof a === 'object' ? (a as Record<string, unknown>) : {};
}

/** The decision log record of one answered review (see AdmissionDecision). */
export function decisionOf(
  webhook: string,
  operation: string,
  request: AdmissionRequest | undefined,
  r: AdmissionResponse,
  durationMs: number,
): AdmissionDecision {
  const audit = r.auditAnnotations ?? {};
  const code = r.status?.code;
  const result: AdmissionDecision['result'] = r.allowed
    ? audit.pending
      ? 'pending'
      : 'allowed'
    : code !== undefined && (code >= 500 || code === 400 || code === 413)
      ? 'error'
      : 'denied';
  const meta = (request?.object as { metadata?: { name?: unknown; generateName?: unknown } } | null)?.metadata;
  const name = request?.name || (typeof meta?.name === 'string' ? meta.name : '') || (typeof meta?.generateName === 'string' ? `${meta.generateName}*` : '');
  // What the Service holds after the decision: the mutating webhook's audit annotations, else its annotations.
  const ann = annotationsOf(request?.object);
  const ipsText = audit['assigned-ips'] ?? (r.allowed && typeof ann[BerthAnnotations.assignedIPs] === 'string' ? (ann[BerthAnnotations.assignedIPs] as string) : '');
  const pool = audit.pool ?? (r.allowed && typeof ann[Annotations.ipAllocatedFromPool] === 'string' ? (ann[Annotations.ipAllocatedFromPool] as string) : undefined);
  const why = audit.pending ?? audit.code;
  return {
    webhook,
    operation,
    uid: request?.uid ?? r.uid,
    kind: request?.kind.kind ?? '',
    namespace: request?.namespace ?? '',
    name,
    result,
    patched: r.patch !== undefined,
    ...(code !== undefined ? { status: code } : {}),
    ...(why ? { code: why } : {}),
    ...(r.status?.message ? { reason: r.status.message } : {}),
    ...(ipsText ? { ips: ipsText.split(',').filter((s) => s !== '') } : {}),
    ...(pool ? { pool } : {}),
    warnings: r.warnings?.length ?? 0,
    dryRun: request?.dryRun ?? false,
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
}

/** Reads a request body up to `limit` bytes; `undefined` when it was larger (the rest is discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendReview(res: ServerResponse, response: AdmissionResponse): void {
  const body = JSON.stringify(review(response));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const MB = 1024 * 1024;

/**
 * The webhook's request listener: admission POSTs (`/mutate/service`, `/validate/service`, `/validate/<config kind>` and
 * MetalLB's paths) are answered directly — raw body, one JSON.parse, one JSON.stringify — and never enter express (its
 * per-request work: prototype swaps of req/res, the router's URL parsing and layer matching, a finalhandler; issue 12:
 * CPU per Service under a CPU hog); everything else (`/healthz`, `/readyz`, `/metrics`, unknown paths) goes to express.
 */
export function buildApp(deps: AppDeps): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  const limit = deps.bodyLimit ?? 6 * MB;
  const routes = new Map<string, { name: string; handler: Handler }>();

  type Answer = { response: AdmissionResponse; operation: string; request?: AdmissionRequest };
  const answer = async (name: string, handler: Handler, body: unknown): Promise<Answer> => {
    const d = decodeReview(body);
    if (!d.ok) return { response: errored(d.uid, 400, `undecodable AdmissionReview: ${d.message}`), operation: 'unknown' };
    const waiting = deps.notDeciding?.();
    if (waiting !== undefined) {
      return { response: errored(d.request.uid, 503, `berth webhook is not ready: ${waiting}`), operation: d.request.operation, request: d.request };
    }
    try {
      return { response: await handler(d.request), operation: d.request.operation, request: d.request };
    } catch (e) {
      deps.onError?.(name, e);
      return {
        response: errored(d.request.uid, 500, `${name}: ${e instanceof Error ? e.message : String(e)}`),
        operation: d.request.operation,
        request: d.request,
      };
    }
  };

  // The admission paths, outside express: they are the hot path (every LoadBalancer Service write in the cluster),
  // and a review in, a review out needs no more than this.
  const admit = async (req: IncomingMessage, res: ServerResponse, route: { name: string; handler: Handler }): Promise<void> => {
    const t0 = performance.now();
    let response: AdmissionResponse;
    let operation = 'unknown';
    let request: AdmissionRequest | undefined;
    const raw = await readBody(req, limit);
    if (raw === undefined) {
      response = errored('', 413, `cannot read the AdmissionReview: request entity too large (limit ${limit} bytes)`);
    } else {
      let body: unknown;
      let parsed = true;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        parsed = false;
        response = errored('', 400, `cannot read the AdmissionReview: ${(e as Error).message}`);
      }
      if (parsed) ({ response, operation, request } = await answer(route.name, route.handler, body));
    }
    sendReview(res, response!);
    const seconds = (performance.now() - t0) / 1000;
    deps.metrics?.observe(route.name, operation, resultOf(response!), seconds, response!);
    if (deps.decision) {
      try {
        deps.decision(decisionOf(route.name, operation, request, response!, seconds * 1000));
      } catch (e) {
        deps.onError?.(route.name, e);
      }
    }
  };

  const route = (path: string, name: string, handler: Handler) => routes.set(path, { name, handler });
  route('/mutate/service', 'mutate-service', (r) => mutateService(deps.service, r));
  route('/validate/service', 'validate-service', (r) => validateService(deps.service, r));
  for (const w of CONFIG_WEBHOOKS) {
    const h: Handler = (r) => validateConfigObject(deps.config, w.kind, r);
    route(`/validate/${w.path}`, `validate-${w.path}`, h);
    // MetalLB's own paths, so a MetalLB webhook configuration pointed at berth keeps working.
    route(w.metallbPath, `validate-${w.path}`, h);
  }

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const r = deps.readiness();
    res
      .status(r.ready ? 200 : 503)
      .type('text/plain')
      .send(r.ready ? 'ok' : `not ready: ${r.reasons.join('; ')}`);
  });
  app.get('/metrics', async (_req, res) => {
    if (!deps.registry) {
      res.status(404).type('text/plain').send('no metrics registry');
      return;
    }
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });

  // Anything thrown outside a handler (a bug, a broken connection): still a review on POST paths (uid unknown: the
  // body could not be read), a plain status elsewhere.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: unknown; statusCode?: unknown; message?: unknown; type?: unknown };
    const raw = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
    const code = raw >= 400 && raw < 600 ? raw : 500;
    const message = typeof e?.message === 'string' ? e.message : 'request failed';
    if (code >= 500) deps.onError?.(req.path, err);
    if (res.headersSent) return;
    if (req.method === 'POST') {
      res.status(200).json(review(errored('', code, `cannot read the AdmissionReview: ${message}`)));
    } else {
      res.status(code).type('text/plain').send(message);
    }
  });
  return (req, res) => {
    const route = req.method === 'POST' ? routes.get(pathOf(req.url)) : undefined;
    if (!route) {
      app(req, res);
      return;
    }
    admit(req, res, route).catch((err: unknown) => {
      // A bug or a broken connection outside the handler (the handler's own failures are answered as reviews).
      deps.onError?.(route.name, err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendReview(res, errored('', 500, `cannot read the AdmissionReview: ${err instanceof Error ? err.message : String(err)}`));
    });
  };
}

/** The path of a request target (`/mutate/service?timeout=10s` → `/mutate/service`), as express's `req.path`. */
function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
