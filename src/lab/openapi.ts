// Minimal OpenAPI v3 documents, enough for kubectl 1.32's validation decision: per group-version, every
// resource's item path has a PATCH operation tagged with x-kubernetes-group-version-kind that declares the
// `fieldValidation` query parameter, so kubectl sends `fieldValidation=Strict` and skips client-side schema
// validation (k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go). PATCH operations deliberately declare
// no requestBody, so kubectl's apply computes strategic merge patches from its compiled-in types instead of
// these schema-less documents (kubectl/pkg/cmd/apply/patcher.go gvkSupportsPatchOpenAPIV3).
import { createHash } from 'node:crypto';
import type { Registry } from './registry.ts';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openapiRoot(reg: Registry): unknown {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  const gvs = new Set<string>();
  for (const r of reg.all()) for (const v of r.versions) gvs.add(gvPath(r.group, v));
  for (const p of [...gvs].sort()) {
    const doc = JSON.stringify(openapiGroupVersionFor(reg, p));
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 64).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}

function openapiGroupVersionFor(reg: Registry, p: string): unknown {
  const m = /^api\/([^/]+)$/.exec(p) ?? /^apis\/([^/]+)\/([^/]+)$/.exec(p);
  if (!m) return undefined;
  const [group, version] = m.length === 2 ? ['', m[1]!] : [m[1]!, m[2]!];
  return openapiGroupVersion(reg, group, version);
}

/** The document for `/openapi/v3/<api/v1 | apis/g/v>`, or undefined when that group-version is not served. */
export function openapiForPath(reg: Registry, subpath: string): unknown | undefined {
  return openapiGroupVersionFor(reg, subpath.replace(/^\/+|\/+$/g, ''));
}

const param = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });

export function openapiGroupVersion(reg: Registry, group: string, version: string): unknown | undefined {
  if (!reg.groupVersionServed(group, version)) return undefined;
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const paths: Record<string, unknown> = {};
  for (const r of reg.resourcesIn(group, version)) {
    const gvk = { group, version, kind: r.kind };
    const item = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}/{name}` : `${prefix}/${r.plural}/{name}`;
    const collection = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
    const common = [param('dryRun', 'When present, indicates that modifications should not be persisted.'), param('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'), param('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.')];
    const op = (id: string, extra: Record<string, unknown> = {}) => ({
      operationId: id,
      parameters: common,
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': extra['action'] ?? 'get',
      'x-kubernetes-group-version-kind': gvk,
    });
    paths[item] = {
      get: { ...op(`read${r.kind}`), parameters: [] },
      put: op(`replace${r.kind}`, { action: 'put' }),
      patch: { ...op(`patch${r.kind}`, { action: 'patch' }), parameters: [...common, param('force', 'Force is going to "force" Apply requests.')] },
      delete: { ...op(`delete${r.kind}`, { action: 'delete' }), parameters: [param('dryRun', 'When present, indicates that modifications should not be persisted.')] },
      parameters: [
        { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
        ...(r.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] : []),
      ],
    };
    paths[collection] = {
      get: { ...op(`list${r.kind}`, { action: 'list' }), parameters: [] },
      post: op(`create${r.kind}`, { action: 'post' }),
      ...(r.namespaced ? { parameters: [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }] } : {}),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0-berth-lab' },
    paths,
    components: { schemas: {} },
  };
}
