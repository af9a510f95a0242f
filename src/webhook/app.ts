// The webhook's express app, built from injected dependencies (no listen: server.ts serves it over HTTPS).
// Every POST answer is a well-formed AdmissionReview echoing request.uid — including undecodable input, oversized
// bodies and handler failures (one error middleware, style §7.4): anything else is a failed call that failurePolicy
// would decide, and the user would read a transport error instead of the reason.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
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

export interface AppDeps {
  readonly service: ServiceDeps;
  readonly config: ConfigDeps;
  readonly readiness: () => Readiness;
  readonly registry?: Registry;
  readonly metrics?: WebhookMetrics;
  /** Body limit (default 6 MB: the API server's 3 MiB request limit, and a review carries object + oldObject). */
  readonly bodyLimit?: string | number;
  /** Called for handler failures (bugs, API server errors); the reply is still a review. */
  readonly onError?: (path: string, err: unknown) => void;
}

type Handler = (request: AdmissionRequest) => Promise<AdmissionResponse>;

function resultOf(r: AdmissionResponse): ReviewResult {
  if (!r.allowed) return r.status && r.status.code >= 500 ? 'error' : 'denied';
  return r.patch ? 'patched' : 'allowed';
}

export function buildApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: deps.bodyLimit ?? '6mb' }));

  const route = (path: string, name: string, handler: Handler) => {
    app.post(path, async (req: Request, res: Response) => {
      const t0 = performance.now();
      const d = decodeReview(req.body);
      let response: AdmissionResponse;
      let operation = 'unknown';
      if (!d.ok) {
        response = errored(d.uid, 400, `undecodable AdmissionReview: ${d.message}`);
      } else {
        operation = d.request.operation;
        try {
          response = await handler(d.request);
        } catch (e) {
          deps.onError?.(path, e);
          response = errored(d.request.uid, 500, `${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      res.json(review(response));
      deps.metrics?.observe(name, operation, resultOf(response), (performance.now() - t0) / 1000);
    });
  };

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

  // Body-parser failures (malformed JSON, too large, bad charset) and anything thrown outside a handler: still a
  // review on the admission paths (uid unknown: the body could not be read), a plain status elsewhere.
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
  return app;
}
