// `berth validate PATH...`: every metallb.io object through the same src/config code the webhook uses.
// Exit 0 clean (warnings allowed), 1 with problems, 2 when some input could not be read (the rest is still validated)
// or is empty: no YAML document in `-` (the command before the pipe failed?) or in all inputs together.
// Inputs are grouped as they would be deployed (readInputSets): the loose files together, and each kustomize root
// found in a folder argument (gitops/dev, gitops/prod) as its own configuration, reported with its path.
// Besides the configuration's problems it reports what the webhook cannot see in one object:
// - pools no advertisement announces (LB_POOL_NOT_ADVERTISED, a warning): their IPs would be unreachable;
// - MetalLB's legacy ConfigMap (LB_LEGACY_CONFIGMAP), which berth does not read: a problem when the input holds no
//   metallb.io object (nothing in it would configure berth, so "0 objects valid" would mislead), else a warning;
// - a file that holds no Kubernetes object (LB_NO_OBJECTS: no document has apiVersion/kind, e.g. the MetalLB Helm
//   chart's values): named with what it looks like, a problem or a warning by the same rule as the legacy ConfigMap;
// - a document of a metallb.io kind without apiVersion (LB_SCHEMA): kubectl refuses it, berth would skip it silently;
// - a metallb.io object without metadata.namespace (LB_WRONG_NAMESPACE, a warning): `kubectl apply` puts it in the
//   context's namespace, where the webhook denies it; a warning only, as kustomize or `kubectl -n` may set it.
import { legacyConfigProblems, unadvertisedPools, validateObjects } from '../config/index.ts';
import { ALL_KINDS } from '../api/kinds.ts';
import type { KubeObject } from '../api/object.ts';
import { filesWithoutObjects, identity, readInputSets, type InputDoc, type InputSet } from './inputs.ts';
import { formatLocated, locate, type Located } from './locate.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './flags.ts';

export const VALIDATE_USAGE = `usage: berth validate [--namespace NS] [--output text|json] PATH... (PATH may be - for stdin)
  Files, folders and - are validated together as one configuration, except that in a folder every kustomize root
  (a folder with a kustomization.yaml that no other kustomization there includes) is validated on its own, with the
  files its resources/components/bases list (followed wherever they are, e.g. ../base) and its namespace: applied;
  patches are not applied (to validate exactly what kustomize renders: kubectl kustomize DIR | berth validate -).
  Exit 0 valid (warnings allowed), 1 problems, 2 unreadable or empty input (every one is named; the rest is still
  validated): an empty - (the command before the pipe failed?) or inputs without any YAML document are refused.`;

/** What validating one input set found. */
interface SetReport {
  /** The kustomize root's folder, or undefined for the loose inputs. */
  path?: string;
  checked: number;
  problems: Located[];
  warnings: string[];
  notices: Located[];
  valid: boolean;
  legacy: number;
  /** Files holding no Kubernetes object (LB_NO_OBJECTS). */
  noObjects: number;
  /** Documents read (0: nothing to validate; an empty input is reported as unreadable instead). */
  documents: number;
}

/** The `berth validate` command: argv after `validate`; returns the exit code (0 valid, 1 problems, 2 unreadable/usage). */
export function runValidate(argv: readonly string[], io: CliIO): number {
  const f = parseFlags(argv, { namespace: 'string', output: 'string', o: 'string' });
  if (!f.ok) return io.usage(`${f.message}\n${VALIDATE_USAGE}`);
  const output = f.values.output ?? f.values.o ?? 'text';
  const namespace = f.values.namespace ?? 'metallb-system';
  if (output !== 'text' && output !== 'json')
    return io.usage(`--output must be text or json, not "${output}"`);
  if (f.args.length === 0) return io.usage(VALIDATE_USAGE);
  const read = readInputSets(f.args, io.readStdin);
  const reports = read.sets.map((s) => validateSet(s, namespace));
  const unreadable = read.errors;
  const problemCount = reports.reduce((n, r) => n + r.problems.length, 0);
  if (output === 'json') {
    io.out(
      JSON.stringify(
        {
          checked: reports.reduce((n, r) => n + r.checked, 0),
          problems: reports.flatMap((r) => r.problems),
          warnings: [...read.warnings, ...reports.flatMap((r) => r.warnings)],
          notices: reports.flatMap((r) => r.notices),
          unreadable,
          valid: problemCount === 0 && unreadable.length === 0,
          sets: reports.map(({ legacy: _legacy, noObjects: _noObjects, documents: _documents, ...r }) => r),
        },
        null,
        2,
      ),
    );
  } else {
    for (const e of unreadable) io.err(`berth validate: ${e}`);
    for (const w of read.warnings) io.err(`warning: ${w}`);
    for (const r of reports) {
      for (const l of r.problems) io.out(formatLocated(l));
      for (const w of r.warnings) io.err(`warning: ${w}`);
      for (const n of r.notices) io.err(`warning: ${formatLocated(n)}`);
      // Loose files next to kustomize roots that hold nothing berth reads (e.g. Argo CD Applications): no line.
      const empty = r.checked === 0 && r.problems.length === 0 && r.notices.length === 0 && r.legacy === 0 && r.noObjects === 0;
      if (r.path === undefined && reports.length > 1 && empty) continue;
      // Empty input (named above as unreadable): "0 metallb.io object(s) valid" would read as a pass.
      if (r.documents === 0 && unreadable.length > 0) continue;
      const what = `${r.checked} metallb.io object(s)`;
      const unread =
        (r.legacy > 0 ? `; ${r.legacy} legacy MetalLB ConfigMap(s) not read` : '') +
        (r.noObjects > 0 ? `; ${r.noObjects} file(s) without Kubernetes objects not read` : '');
      const where =
        r.path !== undefined
          ? `${r.path} (kustomize root): `
          : reports.length > 1
            ? 'files outside kustomize roots: '
            : '';
      io.err(
        r.problems.length === 0
          ? `${where}${what} valid${unread}`
          : `${where}${r.problems.length} problem(s) in ${what}${unread}`,
      );
    }
    if (unreadable.length > 0) io.err(`${unreadable.length} input(s) could not be read (named above)`);
  }
  if (unreadable.length > 0) return 2;
  return problemCount === 0 ? 0 : 1;
}

