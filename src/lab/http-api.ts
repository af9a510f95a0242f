// HTTP front of the lab: URL routing like kube-apiserver's (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go),
// query parameters, content negotiation (JSON, Table), Status answers for every failure. Every request is
// wrapped: an exception becomes a 500 Status and the server keeps serving.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, isFailure, type Failure } from './status.ts';
import { readBody, decodeBody } from './body.ts';
import type { Registry } from './registry.ts';
import type { Rest, Reply, Target, ListQuery } from './rest.ts';
import { warningHeader } from './rest.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, VERSION_INFO } from './discovery.ts';
import { openapiForPath, openapiRoot } from './openapi.ts';
import { decodeK8sProtobuf } from './protobuf.ts';
import { buildTable, wantsTable, type IncludeObject } from './table.ts';
import { decodeContinue, parseLimit, type ContinueToken } from './paging.ts';
import type { WatchHub } from './watch.ts';
import type { ResourceType } from './types.ts';
import { hasScale, serveScale } from './workloads/scale.ts';
import { hasEviction, serveEviction } from './workloads/eviction.ts';
import { hasLog, type PodLogs } from './workloads/pod-logs.ts';

export interface HttpApiDeps {
  registry: Registry;
  rest: Rest;
  watches: WatchHub;
  token: string;
  serverAddress: () => string;
  log: (line: string) => void;
  /** Resolves once every write so far is durable (Store.durable); answers wait for it. */
  durable?: () => Promise<void> | undefined;
  /** pods/NAME/log (src/lab/workloads/pod-logs.ts); without it the subresource is 404. */
  podLogs?: PodLogs;
}

type Route =
  | { kind: 'doc'; body: unknown }
  | { kind: 'resource'; type: ResourceType; version: string; namespace: string; name: string; subresource: string; watch: boolean };

const FIELD_SELECTABLE: Record<string, string[]> = {
  'core/events': [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
    'regarding.kind',
    'regarding.namespace',
    'regarding.name',
    'regarding.uid',
  ],
  'core/services': ['spec.type', 'spec.clusterIP'],
  'core/secrets': ['type'],
  'core/namespaces': ['status.phase'],
  'core/nodes': ['spec.unschedulable'],
  // pkg/registry/core/pod PodToSelectableFields (what kubelets and `kubectl drain` select on).
  'core/pods': ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  'apps/replicasets': ['status.replicas'],
};

export class HttpApi {
  constructor(private readonly d: HttpApiDeps) {}

  /** The request listener. Never throws; never leaves a request unanswered. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((e: unknown) => {
      req.resume();
      this.d.log(`lab: internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
      if (!res.headersSent) this.sendFailure(res, Errors.internal(`lab: ${(e as Error)?.message ?? String(e)}`));
      else if (!res.writableEnded) res.end();
    });
  };

  /** Runs `write` once the store's writes are durable (at once without persistence), or answers 500 if they cannot be. */
  private whenDurable(res: ServerResponse, write: () => void): void {
    const p = this.d.durable?.();
    if (!p) return write();
    p.then(write, (e: unknown) => {
      if (!res.headersSent) this.writeFailure(res, Errors.internal(`lab: ${(e as Error).message}`));
    });
  }

  private send(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
    this.whenDurable(res, () => this.writeBody(res, code, body, warnings));
  }

  private writeBody(res: ServerResponse, code: number, body: unknown, warnings: string[]): void {
    const text = JSON.stringify(body);
    const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-cache, private' };
    if (warnings.length) headers['Warning'] = warnings.map(warningHeader);
    res.writeHead(code, headers);
    res.end(text);
  }

  private sendFailure(res: ServerResponse, f: Failure): void {
    this.whenDurable(res, () => this.writeFailure(res, f));
  }

