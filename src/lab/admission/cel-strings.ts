// cel-go's strings extension (ext.Strings, version 2 as Kubernetes enables it since 1.29): charAt, indexOf,
// lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim and list join. Indexes count Unicode
// code points, as CEL strings do. `trim` removes Unicode white space (Go's unicode.IsSpace), not U+FEFF.

type Out = { ok: true; value: unknown } | { ok: false; error: string };
const ok = (value: unknown): Out => ({ ok: true, value });
const err = (error: string): Out => ({ ok: false, error });
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

const SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const TRIM = new RegExp(`^${SPACE}+|${SPACE}+$`, 'gu');

function indexOf(cps: string[], sub: string[], from: number, last: boolean): number {
  const fits = (i: number) => sub.every((c, j) => cps[i + j] === c);
  if (last) {
    for (let i = Math.min(from, cps.length - sub.length); i >= 0; i--) if (fits(i)) return i;
  } else {
    for (let i = from; i + sub.length <= cps.length; i++) if (fits(i)) return i;
  }
  return -1;
}

function split(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (n === 1) return [s];
  const parts = sep === '' ? Array.from(s) : s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  const head = parts.slice(0, n - 1);
  return [...head, parts.slice(n - 1).join(sep)];
}

/** Returns undefined when `fn` with these argument types is not in the extension. */
export function callStringLibrary(fn: string, target: unknown, args: unknown[]): Out | undefined {
  const [a, b, c] = args;
  if (Array.isArray(target) && fn === 'join' && args.length <= 1 && (args.length === 0 || typeof a === 'string')) {
    if (!target.every((x) => typeof x === 'string')) return err("no such overload: join on a list that is not list(string)");
    return ok(target.join(typeof a === 'string' ? a : ''));
  }
  if (typeof target !== 'string') return undefined;
  const s = target;
  const cps = Array.from(s);
  switch (fn) {
    case 'trim':
      return args.length === 0 ? ok(s.replace(TRIM, '')) : undefined;
    case 'lowerAscii':
      return args.length === 0 ? ok(s.replace(/[A-Z]/g, (x) => x.toLowerCase())) : undefined;
    case 'upperAscii':
      return args.length === 0 ? ok(s.replace(/[a-z]/g, (x) => x.toUpperCase())) : undefined;
    case 'charAt':
      if (args.length !== 1 || !isInt(a)) return undefined;
      if (a < 0 || a > cps.length) return err(`index out of range: ${a}`);
      return ok(cps[a] ?? '');
    case 'indexOf':
    case 'lastIndexOf': {
      if (typeof a !== 'string' || args.length > 2 || (args.length === 2 && !isInt(b))) return undefined;
      const sub = Array.from(a);
      const last = fn === 'lastIndexOf';
      const from = isInt(b) ? b : last ? cps.length : 0;
      if (from < 0 || from > cps.length) return err(`index out of range: ${from}`);
      if (sub.length === 0) return ok(from);
      return ok(indexOf(cps, sub, from, last));
    }
    case 'replace': {
      if (typeof a !== 'string' || typeof b !== 'string' || args.length > 3 || (args.length === 3 && !isInt(c))) return undefined;
      const n = isInt(c) ? c : -1;
      if (n < 0) return ok(s.split(a).join(b));
      return ok(split(s, a, n + 1).join(b));
    }
    case 'split':
      if (typeof a !== 'string' || args.length > 2 || (args.length === 2 && !isInt(b))) return undefined;
      return ok(split(s, a, isInt(b) ? b : -1));
    case 'substring': {
      if (!isInt(a) || args.length > 2 || (args.length === 2 && !isInt(b))) return undefined;
      const end = isInt(b) ? b : cps.length;
      if (a < 0 || a > cps.length) return err(`index out of range: ${a}`);
      if (end < 0 || end > cps.length) return err(`index out of range: ${end}`);
      if (end < a) return err(`invalid substring range. start: ${a}, end: ${end}`);
      return ok(cps.slice(a, end).join(''));
    }
  }
  return undefined;
}
