// Self time of the speaker's V8 CPU profile (`node --cpu-prof`) inside the intervals bench/bgp-speaker.ts measures
// (withdraw / install: from the API request to BIRD holding every route), for `npm run bench:bgp -- --speaker
// --cpu-prof DIR`. The profile's startTime/timeDeltas are CLOCK_MONOTONIC µs (V8 TimeTicks on Linux), the clock of
// process.hrtime, so an epoch-ms interval of the bench maps onto it with this process's epoch→monotonic offset.
import { readFileSync } from 'node:fs';
import { areaOf } from './profile.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** One interval to summarise: epoch ms [startMs, startMs + ms). */
export interface Window {
  label: string;
  startMs: number;
  ms: number;
}

/** CLOCK_MONOTONIC µs minus epoch µs, in this process (performance.timeOrigin + now() is epoch ms on hrtime). */
export function monotonicOffsetUs(): number {
  const mono = Number(process.hrtime.bigint() / 1000n);
  const epoch = (performance.timeOrigin + performance.now()) * 1000;
  return mono - epoch;
}

/**
 * Self time (ms) by function and by area over all `windows` of the profile `file`, busiest first, with the busy total
 * (idle and `(program)` excluded) and the summed window length. `offsetUs` = monotonicOffsetUs() of the process that
 * took the windows' epoch times.
 */
export function windowSelfTime(
  file: string,
  windows: readonly Window[],
  offsetUs: number,
): { functions: Array<[string, number]>; areas: Array<[string, number]>; busyMs: number; gcMs: number; spanMs: number } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ranges = windows.map((w) => [w.startMs * 1000 + offsetUs, (w.startMs + w.ms) * 1000 + offsetUs] as const);
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (!ranges.some(([a, b]) => t >= a && t < b)) continue;
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    // The sample's time is the interval since the previous one (V8's timeDeltas).
    busy += dt;
    if (name === '(garbage collector)') gc += dt;
    const area = name.startsWith('(') ? name : areaOf(n.callFrame.url);
    const label = name.startsWith('(') ? name : `${name} ${area}:${n.callFrame.lineNumber + 1}`;
    fns.set(label, (fns.get(label) ?? 0) + dt);
    areas.set(area, (areas.get(area) ?? 0) + dt);
  }
  const sorted = (m: Map<string, number>): Array<[string, number]> =>
    [...m].map(([k, v]) => [k, v / 1000] as [string, number]).sort((a, b) => b[1] - a[1]);
  return {
    functions: sorted(fns),
    areas: sorted(areas),
    busyMs: busy / 1000,
    gcMs: gc / 1000,
    spanMs: windows.reduce((s, w) => s + w.ms, 0),
  };
}

/** Printable lines of windowSelfTime: busy of span, then the top `top` areas and functions. */
export function windowLines(file: string, windows: readonly Window[], offsetUs: number, top = 15): string[] {
  const s = windowSelfTime(file, windows, offsetUs);
  const pc = (v: number): string => `${v.toFixed(0).padStart(6)} ms`;
  const out = [`  busy ${s.busyMs.toFixed(0)} ms of ${s.spanMs.toFixed(0)} ms measured (GC ${s.gcMs.toFixed(0)} ms)`, '  by area:'];
  for (const [k, v] of s.areas.slice(0, top)) out.push(`    ${pc(v)}  ${k}`);
  out.push('  by function (self):');
  for (const [k, v] of s.functions.slice(0, top)) out.push(`    ${pc(v)}  ${k}`);
  return out;
}

/** CPU time (user + system, ms) of process `pid` from /proc/<pid>/stat (clock ticks of 10 ms); NaN when gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits until process `pid` is idle: at most `quietMs` of CPU over the last `windowMs` (default 50 ms per 1 s), polled
 * every 250 ms, for at most `limitMs` (default 60 s). Resolves with the ms waited. So each change a bench makes reaches
 * a speaker done with the previous one (its layer-2 plan and status writes after the UPDATEs), as a user's would.
 */
export async function cpuQuiet(pid: number, o: { quietMs?: number; windowMs?: number; limitMs?: number } = {}): Promise<number> {
  const windowMs = o.windowMs ?? 1000;
  const quiet = o.quietMs ?? 50;
  const t0 = performance.now();
  const samples: Array<{ t: number; cpu: number }> = [{ t: t0, cpu: cpuMs(pid) }];
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const t = performance.now();
    const cpu = cpuMs(pid);
    if (Number.isNaN(cpu)) return t - t0;
    samples.push({ t, cpu });
    const old = samples.find((s) => s.t >= t - windowMs - 1);
    if (old && t - samples[0]!.t >= windowMs && cpu - old.cpu <= quiet) return t - t0;
    if (t - t0 > (o.limitMs ?? 60_000)) return t - t0;
  }
}
