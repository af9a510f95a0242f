// The committed CRDs in gitops/base/crds are exactly what scripts/gen-crds.ts makes from policies/schemas (so the
// schemas stay the single source), their schemas are structural, and kustomize can build the folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse, parseAllDocuments } from 'yaml';
import { CRD_DIR, ROOT, renderCrds } from '../../scripts/gen-crds.ts';
import { ALL_KINDS } from '../api/kinds.ts';

const generated = renderCrds();

test('regenerating the CRDs yields the committed files byte for byte', () => {
  const committed = readdirSync(CRD_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.deepEqual(committed, [...generated.keys()].sort(), 'run: npx tsx scripts/gen-crds.ts');
  for (const [file, text] of generated) {
    assert.equal(
      readFileSync(join(CRD_DIR, file), 'utf8'),
      text,
      `${file} is stale: run npx tsx scripts/gen-crds.ts`,
    );
  }
});

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    conversion?: { strategy: string };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      deprecated?: boolean;
      additionalPrinterColumns?: Array<{ name: string; jsonPath: string }>;
      subresources?: { status?: object };
      schema: { openAPIV3Schema: Record<string, unknown> };
    }>;
  };
}

const crds = [...generated].filter(([f]) => f !== 'kustomization.yaml').map(([, t]) => parse(t) as Crd);
const byName = new Map(crds.map((c) => [c.metadata.name, c]));

test('one CRD per served kind, MetalLB names and scopes, one storage version each', () => {
  for (const k of ALL_KINDS) {
    const crd = byName.get(`${k.plural}.${k.group}`);
    assert.ok(crd, `${k.plural}.${k.group}`);
    assert.equal(crd.spec.scope, k.scope);
    assert.equal(crd.spec.names.kind, k.kind);
    assert.ok(crd.spec.versions.some((v) => v.name === k.version && v.served));
  }
  for (const c of crds) assert.equal(c.spec.versions.filter((v) => v.storage).length, 1, c.metadata.name);
  assert.equal(byName.get('ipaddressclaims.berth.io')!.spec.scope, 'Cluster');
  assert.equal(byName.get('ipaddresspools.metallb.io')!.spec.scope, 'Namespaced');
});

test('BGPPeer: v1beta2 storage, v1beta1 served and deprecated, conversion None', () => {
  const c = byName.get('bgppeers.metallb.io')!;
  assert.deepEqual(c.spec.conversion, { strategy: 'None' });
  assert.deepEqual(
    c.spec.versions.map((v) => [v.name, v.served, v.storage, v.deprecated ?? false]),
    [
      ['v1beta2', true, true, false],
      ['v1beta1', true, false, true],
    ],
  );
});

test('printer columns and status subresources as MetalLB', () => {
  const pool = byName.get('ipaddresspools.metallb.io')!.spec.versions[0]!;
  assert.deepEqual(
    pool.additionalPrinterColumns!.map((c) => c.name),
    ['Auto Assign', 'Avoid Buggy IPs', 'Addresses', 'Age'],
  );
  const withStatus = crds
    .filter((c) => c.spec.versions.some((v) => v.subresources?.status))
    .map((c) => c.metadata.name);
  assert.deepEqual(withStatus.sort(), ['configurationstates.metallb.io', 'ipaddresspools.metallb.io', 'servicebgpstatuses.metallb.io', 'servicel2statuses.metallb.io']);
});

test('CEL rules are carried where MetalLB has them', () => {
  const rulesOf = (crd: string, version: string): string[] => {
    const out: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') {
        for (const [k, v] of Object.entries(n)) {
          if (k === 'x-kubernetes-validations')
            out.push(...(v as Array<{ message: string }>).map((r) => r.message));
          else walk(v);
        }
      }
    };
    walk(byName.get(crd)!.spec.versions.find((v) => v.name === version)!.schema);
    return out;
  };
  assert.deepEqual(rulesOf('bgpadvertisements.metallb.io', 'v1beta1'), [
    'serviceSelectors and aggregationLength are mutually exclusive, can only be used together with default aggregationLength (32) and aggregationLengthV6 (128)',
  ]);
  assert.deepEqual(rulesOf('bgppeers.metallb.io', 'v1beta2'), [
    'connect time should be between 1 seconds to 65535',
    'connect time should contain a whole number of seconds',
    'EnableGracefulRestart cannot be changed after creation',
  ]);
});

/**
 * Kubernetes structural-schema rules (apiextensions v1): every node has a type (unless int-or-string or
 * preserve-unknown-fields), no $ref / $schema / oneOf-anyOf-allOf-not at odd places (berth uses none), no
 * additionalProperties together with properties, no additionalProperties: false, metadata restricts nothing but
 * name/generateName.
 */
function structuralErrors(node: Record<string, unknown>, path: string, out: string[]): void {
  for (const bad of ['$ref', '$schema', '$id', 'oneOf', 'anyOf', 'allOf', 'not', 'definitions', '$defs']) {
    if (bad in node) out.push(`${path}: has ${bad}`);
  }
  if (
    !('type' in node) &&
    node['x-kubernetes-int-or-string'] !== true &&
    node['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.push(`${path}: no type`);
  }
  if ('properties' in node && 'additionalProperties' in node)
    out.push(`${path}: properties and additionalProperties`);
  if (node.additionalProperties === false) out.push(`${path}: additionalProperties false`);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
    if (path === '' && k === 'metadata') {
      const keys = Object.keys((v.properties ?? {}) as object);
      if (keys.some((x) => x !== 'name' && x !== 'generateName'))
        out.push('metadata restricts more than name');
      continue;
    }
    structuralErrors(v, `${path}.${k}`, out);
  }
  if (node.items && typeof node.items === 'object')
    structuralErrors(node.items as Record<string, unknown>, `${path}[]`, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    structuralErrors(node.additionalProperties as Record<string, unknown>, `${path}{}`, out);
  }
}

test('every CRD schema is structural', () => {
  for (const c of crds) {
    for (const v of c.spec.versions) {
      const errors: string[] = [];
      structuralErrors(v.schema.openAPIV3Schema, '', errors);
      assert.deepEqual(errors, [], `${c.metadata.name} ${v.name}`);
    }
  }
});

test('kubectl kustomize gitops/base/crds builds every CRD', (t) => {
  const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 20_000 });
  if (probe.error || probe.status !== 0) {
    t.skip('kubectl not found: cannot run kubectl kustomize');
    return;
  }
  assert.ok(existsSync(join(CRD_DIR, 'kustomization.yaml')));
  const r = spawnSync('kubectl', ['kustomize', join(ROOT, 'gitops', 'base', 'crds')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const names = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Crd)
    .map((c) => c.metadata.name)
    .sort();
  assert.deepEqual(names, [...byName.keys()].sort());
});
