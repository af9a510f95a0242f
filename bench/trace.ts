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

/**
 * The instants of a time-to-IP, in path order: [name of the stage that ends there, instant]. Missing ones are undefined.
 * Stage i runs from the last defined instant before it to instant i.
 */
function pathInstants(t: Trace): Array<readonly [string, number | undefined]> {
  return [
    ['send', t.send],
    ['send → mutate webhook starts', t.mutate?.start],
    ['mutate webhook (incl. claim create)', t.mutate?.end],
    ['mutate ends → validate starts', t.validate?.start],
    ['validate webhook', t.validate?.end],
    [t.validate ? 'validate ends → create answered' : 'mutate ends → create answered', t.reply],
    ['create answered → a watch sees it', t.added],
    ['a watch sees it → reconcile starts', t.reconcile?.start],
    ['reconcile starts → watch sees IP', t.seen],
  ];
}

/** The stage names of the path, in order (the report's rows). */
export const STAGE_NAMES: readonly string[] = [
  'send → mutate webhook starts',
  'mutate webhook (incl. claim create)',
  'mutate ends → validate starts',
  'validate webhook',
  'validate ends → create answered',
  'mutate ends → create answered',
  'create answered → a watch sees it',
  'a watch sees it → reconcile starts',
  'reconcile starts → watch sees IP',
];

/**
 * Where one Service's time-to-IP went: stage name → ms (each ≥ 0), for the stages whose end instant is known; they add
 * up to `seen − send` when every instant is known. The instants come from different observers — the bench's own event
 * loop (create sent and answered, its watch's events), the webhook's and the controller's log lines (`time` to the ms
 * minus `durationMs`) — so one can be recorded before the instant that precedes it on the path: the controller's
 * informer gets a Service before the bench's own watch does, a watch event is read before the create's answer, a
 * busy bench reads its socket late. Subtracting such pairs gave negative stages. Each instant is therefore taken as at
 * least the latest known instant before it (a running maximum); `reordered` names the instants moved that way by more
 * than 1 ms (the log lines' resolution), so the report says how often the observers disagreed instead of hiding it.
 */
export function stageTimes(t: Trace): { stages: Map<string, number>; reordered: string[] } {
  const stages = new Map<string, number>();
  const reordered: string[] = [];
  let last: number | undefined;
  for (const [name, at] of pathInstants(t)) {
    if (at === undefined || !Number.isFinite(at)) continue;
    if (last === undefined) {
      last = at;
      continue;
    }
    if (at < last - 1) reordered.push(name);
    const clamped = Math.max(at, last);
    stages.set(name, clamped - last);
    last = clamped;
  }
  return { stages, reordered };
}

/** Stage timestamps of the Services whose key (namespace/name) starts with `prefix` (none while it is undefined). */
export class PathTrace {
  readonly traces = new Map<string, Trace>();
  /** The controller's reconciles of traced Services, by result (a settled Service needs one that writes). */
  readonly reconciles = new Map<string, number>();
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
    if (d?.decision === 'reconcile' && d.service && this.traces.has(d.service)) {
      const k = d.result ?? '?';
      this.reconciles.set(k, (this.reconciles.get(k) ?? 0) + 1);
    }
    if (d?.decision !== 'reconcile' || d.result !== 'success' || !d.service || !(d.ips?.length ?? 0)) return;
    const t = this.#get(d.service);
    const span = spanOf(d);
    if (t && span) t.reconcile ??= span;
  };

  /**
   * Lines: each stage's p50/p90/p99/max over every traced Service (stageTimes: never negative), then the mean of each
   * stage over the slowest 1 % (at least 5) by time-to-IP — where the tail's time goes —, the whole reconcile (not a
   * step of the path: it includes what is written after the status, the claim's uid binding), and how many instants
   * were recorded out of path order (and clamped).
   */
  report(indent = '    '): string[] {
    const all = [...this.traces.values()].filter((t) => t.send !== undefined && t.seen !== undefined);
    if (all.length === 0) return [`${indent}(no traces)`];
    const total = (t: Trace) => t.seen! - t.send!;
    const slow = new Set([...all].sort((a, b) => total(b) - total(a)).slice(0, Math.max(5, Math.ceil(all.length / 100))));
    const rows = new Map<string, { all: number[]; slow: number[] }>();
    const reordered = new Map<string, number>();
    const reconcile = { all: [] as number[], slow: [] as number[] };
    for (const t of all) {
      const st = stageTimes(t);
      for (const [name, ms] of st.stages) {
        let r = rows.get(name);
        if (!r) rows.set(name, (r = { all: [], slow: [] }));
        r.all.push(ms);
        if (slow.has(t)) r.slow.push(ms);
      }
      for (const name of st.reordered) reordered.set(name, (reordered.get(name) ?? 0) + 1);
      if (t.reconcile) {
        reconcile.all.push(t.reconcile.end - t.reconcile.start);
        if (slow.has(t)) reconcile.slow.push(t.reconcile.end - t.reconcile.start);
      }
    }
    const mean = (v: number[]) => (v.length ? `${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(1)} ms` : '—');
    const row = (name: string, r: { all: number[]; slow: number[] }) =>
      `${indent}${name.padEnd(38)} ${quantiles(r.all).padEnd(56)} ${mean(r.slow)}${r.all.length < all.length ? `  (${r.all.length} traced)` : ''}`;
    const out = [`${indent}${'stage'.padEnd(38)} over all ${all.length}${' '.repeat(44)}mean of the slowest ${slow.size}`];
    for (const name of STAGE_NAMES) {
      const r = rows.get(name);
      if (r) out.push(row(name, r));
    }
    if (reconcile.all.length) out.push(row('(whole reconcile, incl. claim bind)', reconcile));
    out.push(row('total (send → watch sees IP)', { all: all.map(total), slow: [...slow].map(total) }));
    if (reordered.size > 0) {
      out.push(
        `${indent}instants seen before the one preceding them (taken as equal): ` +
          [...reordered].map(([k, n]) => `${k.slice(k.lastIndexOf('→') + 1).trim() || k} ${n}`).join(', '),
      );
    }
    if (this.reconciles.size > 0) {
      const n = [...this.reconciles.values()].reduce((a, b) => a + b, 0);
      out.push(
        `${indent}controller reconciles per traced Service: ${(n / all.length).toFixed(2)} (` +
          [...this.reconciles].map(([k, c]) => `${k} ${c}`).join(', ') +
          ')',
      );
    }
    return out;
  }

  /**
   * Resolves once every traced Service whose IP was seen has its reconcile line, or after `timeoutMs`: the controller
   * logs a reconcile after its last write, and the bench reads that line after its watch saw the IP, so ending the
   * trace at once lost the reconcile of the last (slowest) Services.
   */
  async settle(timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const missing = () => [...this.traces.values()].some((t) => t.seen !== undefined && t.reconcile === undefined);
    while (missing() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  }

  clear(): void {
    this.traces.clear();
    this.reconciles.clear();
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
