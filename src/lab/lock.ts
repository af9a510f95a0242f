// One lab per folder: `berth lab` holds <dir>/lab.pid while it runs, so a second `npm start` on the same folder is
// refused instead of rewriting its kubeconfig (and, with --network, its api.sock). The file is created with O_EXCL
// and holds `<pid> <start time>` (the start time from /proc/<pid>/stat field 22, in clock ticks since boot), so a
// lock is stale (taken over, with a note) when its pid is not alive or is now another process (pid reused).
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The lock file's name in the lab's folder. */
export const LAB_LOCK_FILE = 'lab.pid';

export interface LabLock {
  readonly path: string;
  /** Removes the file if it is still ours. Idempotent; never throws. */
  release(): void;
}

export type AcquireResult =
  | { ok: true; lock: LabLock; /** Set when a stale lock was taken over: whose it was and why stale. */ tookOver?: string }
  | { ok: false; /** The pid of the lab that holds the folder. */ pid: number };

/** Start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or undefined off Linux / when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may contain spaces: count fields after its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the lock content `text` is stale, or undefined when its process still runs. */
function staleReason(text: string): string | undefined {
  const [pidText, start] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return `its content "${text.trim().slice(0, 40)}" is not "<pid> <start time>"`;
  if (!alive(pid)) return `pid ${pid} is not running`;
  const now = processStartTime(pid);
  if (start && now !== undefined && now !== start) return `pid ${pid} is now another process, not a berth lab`;
  return undefined;
}

/**
 * Takes `<dir>/lab.pid` for this process (`dir` must exist). Refuses ({ ok: false, pid }) when a live lab holds it;
 * takes over a stale one (dead pid, reused pid, garbage content). Throws only on filesystem errors other than
 * EEXIST (e.g. EACCES), with the path in the message.
 */
export function acquireLabLock(dir: string, pid = process.pid): AcquireResult {
  const path = join(dir, LAB_LOCK_FILE);
  const content = `${pid} ${processStartTime(pid) ?? ''}`.trim() + '\n';
  let tookOver: string | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`lab lock ${path}: ${(e as Error).message}`);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue; // removed meanwhile: try again
      }
      // A lab that has created the file but not yet written it: give it a moment before calling it garbage.
      if (text === '' && attempt < 4) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      const why = staleReason(text);
      if (why === undefined) return { ok: false, pid: Number(text.trim().split(/\s+/)[0]) };
      tookOver = `took over the stale lock ${path} (${why})`;
      try {
        unlinkSync(path);
      } catch {
        // another starter removed it first: the next attempt decides
      }
      continue;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    const lock: LabLock = {
      path,
      release() {
        try {
          if (readFileSync(path, 'utf8') === content) unlinkSync(path);
        } catch {
          // already gone
        }
      },
    };
    return tookOver ? { ok: true, lock, tookOver } : { ok: true, lock };
  }
  throw new Error(`lab lock ${path}: could not take it (removed and recreated by another start 5 times)`);
}
