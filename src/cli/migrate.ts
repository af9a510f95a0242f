// `berth migrate PATH|-`: MetalLB's legacy ConfigMap (`config`, data key `config` with address-pools/peers/...) →
// the metallb.io objects MetalLB's configmaptocrs writes, as YAML on stdout (src/config/migrate.ts does the work).
// Input: a file, a folder or `-` (stdin) holding the ConfigMap (alone, or among other documents, which are ignored)
// or the bare configuration text (what `data.config` holds). Namespace: --namespace, else the ConfigMap's, else
// metallb-system (as configmaptocrs). Exit 0 converted, 1 problems (`file:line ConfigMap/config: <field>: <rule>` on
// stderr, nothing on stdout), 2 unreadable input or usage.
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node } from 'yaml';
import type { KubeObject } from '../api/object.ts';
import { isLegacyData, legacyConfigData } from '../config/legacy.ts';
import { migrateLegacyConfig, migratedYaml } from '../config/migrate.ts';
import { parseFlags } from './flags.ts';
import { identity, readInputs, splitPath, type InputDoc } from './inputs.ts';
import type { CliIO } from './io.ts';

export const MIGRATE_USAGE = `usage: berth migrate [--namespace NS] PATH (a file, a folder, or - for stdin)
  converts MetalLB's legacy ConfigMap (data.config: address-pools, peers, bgp-communities, bfd-profiles), or that
  text alone, to metallb.io objects on stdout; --namespace defaults to the ConfigMap's, else metallb-system`;

interface Source {
  doc: InputDoc;
  data: unknown;
  /** The ConfigMap's `data.config` text; undefined for the bare configuration. */
  text?: string;
}

/** The `berth migrate` command: argv after `migrate`; returns the exit code (0 converted, 1 problems, 2 unreadable/usage). */
export function runMigrate(argv: readonly string[], io: CliIO): number {
  const f = parseFlags(argv, { namespace: 'string', n: 'string' });
  if (!f.ok) return io.usage(`${f.message}\n${MIGRATE_USAGE}`);
  if (f.args.length !== 1) return io.usage(MIGRATE_USAGE);
  const read = readInputs(f.args, io.readStdin);
  if (!read.ok) {
    io.err(`berth migrate: ${read.message}`);
    return 2;
  }
  for (const w of read.warnings) io.err(`warning: ${w}`);
  const sources: Source[] = [];
  for (const doc of read.docs) {
    const o = doc.object as KubeObject;
    const text = configText(o);
    if (text !== undefined) {
      const data = legacyConfigData(o);
      if (data) sources.push({ doc, data, text });
      else if (o.metadata?.name === 'config') {
        // A ConfigMap named like MetalLB's whose data.config is not the legacy format: say why rather than "nothing found".
        const lc = new LineCounter();
        const err = parseDocument(text, { lineCounter: lc }).errors[0];
        const line = doc.lineOf('data.config') + (err ? lc.linePos(err.pos[0]).line : 0);
        const why = err
          ? `invalid YAML: ${err.message.split('\n')[0]}`
          : "not MetalLB's legacy configuration (YAML with address-pools, peers, bgp-communities or bfd-profiles)";
        io.err(`${doc.file}:${line} ${identity(o)}: data.config is ${why}`);
        return 1;
      }
    } else if (o.kind === undefined && isLegacyData(o)) {
      sources.push({ doc, data: o });
    }
  }
  if (sources.length === 0) {
    io.err(
      `berth migrate: ${f.args[0] === '-' ? '<stdin>' : f.args[0]} holds no MetalLB legacy configuration: a v1 ConfigMap ` +
        'whose data.config has address-pools, peers, bgp-communities or bfd-profiles, or that text alone',
    );
    return 1;
  }
  if (sources.length > 1) {
    const where = sources.map((s) => `${s.doc.file}:${s.doc.line}`).join(', ');
    io.err(`berth migrate: ${sources.length} legacy configurations (${where}); MetalLB read one: migrate them one at a time`);
    return 1;
  }
  const src = sources[0]!;
  const cm = src.text !== undefined ? (src.doc.object as KubeObject) : undefined;
  const namespace = f.values.namespace ?? f.values.n ?? (cm?.metadata?.namespace || 'metallb-system');
  const object = cm ? identity(cm) : undefined;
  const result = migrateLegacyConfig(src.data, { namespace, ...(object ? { object } : {}) });
  for (const w of result.warnings) io.err(`warning: ${w}`);
  if (result.problems.length > 0) {
    const lineOf = lineFinder(src);
    const lines = result.problems.map((p) => ({ line: lineOf(p.path), message: p.message })).sort((a, b) => a.line - b.line);
    for (const p of lines) io.err(`${src.doc.file}:${p.line} ${object ? `${object}: ` : ''}${p.message}`);
    io.err(`berth migrate: ${result.problems.length} problem(s); nothing converted`);
    return 1;
  }
  io.out(migratedYaml(result.objects).replace(/\n$/, ''));
  for (const r of result.renames) {
    io.err(
      `note: ${r.kind} "${r.from}" is named "${r.to}" (a Kubernetes object name)` +
        (r.kind === 'IPAddressPool' ? `: update Services annotated metallb.universe.tf/address-pool: ${r.from}` : ''),
    );
  }
  io.err(`berth migrate: ${result.objects.length} object(s) in namespace ${namespace}`);
  return 0;
}

function configText(o: KubeObject): string | undefined {
  if (o.apiVersion !== 'v1' || o.kind !== 'ConfigMap') return undefined;
  const data = o.data;
  if (data === null || typeof data !== 'object') return undefined;
  const t = (data as Record<string, unknown>).config;
  return typeof t === 'string' ? t : undefined;
}

/**
 * Legacy path (`address-pools[1].protocol`) → 1-based line in the input file. In a ConfigMap the text is data.config's
 * value, counted from the line after `config: |` (a block scalar, as kubectl and every manifest write it).
 */
function lineFinder(src: Source): (path: string) => number {
  if (src.text === undefined) return (path) => src.doc.lineOf(path);
  const base = src.doc.lineOf('data.config');
  const lc = new LineCounter();
  const d = parseDocument(src.text, { lineCounter: lc, uniqueKeys: false });
  return (path) => {
    const segs = splitPath(path);
    for (let n = segs.length; n > 0; n--) {
      let cur: unknown = d.contents;
      for (const [i, s] of segs.slice(0, n).entries()) {
        if (isMap(cur)) {
          // The last key's own line (`bgp-advertisements:`), not its value's.
          const pair = cur.items.find((p) => isScalar(p.key) && p.key.value === s);
          cur = i === n - 1 && pair ? pair.key : pair?.value;
        } else if (isSeq(cur) && typeof s === 'number') cur = cur.get(s, true);
        else cur = undefined;
        if (cur === undefined || cur === null) break;
      }
      const node = cur as Node | undefined | null;
      if (node?.range) return base + lc.linePos(node.range[0]).line;
    }
    return base;
  };
}
