// `sudo npx berth lab --network` (network namespaces need root) writes the lab's folder (.lab/dev: kubeconfig with
// mode 0600, certificates, logs) and, with --speaker bundle, dist/berth-lab-*.mjs as root. The README's next steps
// (`kubectl --kubeconfig .lab/dev/kubeconfig …`, `npx berth status`) run as the user, who then cannot read the
// kubeconfig, and a later plain `npm start` cannot take the lab lock (EACCES on .lab/dev/lab.pid). So a lab run under
// sudo gives what it wrote back to the user sudo names (SUDO_UID/SUDO_GID, set by sudo(8)).
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** The user and group a root process was started for by sudo. */
export interface SudoUser {
  uid: number;
  gid: number;
}

/**
 * The invoking user of a root process started with sudo: SUDO_UID/SUDO_GID of `env` when `uid` (default the process's)
 * is 0 and both are decimal integers above 0 (root itself running sudo gets nothing back). Undefined otherwise. Pure.
 */
export function sudoUser(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): SudoUser | undefined {
  if (uid !== 0) return undefined;
  const n = (v: string | undefined): number | undefined => (v !== undefined && /^[1-9]\d{0,9}$/.test(v) ? Number(v) : undefined);
  const u = n(env['SUDO_UID']);
  const g = n(env['SUDO_GID']);
  return u !== undefined && g !== undefined ? { uid: u, gid: g } : undefined;
}

/**
 * Gives `path` and, when it is a folder, everything under it to `owner` (lchown: symbolic links themselves, never their
 * targets). Also gives each folder between `root` (exclusive) and `path` that belongs to uid 0, e.g. `.lab` created by
 * the same run. Never throws: returns one line per path that could not be changed (`<path>: <error>`).
 */
export function giveToUser(path: string, owner: SudoUser, root?: string): string[] {
  const problems: string[] = [];
  const chown = (p: string): void => {
    try {
      lchownSync(p, owner.uid, owner.gid);
    } catch (e) {
      problems.push(`${p}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      problems.push(`${p}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    chown(p);
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = readdirSync(p);
    } catch (e) {
      problems.push(`${p}: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const name of names) walk(join(p, name));
  };
  const target = resolve(path);
  walk(target);
  if (root !== undefined) {
    const top = resolve(root);
    for (let d = dirname(target); d !== top && relative(top, d) !== '' && !relative(top, d).startsWith('..') && d.startsWith(top + sep); d = dirname(d)) {
      try {
        if (lstatSync(d).uid === 0) chown(d);
      } catch {
        // gone: nothing to give
      }
    }
  }
  return problems;
}
