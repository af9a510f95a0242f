// `berth validate PATH...`: every metallb.io object through the same src/config code the webhook uses.
// Exit 0 clean, 1 with problems, 2 on unreadable input.
import { validateObjects } from '../config/index.ts';
import type { KubeObject } from '../api/object.ts';
import { readInputs } from './inputs.ts';
import { formatLocated, locate } from './locate.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './flags.ts';

export const VALIDATE_USAGE = `usage: berth validate [--namespace NS] [--output text|json] PATH... (PATH may be - for stdin)`;

export function runValidate(argv: readonly string[], io: CliIO): number {
  const f = parseFlags(argv, { namespace: 'string', output: 'string', o: 'string' });
  if (!f.ok) return io.usage(`${f.message}\n${VALIDATE_USAGE}`);
  const output = f.values.output ?? f.values.o ?? 'text';
  const namespace = f.values.namespace ?? 'metallb-system';
  if (output !== 'text' && output !== 'json') return io.usage(`--output must be text or json, not "${output}"`);
  if (f.args.length === 0) return io.usage(VALIDATE_USAGE);
  const read = readInputs(f.args, io.readStdin);
  if (!read.ok) {
    io.err(`berth validate: ${read.message}`);
    return 2;
  }
  const objects = read.docs.map((d) => d.object as KubeObject);
  const metallb = objects.filter((o) => typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/'));
  const result = validateObjects(objects, { namespace });
  const located = result.problems.map((p) => locate(p, read.docs));
  located.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  if (output === 'json') {
    io.out(
      JSON.stringify(
        { checked: metallb.length, problems: located, warnings: result.warnings, valid: located.length === 0 },
        null,
        2,
      ),
    );
  } else {
    for (const l of located) io.out(formatLocated(l));
    for (const w of result.warnings) io.err(`warning: ${w}`);
    io.err(
      located.length === 0
        ? `${metallb.length} metallb.io object(s) valid`
        : `${located.length} problem(s) in ${metallb.length} metallb.io object(s)`,
    );
  }
  return located.length === 0 ? 0 : 1;
}
