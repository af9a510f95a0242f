// npx tsx bench/heap-summary.ts A.heapsnapshot [B.heapsnapshot] [--top N] [--shapes] [--copies]
// What a V8 heap snapshot (node --heapsnapshot-signal, v8.writeHeapSnapshot, DevTools) holds, by kind of object: the
// count and total self size (bytes) per (node type, constructor or string kind), largest first — DevTools' Summary
// view without the browser. With two snapshots, the difference B − A per group, largest growth first (e.g. a
// controller at the end of a fill against one after a restart holding the same Services: bench:controller
// --heap-snapshot DIR writes both). Strings are grouped by kind and length class, not by content.
// With one snapshot, --shapes groups plain objects by constructor and property names (which record each object is:
// `Object{ip,pool,sharingKey,backendKey,holders}` is a cached claim's spec), and --copies groups strings by pattern
// (digits as 9, UUIDs as UUID) with how many distinct values and how many copies of each are held (a Service's uid
// held by the Service, its claim and a holder entry is 3 copies of 1 value): what interning or sharing would save.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields?: string[]; edge_types?: [string[], ...unknown[]] };
    node_count: number;
  };
  nodes: number[];
  edges?: number[];
  strings: string[];
}

function read(path: string): Snapshot {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  if (!Array.isArray(s.snapshot?.meta?.node_fields) || !Array.isArray(s.nodes)) {
    throw new Error(`${path}: not a V8 heap snapshot (no snapshot.meta.node_fields / nodes)`);
  }
  return s;
}

const STRING_TYPES = new Set(['string', 'concatenated string', 'sliced string']);

/**
 * Objects (node type `object`) grouped as `Constructor{prop,prop,…}` (own property names in order, at most 12;
 * `[]` for elements): group key → [count, self size in bytes]. Throws when the file is not a heap snapshot.
 */
export function shapeGroups(path: string): HeapGroups {
  const s = read(path);
  const m = s.snapshot.meta;
  const nf = m.node_fields;
  const ef = m.edge_fields ?? [];
  const edges = s.edges ?? [];
  const types = m.node_types[0];
  const etypes = m.edge_types?.[0] ?? [];
  const [NW, EW] = [nf.length, ef.length];
  const [iT, iN, iS, iE] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number, number];
  const [eT, eN] = [ef.indexOf('type'), ef.indexOf('name_or_index')];
  const groups: HeapGroups = new Map();
  let e = 0;
  for (let i = 0; i < s.nodes.length; i += NW) {
    const ec = s.nodes[i + iE]!;
    if (types[s.nodes[i + iT]!] === 'object') {
      const names: string[] = [];
      for (let k = 0; k < ec && names.length < 12; k++) {
        const et = etypes[edges[(e + k) * EW + eT]!];
        const n = et === 'property' ? s.strings[edges[(e + k) * EW + eN]!]! : et === 'element' ? '[]' : undefined;
        if (n !== undefined && n !== '__proto__' && !names.includes(n)) names.push(n);
      }
      const key = `${s.strings[s.nodes[i + iN]!]}{${names.join(',')}}`;
      const g = groups.get(key) ?? [0, 0];
      g[0]++;
      g[1] += s.nodes[i + iS]!;
      groups.set(key, g);
    }
    e += ec;
  }
  return groups;
}

/** The pattern a string is grouped under: digits as 9 (runs as one), UUIDs as UUID, at most 40 characters. */
export function stringPattern(v: string): string {
  return v
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
    .replace(/[0-9]+/g, '9')
    .slice(0, 40);
}

/** Strings by pattern: how many distinct values, how many string objects (copies) and their bytes. */
export function stringCopies(path: string): Map<string, { distinct: number; copies: number; bytes: number }> {
  const s = read(path);
  const nf = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [iT, iN, iS] = [nf.indexOf('type'), nf.indexOf('name'), nf.indexOf('self_size')];
  const values = new Map<string, Set<string>>();
  const out = new Map<string, { distinct: number; copies: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += nf.length) {
    if (!STRING_TYPES.has(types[s.nodes[i + iT]!] ?? '')) continue;
    const v = s.strings[s.nodes[i + iN]!] ?? '';
    const p = stringPattern(v);
    const g = out.get(p) ?? { distinct: 0, copies: 0, bytes: 0 };
    let seen = values.get(p);
    if (!seen) values.set(p, (seen = new Set()));
    if (!seen.has(v)) {
      seen.add(v);
      g.distinct++;
    }
    g.copies++;
    g.bytes += s.nodes[i + iS]!;
    out.set(p, g);
  }
  return out;
}

/** Group key → [count, self size in bytes]. */
export type HeapGroups = Map<string, [number, number]>;