/** Validates one input set as one configuration (src/config), plus the CLI-only checks of the header. */
function validateSet(set: InputSet, namespace: string): SetReport {
  const objects = set.docs.map((d) => d.object as KubeObject);
  const metallb = objects.filter(
    (o) => typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/'),
  );
  const result = validateObjects(objects, { namespace });
  const legacy = legacyConfigProblems(objects);
  const legacyIsProblem = metallb.length === 0;
  const noObjects: Located[] = filesWithoutObjects(set.docs, 'validate').map((n) => ({
    file: n.file,
    line: n.line,
    object: '',
    code: 'LB_NO_OBJECTS',
    path: '',
    message: n.message,
  }));
  const sorted = (list: Located[]) =>
    list.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  const problems = sorted([
    ...[...result.problems, ...(legacyIsProblem ? legacy : [])].map((p) => locate(p, set.docs)),
    ...set.docs.flatMap((d) => missingApiVersion(d)),
    ...(legacyIsProblem ? noObjects : []),
  ]);
  const notices = sorted([
    ...[...(legacyIsProblem ? [] : legacy), ...(result.config ? unadvertisedPools(result.config) : [])].map(
      (p) => locate(p, set.docs),
    ),
    ...set.docs.flatMap((d) => missingNamespace(d, namespace)),
    ...(legacyIsProblem ? [] : noObjects),
  ]);
  return {
    ...(set.label !== undefined ? { path: set.label } : {}),
    checked: metallb.length,
    problems,
    warnings: result.warnings,
    notices,
    valid: problems.length === 0,
    legacy: legacy.length,
    noObjects: noObjects.length,
    documents: set.docs.length,
  };
}

const SERVED = new Map<string, string[]>();
for (const k of ALL_KINDS) SERVED.set(k.kind, [...(SERVED.get(k.kind) ?? []), k.apiVersion]);

/**
 * LB_SCHEMA for a document whose kind is a metallb.io (or berth.io) kind but that has no apiVersion: the API server
 * refuses it ("apiVersion not set"), and without one it is no metallb.io object, so it would be skipped silently.
 */
function missingApiVersion(d: InputDoc): Located[] {
  const o = d.object;
  const kind = o.kind;
  if (typeof kind !== 'string' || !SERVED.has(kind)) return [];
  if (typeof o.apiVersion === 'string' && o.apiVersion !== '') return [];
  const versions = SERVED.get(kind)!;
  return [
    {
      file: d.file,
      line: d.lineOf('kind'),
      object: identity(o),
      code: 'LB_SCHEMA',
      path: 'apiVersion',
      message: `apiVersion: Required value: kind ${kind} needs apiVersion ${versions.join(' or ')} (kubectl refuses an object without one, and it configures nothing)`,
    },
  ];
}

/**
 * LB_WRONG_NAMESPACE warning for a metallb.io object without metadata.namespace: `kubectl apply` creates it in the
 * context's namespace (default unless set), where the webhook denies it as MetalLB's does.
 */
function missingNamespace(d: InputDoc, namespace: string): Located[] {
  const o = d.object;
  if (typeof o.apiVersion !== 'string' || !o.apiVersion.startsWith('metallb.io/')) return [];
  if (typeof o.kind !== 'string' || !SERVED.has(o.kind)) return [];
  const md = o.metadata as { namespace?: unknown } | undefined;
  if (typeof md?.namespace === 'string' && md.namespace !== '') return [];
  return [
    {
      file: d.file,
      line: d.lineOf('metadata'),
      object: identity(o),
      code: 'LB_WRONG_NAMESPACE',
      path: 'metadata.namespace',
      message:
        `metadata.namespace is not set: kubectl apply would create it in the context's namespace (default unless set), ` +
        `and the webhook denies that: "resource must be created in ${namespace} namespace"; set metadata.namespace: ` +
        `${namespace} (or let kustomize's namespace: or kubectl -n ${namespace} set it)`,
    },
  ];
}
