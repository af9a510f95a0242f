// Preloaded (`node --import <this file>`) into every process src/lab/processes.ts spawnNode starts, so that no child
// outlives the process that started it, however that one ends (SIGKILL included): the lab's controller, webhook and
// speakers (also inside network namespaces: `ip netns exec` keeps open descriptors), the chaos suite's replicas.
// Linux's prctl(PR_SET_PDEATHSIG) is not reachable from Node, and process.ppid is read once at start, so the parent
// hands the child one end of a pipe as descriptor BERTH_PARENT_FD (3) and keeps the other end open without ever
// writing to it; the kernel closes that end when the parent dies, and the child reads EOF. The child then sends
// itself SIGTERM (its own graceful stop runs) and exits with 1 if it is still there 5 s later. (Without this, a child
// that happened to log died of EPIPE on its stdout, and a quiet one ran on, reparented.)
// Plain JavaScript (not TypeScript) so it loads with and without the tsx loader (bundles run with `tsx: false`).
import { Socket } from 'node:net';

/** Environment variable naming the descriptor of the parent's pipe (set by spawnNode; removed here). */
export const PARENT_FD_ENV = 'BERTH_PARENT_FD';
/** Seconds between the SIGTERM a child sends itself and its forced exit. */
const FORCE_EXIT_MS = 5000;

const fd = Number(process.env[PARENT_FD_ENV]);
// Not inherited by the processes this one starts (they get their own pipe from their own parent, if any).
delete process.env[PARENT_FD_ENV];
if (Number.isInteger(fd) && fd > 2) {
  let pipe;
  try {
    pipe = new Socket({ fd, readable: true, writable: false });
  } catch (e) {
    process.stderr.write(`exit-with-parent: descriptor ${fd} is not the parent's pipe (${e instanceof Error ? e.message : String(e)}); not watching the parent\n`);
  }
  if (pipe) {
    let gone = false;
    const parentGone = () => {
      if (gone) return;
      gone = true;
      // Whoever read our output died with the parent: a write now fails with EPIPE, which must not cut the graceful
      // stop short (a speaker's BGP Cease, a controller's lease release).
      for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
      process.stderr.write(`exit-with-parent: parent process gone (descriptor ${fd} closed); stopping with SIGTERM\n`);
      setTimeout(() => {
        process.stderr.write(`exit-with-parent: still running ${FORCE_EXIT_MS} ms after SIGTERM; exiting\n`);
        process.exit(1);
      }, FORCE_EXIT_MS).unref();
      process.kill(process.pid, 'SIGTERM');
    };
    pipe.on('end', parentGone).on('close', parentGone).on('error', parentGone);
    // Bytes are never sent; read (and drop) them so EOF is seen. unref: the watch never keeps the child alive.
    pipe.on('data', () => undefined);
    pipe.unref();
  }
}
