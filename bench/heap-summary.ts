// npx tsx bench/heap-summary.ts A.heapsnapshot [B.heapsnapshot] [--top N]
// What a V8 heap snapshot (node --heapsnapshot-signal, v8.writeHeapSnapshot, DevTools) holds, by kind of object: the
// count and total self size (bytes) per (node type, constructor or string kind), largest first — DevTools' Summary
// view without the browser. With two snapshots, the difference B − A per group, largest growth first (e.g. a
// controller at the end of a fill against one after a restart holding the same Services: bench:controller
// --heap-snapshot DIR writes both). Strings are grouped by kind and length class, not by content.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
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
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  const top = Number(values.top ?? 40);
  if (positionals.length < 1 || positionals.length > 2) throw new Error('usage: heap-summary.ts A.heapsnapshot [B.heapsnapshot] [--top N]');
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
