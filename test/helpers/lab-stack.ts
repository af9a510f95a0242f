// The lab stack (API server + webhook + controller, src/cli/lab.ts startLabStack) in a temp dir, for e2e tests that
// run it once per file in before/after hooks.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import type { NodeProcess } from '../../src/lab/processes.ts';

/** Makes a temp dir `<tmp>/<dirPrefix>XXXXXX` and starts the lab stack in its `lab` subfolder. */
export async function startLabStackInTempDir(dirPrefix: string): Promise<{ dir: string; stack: LabStack }> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  return { dir, stack: await startLabStack({ dir: join(dir, 'lab') }) };
}

/** Stops (in order) the test's speaker with SIGTERM, the lab stack, then removes the temp dir; each part optional. */
export async function stopLabStackInTempDir(o: { speaker?: NodeProcess | undefined; stack?: LabStack | undefined; dir?: string }): Promise<void> {
  await o.speaker?.stop('SIGTERM');
  await o.stack?.stop();
  if (o.dir) rmSync(o.dir, { recursive: true, force: true });
}
