// Entry point of the bundle dist/berth.mjs (image/build.ts): src/cli/main.ts runs main() only when it is argv[1]
// itself, so the bundle calls it here. Exit code as `bin/berth.js` sets it; long-running commands (controller,
// webhook, speaker) resolve only when stopped by SIGTERM/SIGINT, which they handle (Node as PID 1 ignores SIGTERM).
//
// The three processes the manifests run (`berth controller|webhook|speaker …`, without --help) are started here
// directly, as src/cli/main.ts would start them, so their processes never load the CLI's own commands (validate, plan,
// status, migrate: yaml, the allocator, …): with the bundle's code splitting (image/bundle.ts) each chunk is only
// read when imported, and V8 keeps the source of every module it has read (issue 8: speaker RSS). Everything else,
// `--help` included, goes through main().

import { setFlagsFromString } from 'node:v8';

/**
 * V8 flags the speaker sets on itself at start, before its code loads: `--optimize-for-size` (smaller heap growth
 * steps, so garbage is collected before the heap grows: 81 → 67 MiB RSS with 1,000 Services, bench/speaker-rss.ts;
 * the layer-2 responder's frames/s stay within 10 %, bench/layer2-responder.ts), `--interrupt-budget=1048576`
 * (16 × V8's 67,584: a function is optimized by TurboFan after 16 times more interpreted work, so code that runs only
 * at start — list pages, the first plans — is not, and TurboFan's code and memory stay unused while the speaker is
 * idle: about −3.5 MiB RSS at 1,000 Services, bench/speaker-rss.ts `bundle` against `bundle-prev-flags`; a hot path
 * such as the responder still reaches TurboFan within its first ~10,000 frames, and bench/layer2-responder.ts shows
 * no loss beyond this machine's run-to-run spread), and `--no-sparkplug` (no baseline compiler: code runs in the
 * interpreter until TurboFan takes it, so no baseline code is kept for code that runs once: 65.1 → 63.1 MiB RSS with
 * 1,000 Services, V8 heap 14.1 → 12.5 MiB; the responder's frames per CPU second unchanged: ARP replies 538k/514k,
 * NS/NA 529k/516k, bench/layer2-responder.ts). Node refuses these in NODE_OPTIONS, so the DaemonSet cannot pass
 * them; the flags NODE_OPTIONS does accept (--max-semi-space-size=1, --v8-pool-size=1) are set there
 * (gitops/base/speaker/daemonset.yaml, docs/layer2.md "Resources"). BERTH_SPEAKER_V8_FLAGS replaces the list (empty:
 * none). On a real link (`bench:speaker-rss --link netns`: packet sockets and their 512 KiB rings open, 317 of 1,000
 * Services announced) these flags give 65.9–68.4 MiB steady in 3 runs on the loaded 2-core VM (load 18-27); adding
 * `--max-lazy --bytecode-old-age=2` gave 0.4–1.0 MiB less in each paired run, within the run-to-run spread: not set.
 */
const SPEAKER_V8_FLAGS = '--optimize-for-size --interrupt-budget=1048576 --no-sparkplug';

/** A process command's runner: its argv (after the command) → exit code. */
type Runner = (argv: readonly string[]) => Promise<number>;

const PROCESSES: Readonly<Record<string, () => Promise<Runner>>> = {
  speaker: async () => {
    const flags = process.env.BERTH_SPEAKER_V8_FLAGS ?? SPEAKER_V8_FLAGS;
    if (flags.trim() !== '') setFlagsFromString(flags);
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
