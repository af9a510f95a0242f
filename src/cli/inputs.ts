// Reads the CLI's inputs: YAML files, folders (recursively, *.yaml|*.yml|*.json, sorted; for `berth validate` and
// `berth plan`, per kustomize root: readInputSets) or `-` for stdin.
// Multi-document YAML; every document keeps its file and line so problems print as `file:line kind/name: message`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document, type Node } from 'yaml';
import { ALL_KINDS } from '../api/kinds.ts';

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
 * `ok: false`: at least one input could not be read; `message` names every one (one `path[:line]: reason` per line).
 */
export type ReadResult = { ok: true; docs: InputDoc[]; warnings: string[] } | { ok: false; message: string };

/** One file's documents, plus one `file:line: reason` per document that could not be read (the others are kept). */
export interface ParsedFile {
  docs: InputDoc[];
  errors: string[];
}

const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** The kustomization file of a folder, or undefined. */
function kustomizationIn(dir: string): string | undefined {
  const name = KUSTOMIZATION.find((k) => statSync(join(dir, k), { throwIfNoEntry: false })?.isFile());
  return name === undefined ? undefined : join(dir, name);
}

/**
 * Every input as one list of documents (`berth migrate`): files, folders (read file by file, a kustomize overlay with
 * a warning) and `-`. Every unreadable input is named, not only the first.
 */
export function readInputs(paths: readonly string[], stdin: () => string): ReadResult {
  const docs: InputDoc[] = [];
  const files: string[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      files.push('-');
      continue;
    }
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) errors.push(`${p}: no such file or directory`);
    else if (st.isDirectory()) {
      if (kustomizationIn(p) !== undefined) {
        warnings.push(
          `${p} is a kustomize overlay: its files are read as they are, without what its resources/components/patches add; render it instead: kubectl kustomize ${p} | berth <command> -`,
        );
      }
      collect(p, files);
    } else files.push(p);
  }
  for (const f of files) {
    const r = readFile(f, stdin);
    docs.push(...r.docs);
    errors.push(...r.errors);
  }
  if (errors.length > 0) return { ok: false, message: errors.join('\n') };
  return { ok: true, docs, warnings };
}

/**
 * One configuration to validate on its own: the loose inputs together (`label` undefined), or one kustomize root
 * (`label` its folder) with the documents its `resources:`/`components:` include, transitively.
 */
export interface InputSet {
  label?: string;
  docs: InputDoc[];
}

export interface InputSets {
  sets: InputSet[];
  /** `path[:line]: reason`, one per unreadable file, document or kustomization entry; the rest is still read. */
  errors: string[];
  warnings: string[];
}

/**
 * The inputs of `berth validate` and `berth plan` (`command` only changes the wording of warnings), grouped into the
 * configurations they make once deployed. The rule:
 * - files named on the command line, `-`, and the files of a folder that are under no folder holding a
 *   kustomization.yaml (within the argument) form one configuration, as before;
 * - inside a folder argument, every kustomization that no other kustomization found there includes (through
 *   `resources:`, `components:` or `bases:`) is a kustomize root: its own configuration, made of the files its
 *   entries list, following included folders' kustomizations wherever they are (`../base`); files in a kustomization's
 *   folder that no entry lists are not deployed, so not read. So `gitops` is validated as gitops/dev and gitops/prod
 *   separately, and gitops/base once in each, never on its own;
 * - a kustomization's `namespace:` is set on the metallb.io objects and Services it includes (the outer one wins, as kustomize's
 *   namespace transformer does); patches are not applied: one that changes a metallb.io object beyond its metadata
 *   gets a warning that says how to render the root (`kubectl kustomize DIR | berth validate -`); remote entries
 *   (URLs) are not fetched (a warning).
 * Errors: a missing path, unreadable YAML, a kustomization entry that does not exist or a folder entry without a
 * kustomization (kustomize fails on both) are reported and the rest is still read. Empty input is an error too
 * (emptyInputMessage): `-` that holds no YAML document, or inputs that together hold none.
 */
