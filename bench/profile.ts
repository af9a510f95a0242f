// Summaries of V8 CPU profiles (`node --cpu-prof`, the .cpuprofile JSON format of the Chrome DevTools Protocol's
// Profiler.Profile: nodes with callFrame and parent→children links, samples and timeDeltas in µs).
// `tsx bench/profile.ts FILE.cpuprofile [TOP]` prints one; bench/controller.ts --cpu-prof DIR prints each process's.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a script URL belongs: `node:` internals, a package, or the repository path (src/…, bench/…). */
export function areaOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return `npm ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const m = /\/((?:src|bench|test)\/.*)$/.exec(url);
  return m ? m[1]! : url.replace(/^file:\/\//, '');
}

/**
 * Self time of a profile, busiest first: by function (name, area, line) and by area, as [label, ms] pairs, plus the
 * profile's busy time (ms, idle and GC-less program ticks excluded: `(idle)` and `(program)`) and its length (ms).
 */
export function summarizeProfile(file: string): {
  functions: Array<[string, number]>;
  areas: Array<[string, number]>;
  gcMs: number;
  busyMs: number;
  spanMs: number;
} {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    if (name === '(garbage collector)') gc += us;
    busy += us;
    const area = name.startsWith('(') ? name : areaOf(n.callFrame.url);
    const label = name.startsWith('(') ? name : `${name} ${area}:${n.callFrame.lineNumber + 1}`;
    fns.set(label, (fns.get(label) ?? 0) + us);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) => [...m].map(([k, v]) => [k, v / 1000] as [string, number]).sort((a, b) => b[1] - a[1]);
  return { functions: sorted(fns), areas: sorted(areas), gcMs: gc / 1000, busyMs: busy / 1000, spanMs: (p.endTime - p.startTime) / 1000 };
}

/** Printable lines: busy time, then the top `top` areas and functions by self time (% of busy). */
export function profileLines(file: string, top = 12, indent = '    '): string[] {
  const s = summarizeProfile(file);
  const pc = (v: number) => `${((100 * v) / s.busyMs).toFixed(1).padStart(5)} %`;
  const out = [`${indent}busy ${s.busyMs.toFixed(0)} ms of ${s.spanMs.toFixed(0)} ms profiled (GC ${s.gcMs.toFixed(0)} ms)`];
  out.push(`${indent}by area:`);
  for (const [k, v] of s.areas.slice(0, top)) out.push(`${indent}  ${pc(v)}  ${k}`);
  out.push(`${indent}by function (self):`);
  for (const [k, v] of s.functions.slice(0, top)) out.push(`${indent}  ${pc(v)}  ${k}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: tsx bench/profile.ts FILE.cpuprofile [TOP]\n');
    process.exitCode = 2;
  } else {
    for (const l of profileLines(file, Number(process.argv[3] ?? 20), '')) process.stdout.write(`${l}\n`);
  }
}
