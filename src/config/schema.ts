// Validates an object against its JSON Schema in policies/schemas (the same schemas the CRDs are generated from).
// Differences from the API server, on purpose:
//  - unknown fields are reported (like `kubectl apply`'s strict field validation), not silently pruned;
//  - `x-kubernetes-validations` (CEL) are not evaluated here: src/config implements those rules in TypeScript.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Problem } from '../shared/codes.ts';
import { objectRef, type KubeObject } from '../api/object.ts';
import { ALL_KINDS } from '../api/kinds.ts';
import { dropNulls, formatPath, showValue, type PathSegment } from './problem.ts';
import ipAddressPool from '../../policies/schemas/ipaddresspool.v1beta1.json' with { type: 'json' };
import l2Advertisement from '../../policies/schemas/l2advertisement.v1beta1.json' with { type: 'json' };
import bgpAdvertisement from '../../policies/schemas/bgpadvertisement.v1beta1.json' with { type: 'json' };
import bgpPeerV1beta2 from '../../policies/schemas/bgppeer.v1beta2.json' with { type: 'json' };
import bgpPeerV1beta1 from '../../policies/schemas/bgppeer.v1beta1.json' with { type: 'json' };
import community from '../../policies/schemas/community.v1beta1.json' with { type: 'json' };
import bfdProfile from '../../policies/schemas/bfdprofile.v1beta1.json' with { type: 'json' };
import configurationState from '../../policies/schemas/configurationstate.v1beta1.json' with { type: 'json' };
import ipAddressClaim from '../../policies/schemas/ipaddressclaim.v1alpha1.json' with { type: 'json' };
import serviceL2Status from '../../policies/schemas/servicel2status.v1beta1.json' with { type: 'json' };
import serviceBgpStatus from '../../policies/schemas/servicebgpstatus.v1beta1.json' with { type: 'json' };

/** Schema file (under policies/schemas/) of each served `<apiVersion> <kind>`. */
export const SCHEMA_FILES: Readonly<Record<string, string>> = {
  'metallb.io/v1beta1 IPAddressPool': 'ipaddresspool.v1beta1.json',
  'metallb.io/v1beta1 L2Advertisement': 'l2advertisement.v1beta1.json',
  'metallb.io/v1beta1 BGPAdvertisement': 'bgpadvertisement.v1beta1.json',
  'metallb.io/v1beta2 BGPPeer': 'bgppeer.v1beta2.json',
  'metallb.io/v1beta1 BGPPeer': 'bgppeer.v1beta1.json',
  'metallb.io/v1beta1 Community': 'community.v1beta1.json',
  'metallb.io/v1beta1 BFDProfile': 'bfdprofile.v1beta1.json',
  'metallb.io/v1beta1 ConfigurationState': 'configurationstate.v1beta1.json',
  'metallb.io/v1beta1 ServiceL2Status': 'servicel2status.v1beta1.json',
  'metallb.io/v1beta1 ServiceBGPStatus': 'servicebgpstatus.v1beta1.json',
  'berth.io/v1alpha1 IPAddressClaim': 'ipaddressclaim.v1alpha1.json',
};

/** The schemas themselves, keyed like SCHEMA_FILES. */
export const SCHEMAS: Readonly<Record<string, object>> = {
  'metallb.io/v1beta1 IPAddressPool': ipAddressPool,
  'metallb.io/v1beta1 L2Advertisement': l2Advertisement,
  'metallb.io/v1beta1 BGPAdvertisement': bgpAdvertisement,
  'metallb.io/v1beta2 BGPPeer': bgpPeerV1beta2,
  'metallb.io/v1beta1 BGPPeer': bgpPeerV1beta1,
  'metallb.io/v1beta1 Community': community,
  'metallb.io/v1beta1 BFDProfile': bfdProfile,
  'metallb.io/v1beta1 ConfigurationState': configurationState,
  'metallb.io/v1beta1 ServiceL2Status': serviceL2Status,
  'metallb.io/v1beta1 ServiceBGPStatus': serviceBgpStatus,
  'berth.io/v1alpha1 IPAddressClaim': ipAddressClaim,
};

/** A schema problem also carries the JSON Schema keyword that failed (callers use it to drop duplicates). */
export type SchemaProblem = Problem & { readonly keyword: string };

export interface SchemaValidator {
  /** Problems of the object against the schema of its apiVersion/kind; one problem when no schema serves that kind. */
  validate(obj: KubeObject): SchemaProblem[];
  /** True when a schema serves this apiVersion + kind. */
  has(apiVersion: string, kind: string): boolean;
}

