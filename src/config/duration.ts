// Go duration strings (metav1.Duration is time.Duration as text): parse and format exactly like Go's time package
// (`time.ParseDuration`, `Duration.String`), because MetalLB's messages quote durations in Go's format.

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;

export type DurationResult = { ok: true; ns: bigint } | { ok: false; message: string };

/** Go's time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`. Error text as Go's. */
export function parseGoDuration(text: string): DurationResult {
  const invalid = (): DurationResult => ({ ok: false, message: `time: invalid duration ${goQuote(text)}` });
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0n };
  if (s === '') return invalid();
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const intPart = m?.[1] ?? '';
    const fracPart = m?.[2];
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return invalid();
    s = s.slice(m![0].length);
    let i = 0;
    while (i < s.length && s[i] !== '.' && !(s[i]! >= '0' && s[i]! <= '9')) i++;
    if (i === 0) return { ok: false, message: `time: missing unit in duration ${goQuote(text)}` };
    const u = s.slice(0, i);
    s = s.slice(i);
    const unit = UNITS[u];
    if (unit === undefined)
      return { ok: false, message: `time: unknown unit ${goQuote(u)} in duration ${goQuote(text)}` };
    let v = BigInt(intPart === '' ? '0' : intPart) * unit;
    if (fracPart) v += (BigInt(fracPart) * unit) / 10n ** BigInt(fracPart.length);
    total += v;
    if (total > MAX_NS) return invalid();
  }
  return { ok: true, ns: neg ? -total : total };
}

/** Go's Duration.String(): `1h0m0s`, `1m30s`, `1.5s`, `300ms`, `0s`. */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${frac(u, 3)}µs`;
    else out = `${frac(u, 6)}ms`;
  } else {
    const secs = frac(u % 60_000_000_000n, 9);
    u /= 60_000_000_000n;
    out = `${secs}s`;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec with the fraction's trailing zeros (and a bare dot) dropped. */
function frac(v: bigint, prec: number): string {
  const p = 10n ** BigInt(prec);
  const whole = v / p;
  const f = (v % p).toString().padStart(prec, '0').replace(/0+$/, '');
  return f === '' ? `${whole}` : `${whole}.${f}`;
}

/** Go's %q for plain strings (enough for duration text and unit names). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

export const NS_PER_MS = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;