/**
 * Reads a .heapsnapshot file (JSON, V8's format: flat `nodes` array described by `snapshot.meta.node_fields`) and
 * sums the self size of its nodes per group: `<type> <name>` for objects (name = constructor), `string <len class>`
 * for strings, `code`/`hidden`/`array` by name. Throws when the file is not a heap snapshot.
 */
export function heapGroups(path: string): { groups: HeapGroups; total: number; nodes: number } {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = s.snapshot?.meta?.node_fields;
  if (!Array.isArray(fields) || !Array.isArray(s.nodes)) throw new Error(`${path}: not a V8 heap snapshot (no snapshot.meta.node_fields / nodes)`);
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups: HeapGroups = new Map();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!] ?? '?';
    const size = s.nodes[i + iSize]!;
    total += size;
    let key: string;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      const len = (s.strings[s.nodes[i + iName]!] ?? '').length;
      key = `${type} (${len < 16 ? '<16' : len < 64 ? '16-63' : len < 256 ? '64-255' : len < 4096 ? '256-4095' : '≥4096'} chars)`;
    } else {
      let name = s.strings[s.nodes[i + iName]!] ?? '';
      // Closures and arrays carry long or unique names: keep the first 60 characters.
      if (name.length > 60) name = `${name.slice(0, 60)}…`;
      key = `${type} ${name}`;
    }
    const g = groups.get(key);
    if (g) {
      g[0]++;
      g[1] += size;
    } else groups.set(key, [1, size]);
  }
  return { groups, total, nodes: s.nodes.length / width };
}

const mb = (b: number): string => (b / 1e6).toFixed(2);

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string' }, shapes: { type: 'boolean' }, copies: { type: 'boolean' } },
  });
  const top = Number(values.top ?? 40);
  if (positionals.length < 1 || positionals.length > 2) {
    throw new Error('usage: heap-summary.ts A.heapsnapshot [B.heapsnapshot] [--top N] [--shapes] [--copies]');
  }
  if (values.shapes || values.copies) {
    if (positionals.length !== 1) throw new Error('--shapes and --copies read one snapshot');
    if (values.shapes) {
      process.stdout.write(`${positionals[0]}: objects by constructor and property names\n`);
      const rows = [...shapeGroups(positionals[0]!)].sort((x, y) => y[1][1] - x[1][1]).slice(0, top);
      for (const [k, [n, size]] of rows) process.stdout.write(`${mb(size).padStart(8)} MB ${String(n).padStart(8)}  ${k}\n`);
    }
    if (values.copies) {
      process.stdout.write(`${positionals[0]}: strings by pattern (distinct values, copies held)\n`);
      const rows = [...stringCopies(positionals[0]!)].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top);
      for (const [p, g] of rows) {
        process.stdout.write(
          `${mb(g.bytes).padStart(8)} MB ${String(g.copies).padStart(8)} copies of ${String(g.distinct).padStart(7)} values (×${(g.copies / g.distinct).toFixed(1)})  ${JSON.stringify(p)}\n`,
        );
      }
    }
    return;
  }
  const a = heapGroups(positionals[0]!);
  if (positionals.length === 1) {
    process.stdout.write(`${positionals[0]}: ${a.nodes} nodes, ${mb(a.total)} MB self size\n`);
    const rows = [...a.groups].sort((x, y) => y[1][1] - x[1][1]).slice(0, top);
    for (const [k, [n, size]] of rows) process.stdout.write(`${mb(size).padStart(8)} MB ${String(n).padStart(8)}  ${k}\n`);
    return;
  }
  const b = heapGroups(positionals[1]!);
  process.stdout.write(
    `A ${positionals[0]}: ${a.nodes} nodes, ${mb(a.total)} MB\nB ${positionals[1]}: ${b.nodes} nodes, ${mb(b.total)} MB\n` +
      `B − A: ${mb(b.total - a.total)} MB; groups by |growth|:\n`,
  );
  const keys = new Set([...a.groups.keys(), ...b.groups.keys()]);
  const rows = [...keys]
    .map((k) => {
      const [na, sa] = a.groups.get(k) ?? [0, 0];
      const [nb, sb] = b.groups.get(k) ?? [0, 0];
      return { k, dn: nb - na, ds: sb - sa, sa, sb };
    })
    .sort((x, y) => Math.abs(y.ds) - Math.abs(x.ds))
    .slice(0, top);
  for (const r of rows) {
    process.stdout.write(
      `${mb(r.ds).padStart(8)} MB ${String(r.dn).padStart(8)}  (${mb(r.sa)} → ${mb(r.sb)})  ${r.k}\n`,
    );
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) main();
