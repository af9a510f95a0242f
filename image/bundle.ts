// The esbuild bundle of berth: one ESM file (dist/berth.mjs) for Node 20 holding every command of src/cli/main.ts and
// all its npm dependencies, so the image runs plain `node`, never tsx (issue 10 "Image").
//
// Files read at run time relative to a module's `import.meta.url` (policies/admission.json in src/webhook/policy.ts,
// the addon native/build/Release/berth_native.node in src/speaker/link/packet.ts) keep working: the plugin below
// rewrites `import.meta.url` / `import.meta.dirname` in each source file to the URL that file has in the checkout,
// computed at run time relative to the bundle (`new URL('../src/webhook/policy.ts', import.meta.url)` from dist/).
// So dist/berth.mjs in the checkout finds the checkout's files, and /app/dist/berth.mjs in the image finds
// /app/policies and /app/native (image/build.ts copies them there). The addon stays a file loaded by require().
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** The repository root (the folder holding package.json). */
export const REPO = fileURLToPath(new URL('../', import.meta.url));

export interface BundleResult {
  /** Absolute path of the bundle written. */
  outfile: string;
  /** Its size in bytes. */
  bytes: number;
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

/**
 * Bundles image/entry.ts (src/cli/main.ts and every command) to `outfile` (default <repo>/dist/berth.mjs; the bundle
 * finds policies/ and native/ at ../policies and ../native from its own folder, wherever it is written): ESM,
 * platform node, target node20, all dependencies inlined, whitespace and syntax minified unless `minify` is false
 * (names kept, so stack traces name the functions), no source map. Throws esbuild's error (listing every message) when the build fails.
 */
export async function bundle(o: { outfile?: string; minify?: boolean } = {}): Promise<BundleResult> {
  const outfile = resolve(o.outfile ?? resolve(REPO, 'dist/berth.mjs'));
  const r = await esbuild.build({
    entryPoints: [resolve(REPO, 'image/entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies call require(): give the ESM bundle one.
    banner: {
      js: [
        "import { createRequire as __berthCreateRequire } from 'node:module';",
        "import { fileURLToPath as __berthFileURLToPath } from 'node:url';",
        'const require = __berthCreateRequire(import.meta.url);',
      ].join('\n'),
    },
    // Paths as seen from <repo>/dist, wherever the file is written: the image puts it at /app/dist/berth.mjs.
    plugins: [importMetaPlugin(resolve(REPO, 'dist'))],
    legalComments: 'none',
    // Whitespace and syntax only: identifiers (function names in stack traces) stay; 19 MB → 8 MB of source that
    // V8 keeps in memory for the life of the process (about 10 MiB less RSS for the controller).
    minifyWhitespace: o.minify ?? true,
    minifySyntax: o.minify ?? true,
    logLevel: 'silent',
    metafile: true,
  });
  const warnings = (await esbuild.formatMessages(r.warnings, { kind: 'warning' })).map((w) => w.trim());
  const bytes = Object.values(r.metafile.outputs)[0]?.bytes ?? 0;
  return { outfile, bytes, warnings };
}
