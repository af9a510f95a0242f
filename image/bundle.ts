// The esbuild bundle of berth: ESM files for Node 20 holding every command of src/cli/main.ts and all its npm
// dependencies, so the image runs plain `node`, never tsx (issue 10 "Image"). The entry is dist/berth.mjs; what is
// imported dynamically (each command: controller, webhook, speaker, lab; @kubernetes/client-node, imported only for
// exec-plugin auth) sits in chunk files beside it, dist/berth.<name>-<hash>.mjs (esbuild code splitting), so a process
// parses and keeps only the code its command reaches: the speaker loads about 1 MB of the 8 MB, which is ~30 MiB less
// RSS than one file (V8 keeps each module's source text for the life of the process; issue 8, bench/speaker-rss.ts).
// The chunks must be shipped with the entry (bundleFiles()).
//
// Files read at run time relative to a module's `import.meta.url` (policies/admission.json in src/webhook/policy.ts,
// the addon native/build/Release/berth_native.node in src/speaker/link/packet.ts) keep working: the plugin below
// rewrites `import.meta.url` / `import.meta.dirname` in each source file to the URL that file has in the checkout,
// computed at run time relative to the bundle (`new URL('../src/webhook/policy.ts', import.meta.url)` from dist/).
// So dist/berth.mjs in the checkout finds the checkout's files, and /app/dist/berth.mjs in the image finds
// /app/policies and /app/native (image/build.ts copies them there). The addon stays a file loaded by require().
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** The repository root (the folder holding package.json). */
export const REPO = fileURLToPath(new URL('../', import.meta.url));

export interface BundleResult {
  /** Absolute path of the bundle's entry written (dist/berth.mjs). */
  outfile: string;
  /** Absolute paths of every file of the bundle: the entry first, then its chunks (same folder), sorted. */
  files: string[];
  /** Their total size in bytes. */
  bytes: number;
  /** esbuild's metafile: every output file with its inputs and imports (static `import-statement`, `dynamic-import`). */
  metafile: esbuild.Metafile;
  /** esbuild warnings, as text. */
  warnings: string[];
}

/** The expression that stands for `import.meta.url` of `file` (absolute path) inside a bundle written to `outdir`. */
function urlExpression(file: string, outdir: string): string {
  const rel = relative(outdir, file).split(sep).join('/');
  return `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
}

/**
 * esbuild plugin: in every .ts file of the repository (not node_modules), `import.meta.url` becomes the file's own
 * URL relative to the bundle and `import.meta.dirname` its folder. Other `import.meta` uses are left alone.
 */
function importMetaPlugin(outdir: string): esbuild.Plugin {
  return {
    name: 'berth-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const source = await readFile(args.path, 'utf8');
        const url = urlExpression(args.path, outdir);
        const dir = `__berthFileURLToPath(${urlExpression(dirname(args.path) + sep, outdir).replace('.href', '')})`;
        const contents = source
          .replaceAll('import.meta.url', `(${url})`)
          .replaceAll('import.meta.dirname', `(${dir}).replace(/\\/$/, '')`);
        return { contents, loader: 'ts' };
      });
    },
  };
}

/** The chunk files of the bundle whose entry is `outfile`: `<stem>.<name>-<hash>.mjs` in its folder. */
function chunkPattern(outfile: string): RegExp {
  const stem = basename(outfile).replace(/\.mjs$/, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${stem}\\.[\\w-]+-[A-Z0-9]{8}\\.mjs$`);
}

/**
 * Every file of the bundle whose entry is `outfile` (absolute or relative path of e.g. dist/berth.mjs): the entry, then
 * the chunk files beside it (`berth.<name>-<hash>.mjs`), sorted. What an image must ship (to one folder) for the entry
 * to run. Throws when `outfile` does not exist (ENOENT from readdir of its folder, or an Error naming the file).
 */
export function bundleFiles(outfile: string): string[] {
  const file = resolve(outfile);
  const dir = dirname(file);
  const names = readdirSync(dir);
  if (!names.includes(basename(file))) throw new Error(`bundle: ${file} does not exist (npx tsx image/build.ts --bundle-only writes it)`);
  const re = chunkPattern(file);
  return [file, ...names.filter((n) => re.test(n)).sort().map((n) => join(dir, n))];
}

/**
 * Bundles image/entry.ts (src/cli/main.ts and every command) to `outfile` (default <repo>/dist/berth.mjs) and its
 * chunks beside it (code splitting at each dynamic import; chunks of earlier builds that this one no longer has are
 * deleted). The bundle finds policies/ and native/ at ../policies and ../native from its own folder, wherever it is
 * written: ESM, platform node, target node20, all dependencies inlined, whitespace and syntax minified unless `minify`
 * is false (names kept, so stack traces name the functions), no source map. Throws esbuild's error (listing every
 * message) when the build fails.
 */
export async function bundle(o: { outfile?: string; minify?: boolean } = {}): Promise<BundleResult> {
  const outfile = resolve(o.outfile ?? resolve(REPO, 'dist/berth.mjs'));
  const outdir = dirname(outfile);
  const stem = basename(outfile).replace(/\.mjs$/, '');
  const r = await esbuild.build({
    entryPoints: { [stem]: resolve(REPO, 'image/entry.ts') },
    outdir,
    // Chunks in the entry's folder (never a subfolder): the import.meta rewrite below computes every path from there.
    absWorkingDir: REPO,
    splitting: true,
    chunkNames: `${stem}.[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies call require(): give each ESM file one.
    banner: {
      js: [
        "import { createRequire as __berthCreateRequire } from 'node:module';",
        "import { fileURLToPath as __berthFileURLToPath } from 'node:url';",
        'const require = __berthCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    // Paths as seen from <repo>/dist, wherever the files are written: the image puts them in /app/dist.
    plugins: [importMetaPlugin(resolve(REPO, 'dist'))],
    legalComments: 'none',
    // Whitespace and syntax only: identifiers (function names in stack traces) stay; 19 MB → 8 MB of source.
    minifyWhitespace: o.minify ?? true,
    minifySyntax: o.minify ?? true,
    logLevel: 'silent',
    metafile: true,
  });
  const warnings = (await esbuild.formatMessages(r.warnings, { kind: 'warning' })).map((w) => w.trim());
  const written = new Set(Object.keys(r.metafile.outputs).map((f) => resolve(REPO, f)));
  // Chunks of earlier builds (other hashes) go: the folder then holds exactly this bundle.
  for (const f of bundleFiles(outfile)) if (!written.has(f)) rmSync(f, { force: true });
  const files = bundleFiles(outfile);
  const bytes = Object.entries(r.metafile.outputs).reduce((n, [, out]) => n + out.bytes, 0);
  return { outfile, files, bytes, metafile: r.metafile, warnings };
}
