// Generates gitops/base/crds/<plural>.<group>.yaml (apiextensions.k8s.io/v1 CustomResourceDefinitions) and the
// kustomization listing them, from policies/schemas/*.json: the JSON Schemas are the single source, the YAML is
// output (src/config/crds.test.ts checks that regenerating changes nothing).
//
//   npx tsx scripts/gen-crds.ts
//
// Names, scope, versions and printer columns follow MetalLB's config/crd/bases. One deliberate difference: BGPPeer
// declares `conversion: strategy: None` where MetalLB runs a conversion webhook. That is sound only because every
// v1beta1 field exists in v1beta2 under the same JSON name with a compatible type, so rewriting apiVersion is the
// whole conversion (an unset v1beta1 peerPort gets v1beta2's default 179 when read as v1beta2, since the API server
// defaults on read). Limits: an object written back through v1beta1 loses its v1beta2-only fields (pruning), and
// v1beta1's peerPort minimum is 1 here (MetalLB: 0 = unset), because a stored 0 would break the v1beta2 view.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { BFD_PROFILE } from '../src/api/bfd-profile.ts';
import { BGP_ADVERTISEMENT } from '../src/api/bgp-advertisement.ts';
import { BGP_PEER } from '../src/api/bgp-peer.ts';
import { BGP_PEER_V1BETA1 } from '../src/api/bgp-peer-v1beta1.ts';
import { COMMUNITY } from '../src/api/community.ts';
import { CONFIGURATION_STATE } from '../src/api/configuration-state.ts';
import { IP_ADDRESS_CLAIM } from '../src/api/ip-address-claim.ts';
import { IP_ADDRESS_POOL } from '../src/api/ip-address-pool.ts';
import { L2_ADVERTISEMENT } from '../src/api/l2-advertisement.ts';
import { SERVICE_L2_STATUS } from '../src/api/service-l2-status.ts';
import { SERVICE_BGP_STATUS } from '../src/api/service-bgp-status.ts';
import type { KindInfo } from '../src/api/object.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_DIR = join(ROOT, 'policies', 'schemas');
export const CRD_DIR = join(ROOT, 'gitops', 'base', 'crds');

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  priority?: number;
  description?: string;
}

interface VersionDef {
  info: KindInfo;
  schemaFile: string;
  storage: boolean;
  deprecationWarning?: string;
  columns: PrinterColumn[];
  status: boolean;
}

