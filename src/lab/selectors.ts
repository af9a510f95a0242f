// The `labelSelector` and `fieldSelector` query strings of list/watch
// (k8s.io/apimachinery/pkg/labels/selector.go, pkg/fields/selector.go), parsed into predicates.

export type LabelReq =
  | { key: string; op: '=' | '!='; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | '!' };

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses `a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j`. The empty string selects everything. */
export function parseLabelSelector(text: string): Parsed<LabelReq[]> {
  const reqs: LabelReq[] = [];
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const ident = (): string => {
    ws();
    const start = i;
    while (i < s.length && /[A-Za-z0-9._\-/]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  ws();
  if (i >= s.length) return { ok: true, value: [] };
  for (;;) {
    ws();
    if (s[i] === '!') {
      i++;
      const key = ident();
      if (!key) return { ok: false, error: `unable to parse requirement: found '${s.slice(i)}', expected: identifier` };
      reqs.push({ key, op: '!' });
    } else {
      const key = ident();
      if (!key) return { ok: false, error: `unable to parse requirement: found '${s.slice(i) || ''}', expected: identifier` };
      ws();
      if (s.startsWith('==', i) || s.startsWith('!=', i)) {
        const op = s.slice(i, i + 2) === '!=' ? '!=' : '=';
        i += 2;
        reqs.push({ key, op, value: ident() });
      } else if (s[i] === '=') {
        i++;
        reqs.push({ key, op: '=', value: ident() });
      } else if (/^(in|notin)\s*\(/.test(s.slice(i))) {
        const op = s.startsWith('notin', i) ? 'notin' : 'in';
        i += op.length;
        ws();
        i++; // '('
        const values: string[] = [];
        for (;;) {
          ws();
          if (s[i] === ')') {
            i++;
            break;
          }
          values.push(ident());
          ws();
          if (s[i] === ',') i++;
          else if (s[i] === ')') {
            i++;
            break;
          } else return { ok: false, error: `found '${s[i] ?? ''}', expected: ',' or ')'` };
        }
        if (values.length === 0) return { ok: false, error: `for 'in', 'notin' operators, values set can't be empty` };
        reqs.push({ key, op, values });
      } else if (i >= s.length || s[i] === ',') {
        reqs.push({ key, op: 'exists' });
      } else {
        return { ok: false, error: `unable to parse requirement: found '${s.slice(i)}', expected: in, notin, =, ==, !=, gt, lt` };
      }
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') return { ok: false, error: `found '${s[i]}', expected: ',' or 'end of string'` };
    i++;
  }
  return { ok: true, value: reqs };
}

export function matchLabels(reqs: readonly LabelReq[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case '=':
        if (!has || v !== r.value) return false;
        break;
      case '!=':
        if (has && v === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
    }
  }
  return true;
}

export interface FieldReq {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** Parses `metadata.name=web,spec.type!=ClusterIP` (`=`, `==`, `!=`; `\,` escapes are not needed by kubectl). */
export function parseFieldSelector(text: string): Parsed<FieldReq[]> {
  if (text.trim() === '') return { ok: true, value: [] };
  const out: FieldReq[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([^!=\s]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(part);
    if (!m) return { ok: false, error: `invalid selector: '${text}'; can't understand '${part}'` };
    out.push({ field: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]! });
  }
  return { ok: true, value: out };
}

/** Reads a dotted field path from an object; absent fields read as ''. */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}

export function matchFields(reqs: readonly FieldReq[], obj: unknown): boolean {
  for (const r of reqs) {
    const v = fieldValue(obj, r.field);
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