export function readInputSets(
  paths: readonly string[],
  stdin: () => string,
  command: 'validate' | 'plan' = 'validate',
): InputSets {
  const errors: string[] = [];
  const warnings: string[] = [];
  const loose: InputDoc[] = [];
  const roots: InputSet[] = [];
  const cache = new Map<string, ParsedFile>();
  let stdinSeen = false;
  const readOnce = (f: string): InputDoc[] => {
    let r = cache.get(f);
    if (!r) {
      r = readFile(f, stdin);
      cache.set(f, r);
      errors.push(...r.errors);
    }
    return r.docs;
  };
  const kust = new Kustomizations(readOnce, errors, warnings);
  for (const p of paths) {
    if (p === '-') {
      const before = errors.length;
      const docs = readOnce('-');
      // An empty pipe is never meant: the command before it failed (its error went to stderr) or printed nothing.
      if (docs.length === 0 && errors.length === before && !stdinSeen) errors.push(emptyInputMessage('<stdin>', 'stdin'));
      stdinSeen = true;
      loose.push(...docs);
      continue;
    }
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) {
      errors.push(`${p}: no such file or directory`);
      continue;
    }
    if (!st.isDirectory()) {
      loose.push(...readOnce(p));
      continue;
    }
    const kdirs: string[] = [];
    const files: string[] = [];
    walk(p, false, kdirs, files);
    const included = new Set<string>();
    for (const d of kdirs) for (const inc of kust.includes(d)) if (inc !== d) included.add(inc);
    for (const d of kdirs) {
      if (included.has(d) || roots.some((s) => s.label === d)) continue;
      const r = kust.render(d);
      for (const w of r.patchWarnings)
        warnings.push(
          `${d}: ${w}, which berth ${command} does not apply (it ${command === 'validate' ? 'validates' : 'plans'} the files as written); to ${command} what kustomize renders: kubectl kustomize ${d} | berth ${command} -`,
        );
      roots.push({ label: d, docs: r.docs });
    }
    for (const f of files) loose.push(...readOnce(f));
  }
  // Nothing read at all (empty files, a folder without YAML): no configuration, whatever validate or plan would say.
  if (errors.length === 0 && loose.length === 0 && roots.every((r) => r.docs.length === 0)) {
    for (const p of paths) if (p !== '-') errors.push(emptyInputMessage(p, statSync(p).isDirectory() ? 'folder' : 'file'));
  }
  const sets: InputSet[] = [];
  if (loose.length > 0 || roots.length === 0) sets.push({ docs: loose });
  sets.push(...roots);
  return { sets, errors, warnings };
}

/**
 * The error for an input that holds no YAML document at all (empty, only comments or `---`): `no Kubernetes objects
 * in SOURCE: empty input — ...`, with a hint by source: stdin (did the command before the pipe fail?), a file, a
 * folder (no *.yaml, *.yml or *.json file, or all of them empty). Like `kubectl apply -f` ("no objects passed to
 * apply"), `berth validate` and `berth plan` refuse it as an input error (exit 2) rather than report an empty
 * configuration as valid.
 */
export function emptyInputMessage(source: string, what: 'stdin' | 'file' | 'folder'): string {
  const hint =
    what === 'stdin'
      ? 'did the command before the pipe fail? (e.g. kubectl kustomize DIR | berth validate -: kustomize printed its error and nothing else)'
      : what === 'file'
        ? 'the file holds no YAML document'
        : 'the folder holds no *.yaml, *.yml or *.json file with a YAML document (nor a kustomization that lists one)';
  return `no Kubernetes objects in ${source}: empty input — ${hint}`;
}

/** Reads `-` (stdin) or a file into documents; unreadable → one error naming it. */
function readFile(f: string, stdin: () => string): ParsedFile {
  let text: string;
  try {
    text = f === '-' ? stdin() : readFileSync(f, 'utf8');
  } catch (e) {
    return { docs: [], errors: [`${f}: cannot read: ${(e as Error).message}`] };
  }
  return parseFile(f === '-' ? '<stdin>' : f, text);
}

/**
 * Walks a folder (sorted, dot-folders and node_modules skipped): folders holding a kustomization go to `kdirs`;
 * YAML/JSON files under no such folder go to `files`.
 */
function walk(dir: string, underKustomization: boolean, kdirs: string[], files: string[]): void {
  const isK = kustomizationIn(dir) !== undefined;
  if (isK) kdirs.push(dir);
  const under = underKustomization || isK;
  for (const e of readdirSync(dir).sort()) {
    if (e.startsWith('.') || e === 'node_modules') continue;
    const p = join(dir, e);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) walk(p, under, kdirs, files);
    else if (!under && /\.(ya?ml|json)$/.test(e)) files.push(p);
  }
}

const METALLB_KINDS = new Set(ALL_KINDS.map((k) => k.kind));

