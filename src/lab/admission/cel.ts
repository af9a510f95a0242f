// A small CEL evaluator for webhook matchConditions (KEP-3716) and ValidatingAdmissionPolicies (KEP-3488).
// The subset:
//   literals: 'str' "str", integers, decimals, true, false, null, [lists], {maps}
//   variables: whatever the caller binds (object, oldObject, request, params, namespaceObject, variables);
//     anything else, incl. `authorizer`, is an error
//   field access a.b, index a[0] / a['k'], has(a.b), size(x) / x.size()
//   ! - unary; * / % + -; == != < <= > >=; in (list membership, map key); && || (error-absorbing as CEL);
//   c ? a : b; string methods startsWith endsWith contains matches; string(x)
//   macros all(x, p) exists(x, p) exists_one(x, p) map(x, t) map(x, p, t) filter(x, p) on lists and map keys
//   the strings extension (cel-strings.ts) and the Kubernetes IP/CIDR library (cel-ip.ts)
// A missing field is an error ("no such key"), as in CEL; `has()` tests presence without one. Anything outside
// the subset is an evaluation error, which the caller maps through failurePolicy. There is no type checker:
// an expression kube-apiserver would refuse at compile time may evaluate here.
import { CelCIDR, CelIP, callIpLibrary, isCanonicalIp } from './cel-ip.ts';
import { callStringLibrary } from './cel-strings.ts';

export type CelValue = unknown;
export type CelResult = { ok: true; value: CelValue } | { ok: false; error: string };

type Node =
  | { t: 'lit'; v: CelValue }
  | { t: 'id'; name: string }
  | { t: 'sel'; on: Node; field: string }
  | { t: 'idx'; on: Node; index: Node }
  | { t: 'call'; fn: string; target?: Node; args: Node[] }
  | { t: 'un'; op: '!' | '-'; x: Node }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node }
  | { t: 'list'; items: Node[] }
  | { t: 'map'; entries: Array<[Node, Node]> };

class ParseError extends Error {}

/**
 * A bound variable whose evaluation failed (a ValidatingAdmissionPolicy `variables` entry): reading it yields
 * the error, as kube-apiserver's lazy variables do, while expressions that never read it are unaffected.
 */
export class CelErrorValue {
  constructor(readonly error: string) {}
}

function tokenize(src: string): string[] {
  const toks: string[] = [];
  const re = /\s*(?:(\d+\.\d+|\d+)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/%!<>?:.,()[\]{}]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new ParseError(`Syntax error: token recognition error at: '${src.slice(i).trim()[0] ?? ''}'`);
    toks.push(m[1] ?? m[2] ?? m[3] ?? m[4]!);
    i = re.lastIndex;
  }
  return toks;
}

