// `berth lab --network --speaker bundle`: the esbuild bundle the lab's speakers run as the image runs them
// (speaker-run.ts mode `bundle`). Built at each lab start from this checkout (image/bundle.ts, so the speakers run the
// code the checkout holds now), to dist/berth-lab-<8 hex of the lab's --dir>.mjs and its chunks: one bundle per lab
// folder, so two labs (each with its own --dir) never rewrite the files the other's speakers load, and dist/berth.mjs
// (what `npm run image` ships) is left alone. It must live in dist/: the bundle finds policies/ and native/ from there.
// image/bundle.ts needs esbuild (a devDependency) and is loaded only here, through an import specifier esbuild cannot
// follow, so the bundle itself (which holds the lab) never pulls esbuild in.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root of this checkout. */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The bundle entry of the lab whose folder is `dir`: `<repo>/dist/berth-lab-<first 8 hex of sha256(resolved dir)>.mjs`.
 * Pure (no file is read or written).
 */
export function labBundleFile(dir: string): string {
  const tag = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 8);
  return join(REPO, 'dist', `berth-lab-${tag}.mjs`);
}

/** What buildLabBundle wrote. */
export interface LabBundle {
  /** Absolute path of the entry (labBundleFile). */
  outfile: string;
  /** Absolute paths of the entry and its chunks. */
  paths: string[];
  /** How many files (entry and chunks). */
  files: number;
  /** Total size in bytes. */
  bytes: number;
}

/**
 * Builds the bundle of this checkout for the lab whose folder is `dir` (labBundleFile) with image/bundle.ts's bundle().
 * Throws an Error saying what failed: image/bundle.ts not loadable (no esbuild: `npm install` with dev dependencies;
 * or `berth lab` itself runs from a bundle, where .ts files cannot be imported), or esbuild's own error.
 */
export async function buildLabBundle(dir: string): Promise<LabBundle> {
  const outfile = labBundleFile(dir);
  // A computed specifier: esbuild leaves this import alone when it bundles the lab (see the file comment).
  const specifier = pathToFileURL(join(REPO, 'image', 'bundle.ts')).href;
  let mod: { bundle(o: { outfile?: string }): Promise<{ outfile: string; files: string[]; bytes: number }> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (e) {
    throw new Error(
      `--speaker bundle builds the speakers' bundle with image/bundle.ts (esbuild, a devDependency: npm install in the checkout, under tsx/npm start): loading it failed: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  try {
    const r = await mod.bundle({ outfile });
    return { outfile: r.outfile, paths: [...r.files], files: r.files.length, bytes: r.bytes };
  } catch (e) {
    throw new Error(`--speaker bundle: building ${outfile} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
