// Minimal flag parser: `--name value`, `--name=value`, `-o value`, booleans; everything else is a positional arg.
export type FlagKinds = Record<string, 'string' | 'boolean'>;

export type Flags =
  | { ok: true; values: Record<string, string | undefined> & Record<string, unknown>; args: string[] }
  | { ok: false; message: string };

export function parseFlags(argv: readonly string[], kinds: FlagKinds): Flags {
  const values: Record<string, string | undefined> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-' || !a.startsWith('-')) {
      args.push(a);
      continue;
    }
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    const name = m?.[1] ?? '';
    const kind = kinds[name];
    if (!kind) return { ok: false, message: `unknown flag "${a}"` };
    if (kind === 'boolean') {
      values[name] = m?.[2] ?? 'true';
      continue;
    }
    const v = m?.[2] ?? argv[++i];
    if (v === undefined) return { ok: false, message: `flag ${a} needs a value` };
    values[name] = v;
  }
  return { ok: true, values, args };
}