function unquote(s: string): string {
  const body = s.slice(1, -1);
  return body.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

export function parseCel(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const eat = (t?: string): string => {
    const x = toks[p];
    if (x === undefined || (t !== undefined && x !== t)) throw new ParseError(`Syntax error: expected ${t ?? 'a token'}, found ${x ?? 'end of input'}`);
    p++;
    return x;
  };
  const args = (): Node[] => {
    const out: Node[] = [];
    eat('(');
    if (peek() !== ')') {
      out.push(expr());
      while (peek() === ',') {
        eat(',');
        out.push(expr());
      }
    }
    eat(')');
    return out;
  };
  const primary = (): Node => {
    const t = eat();
    if (/^\d/.test(t)) return { t: 'lit', v: Number(t) };
    if (t[0] === '"' || t[0] === "'") return { t: 'lit', v: unquote(t) };
    if (t === 'true' || t === 'false') return { t: 'lit', v: t === 'true' };
    if (t === 'null') return { t: 'lit', v: null };
    if (t === '(') {
      const e = expr();
      eat(')');
      return e;
    }
    if (t === '[') {
      const items: Node[] = [];
      if (peek() !== ']') {
        items.push(expr());
        while (peek() === ',') {
          eat(',');
          if (peek() === ']') break;
          items.push(expr());
        }
      }
      eat(']');
      return { t: 'list', items };
    }
    if (t === '{') {
      const entries: Array<[Node, Node]> = [];
      if (peek() !== '}') {
        for (;;) {
          const k = expr();
          eat(':');
          entries.push([k, expr()]);
          if (peek() !== ',') break;
          eat(',');
        }
      }
      eat('}');
      return { t: 'map', entries };
    }
    if (/^[A-Za-z_]/.test(t)) {
      if (peek() === '(') return { t: 'call', fn: t, args: args() };
      return { t: 'id', name: t };
    }
    throw new ParseError(`Syntax error: unexpected '${t}'`);
  };
  const member = (): Node => {
    let n = primary();
    for (;;) {
      if (peek() === '.') {
        eat('.');
        const f = eat();
        if (!/^[A-Za-z_]/.test(f)) throw new ParseError(`Syntax error: expected a field name after '.', found '${f}'`);
        if (peek() === '(') n = { t: 'call', fn: f, target: n, args: args() };
        else n = { t: 'sel', on: n, field: f };
      } else if (peek() === '[') {
        eat('[');
        const index = expr();
        eat(']');
        n = { t: 'idx', on: n, index };
      } else return n;
    }
  };
  const unary = (): Node => {
    if (peek() === '!') {
      eat();
      return { t: 'un', op: '!', x: unary() };
    }
    if (peek() === '-') {
      eat();
      return { t: 'un', op: '-', x: unary() };
    }
    return member();
  };
  const level = (ops: string[], next: () => Node) => (): Node => {
    let l = next();
    while (ops.includes(peek() ?? '')) {
      const op = eat();
      l = { t: 'bin', op, l, r: next() };
    }
    return l;
  };
  const mul = level(['*', '/', '%'], unary);
  const add = level(['+', '-'], mul);
  const rel = level(['==', '!=', '<', '<=', '>', '>=', 'in'], add);
  const and = level(['&&'], rel);
  const or = level(['||'], and);
  function expr(): Node {
    const c = or();
    if (peek() === '?') {
      eat('?');
      const a = expr();
      eat(':');
      return { t: 'cond', c, a, b: expr() };
    }
    return c;
  }
  const e = expr();
  if (p !== toks.length) throw new ParseError(`Syntax error: unexpected '${toks[p]}'`);
  return e;
}

const err = (error: string): CelResult => ({ ok: false, error });
const ok = (value: CelValue): CelResult => ({ ok: true, value });
const isMap = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};
export const typeName = (v: unknown): string =>
  v === null
    ? 'null_type'
    : Array.isArray(v)
      ? 'list'
      : v instanceof CelIP
        ? 'net.IP'
        : v instanceof CelCIDR
          ? 'net.CIDR'
          : typeof v === 'number'
            ? Number.isInteger(v)
              ? 'int'
              : 'double'
            : typeof v === 'object'
              ? 'map'
              : typeof v === 'boolean'
                ? 'bool'
                : typeof v;

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof CelIP && b instanceof CelIP) return a.family === b.family && a.value === b.value;
  if (a instanceof CelCIDR && b instanceof CelCIDR) return equal(a.ip, b.ip) && a.prefix === b.prefix;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k], b[k]));
  }
  return false;
}

const read = (v: unknown): CelResult => (v instanceof CelErrorValue ? err(v.error) : ok(v));

function evaluate(n: Node, env: Record<string, unknown>): CelResult {
  switch (n.t) {
    case 'lit':
      return ok(n.v);
    case 'id':
      if (Object.prototype.hasOwnProperty.call(env, n.name)) return read(env[n.name]);
      return err(`undeclared reference to '${n.name}'`);
    case 'sel': {
      const on = evaluate(n.on, env);
      if (!on.ok) return on;
      if (!isMap(on.value)) return err(`no such key: ${n.field}`);
      if (!Object.prototype.hasOwnProperty.call(on.value, n.field)) return err(`no such key: ${n.field}`);
      return read(on.value[n.field]);
    }
    case 'idx': {
      const on = evaluate(n.on, env);
      if (!on.ok) return on;
      const i = evaluate(n.index, env);
      if (!i.ok) return i;
      if (Array.isArray(on.value) && typeof i.value === 'number') {
        if (i.value < 0 || i.value >= on.value.length) return err(`index out of bounds: ${i.value}`);
        return ok(on.value[i.value]);
      }
      if (isMap(on.value) && typeof i.value === 'string') {
        if (!Object.prototype.hasOwnProperty.call(on.value, i.value)) return err(`no such key: ${i.value}`);
        return read(on.value[i.value]);
      }
      return err(`no such overload: ${typeName(on.value)}[${typeName(i.value)}]`);
    }
    case 'un': {
      const x = evaluate(n.x, env);
      if (!x.ok) return x;
      if (n.op === '!') return typeof x.value === 'boolean' ? ok(!x.value) : err(`no such overload: !${typeName(x.value)}`);
      return typeof x.value === 'number' ? ok(-x.value) : err(`no such overload: -${typeName(x.value)}`);
    }
    case 'cond': {
      const c = evaluate(n.c, env);
      if (!c.ok) return c;
      if (typeof c.value !== 'boolean') return err(`no such overload: ${typeName(c.value)} ? _ : _`);
      return evaluate(c.value ? n.a : n.b, env);
    }
    case 'list': {
      const out: unknown[] = [];
      for (const it of n.items) {
        const r = evaluate(it, env);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return ok(out);
    }
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of n.entries) {
        const kr = evaluate(k, env);
        if (!kr.ok) return kr;
        const vr = evaluate(v, env);
        if (!vr.ok) return vr;
        out[String(kr.value)] = vr.value;
      }
      return ok(out);
    }
    case 'bin':
      return binary(n.op, n.l, n.r, env);
    case 'call':
      return call(n, env);
  }
}

