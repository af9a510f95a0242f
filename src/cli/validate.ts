// `berth validate PATH...`: every metallb.io object through the same src/config code the webhook uses.
// Exit 0 clean (warnings allowed), 1 with problems, 2 on unreadable input.
// Besides the configuration's problems it reports two things the webhook cannot see in one object:
// - pools no advertisement announces (LB_POOL_NOT_ADVERTISED, a warning): their IPs would be unreachable;
// - MetalLB's legacy ConfigMap (LB_LEGACY_CONFIGMAP), which berth does not read: a problem when the input holds no
//   metallb.io object (nothing in it would configure berth, so "0 objects valid" would mislead), else a warning.
import { legacyConfigProblems, unadvertisedPools, validateObjects } from '../config/index.ts';
import type { KubeObject } from '../api/object.ts';
import { readInputs } from './inputs.ts';
import { formatLocated, locate, type Located } from './locate.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './flags.ts';

export const VALIDATE_USAGE = `usage: berth validate [--namespace NS] [--output text|json] PATH... (PATH may be - for stdin)`;

/** The `berth validate` command: argv after `validate`; returns the exit code (0 valid, 1 problems, 2 unreadable/usage). */
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
  for (const w of read.warnings) io.err(`warning: ${w}`);
  const objects = read.docs.map((d) => d.object as KubeObject);
  const metallb = objects.filter((o) => typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/'));
  const result = validateObjects(objects, { namespace });
  const legacy = legacyConfigProblems(objects);
  const legacyIsProblem = metallb.length === 0;
  const sorted = (list: Located[]) =>
    list.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  const located = sorted([...result.problems, ...(legacyIsProblem ? legacy : [])].map((p) => locate(p, read.docs)));
  const notices = sorted(
    [...(legacyIsProblem ? [] : legacy), ...(result.config ? unadvertisedPools(result.config) : [])].map((p) =>
      locate(p, read.docs),
    ),
  );
  const what = `${metallb.length} metallb.io object(s)`;
  const unread = legacy.length > 0 ? `; ${legacy.length} legacy MetalLB ConfigMap(s) not read` : '';
  if (output === 'json') {
    io.out(
      JSON.stringify(
        { checked: metallb.length, problems: located, warnings: result.warnings, notices, valid: located.length === 0 },
        null,
        2,
      ),
    );
  } else {
    for (const l of located) io.out(formatLocated(l));
    for (const w of result.warnings) io.err(`warning: ${w}`);
    for (const n of notices) io.err(`warning: ${formatLocated(n)}`);
    io.err(located.length === 0 ? `${what} valid${unread}` : `${located.length} problem(s) in ${what}${unread}`);
  }
  return located.length === 0 ? 0 : 1;
}
