// Flags of the `berth` subcommands, parsed with node:util parseArgs (as the controller and webhook do): `--name
// value`, `--name=value`, `-o value`, booleans; the rest are positional (`-` is stdin). Errors are values.
import { parseArgs } from 'node:util';

export type FlagKinds = Record<string, 'string' | 'boolean'>;

export type Flags =
  | { ok: true; values: Record<string, string | undefined>; args: string[] }
  | { ok: false; message: string };

export function parseFlags(argv: readonly string[], kinds: FlagKinds): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, type] of Object.entries(kinds)) {
    // One-letter names (`o`) are short aliases of themselves.
    options[name] = name.length === 1 ? { type, short: name } : { type };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    const out: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(values)) out[k] = typeof v === 'boolean' ? String(v) : (v as string | undefined);
    return { ok: true, values: out, args: positionals };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}