function binary(op: string, ln: Node, rn: Node, env: Record<string, unknown>): CelResult {
  if (op === '&&' || op === '||') {
    // CEL's commutative logic: an error on one side is absorbed when the other side decides.
    const decisive = op === '||';
    const l = evaluate(ln, env);
    if (l.ok && l.value === decisive) return ok(decisive);
    const r = evaluate(rn, env);
    if (r.ok && r.value === decisive) return ok(decisive);
    if (!l.ok) return l;
    if (!r.ok) return r;
    if (typeof l.value !== 'boolean' || typeof r.value !== 'boolean') return err(`no such overload: ${typeName(l.value)} ${op} ${typeName(r.value)}`);
    return ok(!decisive);
  }
  const l = evaluate(ln, env);
  if (!l.ok) return l;
  const r = evaluate(rn, env);
  if (!r.ok) return r;
  const a = l.value;
  const b = r.value;
  switch (op) {
    case '==':
      return ok(equal(a, b));
    case '!=':
      return ok(!equal(a, b));
    case 'in':
      if (Array.isArray(b)) return ok(b.some((x) => equal(x, a)));
      if (isMap(b)) return ok(typeof a === 'string' && Object.prototype.hasOwnProperty.call(b, a));
      return err(`no such overload: ${typeName(a)} in ${typeName(b)}`);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) {
        return err(`no such overload: ${typeName(a)} ${op} ${typeName(b)}`);
      }
      const c = a < b ? -1 : a > b ? 1 : 0;
      return ok(op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0);
    }
    case '+':
      if (typeof a === 'number' && typeof b === 'number') return ok(a + b);
      if (typeof a === 'string' && typeof b === 'string') return ok(a + b);
      if (Array.isArray(a) && Array.isArray(b)) return ok([...a, ...b]);
      return err(`no such overload: ${typeName(a)} + ${typeName(b)}`);
    case '-':
    case '*':
    case '/':
    case '%':
      if (typeof a !== 'number' || typeof b !== 'number') return err(`no such overload: ${typeName(a)} ${op} ${typeName(b)}`);
      if ((op === '/' || op === '%') && b === 0) return err(op === '/' ? 'division by zero' : 'modulus by zero');
      return ok(op === '-' ? a - b : op === '*' ? a * b : op === '/' ? Math.trunc(a / b) : a % b);
  }
  return err(`unsupported operator ${op}`);
}

