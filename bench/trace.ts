// Helpers of bench/controller.ts: where a Service's time-to-IP goes, a CPU hog, and per-process CPU and memory.
//
// PathTrace follows each timed Service along admission → stored → watch event → reconcile → status → watch, from
// timestamps the bench takes itself (create sent, create answered, first watch event, status seen) and from the decision
// lines the webhook and the controller log anyway (pino JSON, ISO time to the ms, `durationMs`): the webhook's
// `decision: admission` line per review (mutate and validate) and the controller's `decision: reconcile` line. All
// times are wall-clock epoch ms (one machine, one clock).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Wall-clock epoch ms with sub-ms resolution (comparable with the children's Date.now()). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The value at quantile `p` (0..1) of an ascending array (nearest rank, floor); NaN when empty. */
export function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? NaN;
}

/** `p50 … p90 … p99 … max …` of `values` (ms), one decimal. */
export function quantiles(values: readonly number[]): string {
  const s = [...values].sort((a, b) => a - b);
  const f = (v: number) => `${v.toFixed(1)} ms`;
  return `p50 ${f(pct(s, 0.5))}  p90 ${f(pct(s, 0.9))}  p99 ${f(pct(s, 0.99))}  max ${f(pct(s, 1))}`;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

/** One timed Service's timestamps (epoch ms). */
export interface Trace {
  send?: number;
  reply?: number;
  mutate?: Span;
  validate?: Span;
  reconcile?: Span;
  /** The bench's own watch got the Service's first event (when an informer could have it: API server watch lag). */
  added?: number;
  seen?: number;
}

interface Decision {
  decision?: string;
  service?: string;
  webhook?: string;
  operation?: string;
  result?: string;
  ips?: string[];
  durationMs?: number;
  time?: string;
}

function parseDecision(line: string, prefix: string | undefined): Decision | undefined {
  if (prefix === undefined || !line.includes(`"service":"${prefix}`)) return undefined;
  try {
    return JSON.parse(line) as Decision;
  } catch {
    return undefined;
  }
}

function spanOf(d: Decision): Span | undefined {
  const end = d.time ? Date.parse(d.time) : NaN;
  if (!Number.isFinite(end) || typeof d.durationMs !== 'number') return undefined;
  return { start: end - d.durationMs, end };
}

/** The stages of a time-to-IP, each as (trace) → ms or undefined when a timestamp is missing. */
const STAGES: ReadonlyArray<readonly [string, (t: Trace) => number | undefined]> = [
  ['send → mutate webhook starts', (t) => diff(t.mutate?.start, t.send)],
  ['mutate webhook (incl. claim create)', (t) => diff(t.mutate?.end, t.mutate?.start)],
  ['mutate ends → validate starts', (t) => diff(t.validate?.start, t.mutate?.end)],
  ['validate webhook', (t) => diff(t.validate?.end, t.validate?.start)],
  ['validate ends → create answered', (t) => diff(t.reply, t.validate?.end ?? t.mutate?.end)],
  ['create answered → a watch sees it', (t) => diff(t.added, t.reply)],
  ['a watch sees it → reconcile starts', (t) => diff(t.reconcile?.start, t.added)],
  ['reconcile starts → watch sees IP', (t) => diff(t.seen, t.reconcile?.start)],
  // Not a step of the path: the whole reconcile, including what it writes after the status (the claim's uid binding).
  ['(whole reconcile, incl. claim bind)', (t) => diff(t.reconcile?.end, t.reconcile?.start)],
];

function diff(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

/** Stage timestamps of the Services whose key (namespace/name) starts with `prefix` (none while it is undefined). */
export class PathTrace {
  readonly traces = new Map<string, Trace>();
  prefix: string | undefined;

  #get(key: string): Trace | undefined {
    if (this.prefix === undefined || !key.startsWith(this.prefix)) return undefined;
    let t = this.traces.get(key);
    if (!t) this.traces.set(key, (t = {}));
    return t;
  }

  send(key: string, at: number): void {
    const t = this.#get(key);
    if (t) t.send = at;
  }

  reply(key: string, at: number): void {
    const t = this.#get(key);
    if (t) t.reply = at;
  }

  added(key: string, at: number): void {
    const t = this.#get(key);
    if (t && t.added === undefined) t.added = at;
  }

  seen(key: string, at: number): void {
    const t = this.#get(key);
    if (t && t.seen === undefined) t.seen = at;
  }

  /** A webhook output line (its CREATE decisions). */
  webhookLine = (line: string): void => {
    const d = parseDecision(line, this.prefix);
    if (d?.decision !== 'admission' || d.operation !== 'CREATE' || !d.service) return;
    const t = this.#get(d.service);
    const span = spanOf(d);
    if (!t || !span) return;
    if (/mutat/i.test(d.webhook ?? '')) t.mutate ??= span;
    else if (/valid/i.test(d.webhook ?? '')) t.validate ??= span;
  };

  /** A controller output line (the first successful reconcile that holds IPs). */
  controllerLine = (line: string): void => {
    const d = parseDecision(line, this.prefix);
    if (d?.decision !== 'reconcile' || d.result !== 'success' || !d.service || !(d.ips?.length ?? 0)) return;
    const t = this.#get(d.service);
    const span = spanOf(d);
    if (t && span) t.reconcile ??= span;
  };

  /**
   * Lines: each stage's p50/p90/p99/max over every traced Service, then the mean of each stage over the slowest 1 %
   * (at least 5) by time-to-IP — where the tail's time goes.
   */
  report(indent = '    '): string[] {
    const all = [...this.traces.values()].filter((t) => t.send !== undefined && t.seen !== undefined);
    if (all.length === 0) return [`${indent}(no traces)`];
    const total = (t: Trace) => t.seen! - t.send!;
    const slow = [...all].sort((a, b) => total(b) - total(a)).slice(0, Math.max(5, Math.ceil(all.length / 100)));
    const out = [`${indent}${'stage'.padEnd(38)} over all ${all.length}${' '.repeat(44)}mean of the slowest ${slow.length}`];
    for (const [name, f] of STAGES) {
      const v = all.map(f).filter((x): x is number => x !== undefined);
      if (v.length === 0) continue;
      const sv = slow.map(f).filter((x): x is number => x !== undefined);
      const mean = sv.length ? sv.reduce((a, b) => a + b, 0) / sv.length : NaN;
      out.push(`${indent}${name.padEnd(38)} ${quantiles(v).padEnd(56)} ${mean.toFixed(1)} ms`);
    }
    const sm = slow.reduce((a, t) => a + total(t), 0) / slow.length;
    out.push(`${indent}${'total (send → watch sees IP)'.padEnd(38)} ${quantiles(all.map(total)).padEnd(56)} ${sm.toFixed(1)} ms`);
    return out;
  }

  clear(): void {
    this.traces.clear();
  }
}

/** CPU time (user + system, ms) a process has used so far; NaN when it is gone. Source: proc(5) /proc/pid/stat. */
export function cpuMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks; after the command name, they are at index 11 and 12.
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** A process's memory from /proc/pid/status in MB: `VmRSS` (now) or `VmHWM` (peak RSS since it started). */
export function memMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The CPU used by each named process between `start()` and `stop()` (ms). */
export function cpuMeter(pids: Readonly<Record<string, number>>): { stop(): Record<string, number> } {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMs(p)]));
  return {
    stop: () => Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMs(p) - before[k]!])),
  };
}

export interface Hog {
  readonly pid: number;
  /** Kills it (SIGKILL, by pid) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * One CPU hog: a child node process spinning a busy loop for at most `maxMs` (it ends by itself then, should the
 * bench die first). It runs at normal priority, as a noisy neighbour would, and uses one core.
 */
export function startHog(maxMs: number): Hog {
  const code = `const end = Date.now() + ${Math.round(maxMs)}; let x = 0; while (Date.now() < end) x = (x + 1) | 0;`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
