// Helpers for tests that run `berth lab` (src/cli/main.ts) as a real child process: the entry point, pid liveness,
// killing leftovers by pid, a lab in a temp dir cleaned up after the test, and deleting a --network lab's namespaces.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { DEFAULT_STATE_DIR } from '../../src/lab/network/network.ts';
import { namespacesOf, run } from '../../src/lab/network/topology.ts';
import { spawnNode, type NodeProcess } from '../../src/lab/processes.ts';

/** Path of the `berth` CLI entry point (run with tsx by spawnNode). */
export const BERTH_MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** True while a process with `pid` exists (signal 0, kill(2)); false once it is gone or not ours to see. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs `pid`; a process already gone is no error. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Polls every 100 ms until `pid` is gone or `timeoutMs` (default 10 s) passed; true when gone. */
export async function waitGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

/** A `berth lab` child of a test: the process, its temp --dir and the pids to SIGKILL after the test. */
export interface LabRun {
  lab: NodeProcess;
  dir: string;
  /** Pids (controller, webhook…) the cleanup SIGKILLs in case they outlive the lab. */
  kids: number[];
}

/**
 * Starts `berth lab <args> --dir <new temp dir named dirPrefix…>` and registers a `t.after` that SIGKILLs the lab
 * and every pid in `kids`, then removes the dir.
 */
export function spawnLab(t: TestContext, dirPrefix: string, args: string[]): LabRun {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const kids: number[] = [];
  const lab = spawnNode(BERTH_MAIN, ['lab', ...args, '--dir', dir]);
  t.after(async () => {
    await lab.stop('SIGKILL');
    for (const pid of kids) killQuietly(pid);
    rmSync(dir, { recursive: true, force: true });
  });
  return { lab, dir, kids };
}

/**
 * Removes what a `berth lab --network` with segment `prefix` left: SIGKILLs every process inside its namespaces,
 * deletes the namespaces (`ip netns del`) and its run record under DEFAULT_STATE_DIR.
 */
export async function removeLabNetwork(prefix: string): Promise<void> {
  for (const ns of await namespacesOf(prefix)) {
    for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean)) killQuietly(Number(pid));
    await run('ip', ['netns', 'del', ns]);
  }
  rmSync(join(DEFAULT_STATE_DIR, `${prefix}.json`), { force: true });
}