function call(n: Extract<Node, { t: 'call' }>, env: Record<string, unknown>): CelResult {
  if (n.fn === 'has' && !n.target) {
    const a = n.args[0];
    if (n.args.length !== 1 || !a || a.t !== 'sel') return err('invalid argument to has() macro');
    const on = evaluate(a.on, env);
    if (!on.ok) return on;
    if (!isMap(on.value)) return err(`invalid type for field selection: ${typeName(on.value)}`);
    return ok(Object.prototype.hasOwnProperty.call(on.value, a.field) && on.value[a.field] !== null);
  }
  if ((n.fn === 'exists' || n.fn === 'all') && n.target) {
    const v = n.args[0];
    const pred = n.args[1];
    if (n.args.length !== 2 || v?.t !== 'id' || !pred) return err(`invalid arguments to ${n.fn}() macro`);
    const coll = evaluate(n.target, env);
    if (!coll.ok) return coll;
    const items = Array.isArray(coll.value) ? coll.value : isMap(coll.value) ? Object.keys(coll.value) : undefined;
    if (!items) return err(`no such overload: ${typeName(coll.value)}.${n.fn}()`);
    let firstErr: CelResult | undefined;
    for (const it of items) {
      const r = evaluate(pred, { ...env, [v.name]: it });
      if (!r.ok) {
        firstErr ??= r;
        continue;
      }
      if (n.fn === 'exists' && r.value === true) return ok(true);
      if (n.fn === 'all' && r.value === false) return ok(false);
    }
    return firstErr ?? ok(n.fn === 'all');
  }
  if ((n.fn === 'exists_one' || n.fn === 'map' || n.fn === 'filter') && n.target) return comprehension(n, env);
  if (n.fn === 'isCanonical' && n.target?.t === 'id' && n.target.name === 'ip' && !('ip' in env)) {
    const s = n.args.length === 1 && n.args[0] ? evaluate(n.args[0], env) : err('ip.isCanonical() takes one argument');
    if (!s.ok) return s;
    return typeof s.value === 'string' ? isCanonicalIp(s.value) : err(`found no matching overload for 'ip.isCanonical' applied to '(${typeName(s.value)})'`);
  }
  const vals: unknown[] = [];
  if (n.target) {
    const t = evaluate(n.target, env);
    if (!t.ok) return t;
    vals.push(t.value);
  }
  for (const a of n.args) {
    const r = evaluate(a, env);
    if (!r.ok) return r;
    vals.push(r.value);
  }
  const [x, y] = vals;
  switch (n.fn) {
    case 'size':
      if (vals.length !== 1) break;
      if (typeof x === 'string') return ok([...x].length);
      if (Array.isArray(x)) return ok(x.length);
      if (isMap(x)) return ok(Object.keys(x).length);
      break;
    case 'startsWith':
    case 'endsWith':
    case 'contains':
      if (n.target && typeof x === 'string' && typeof y === 'string') {
        return ok(n.fn === 'startsWith' ? x.startsWith(y) : n.fn === 'endsWith' ? x.endsWith(y) : x.includes(y));
      }
      break;
    case 'matches':
      if (n.target && typeof x === 'string' && typeof y === 'string') {
        try {
          return ok(new RegExp(y).test(x));
        } catch {
          return err(`invalid regular expression: ${y}`);
        }
      }
      break;
    case 'string':
      if (!n.target && vals.length === 1 && (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' || x instanceof CelIP || x instanceof CelCIDR)) return ok(String(x));
      break;
  }
  const rest = n.target ? vals.slice(1) : vals;
  const lib = (n.target ? callStringLibrary(n.fn, x, rest) : undefined) ?? callIpLibrary(n.fn, n.target ? x : undefined, !!n.target, rest);
  if (lib) return lib;
  return err(`found no matching overload for '${n.fn}' applied to '(${vals.map(typeName).join(', ')})'`);
}

/** exists_one(x, p), map(x, t), map(x, p, t), filter(x, p): no short-circuit, the first error wins. */
function comprehension(n: Extract<Node, { t: 'call' }>, env: Record<string, unknown>): CelResult {
  const v = n.args[0];
  const want = n.fn === 'map' ? [2, 3] : [2];
  if (v?.t !== 'id' || !want.includes(n.args.length)) return err(`invalid arguments to ${n.fn}() macro`);
  const coll = evaluate(n.target!, env);
  if (!coll.ok) return coll;
  const items = Array.isArray(coll.value) ? coll.value : isMap(coll.value) ? Object.keys(coll.value) : undefined;
  if (!items) return err(`no such overload: ${typeName(coll.value)}.${n.fn}()`);
  const pred = n.fn === 'map' ? (n.args.length === 3 ? n.args[1] : undefined) : n.args[1];
  const transform = n.fn === 'map' ? n.args[n.args.length - 1] : undefined;
  const out: unknown[] = [];
  let count = 0;
  for (const it of items) {
    const scope = { ...env, [v.name]: it };
    if (pred) {
      const r = evaluate(pred, scope);
      if (!r.ok) return r;
      if (typeof r.value !== 'boolean') return err(`no such overload: ${n.fn}() predicate of type ${typeName(r.value)}`);
      if (!r.value) continue;
    }
    count++;
    if (transform) {
      const t = evaluate(transform, scope);
      if (!t.ok) return t;
      out.push(t.value);
    } else out.push(it);
  }
  return n.fn === 'exists_one' ? ok(count === 1) : ok(out);
}

/**
 * Parsed expressions by source text (an AST is never changed by evaluate, so one serves every call): webhook
 * matchConditions and policy expressions are evaluated on every admission call, and parsing costs more than
 * evaluating. A parse error is kept as its message. Bounded: emptied when it reaches CEL_CACHE_MAX entries.
 */
const parsed = new Map<string, Node | string>();
const CEL_CACHE_MAX = 4096;

function compile(src: string): Node | string {
  let ast = parsed.get(src);
  if (ast !== undefined) return ast;
  try {
    ast = parseCel(src);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    ast = e.message;
  }
  if (parsed.size >= CEL_CACHE_MAX) parsed.clear();
  parsed.set(src, ast);
  return ast;
}

/** Compiles (once per source text) and evaluates `src` against variables. Parse errors are errors too (a value, never a throw). */
export function evalCel(src: string, vars: Record<string, unknown>): CelResult {
  const ast = compile(src);
  if (typeof ast === 'string') return err(ast);
  return evaluate(ast, vars);
}

/** A matchCondition: must evaluate to a bool. */
export function evalCondition(src: string, vars: Record<string, unknown>): { ok: true; value: boolean } | { ok: false; error: string } {
  const r = evalCel(src, vars);
  if (!r.ok) return r;
  if (typeof r.value !== 'boolean') return { ok: false, error: `expression '${src}' resulted in a ${typeName(r.value)}, expected a bool` };
  return { ok: true, value: r.value };
}
