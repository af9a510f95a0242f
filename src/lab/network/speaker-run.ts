// How a speaker process is started outside a cluster, shared by the network lab (network.ts), `npm run
// bench:failover` and `npm run bench:speaker-rss`: either from this checkout's sources under tsx (the tests' and
// `npm start`'s way: no build step), or from the esbuild bundle the image ships (image/bundle.ts writes
// dist/berth.mjs) under plain node, with the DaemonSet's NODE_OPTIONS (gitops/base/speaker/daemonset.yaml) and the
// V8 flags image/entry.ts sets on itself (src/speaker/v8-flags.ts SPEAKER_V8_FLAGS, unless BERTH_SPEAKER_V8_FLAGS
// replaces them): the image's way, whose memory and latency figures are the ones issue 8 states targets for.
// Building the bundle is the caller's job (`bundle()` of image/bundle.ts, once per run): the lab itself is part of the
// bundle, which must not pull esbuild in.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { spawnNode, type NodeProcess } from '../processes.ts';

/** The speaker's ways to run: the sources under tsx (dev), or the esbuild bundle as the image runs it. */
export type SpeakerMode = 'tsx' | 'bundle';
export const SPEAKER_MODES: readonly SpeakerMode[] = ['tsx', 'bundle'];

/** The repository root of this checkout. */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** `src/speaker/main.ts`: the speaker alone under tsx. */
export const SPEAKER_MAIN = join(REPO, 'src/speaker/main.ts');
/** `src/cli/main.ts`: `berth speaker` under tsx. */
export const CLI_MAIN = join(REPO, 'src/cli/main.ts');
/** The bundle's entry as image/bundle.ts writes it by default (dist/berth.mjs; its chunks sit beside it). */
export const BUNDLE = join(REPO, 'dist/berth.mjs');
/** The speaker DaemonSet whose container environment the image's way copies. */
export const SPEAKER_DAEMONSET = join(REPO, 'gitops/base/speaker/daemonset.yaml');

/**
 * `value` as a SpeakerMode. Throws an Error naming the value and the allowed ones (`what` says where it came from,
 * e.g. `--speaker`).
 */
export function parseSpeakerMode(value: string, what = 'speaker mode'): SpeakerMode {
  if ((SPEAKER_MODES as readonly string[]).includes(value)) return value as SpeakerMode;
  throw new Error(`${what} "${value}": must be one of ${SPEAKER_MODES.join(', ')}`);
}

/**
 * NODE_OPTIONS of the container `speaker` in the DaemonSet manifest `file` (default gitops/base/speaker/daemonset.yaml):
 * what the image runs with, e.g. `--max-semi-space-size=1 --v8-pool-size=1`; '' when the container sets none. Throws
 * when the file cannot be read or parsed (fs / yaml errors).
 */
export function daemonSetNodeOptions(file = SPEAKER_DAEMONSET): string {
  const ds = parseYaml(readFileSync(file, 'utf8')) as {
    spec?: { template?: { spec?: { containers?: Array<{ name?: string; env?: Array<{ name?: string; value?: string }> }> } } };
  };
  const c = ds.spec?.template?.spec?.containers?.find((x) => x.name === 'speaker');
  return c?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
}

/**
 * The environment of a speaker run the image's way: `base` with NODE_OPTIONS replaced by the DaemonSet's (`file`, see
 * daemonSetNodeOptions) and BERTH_SPEAKER_V8_FLAGS removed, so image/entry.ts sets SPEAKER_V8_FLAGS itself exactly as
 * in the image. `base` is not modified.
 */
export function imageSpeakerEnv(base: NodeJS.ProcessEnv = process.env, file = SPEAKER_DAEMONSET): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, NODE_OPTIONS: daemonSetNodeOptions(file) };
  delete env['BERTH_SPEAKER_V8_FLAGS'];
  return env;
}

/** Options of startSpeaker. */
export interface StartSpeakerOptions {
  /** Node flags before the script (e.g. `--import <preload>`). */
  nodeArgs?: readonly string[];
  /** The whole environment of the process (default process.env); startSpeaker does not change it. */
  env?: NodeJS.ProcessEnv;
  /** A command that execs node in place, e.g. `['ip', 'netns', 'exec', ns]`. */
  wrapper?: readonly string[];
  /** Mode `bundle`: the bundle's entry (default dist/berth.mjs). Throws naming it when it does not exist. */
  bundleFile?: string;
  /** Mode `tsx`: run `src/cli/main.ts speaker …` (`berth speaker`) instead of src/speaker/main.ts. */
  viaCli?: boolean;
  /** For messages (default `speaker`). */
  role?: string;
  logFile?: string;
  /** Stops the child when aborted (see SpawnOptions.signal of src/lab/processes.ts). */
  signal?: AbortSignal;
}

/**
 * The script and arguments startSpeaker runs: `<bundle> speaker …args` (plain node), or under tsx
 * `src/cli/main.ts speaker …args` (`viaCli`) / `src/speaker/main.ts …args`.
 */
export function speakerCommand(
  mode: SpeakerMode,
  args: readonly string[],
  o: Pick<StartSpeakerOptions, 'bundleFile' | 'viaCli'> = {},
): { script: string; args: string[]; tsx: boolean } {
  if (mode === 'bundle') return { script: o.bundleFile ?? BUNDLE, args: ['speaker', ...args], tsx: false };
  return o.viaCli ? { script: CLI_MAIN, args: ['speaker', ...args], tsx: true } : { script: SPEAKER_MAIN, args: [...args], tsx: true };
}

/**
 * Spawns one speaker (`args` are the speaker's flags) as speakerCommand says, behind `wrapper` if given, with `env`
 * as it is (for the image's way pass imageSpeakerEnv()). Mode `bundle` needs the bundle written (`bundle()` of
 * image/bundle.ts): throws an Error naming the missing file otherwise. Stop it with `.stop()` (SIGTERM, then SIGKILL).
 */
export function startSpeaker(mode: SpeakerMode, args: readonly string[], o: StartSpeakerOptions = {}): NodeProcess {
  const cmd = speakerCommand(mode, args, o);
  if (mode === 'bundle' && !existsSync(cmd.script))
    throw new Error(`speaker: the bundle ${cmd.script} does not exist (bundle() of image/bundle.ts, or npx tsx image/build.ts --bundle-only, writes it)`);
  return spawnNode(cmd.script, cmd.args, {
    tsx: cmd.tsx,
    env: o.env ?? process.env,
    role: o.role ?? 'speaker',
    ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
    ...(o.wrapper ? { wrapper: o.wrapper } : {}),
    ...(o.logFile ? { logFile: o.logFile } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}