interface CrdDef {
  versions: VersionDef[];
  /** Extra header comment lines. */
  note?: string[];
  conversionNone?: boolean;
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const col = (
  name: string,
  type: PrinterColumn['type'],
  jsonPath: string,
  priority?: number,
): PrinterColumn => ({
  name,
  type,
  jsonPath,
  ...(priority !== undefined ? { priority } : {}),
});

const peerColumns = [
  col('Address', 'string', '.spec.peerAddress'),
  col('ASN', 'string', '.spec.peerASN'),
  col('BFD Profile', 'string', '.spec.bfdProfile'),
  col('Multi Hops', 'string', '.spec.ebgpMultiHop'),
  age,
];

export const CRDS: readonly CrdDef[] = [
  {
    versions: [
      {
        info: IP_ADDRESS_POOL,
        schemaFile: 'ipaddresspool.v1beta1.json',
        storage: true,
        status: true,
        columns: [
          col('Auto Assign', 'boolean', '.spec.autoAssign'),
          col('Avoid Buggy IPs', 'boolean', '.spec.avoidBuggyIPs'),
          col('Addresses', 'string', '.spec.addresses'), // no priority: MetalLB's `kubectl get ipaddresspools` shows it
          age,
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: L2_ADVERTISEMENT,
        schemaFile: 'l2advertisement.v1beta1.json',
        storage: true,
        status: false,
        columns: [
          col('IPAddressPools', 'string', '.spec.ipAddressPools'),
          col('IPAddressPool Selectors', 'string', '.spec.ipAddressPoolSelectors'),
          col('Interfaces', 'string', '.spec.interfaces'),
          col('Node Selectors', 'string', '.spec.nodeSelectors', 10),
          age,
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: BGP_ADVERTISEMENT,
        schemaFile: 'bgpadvertisement.v1beta1.json',
        storage: true,
        status: false,
        columns: [
          col('IPAddressPools', 'string', '.spec.ipAddressPools'),
          col('IPAddressPool Selectors', 'string', '.spec.ipAddressPoolSelectors'),
          col('Peers', 'string', '.spec.peers'),
          col('Node Selectors', 'string', '.spec.nodeSelectors', 10),
          age,
        ],
      },
    ],
  },
  {
    conversionNone: true,
    note: [
      'conversion: None (MetalLB uses a conversion webhook): every v1beta1 field exists in v1beta2 with the same JSON',
      'name and a compatible type, so rewriting apiVersion is the whole conversion. See scripts/gen-crds.ts.',
    ],
    versions: [
      {
        info: BGP_PEER,
        schemaFile: 'bgppeer.v1beta2.json',
        storage: true,
        status: false,
        columns: peerColumns,
      },
      {
        info: BGP_PEER_V1BETA1,
        schemaFile: 'bgppeer.v1beta1.json',
        storage: false,
        status: false,
        deprecationWarning: 'metallb.io/v1beta1 BGPPeer is deprecated, use metallb.io/v1beta2',
        columns: peerColumns,
      },
    ],
  },
  {
    versions: [
      { info: COMMUNITY, schemaFile: 'community.v1beta1.json', storage: true, status: false, columns: [] },
    ],
  },
  {
    versions: [
      {
        info: BFD_PROFILE,
        schemaFile: 'bfdprofile.v1beta1.json',
        storage: true,
        status: false,
        columns: [
          col('Passive Mode', 'boolean', '.spec.passiveMode'),
          col('Transmit Interval', 'integer', '.spec.transmitInterval'),
          col('Receive Interval', 'integer', '.spec.receiveInterval'),
          col('Multiplier', 'integer', '.spec.detectMultiplier'),
          age,
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: CONFIGURATION_STATE,
        schemaFile: 'configurationstate.v1beta1.json',
        storage: true,
        status: true,
        columns: [
          col('Result', 'string', '.status.result'),
          col('Error Summary', 'string', '.status.errorSummary', 1),
          age,
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: SERVICE_L2_STATUS,
        schemaFile: 'servicel2status.v1beta1.json',
        storage: true,
        status: true,
        columns: [
          col('Allocated Node', 'string', '.status.node'),
          col('Service Name', 'string', '.status.serviceName'),
          col('Service Namespace', 'string', '.status.serviceNamespace'),
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: SERVICE_BGP_STATUS,
        schemaFile: 'servicebgpstatus.v1beta1.json',
        storage: true,
        status: true,
        columns: [
          col('Node', 'string', '.status.node'),
          col('Service Name', 'string', '.status.serviceName'),
          col('Service Namespace', 'string', '.status.serviceNamespace'),
        ],
      },
    ],
  },
  {
    versions: [
      {
        info: IP_ADDRESS_CLAIM,
        schemaFile: 'ipaddressclaim.v1alpha1.json',
        storage: true,
        status: false,
        columns: [
          col('IP', 'string', '.spec.ip'),
          col('Pool', 'string', '.spec.pool'),
          col('Sharing Key', 'string', '.spec.sharingKey', 1),
          col('Holders', 'string', '.spec.holders[*].service'),
          age,
        ],
      },
    ],
  },
];

/** File name of a CRD: `<plural>.<group>.yaml`. */
export function crdFileName(info: KindInfo): string {
  return `${info.plural}.${info.group}.yaml`;
}

/** The openAPIV3Schema: the JSON Schema without its JSON-Schema-only keys (CRDs refuse `$schema`/`$id`). */
export function toOpenApi(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _s, $id: _i, title: _t, ...rest } = schema;
  return rest;
}

function renderCrd(
  def: CrdDef,
  readSchema: (file: string) => Record<string, unknown>,
): { file: string; text: string } {
  const first = def.versions[0]!;
  const info = first.info;
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${info.group}`, labels: { 'app.kubernetes.io/part-of': 'berth' } },
    spec: {
      group: info.group,
      names: { kind: info.kind, listKind: info.listKind, plural: info.plural, singular: info.singular },
      scope: info.scope,
      ...(def.conversionNone ? { conversion: { strategy: 'None' } } : {}),
      versions: def.versions.map((v) => ({
        name: v.info.version,
        served: true,
        storage: v.storage,
        ...(v.deprecationWarning ? { deprecated: true, deprecationWarning: v.deprecationWarning } : {}),
        ...(v.columns.length > 0 ? { additionalPrinterColumns: v.columns } : {}),
        schema: { openAPIV3Schema: toOpenApi(readSchema(v.schemaFile)) },
        ...(v.status ? { subresources: { status: {} } } : {}),
      })),
    },
  };
  const files = def.versions.map((v) => `policies/schemas/${v.schemaFile}`).join(', ');
  const header = [
    `# Generated by scripts/gen-crds.ts from ${files}. Do not edit:`,
    '# change the schema, then run `npx tsx scripts/gen-crds.ts`.',
    ...(def.note ?? []).map((l) => `# ${l}`),
  ];
  return {
    file: crdFileName(info),
    text: `${header.join('\n')}\n${stringify(crd, { lineWidth: 0, singleQuote: true })}`,
  };
}

/** Every generated file (CRDs and kustomization.yaml), name → content. */
export function renderCrds(
  readSchema: (file: string) => Record<string, unknown> = readSchemaFile,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const def of CRDS) {
    const { file, text } = renderCrd(def, readSchema);
    out.set(file, text);
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [...out.keys()].sort(),
  };
  out.set(
    'kustomization.yaml',
    `# Generated by scripts/gen-crds.ts. Do not edit.\n${stringify(kustomization, { singleQuote: true })}`,
  );
  return out;
}

export function readSchemaFile(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
}

function main(): void {
  mkdirSync(CRD_DIR, { recursive: true });
  for (const [file, text] of renderCrds()) {
    writeFileSync(join(CRD_DIR, file), text);
    console.log(`wrote ${join('gitops/base/crds', file)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