  private writeFailure(res: ServerResponse, f: Failure): void {
    const text = JSON.stringify(f.status);
    const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-cache, private' };
    for (const [k, v] of Object.entries(f.headers)) headers[k] = v;
    res.writeHead(f.code, headers);
    res.end(text);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://lab.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    const auth = req.headers['authorization'];
    if (auth !== `Bearer ${this.d.token}`) {
      req.resume();
      this.sendFailure(res, Errors.unauthorized());
      return;
    }
    if (path === '/openapi/v2') {
      // An empty OpenAPI v2 document: protobuf (kubectl asks for it; zero bytes decode to an empty Document,
      // so client-side validation of `kind: List` files finds no model and skips), or JSON for other clients.
      req.resume();
      const accept = String(req.headers['accept'] ?? '');
      if (accept.includes('protobuf') || !accept.includes('json')) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' });
        res.end();
        return;
      }
      return this.send(res, 200, { swagger: '2.0', info: { title: 'Kubernetes', version: VERSION_INFO.gitVersion }, paths: {}, definitions: {} });
    }
    const route = this.route(path);
    if (isFailure(route)) {
      req.resume();
      this.sendFailure(res, route);
      return;
    }
    if (route.kind === 'doc') {
      req.resume();
      if (method !== 'GET' && method !== 'HEAD') return this.sendFailure(res, Errors.methodNotAllowed(method));
      return this.send(res, 200, route.body);
    }
    const r = await this.resource(req, res, method, url.searchParams, route);
    if (r === undefined) return;
    if (isFailure(r)) return this.sendFailure(res, r);
    this.send(res, r.code, r.body, r.warnings);
  }

  private route(path: string): Route | Failure {
    const reg = this.d.registry;
    if (path === '/version') return { kind: 'doc', body: VERSION_INFO };
    if (path === '/api') return { kind: 'doc', body: apiVersions(this.d.serverAddress()) };
    if (path === '/apis') return { kind: 'doc', body: apiGroupList(reg) };
    if (path === '/openapi/v3') return { kind: 'doc', body: openapiRoot(reg) };
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiForPath(reg, path.slice('/openapi/v3/'.length));
      return doc ? { kind: 'doc', body: doc } : Errors.pathNotFound();
    }
    let segs: string[];
    try {
      segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return Errors.pathNotFound();
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 2) {
      group = '';
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 2) {
      group = segs[1]!;
      if (segs.length === 2) {
        const g = apiGroup(reg, group);
        return g ? { kind: 'doc', body: g } : Errors.pathNotFound();
      }
      version = segs[2]!;
      rest = segs.slice(3);
    } else return Errors.pathNotFound();
    if (rest.length === 0) {
      const doc = apiResourceList(reg, group, version);
      return doc ? { kind: 'doc', body: doc } : Errors.pathNotFound();
    }
    let watch = false;
    if (rest[0] === 'watch') {
      watch = true;
      rest = rest.slice(1);
    }
    let namespace = '';
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const t = reg.resolve(group, version, rest[2]!);
      if (t && t.namespaced) {
        namespace = rest[1]!;
        rest = rest.slice(2);
      }
    }
    const [plural, name = '', subresource = '', ...extra] = rest;
    if (extra.length) return Errors.pathNotFound();
    const type = reg.resolve(group, version, plural!);
    if (!type) return Errors.pathNotFound();
    if (!type.namespaced && namespace) return Errors.pathNotFound();
    if (subresource && !(subresource === 'status' && type.statusSubresource) && !(subresource === 'finalize' && type.storeKey === 'core/namespaces') && !(subresource === 'scale' && hasScale(type.storeKey)) && !hasEviction(type.storeKey, subresource) && !(hasLog(type.storeKey, subresource) && this.d.podLogs)) {
      return Errors.pathNotFound();
    }
    return { kind: 'resource', type, version, namespace, name, subresource: subresource === 'finalize' ? '' : subresource, watch };
  }

  private listQuery(q: URLSearchParams, type: ResourceType, namespace: string): ListQuery | Failure {
    const ls = parseLabelSelector(q.get('labelSelector') ?? '');
    if (!ls.ok) return Errors.badRequest(`unable to parse requirement: ${ls.error}`);
    const fs = parseFieldSelector(q.get('fieldSelector') ?? '');
    if (!fs.ok) return Errors.badRequest(fs.error);
    const allowed = new Set(['metadata.name', 'metadata.namespace', ...(FIELD_SELECTABLE[type.storeKey] ?? [])]);
    for (const f of fs.value) {
      if (!allowed.has(f.field)) return Errors.badRequest(`field label not supported: ${f.field}`);
    }
    return { namespace, labels: ls.value, fields: fs.value };
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    q: URLSearchParams,
    r: Extract<Route, { kind: 'resource' }>,
  ): Promise<Reply | Failure | undefined> {
    const { type, version } = r;
    const dryRunValues = q.getAll('dryRun');
    for (const v of dryRunValues) if (v !== 'All') return Errors.badRequest(`Invalid dryRun value: "${v}": supported values: "All"`);
    const dryRun = dryRunValues.length > 0;
    const fieldManager = q.get('fieldManager') ?? undefined;
    const opts = { dryRun, ...(fieldManager ? { fieldManager } : {}) };
    const target: Target = { type, version, namespace: r.namespace, name: r.name, subresource: r.subresource };
    const rest = this.d.rest;
    const isWatch = r.watch || q.get('watch') === 'true' || q.get('watch') === '1';
    if (!r.name) {
      if (r.subresource) return Errors.pathNotFound();
      switch (method) {
        case 'GET': {
          req.resume();
          const lq = this.listQuery(q, type, r.namespace);
          if (isFailure(lq)) return lq;
          const include = (q.get('includeObject') as IncludeObject | null) ?? 'Metadata';
          const table = wantsTable(req.headers['accept']) ? include : undefined;
          if (isWatch) {
            const rvText = q.get('resourceVersion') ?? undefined;
            if (rvText && rvText !== '0' && !/^\d+$/.test(rvText)) return Errors.badRequest(`invalid resource version: ${rvText}`);
            const ts = q.get('timeoutSeconds');
            this.d.watches.serve(
              {
                type,
                version,
                namespace: r.namespace,
                labels: lq.labels,
                fields: lq.fields,
                resourceVersion: rvText,
                timeoutSeconds: ts !== null && /^\d+$/.test(ts) ? Number(ts) : undefined,
                bookmarks: q.get('allowWatchBookmarks') === 'true',
                table,
                present: (o) => rest.present(type, version, o),
              },
              res,
              // Not req 'close': an IncomingMessage closes once its (empty) body is consumed.
              (cb) => res.on('close', cb),
            );
            return undefined;
          }
          const limit = parseLimit(q.get('limit'));
          if (isFailure(limit)) return limit;
          const cont = q.get('continue') || undefined;
          let token: ContinueToken | undefined;
          if (cont !== undefined) {
            const rvParam = q.get('resourceVersion');
            if (rvParam) return Errors.badRequest(`specifying resource version is not allowed when using continue (resourceVersion "${rvParam}")`);
            const t = decodeContinue(cont);
            if (isFailure(t)) return t;
            token = t;
          }
          const chunk = limit > 0 || token ? rest.listChunk(type, version, lq, { limit, ...(token ? { token } : {}) }) : rest.list(type, version, lq);
          if (isFailure(chunk)) return chunk;
          const { items, resourceVersion } = chunk;
          const listMeta: Record<string, unknown> = { resourceVersion };
          if ('continue' in chunk && chunk.continue !== undefined) listMeta['continue'] = chunk.continue;
          if ('remainingItemCount' in chunk && chunk.remainingItemCount !== undefined) listMeta['remainingItemCount'] = chunk.remainingItemCount;
          if (table) {
            const t = buildTable(type, version, items, resourceVersion, table);
            t['metadata'] = listMeta;
            return { code: 200, body: t, warnings: [] };
          }
          const apiVersion = type.group ? `${type.group}/${version}` : version;
          // Built-in list items carry no apiVersion/kind on the wire (the list's do); custom resources keep them.
          const wireItems = type.crd
            ? items
            : items.map((o) => {
                const { apiVersion: _a, kind: _k, ...restOf } = o;
                return restOf;
              });
          return { code: 200, body: { kind: type.listKind, apiVersion, metadata: listMeta, items: wireItems }, warnings: [] };
        }
        case 'POST': {
          if (type.namespaced && !r.namespace) return Errors.methodNotAllowed(method);
          const body = await this.body(req);
          if (isFailure(body)) return body;
          return rest.create(target, body, opts);
        }
        case 'DELETE': {
          req.resume();
          const lq = this.listQuery(q, type, r.namespace);
          if (isFailure(lq)) return lq;
          return rest.deleteCollection(type, version, lq, { dryRun });
        }
        default:
          req.resume();
          return Errors.methodNotAllowed(method);
      }
    }
    if (type.namespaced && !r.namespace) {
      req.resume();
      return Errors.pathNotFound();
    }
    if (r.subresource === 'scale') {
      const scaleBody = method === 'PUT' || method === 'PATCH' ? await this.body(req) : req.resume() && undefined;
      if (isFailure(scaleBody)) return scaleBody;
      return serveScale(rest, target, method, req.headers['content-type'] ?? '', scaleBody, opts);
    }
    if (hasLog(type.storeKey, r.subresource) && this.d.podLogs) {
      req.resume();
      if (method !== 'GET') return Errors.methodNotAllowed(method);
      return this.d.podLogs.serve(r.namespace, r.name, q, res);
    }
    if (hasEviction(type.storeKey, r.subresource)) {
      if (method !== 'POST') {
        req.resume();
        return Errors.methodNotAllowed(method);
      }
      const eviction = await this.body(req);
      if (isFailure(eviction)) return eviction;
      return serveEviction(rest, this.d.registry, target, eviction, opts);
    }
    switch (method) {
      case 'GET': {
        req.resume();
        if (isWatch) {
          // GET .../watch/<plural>/<name>: a watch with a metadata.name field selector.
          const lq = this.listQuery(q, type, r.namespace);
          if (isFailure(lq)) return lq;
          this.d.watches.serve(
            {
              type,
              version,
              namespace: r.namespace,
              labels: lq.labels,
              fields: [...lq.fields, { field: 'metadata.name', op: '=', value: r.name }],
              resourceVersion: q.get('resourceVersion') ?? undefined,
              timeoutSeconds: q.get('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : undefined,
              bookmarks: q.get('allowWatchBookmarks') === 'true',
              table: undefined,
              present: (o) => rest.present(type, version, o),
            },
            res,
            (cb) => res.on('close', cb),
          );
          return undefined;
        }
        const got = rest.get(target);
        if (isFailure(got)) return got;
        if (wantsTable(req.headers['accept'])) {
          const include = (q.get('includeObject') as IncludeObject | null) ?? 'Metadata';
          const o = got.body as Parameters<typeof buildTable>[2][number];
          return { code: 200, body: buildTable(type, version, [o], o.metadata.resourceVersion ?? '', include), warnings: [] };
        }
        return got;
      }
      case 'PUT': {
        const body = await this.body(req);
        if (isFailure(body)) return body;
        return rest.update(target, body, opts);
      }
      case 'PATCH': {
        const ct = req.headers['content-type'] ?? '';
        const body = await this.body(req);
        if (isFailure(body)) return body;
        return rest.patch(target, ct, body, { ...opts, force: q.get('force') === 'true' });
      }
      case 'DELETE': {
        if (r.subresource) {
          req.resume();
          return Errors.methodNotAllowed(method);
        }
        const raw = await readBody(req);
        if (isFailure(raw)) return raw;
        let preconditions: { uid?: string; resourceVersion?: string } | undefined;
        let propagationPolicy = q.get('propagationPolicy') ?? undefined;
        let bodyDryRun = false;
        if (raw.length > 0) {
          // client-go's typed clients (kubectl delete, kubectl drain without eviction) send DeleteOptions as protobuf.
          const d = decodeDeleteOptions(raw, req.headers['content-type']);
          if (!d.ok) return d.failure;
          const o = d.value as Record<string, unknown>;
          if (o && typeof o === 'object') {
            const p = o['preconditions'];
            if (p && typeof p === 'object') preconditions = p as { uid?: string; resourceVersion?: string };
            if (typeof o['propagationPolicy'] === 'string') propagationPolicy = o['propagationPolicy'];
            if (Array.isArray(o['dryRun']) && o['dryRun'].includes('All')) bodyDryRun = true;
          }
        }
        if (propagationPolicy && !['Orphan', 'Background', 'Foreground'].includes(propagationPolicy)) {
          return Errors.badRequest(`propagationPolicy: Unsupported value: "${propagationPolicy}": supported values: "Foreground", "Background", "Orphan"`);
        }
        return rest.delete(target, {
          dryRun: dryRun || bodyDryRun,
          ...(preconditions ? { preconditions } : {}),
          ...(propagationPolicy ? { propagationPolicy } : {}),
        });
      }
      default:
        req.resume();
        return Errors.methodNotAllowed(method);
    }
  }

  private async body(req: IncomingMessage): Promise<unknown | Failure> {
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    if (ct.includes('cbor')) {
      req.resume();
      return Errors.unsupportedMediaType(ct, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
    }
    const raw = await readBody(req);
    if (isFailure(raw)) return raw;
    if (ct.includes('protobuf')) {
      const pb = decodeK8sProtobuf(raw);
      if (pb.ok) return pb.value;
      return pb.unsupported ? Errors.unsupportedMediaType(ct, ['application/json', 'application/yaml']) : Errors.badRequest(`the protobuf request body is malformed: ${pb.error}`);
    }
    const d = decodeBody(raw, req.headers['content-type']);
    return d.ok ? d.value : d.failure;
  }
}

/**
 * A DELETE request's body: DeleteOptions as JSON/YAML, or as protobuf (`k8s\0` envelope of v1 or
 * meta.k8s.io/v1 DeleteOptions, meta/v1 generated.proto). A malformed body or another kind is a 400 naming it.
 */
export function decodeDeleteOptions(raw: Buffer, contentType: string | undefined): { ok: true; value: unknown } | { ok: false; failure: Failure } {
  if (!(contentType ?? '').toLowerCase().includes('protobuf')) return decodeBody(raw, contentType);
  const pb = decodeK8sProtobuf(raw);
  if (!pb.ok) return { ok: false, failure: Errors.badRequest(`the protobuf DeleteOptions body is malformed: ${pb.error}`) };
  if (pb.value['kind'] !== 'DeleteOptions') return { ok: false, failure: Errors.badRequest(`the DELETE request body is a ${String(pb.value['apiVersion'])}/${String(pb.value['kind'])}, not DeleteOptions`) };
  return pb;
}