interface Rendered {
  docs: InputDoc[];
  /** "patches of <file> change metallb.io objects" lines, one per kustomization. */
  patchWarnings: string[];
}

/** The parts of kustomize berth validate and plan follow: resources, components, bases, namespace (no patches, no fetching). */
class Kustomizations {
  private readonly parsed = new Map<string, Record<string, unknown> | undefined>();
  private readonly rendered = new Map<string, Rendered>();

  constructor(
    private readonly readOnce: (file: string) => InputDoc[],
    private readonly errors: string[],
    private readonly warnings: string[],
  ) {}

  /** The kustomization folders `dir` includes, transitively (itself included). */
  includes(dir: string, seen = new Set<string>()): Set<string> {
    if (seen.has(dir)) return seen;
    seen.add(dir);
    for (const e of this.entries(dir)) {
      if (e.kind === 'dir') this.includes(e.path, seen);
    }
    return seen;
  }

  /** `dir`'s documents as its kustomization includes them (namespace applied), memoised per folder. */
  render(dir: string, stack: readonly string[] = []): Rendered {
    const done = this.rendered.get(dir);
    if (done) return done;
    if (stack.includes(dir)) {
      this.errors.push(`${this.fileOf(dir)}: includes itself through ${[...stack, dir].join(' → ')}`);
      return { docs: [], patchWarnings: [] };
    }
    const k = this.load(dir);
    const docs: InputDoc[] = [];
    const patchWarnings: string[] = [];
    for (const e of this.entries(dir)) {
      if (e.kind === 'file') docs.push(...this.readOnce(e.path));
      else {
        const r = this.render(e.path, [...stack, dir]);
        docs.push(...r.docs);
        patchWarnings.push(...r.patchWarnings);
      }
    }
    if (k && changesMetallbSpec(k, dir))
      patchWarnings.push(`patches of ${this.fileOf(dir)} change metallb.io objects`);
    const ns = k?.namespace;
    const out: Rendered = {
      docs: typeof ns === 'string' && ns !== '' ? docs.map((d) => withNamespace(d, ns)) : docs,
      patchWarnings,
    };
    this.rendered.set(dir, out);
    return out;
  }

  private fileOf(dir: string): string {
    return kustomizationIn(dir) ?? join(dir, 'kustomization.yaml');
  }

  private load(dir: string): Record<string, unknown> | undefined {
    if (this.parsed.has(dir)) return this.parsed.get(dir);
    const file = this.fileOf(dir);
    let k: Record<string, unknown> | undefined;
    try {
      const r = parseFile(file, readFileSync(file, 'utf8'));
      this.errors.push(...r.errors);
      k = r.docs[0]?.object;
    } catch (e) {
      this.errors.push(`${file}: cannot read: ${(e as Error).message}`);
    }
    this.parsed.set(dir, k);
    return k;
  }

  private readonly listed = new Map<string, Array<{ kind: 'file' | 'dir'; path: string }>>();

  /** `resources`, `bases` and `components` entries of `dir`'s kustomization, resolved; bad ones reported once. */
  private entries(dir: string): Array<{ kind: 'file' | 'dir'; path: string }> {
    const cached = this.listed.get(dir);
    if (cached) return cached;
    const out: Array<{ kind: 'file' | 'dir'; path: string }> = [];
    this.listed.set(dir, out);
    const k = this.load(dir);
    if (!k) return out;
    const file = this.fileOf(dir);
    for (const field of ['resources', 'bases', 'components']) {
      const list = k[field];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        this.errors.push(`${file}: ${field} must be a list of paths, not ${JSON.stringify(list)}`);
        continue;
      }
      for (const entry of list) {
        if (typeof entry !== 'string' || entry === '') {
          this.errors.push(`${file}: ${field} entry ${JSON.stringify(entry)} is not a path`);
          continue;
        }
        if (
          /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ||
          /^(github\.com|gitlab\.com|bitbucket\.org|git@)/.test(entry)
        ) {
          this.warnings.push(
            `${file}: ${field} entry ${entry} is remote: not fetched, its objects are not validated`,
          );
          continue;
        }
        const path = join(dir, entry);
        const st = statSync(path, { throwIfNoEntry: false });
        if (!st) this.errors.push(`${file}: ${field} entry ${entry}: ${path}: no such file or directory`);
        else if (!st.isDirectory()) out.push({ kind: 'file', path });
        else if (kustomizationIn(path) === undefined)
          this.errors.push(
            `${file}: ${field} entry ${entry}: ${path} is a folder without a kustomization.yaml (kustomize refuses it)`,
          );
        else out.push({ kind: 'dir', path });
      }
    }
    return out;
  }
}

