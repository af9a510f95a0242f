// The V8 flags the speaker sets on itself (image/entry.ts, before its code loads) and the one it lifts later.
// Memory figures: bench/speaker-rss.ts; CPU: bench/layer2-responder.ts, bench/bgp-toggle.ts; docs/layer2.md "Resources".
// Figures behind the first three flags (1,000 Services, layer 2, --dry-run-link):
// V8 flags the speaker sets on itself at start, before its code loads: `--optimize-for-size` (smaller heap growth
// steps, so garbage is collected before the heap grows: 81 → 67 MiB RSS with 1,000 Services, bench/speaker-rss.ts;
// the layer-2 responder's frames/s stay within 10 %, bench/layer2-responder.ts), `--interrupt-budget=1048576`
// (16 × V8's 67,584: a function is optimized by TurboFan after 16 times more interpreted work, so code that runs only
// at start — list pages, the first plans — is not, and TurboFan's code and memory stay unused while the speaker is
// idle: about −3.5 MiB RSS at 1,000 Services, bench/speaker-rss.ts `bundle` against `bundle-prev-flags`; a hot path
// such as the responder still reaches TurboFan within its first ~10,000 frames, and bench/layer2-responder.ts shows
// no loss beyond this machine's run-to-run spread), and `--no-sparkplug` (no baseline compiler: code runs in the
// interpreter until TurboFan takes it, so no baseline code is kept for code that runs once: 65.1 → 63.1 MiB RSS with
// 1,000 Services, V8 heap 14.1 → 12.5 MiB; the responder's frames per CPU second unchanged: ARP replies 538k/514k,
// NS/NA 529k/516k, bench/layer2-responder.ts). Node refuses these in NODE_OPTIONS, so the DaemonSet cannot pass
// them; the flags NODE_OPTIONS does accept (--max-semi-space-size=1, --v8-pool-size=1) are set there
// (gitops/base/speaker/daemonset.yaml, docs/layer2.md "Resources"). BERTH_SPEAKER_V8_FLAGS replaces the list (empty:
// none). On a real link (`bench:speaker-rss --link netns`: packet sockets and their 512 KiB rings open, 317 of 1,000
// Services announced) these flags give 65.9–68.4 MiB steady in 3 runs on the loaded 2-core VM (load 18-27); adding
// `--max-lazy --bytecode-old-age=2` gave 0.4–1.0 MiB less in each paired run, within the run-to-run spread: not set.
import { setFlagsFromString } from 'node:v8';

/**
 * The speaker's runtime V8 flags in the image: `--optimize-for-size` (smaller heap growth steps), `--interrupt-budget=
 * 1048576` (TurboFan only after 16× V8's default interpreted work), `--no-sparkplug` (no baseline code kept for code
 * that runs once) and `--no-opt` (no TurboFan while the speaker only does layer 2: its hot path, the ARP responder,
 * runs in the native addon, and TurboFan's compiler pages are never touched: 65.9 → 61.3 MiB RSS on a real link with
 * 1,000 Services, 60.4–62.8 MiB with the 256 KiB rings (5 runs, load 11-27; `bundle-prev-flags` 64.4–65.8); NS → NA answers in JS go from ~430k to ~95k per CPU second, 4.7× the 20,000/s of the issue's load).
 * Node refuses these in NODE_OPTIONS, so the process sets them itself; BERTH_SPEAKER_V8_FLAGS replaces the list
 * (empty: none).
 */
export const SPEAKER_V8_FLAGS = '--optimize-for-size --interrupt-budget=1048576 --no-sparkplug --no-opt';

/**
 * The flags startOptimizing() sets when the BGP half loads (BERTH_SPEAKER_BGP_V8_FLAGS replaces them): `--sparkplug`,
 * V8's baseline compiler, not TurboFan (`--opt`). Issue 9, 10,000 prefixes × 3 peers (bench/bgp-cpu.ts, CPU ms per
 * install / withdraw over 3 rounds, load 16-17, paired): TurboFan 880/548/553 and 307/343/292; interpreter only
 * 848/547/621 and 390/362/511; Sparkplug 715/445/468 and 301/312/296 — as fast as TurboFan on these bursts (TurboFan's
 * compile time counts in them), while the speaker's RSS (bench:bgp --speaker, steady) is ~4 MiB of RssFile lower
 * without TurboFan's compiler pages and its code and zones (90.0 → 84.4 MiB without either compiler; docs/bgp.md).
 */
export const BGP_V8_FLAGS = '--sparkplug';

let liftable = false;

/**
 * Sets `env.BERTH_SPEAKER_V8_FLAGS ?? SPEAKER_V8_FLAGS` with v8.setFlagsFromString (before any speaker code loads) and
 * remembers whether they turned a compiler off (`--no-opt` or `--no-sparkplug`) that startOptimizing may lift. Returns
 * the flags set.
 */
export function applySpeakerV8Flags(env: NodeJS.ProcessEnv = process.env): string {
  const flags = env.BERTH_SPEAKER_V8_FLAGS ?? SPEAKER_V8_FLAGS;
  if (flags.trim() !== '') setFlagsFromString(flags);
  liftable = /(^|\s)--no-(opt|sparkplug)(\s|$)/.test(flags);
  return flags;
}

/**
 * Called when the speaker loads its BGP half, whose planner and sessions handle up to 10,000s of prefixes per change
 * (issue 9's install time): sets `env.BERTH_SPEAKER_BGP_V8_FLAGS ?? BGP_V8_FLAGS` (default `--sparkplug`: baseline
 * code for hot functions, TurboFan stays off; `--opt` turns TurboFan on) if applySpeakerV8Flags turned a compiler off.
 * V8 reads these flags at each tiering decision, so hot functions are compiled from then on. Returns the flags set, or
 * undefined when it changed nothing (flags without --no-opt/--no-sparkplug, an empty list, or a second call).
 */
export function startOptimizing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!liftable) return undefined;
  liftable = false;
  const flags = env.BERTH_SPEAKER_BGP_V8_FLAGS ?? BGP_V8_FLAGS;
  if (flags.trim() === '') return undefined;
  setFlagsFromString(flags);
  return flags;
}