const K8S_KEYWORDS = [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
];

/**
 * Compiles each schema once (allErrors), on the first object of its kind: a process compiles only the kinds it meets
 * (the controller reads pools and communities; compiling every schema cost ~0.7 s of CPU at each controller start,
 * a third of its restart at 10,000 Services — issue 12). Build one per process and share it.
 */
export function createSchemaValidator(): SchemaValidator {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    formats: {
      // OpenAPI numeric formats: the integer type and min/max carry the constraint.
      int32: { type: 'number', validate: () => true },
      int64: { type: 'number', validate: () => true },
      'date-time': /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
    },
  });
  for (const keyword of K8S_KEYWORDS) ajv.addKeyword({ keyword });
  const compiled = new Map<string, ValidateFunction>();
  const compiledFor = (key: string): ValidateFunction | undefined => {
    let fn = compiled.get(key);
    if (!fn && Object.hasOwn(SCHEMAS, key)) compiled.set(key, (fn = ajv.compile(strictCopy(SCHEMAS[key]) as object)));
    return fn;
  };
  return {
    has: (apiVersion, kind) => Object.hasOwn(SCHEMAS, `${apiVersion} ${kind}`),
    validate(obj) {
      const object = objectRef(obj);
      const fn = compiledFor(`${String(obj.apiVersion)} ${String(obj.kind)}`);
      if (!fn) {
        const served = ALL_KINDS.filter((k) => k.kind === obj.kind).map((k) => k.apiVersion);
        const hint = served.length > 0 ? `; served versions: ${served.join(', ')}` : '';
        return [
          {
            code: 'LB_SCHEMA',
            keyword: 'kind',
            path: 'apiVersion',
            object,
            message: `no schema for ${String(obj.apiVersion)} ${String(obj.kind)}${hint}`,
          },
        ];
      }
      const clean = dropNulls(obj);
      if (fn(clean)) return [];
      return (fn.errors ?? []).map((e) => toProblem(e, clean, object));
    },
  };
}

/**
 * A copy of the schema in which every object that lists `properties` (and says nothing about other keys) refuses
 * unknown keys, so typos such as `autoassign` are reported instead of silently pruned.
 */
function strictCopy(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictCopy);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    // annotation values (CEL rules, enums, defaults) are data, not subschemas
    out[k] =
      k.startsWith('x-kubernetes-') || k === 'enum' || k === 'default' || k === 'required'
        ? v
        : strictCopy(v);
  }
  if (
    'properties' in out &&
    !('additionalProperties' in out) &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

function toProblem(e: ErrorObject, obj: KubeObject, object: string): SchemaProblem {
  const segs: PathSegment[] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const value = valueAt(obj, segs);
  const at = formatPath(segs);
  const p = (path: string, message: string): SchemaProblem => ({
    code: 'LB_SCHEMA',
    keyword: e.keyword,
    path,
    object,
    message,
  });
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const path = formatPath([...segs, String(params.missingProperty)]);
      return p(path, `${path}: Required value`);
    }
    case 'additionalProperties': {
      const path = formatPath([...segs, String(params.additionalProperty)]);
      return p(path, `unknown field "${path}"`);
    }
    case 'type':
      return p(at, `${at}: Invalid value: ${showValue(value)}: must be of type ${String(params.type)}`);
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => showValue(v)).join(', ');
      return p(at, `${at}: Unsupported value: ${showValue(value)}: supported values: ${allowed}`);
    }
    case 'minimum':
      return p(
        at,
        `${at}: Invalid value: ${showValue(value)}: must be greater than or equal to ${String(params.limit)}`,
      );
    case 'maximum':
      return p(
        at,
        `${at}: Invalid value: ${showValue(value)}: must be less than or equal to ${String(params.limit)}`,
      );
    default:
      return p(at, `${at}: Invalid value: ${showValue(value)}: ${e.message ?? e.keyword}`);
  }
}

function valueAt(obj: unknown, segs: readonly PathSegment[]): unknown {
  let cur = obj;
  for (const s of segs) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

let shared: SchemaValidator | undefined;

/** Schema problems of one object, with a validator compiled on first use (a pure memo, not configuration). */
export function schemaProblems(obj: KubeObject): SchemaProblem[] {
  shared ??= createSchemaValidator();
  return shared.validate(obj);
}
