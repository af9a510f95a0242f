// Entry point of the bundle dist/berth.mjs (image/build.ts): src/cli/main.ts runs main() only when it is argv[1]
// itself, so the bundle calls it here. Exit code as `bin/berth.js` sets it; long-running commands (controller,
// webhook, speaker) resolve only when stopped by SIGTERM/SIGINT, which they handle (Node as PID 1 ignores SIGTERM).
//
// The three processes the manifests run (`berth controller|webhook|speaker …`, without --help) are started here
// directly, as src/cli/main.ts would start them, so their processes never load the CLI's own commands (validate, plan,
// status, migrate: yaml, the allocator, …): with the bundle's code splitting (image/bundle.ts) each chunk is only
// read when imported, and V8 keeps the source of every module it has read (issue 8: speaker RSS). Everything else,
// `--help` included, goes through main().

import { applySpeakerV8Flags } from '../src/speaker/v8-flags.ts';

// The speaker's V8 flags (src/speaker/v8-flags.ts SPEAKER_V8_FLAGS, with their figures) are set before its code
// loads; BERTH_SPEAKER_V8_FLAGS replaces them. The flags NODE_OPTIONS does accept are in the DaemonSet.

/** A process command's runner: its argv (after the command) → exit code. */
type Runner = (argv: readonly string[]) => Promise<number>;

const PROCESSES: Readonly<Record<string, () => Promise<Runner>>> = {
  speaker: async () => {
    applySpeakerV8Flags();
    return (await import('../src/speaker/main.ts')).runSpeaker;
  },
  controller: async () => (await import('../src/controller/main.ts')).runController,
  webhook: async () => (await import('../src/webhook/main.ts')).runWebhook,
};

const argv = process.argv.slice(2);
const [cmd, ...rest] = argv;
const wantsHelp = rest.some((a) => a === '--help' || a === '-h');
const direct = cmd !== undefined && !wantsHelp && Object.hasOwn(PROCESSES, cmd) ? PROCESSES[cmd] : undefined;

process.exitCode = direct ? await (await direct())(rest) : await (await import('../src/cli/main.ts')).main(argv);
