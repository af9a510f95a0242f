// Running berth's processes as children (`berth lab`, end-to-end tests, benches): `node --import tsx <script> …`,
// output kept in a bounded buffer (and optionally a log file), ready when a line matches. Stopped by pid: SIGTERM,
// then SIGKILL after a timeout. The one spawner for the controller and the webhook processes. Every child exits when
// the process that spawned it dies, even by SIGKILL (exit-with-parent.mjs, unless `exitWithParent: false`).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { availableParallelism, constants, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface NodeProcess {
  readonly pid: number;
  /** The last ~256 kB of output (stdout and stderr interleaved). */
  output(): string;
  /**
   * First match of `re` in the output so far, waiting up to `timeoutMs` (default 30 s; with `opts.whileProgress`,
   * longer while the process makes progress). Rejects when the process exits first or the time is up, with an Error
   * naming the process (SpawnOptions.role, pid, log file), how long it waited, the load average and `opts.hint`.
   */
  waitFor(re: RegExp, timeoutMs?: number, opts?: WaitOptions): Promise<RegExpExecArray>;
  readonly exited: boolean;
  /** The exit code; for a process killed by a signal, 128 + the signal's number (as a shell reports it). */
  readonly exitCode: number | null;
  /** The signal that killed the process (e.g. `SIGKILL`), null when it exited by itself or still runs. */
  readonly exitSignal: NodeJS.Signals | null;
  /** Resolves with the exit code when the process ends. */
  readonly done: Promise<number | null>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs` (default 5 s); resolves when it has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Options of NodeProcess.waitFor. */
export interface WaitOptions {
  /**
   * When `timeoutMs` passes and the process made progress during it (its output grew, or it used CPU time: a node
   * process still loading its TypeScript sources on a loaded machine prints nothing), wait another `timeoutMs`,
   * up to `maxMs` in all (default 4 × timeoutMs). A process that printed nothing and used no CPU is given up on.
   */
  readonly whileProgress?: boolean;
  readonly maxMs?: number;
  /** Appended to the timeout message: what to do (e.g. how to raise the timeout). */
  readonly hint?: string;
}

export interface SpawnOptions {
  /** What the process is, for messages: e.g. `forwarder of node n2` (default `process`). */
  readonly role?: string;
  /** Appends the output here too. */
  readonly logFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Called with each output line. */
  readonly onLine?: (line: string) => void;
  /** Extra node flags (e.g. `--max-semi-space-size=2`). */
  readonly nodeArgs?: readonly string[];
  /** Run the script through tsx (default), or as plain JavaScript (a bundle). */
  readonly tsx?: boolean;
  /** A command that execs node in place, e.g. `['ip', 'netns', 'exec', ns]` (pid stays node's). */
  readonly wrapper?: readonly string[];
  /**
   * `pipe`: the child's stdin is a pipe this process holds open and never writes to, so the child sees EOF when this
   * process dies, even by SIGKILL (how a child that must not outlive its parent notices). Default `ignore`.
   */
  readonly stdin?: 'ignore' | 'pipe';
  /**
   * The child exits when this process dies, whichever way (SIGKILL included): it gets a pipe as descriptor 3 and
   * `exit-with-parent.mjs` preloaded, which sends the child SIGTERM (then exits it 5 s later) on EOF. Default true;
   * false for a child that must outlive this process.
   */
  readonly exitWithParent?: boolean;
  /**
   * Stops the child (SIGTERM, SIGKILL 5 s later) when this signal aborts, e.g. a Ctrl-C while the lab starts: a
   * `waitFor` of its ready line then rejects (the process exited), and the caller undoes what it made.
   */
  readonly signal?: AbortSignal;
}

const MAX_BUFFER = 256 * 1024;
const TSX = import.meta.resolve('tsx');
/** The preload that makes a child exit with its parent (see SpawnOptions.exitWithParent). */
export const EXIT_WITH_PARENT = new URL('./exit-with-parent.mjs', import.meta.url).href;
/** The child's descriptor of the parent's pipe (after stdin, stdout, stderr). */
const PARENT_FD = 3;

export const CONTROLLER_MAIN = fileURLToPath(new URL('../controller/main.ts', import.meta.url));
export const WEBHOOK_MAIN = fileURLToPath(new URL('../webhook/main.ts', import.meta.url));

/** Spawns `node --import tsx script ...args`. */
export function spawnNode(script: string, args: readonly string[], opts: SpawnOptions = {}): NodeProcess {
  const loader = opts.tsx === false ? [] : ['--import', TSX];
  const watch = opts.exitWithParent !== false;
  const argv = [...(opts.nodeArgs ?? []), ...(watch ? ['--import', EXIT_WITH_PARENT] : []), ...loader, script, ...args];
  const [cmd, ...pre] = opts.wrapper?.length ? [...opts.wrapper, process.execPath] : [process.execPath];
  const env = opts.env ?? process.env;
  const child: ChildProcess = spawn(cmd!, [...pre, ...argv], {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe', ...(watch ? (['pipe'] as const) : [])],
    env: watch ? { ...env, BERTH_PARENT_FD: String(PARENT_FD) } : env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  // This end of the parent's pipe is never written to; it stays open until the child exits (then it is closed, so
  // a long run that restarts children does not collect descriptors), and never keeps this process alive.
  const parentPipe = watch ? child.stdio[PARENT_FD] : null;
  if (parentPipe && 'unref' in parentPipe) {
    parentPipe.on('error', () => undefined);
    parentPipe.on('data', () => undefined);
    (parentPipe as { unref(): void }).unref();
  }
  let out = '';
  /** Bytes of output so far (out is bounded; this is not). */
  let written = 0;
  let partial = '';
  let log: WriteStream | undefined = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const waiters = new Set<() => void>();
  let exited = false;
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  const done = new Promise<number | null>((resolve) => {
    child.once('exit', (code, sig) => {
      exited = true;
      exitSignal = sig;
      exitCode = code ?? (sig ? 128 + (constants.signals[sig] ?? 0) : null);
      parentPipe?.destroy();
      log?.end();
      log = undefined;
      for (const w of [...waiters]) w();
      resolve(exitCode);
    });
  });
  const onData = (b: Buffer): void => {
    const s = b.toString();
    out += s;
    written += b.length;
    if (out.length > MAX_BUFFER) out = out.slice(out.length - MAX_BUFFER / 2);
    log?.write(s);
    if (opts.onLine) {
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        opts.onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    }
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  /** `forwarder of node n2 (pid 2312, log .lab/dev/forwarder-n2.log)`. */
  const who = (): string => `${opts.role ?? 'process'} (pid ${proc.pid}${opts.logFile ? `, log ${opts.logFile}` : ''})`;
  /** The output's last lines, or a line saying there was none. */
  const tail = (): string => (out === '' ? '\n(it printed nothing)' : `; its last output:\n${out.slice(-4000)}`);
  const proc: NodeProcess = {
    pid: child.pid ?? -1,
    output: () => out,
    get exited() {
      return exited;
    },
    get exitCode() {
      return exitCode;
    },
    get exitSignal() {
      return exitSignal;
    },
    done,
    waitFor(re, timeoutMs = 30_000, wait = {}) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const maxMs = wait.whileProgress ? Math.max(timeoutMs, wait.maxMs ?? 4 * timeoutMs) : timeoutMs;
        let mark = { bytes: written, cpu: cpuTicks(proc.pid) };
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            finish();
            resolve(m);
          } else if (exited) {
            finish();
            reject(new Error(`${who()} ${describeExit(proc)} before printing ${re}${tail()}`));
          }
        };
        const expire = (): void => {
          const waited = Date.now() - started;
          const now = { bytes: written, cpu: cpuTicks(proc.pid) };
          const progressed = now.bytes > mark.bytes || (now.cpu !== undefined && mark.cpu !== undefined && now.cpu > mark.cpu);
          mark = now;
          if (wait.whileProgress && progressed && waited + 1 < maxMs) {
            timer = setTimeout(expire, Math.min(timeoutMs, maxMs - waited));
            return;
          }
          finish();
          const [l1] = loadavg();
          const why = wait.whileProgress
            ? waited + 1 >= maxMs
              ? `, still making progress, the most it is given (${maxMs} ms)`
              : `, no output and no CPU time in the last ${timeoutMs} ms`
            : '';
          reject(
            new Error(
              `${who()} did not print ${re} within ${waited} ms (still running${why}; load average ${l1!.toFixed(1)} on ` +
                `${availableParallelism()} CPU(s))${wait.hint ? `: ${wait.hint}` : ''}${tail()}`,
            ),
          );
        };
        let timer = setTimeout(expire, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (exited) return exitCode;
      child.kill(signal);
      const t = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, graceMs);
      const code = await done;
      clearTimeout(t);
      return code;
    },
  };
  const abortSignal = opts.signal;
  if (abortSignal) {
    const onAbort = (): void => void proc.stop();
    if (abortSignal.aborted) queueMicrotask(onAbort);
    else {
      abortSignal.addEventListener('abort', onAbort, { once: true });
      void done.then(() => abortSignal.removeEventListener('abort', onAbort));
    }
  }
  return proc;
}

/** CPU time used by process `pid` so far in clock ticks (utime + stime of /proc/PID/stat), undefined without /proc. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ... : comm may hold spaces and parentheses; the fields after the last ')' are fixed.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5): utime, stime
  } catch {
    return undefined;
  }
}

/**
 * How an exited process ended, for messages: `exited with 1`, `killed by SIGKILL`; `still running` before it ends.
 */
export function describeExit(p: Pick<NodeProcess, 'exited' | 'exitCode' | 'exitSignal'>): string {
  if (!p.exited) return 'still running';
  return p.exitSignal ? `killed by ${p.exitSignal}` : `exited with ${p.exitCode ?? 'no code'}`;
}

export interface ControllerProcess extends NodeProcess {
  /** The /metrics port when started with `--metrics-port auto` (else undefined). */
  readonly metricsPort: number | undefined;
}

/**
 * Starts the controller (`src/controller/main.ts`, or `script`: e.g. a bundle built from it, run with `tsx: false`)
 * and waits for its ready line.
 */
export async function startControllerProcess(
  args: readonly string[],
  opts: SpawnOptions & { readonly timeoutMs?: number; readonly script?: string } = {},
): Promise<ControllerProcess> {
  const p = spawnNode(opts.script ?? CONTROLLER_MAIN, args, opts);
  try {
    const m = await p.waitFor(/controller: ready .* metrics=(\d+|off)/, opts.timeoutMs ?? 30_000);
    const port = m[1] === 'off' ? undefined : Number(m[1]);
    return Object.assign(p, { metricsPort: port });
  } catch (e) {
    await p.stop('SIGKILL');
    throw e;
  }
}

export interface WebhookProcess extends NodeProcess {
  readonly url: string;
  readonly port: number;
}

/**
 * Starts the webhook (`src/webhook/main.ts`) on 127.0.0.1 and a free port; resolves once it listens and (unless
 * `waitReady: false`) printed its ready line.
 */
export async function startWebhookProcess(
  args: readonly string[],
  opts: SpawnOptions & { readonly timeoutMs?: number; readonly waitReady?: boolean } = {},
): Promise<WebhookProcess> {
  const p = spawnNode(WEBHOOK_MAIN, ['--host', '127.0.0.1', '--port', '0', ...args], opts);
  try {
    const m = await p.waitFor(/webhook: listening on https:\/\/127\.0\.0\.1:(\d+)/, opts.timeoutMs ?? 30_000);
    if (opts.waitReady !== false) await p.waitFor(/webhook: ready /, opts.timeoutMs ?? 30_000);
    const port = Number(m[1]);
    return Object.assign(p, { url: `https://127.0.0.1:${port}`, port });
  } catch (e) {
    await p.stop('SIGKILL');
    throw e;
  }
}

/**
 * A signal that aborts when `outer` does (at once if it already did), until `release()`: ties children (spawnNode's
 * `signal`) to a Ctrl-C only while they start, so that a stop after startup keeps its own order (speakers before the
 * forwarders they talk through). Without `outer`, a signal that never aborts.
 */
export function startupSignal(outer: AbortSignal | undefined): { readonly signal: AbortSignal; release(): void } {
  const c = new AbortController();
  if (!outer) return { signal: c.signal, release: () => undefined };
  const onAbort = (): void => c.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return { signal: c.signal, release: () => outer.removeEventListener('abort', onAbort) };
}
