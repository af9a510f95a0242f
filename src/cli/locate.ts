// Maps a Problem back to the document it is about, to print `file:line kind/name: message`.
import type { Problem } from '../shared/codes.ts';
import { identity, splitPath, type InputDoc } from './inputs.ts';

export interface Located {
  file: string;
  line: number;
  object: string;
  code: string;
  path: string;
  message: string;
}

export function locate(problem: Problem, docs: readonly InputDoc[]): Located {
  const object = problem.object ?? '';
  const candidates = docs.filter((d) => identity(d.object) === object);
  // Several documents with one identity (e.g. dev and prod pools both named "default"): prefer the one whose value at
  // the problem's path appears in the message, else the last one (the later definition is the one that clashes).
  let doc = candidates[candidates.length - 1];
  if (candidates.length > 1) {
    const hit = candidates.filter((d) => {
      const v = valueAt(d.object, problem.path);
      return typeof v === 'string' && v !== '' && problem.message.includes(v);
    });
    if (hit.length >= 1) doc = hit[hit.length - 1];
  }
  return {
    file: doc?.file ?? '<input>',
    line: doc ? doc.lineOf(problem.path) : 0,
    object,
    code: problem.code,
    path: problem.path,
    message: problem.message,
  };
}

function valueAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const s of splitPath(path)) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

export function formatLocated(l: Located): string {
  return `${l.file}:${l.line} ${l.object || '-'}: ${l.message}`;
}