/**
 * A copy of `d` in namespace `ns` (kustomize's namespace transformer) when it is an object berth reads that lives in
 * a namespace: a metallb.io object or a v1 Service (`berth plan`). Other objects are left as written.
 */
function withNamespace(d: InputDoc, ns: string): InputDoc {
  const o = d.object;
  const metallb = typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/');
  const service = o.apiVersion === 'v1' && o.kind === 'Service';
  if (!metallb && !service) return d;
  const md = (o.metadata && typeof o.metadata === 'object' ? o.metadata : {}) as Record<string, unknown>;
  return { ...d, object: { ...o, metadata: { ...md, namespace: ns } } };
}

/**
 * True when a kustomization's patches (patches, patchesStrategicMerge, patchesJson6902) may change a metallb.io
 * object beyond its metadata (labels, annotations such as sync waves change nothing berth validates).
 */
function changesMetallbSpec(k: Record<string, unknown>, dir: string): boolean {
  const targetsMetallb = (t: unknown): boolean => {
    if (!t || typeof t !== 'object') return false;
    const x = t as Record<string, unknown>;
    return x.group === 'metallb.io' || (typeof x.kind === 'string' && METALLB_KINDS.has(x.kind));
  };
  const patchTexts: Array<{ text: string; target: unknown }> = [];
  const add = (p: unknown): void => {
    if (typeof p === 'string') {
      // patchesStrategicMerge: a path or an inline patch
      const f = join(dir, p);
      patchTexts.push({
        text: statSync(f, { throwIfNoEntry: false })?.isFile() ? readFileSync(f, 'utf8') : p,
        target: undefined,
      });
      return;
    }
    if (!p || typeof p !== 'object') return;
    const x = p as Record<string, unknown>;
    let text = typeof x.patch === 'string' ? x.patch : '';
    if (typeof x.path === 'string') {
      const f = join(dir, x.path);
      if (statSync(f, { throwIfNoEntry: false })?.isFile()) text = readFileSync(f, 'utf8');
    }
    patchTexts.push({ text, target: x.target });
  };
  for (const field of ['patches', 'patchesStrategicMerge', 'patchesJson6902']) {
    const list = k[field];
    if (Array.isArray(list)) list.forEach(add);
  }
  for (const { text, target } of patchTexts) {
    let docs: unknown[];
    try {
      docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    } catch {
      docs = [];
    }
    for (const d of docs) {
      if (Array.isArray(d)) {
        if (targetsMetallb(target)) return true; // a JSON 6902 patch of a metallb.io object
        continue;
      }
      if (!d || typeof d !== 'object') continue;
      const o = d as Record<string, unknown>;
      const metallb =
        targetsMetallb(target) ||
        (target === undefined && typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/'));
      if (metallb && Object.keys(o).some((key) => !['apiVersion', 'kind', 'metadata'].includes(key)))
        return true;
    }
  }
  return false;
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

/**
 * Parses one file's text into documents. Every document that cannot be read gives one error naming the file and line
 * (`file:line: invalid YAML: ...`, a duplicate top-level key, a document that is not a mapping); the other documents
 * of the file are kept. `kind: ...List` documents (kubectl get -o yaml) are flattened into their items.
 */
export function parseFile(file: string, text: string): ParsedFile {
  const lc = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const docs: InputDoc[] = [];
  const errors: string[] = [];
  for (const d of list as Document.Parsed[]) {
    if (d.errors.length > 0) {
      const err = d.errors[0]!;
      const line = lc.linePos(err.pos[0]).line;
      errors.push(`${file}:${line}: invalid YAML: ${err.message.split('\n')[0]}`);
      continue;
    }
    const dup = duplicateTopKey(d, lc);
    if (dup) {
      errors.push(`${file}:${dup}`);
      continue;
    }
    let obj: unknown;
    try {
      obj = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      const line = d.contents?.range ? lc.linePos(d.contents.range[0]).line : 1;
      errors.push(`${file}:${line}: invalid YAML: ${(e as Error).message}`);
      continue;
    }
    if (obj == null) continue; // empty document (e.g. trailing ---)
    if (typeof obj !== 'object' || Array.isArray(obj)) {
      const line = d.contents?.range ? lc.linePos(d.contents.range[0]).line : 1;
      errors.push(`${file}:${line}: a document must be a mapping (a Kubernetes object)`);
      continue;
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
  return { docs, errors };
}

/** parseFile as a ReadResult: not ok (every error, one per line) when a document cannot be read. */
export function parseText(file: string, text: string): ReadResult {
  const r = parseFile(file, text);
  if (r.errors.length > 0) return { ok: false, message: r.errors.join('\n') };
  return { ok: true, docs: r.docs, warnings: [] };
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

/**
 * A file read as input whose documents are YAML mappings but none is a Kubernetes object (no document has a string
 * `apiVersion` or `kind`): Helm values, a kustomization without its header, or any other YAML. Nothing in it can
 * configure berth, which `berth validate`/`berth plan` would otherwise only show as "0 metallb.io object(s)".
 */
export interface NotObjectsFile {
  file: string;
  /** 1-based line of the file's first document. */
  line: number;
  /** What it looks like, judged from its top-level keys. */
  looksLike: 'metallb-helm-values' | 'kustomization' | 'yaml';
  /** `FILE holds no Kubernetes object ...: it looks like ...; berth does not read ...; do ...` (command in the hint). */
  message: string;
}

/**
 * Top-level keys of the MetalLB Helm chart's values.yaml (charts/metallb/values.yaml of metallb/metallb), and `metallb`,
 * the key an umbrella chart's values nest the MetalLB subchart's values under.
 */
const METALLB_VALUES_KEYS = new Set([
  'metallb',
  'controller',
  'speaker',
  'crds',
  'frrk8s',
  'prometheus',
  'configInline',
  'existingConfigMap',
  'loadBalancerClass',
  'rbac',
  'psp',
]);
const KUSTOMIZATION_KEYS = new Set(['resources', 'components', 'bases', 'patches', 'patchesStrategicMerge', 'namespace']);

/**
 * The input files (of `docs`, grouped by InputDoc.file, in first-seen order) whose every document is a mapping with
 * neither `apiVersion` nor `kind`. `command` only changes the hint (`helm template ... | berth <command> -`).
 * Files with at least one Kubernetes object, and empty files (no document), are not listed.
 */
export function filesWithoutObjects(
  docs: readonly InputDoc[],
  command: 'validate' | 'plan' = 'validate',
): NotObjectsFile[] {
  const byFile = new Map<string, InputDoc[]>();
  for (const d of docs) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  const out: NotObjectsFile[] = [];
  for (const [file, list] of byFile) {
    if (list.some((d) => typeof d.object.apiVersion === 'string' || typeof d.object.kind === 'string')) continue;
    const keys = [...new Set(list.flatMap((d) => Object.keys(d.object)))];
    const line = Math.min(...list.map((d) => d.line));
    const render = `helm template RELEASE CHART -f ${file === '<stdin>' ? 'VALUES' : file} | berth ${command} -`;
    const head = `${file} holds no Kubernetes object (no document has apiVersion and kind), so nothing in it configures berth`;
    const metallbKeys = keys.filter((k) => METALLB_VALUES_KEYS.has(k));
    let looksLike: NotObjectsFile['looksLike'];
    let message: string;
    if (metallbKeys.length > 0) {
      looksLike = 'metallb-helm-values';
      message =
        `${head}: it looks like Helm values for the metallb chart (top-level ${plural(metallbKeys)}); berth does not ` +
        `read Helm values: render the chart to see its objects (${render}), or write the IPAddressPool and ` +
        `L2Advertisement/BGPAdvertisement objects themselves (docs/migrating.md)`;
    } else if (keys.length > 0 && keys.every((k) => KUSTOMIZATION_KEYS.has(k))) {
      looksLike = 'kustomization';
      message =
        `${head}: it looks like a kustomization (top-level ${plural(keys)}); pass its folder instead ` +
        `(berth ${command} DIR), or render it: kubectl kustomize DIR | berth ${command} -`;
    } else {
      looksLike = 'yaml';
      message =
        `${head} (top-level ${plural(keys)}): if these are Helm values, berth does not read them: render the chart ` +
        `(${render}) or write the metallb.io objects themselves`;
    }
    out.push({ file, line, looksLike, message });
  }
  return out;
}

function plural(keys: readonly string[]): string {
  const shown = keys.slice(0, 5).map((k) => `"${k}"`);
  const more = keys.length > 5 ? `, ... (${keys.length} keys)` : '';
  return `${keys.length === 1 ? 'key' : 'keys'} ${shown.join(', ')}${more}`;
}
