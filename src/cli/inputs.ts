// Reads the CLI's inputs: YAML files, folders (recursively, *.yaml|*.yml|*.json, sorted) or `-` for stdin.
// Multi-document YAML; every document keeps its file and line so problems print as `file:line kind/name: message`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';

export interface InputDoc {
  file: string;
  /** 1-based line where the document's content starts. */
  line: number;
  object: Record<string, unknown>;
  /** Resolves a problem path (`spec.addresses[1]`) to a 1-based line inside this document. */
  lineOf(path: string): number;
}

/**
 * `warnings`: things the reader noticed but that do not stop it — a folder that is a kustomize overlay (it holds a
 * kustomization.yaml) is read file by file, so what its `resources:`/`components:` pull in from elsewhere is missing.
 */
export type ReadResult = { ok: true; docs: InputDoc[]; warnings: string[] } | { ok: false; message: string };

const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

export function readInputs(paths: readonly string[], stdin: () => string): ReadResult {
  const docs: InputDoc[] = [];
  const files: string[] = [];
  const warnings: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      files.push('-');
      continue;
    }
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return { ok: false, message: `${p}: no such file or directory` };
    if (st.isDirectory()) {
      if (KUSTOMIZATION.some((k) => statSync(join(p, k), { throwIfNoEntry: false })?.isFile())) {
        warnings.push(
          `${p} is a kustomize overlay: its files are read as they are, without what its resources/components/patches add; render it instead: kubectl kustomize ${p} | berth <command> -`,
        );
      }
      collect(p, files);
    }
    else files.push(p);
  }
  for (const f of files) {
    let text: string;
    try {
      text = f === '-' ? stdin() : readFileSync(f, 'utf8');
    } catch (e) {
      return { ok: false, message: `${f}: cannot read: ${(e as Error).message}` };
    }
    const r = parseText(f === '-' ? '<stdin>' : f, text);
    if (!r.ok) return r;
    docs.push(...r.docs);
  }
  return { ok: true, docs, warnings };
}

function collect(dir: string, out: string[]): void {
  for (const e of readdirSync(dir).sort()) {
    if (e.startsWith('.') || e === 'node_modules') continue;
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isDirectory()) collect(p, out);
    else if (/\.(ya?ml|json)$/.test(e)) out.push(p);
  }
}

/** Parses one file's text into documents; a YAML error names the file and line. */
export function parseText(file: string, text: string): ReadResult {
  const lc = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const docs: InputDoc[] = [];
  for (const d of list as Document.Parsed[]) {
    if (d.errors.length > 0) {
      const err = d.errors[0]!;
      const line = lc.linePos(err.pos[0]).line;
      return { ok: false, message: `${file}:${line}: invalid YAML: ${err.message.split('\n')[0]}` };
    }
    const dup = duplicateTopKey(d, lc);
    if (dup) return { ok: false, message: `${file}:${dup}` };
    let obj: unknown;
    try {
      obj = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { ok: false, message: `${file}: invalid YAML: ${(e as Error).message}` };
    }
    if (obj == null) continue; // empty document (e.g. trailing ---)
    if (typeof obj !== 'object' || Array.isArray(obj)) {
      const line = d.contents?.range ? lc.linePos(d.contents.range[0]).line : 1;
      return { ok: false, message: `${file}:${line}: a document must be a mapping (a Kubernetes object)` };
    }
    const start = d.contents?.range ? lc.linePos(d.contents.range[0]).line : 1;
    // A List (kubectl get -o yaml) is flattened into its items.
    const o = obj as Record<string, unknown>;
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
      o.items.forEach((item, i) => {
        if (item && typeof item === 'object') {
          docs.push(makeDoc(file, d, lc, item as Record<string, unknown>, ['items', i]));
        }
      });
      continue;
    }
    docs.push({ ...makeDoc(file, d, lc, o, []), line: start });
  }
  return { ok: true, docs, warnings: [] };
}

/**
 * A key written twice at the top of a document (`kind:` twice is two objects with the `---` between them missing, as
 * `cat a.yaml b.yaml` makes when a file does not start with one). kubectl keeps the last value silently and the first
 * object is lost, so berth names it: `<line>: duplicate key "kind" (first at line N) ...`.
 */
function duplicateTopKey(d: Document.Parsed, lc: LineCounter): string | undefined {
  if (!isMap(d.contents)) return undefined;
  const seen = new Map<string, number>();
  for (const pair of d.contents.items) {
    const k = pair.key as Node | null;
    const name = k && 'value' in k ? String((k as { value: unknown }).value) : undefined;
    if (name === undefined) continue;
    const line = k?.range ? lc.linePos(k.range[0]).line : 1;
    const first = seen.get(name);
    if (first !== undefined) {
      return (
        `${line}: duplicate key "${name}" (first at line ${first}): is a "---" missing between two objects? ` +
        `(kubectl would keep only the last one)`
      );
    }
    seen.set(name, line);
  }
  return undefined;
}

function makeDoc(
  file: string,
  d: Document.Parsed,
  lc: LineCounter,
  object: Record<string, unknown>,
  prefix: Array<string | number>,
): InputDoc {
  const base = nodeAt(d, prefix);
  const line = base?.range ? lc.linePos(base.range[0]).line : 1;
  return {
    file,
    line,
    object,
    lineOf(path: string): number {
      const segs = [...prefix, ...splitPath(path)];
      // walk as deep as the path resolves; report the deepest node found
      for (let n = segs.length; n >= prefix.length; n--) {
        const node = nodeAt(d, segs.slice(0, n));
        if (node?.range) return lc.linePos(node.range[0]).line;
      }
      return line;
    },
  };
}

function nodeAt(d: Document.Parsed, segs: Array<string | number>): Node | undefined {
  let cur: unknown = d.contents;
  for (const s of segs) {
    if (isMap(cur)) cur = cur.get(s, true);
    else if (isSeq(cur) && typeof s === 'number') cur = cur.get(s, true);
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur as Node;
}

/** `spec.addresses[1].x` → ['spec', 'addresses', 1, 'x']. */
export function splitPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** `Kind/name` of an object. */
export function identity(o: Record<string, unknown>): string {
  const md = (o.metadata ?? {}) as { name?: unknown };
  return `${String(o.kind ?? '?')}/${typeof md.name === 'string' ? md.name : '?'}`;
}
