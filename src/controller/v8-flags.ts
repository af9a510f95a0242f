// The V8 flags the controller sets on itself, and when. Figures: docs/controller.md "V8 flags" (bench:controller
// --scale 10000, issue 12: RSS ≤ 100 MB at 10,000 Services including peaks, restart ≤ 2 s).
import { setFlagsFromString } from 'node:v8';

/**
 * Set at start, before any work: `--optimize-for-size` (smaller heap growth steps, so garbage is collected before the
 * old space grows; with 10,000 Services steady RSS ~109 → ~88 MiB). Node refuses it in NODE_OPTIONS, so the process
 * sets it itself. `BERTH_CONTROLLER_V8_FLAGS` replaces the list (empty: none).
 */
export const CONTROLLER_V8_FLAGS = '--optimize-for-size';

/**
 * Set from the start, and again once the controller has settled (its state loaded, and, when leading, the pass over
 * every Service done): `--no-opt`, no TurboFan. The controller's steady work is one Service at a time (a status patch,
 * an Event: I/O, JSON and TLS in native code): interpreted, it costs about the same CPU per Service (4.2 → 3.9 ms in
 * bench:controller), while TurboFan's compiled code, its compilation zones and the node binary's compiler pages
 * (RssFile, ~3.5 MiB) stay out of its RSS: fill peak at 10,000 Services 102.1 → 92.2 MiB (docs/controller.md).
 * TurboFan is on only for bulk work of at least BULK_SERVICES Services: loading them at a restart and reconciling
 * them all (interpreted, a restart over 10,000 took half as much CPU again: restart ≤ 2 s would not hold).
 * `BERTH_CONTROLLER_SETTLED_V8_FLAGS` replaces the list (empty: none).
 */
export const CONTROLLER_SETTLED_V8_FLAGS = '--no-opt';

/** Services from which loading or reconciling them all is bulk work, run with TurboFan (ControllerTiering.bulk). */
export const BULK_SERVICES = 1_000;

/**
 * The controller's V8 tiering: `start()` at process start (start flags, then the settled ones), `bulk(n)` when work
 * over `n` Services begins (TurboFan back on if n ≥ BULK_SERVICES and settling turned it off), `settle()` when it is
 * done. `env` is read once. Each call returns the flags it set ('' for none). setFlagsFromString changes V8's flags
 * for the tiering decisions it makes from then on (code already optimized stays so).
 */
export class ControllerTiering {
  readonly #start: string;
  readonly #settled: string;
  readonly #turbofanOff: boolean;
  #settledNow = false;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.#start = env.BERTH_CONTROLLER_V8_FLAGS ?? CONTROLLER_V8_FLAGS;
    this.#settled = env.BERTH_CONTROLLER_SETTLED_V8_FLAGS ?? CONTROLLER_SETTLED_V8_FLAGS;
    this.#turbofanOff = /(^|\s)--no-opt(\s|$)/.test(this.#settled);
  }

  /** At process start, before any work: the start flags, then the settled ones (both, space-separated). */
  start(): string {
    if (this.#start.trim() !== '') setFlagsFromString(this.#start);
    return [this.#start, this.settle()].filter((f) => f.trim() !== '').join(' ');
  }

  /** Bulk work is done: the settled flags again (once per settling). */
  settle(): string {
    if (this.#settledNow) return '';
    this.#settledNow = true;
    if (this.#settled.trim() !== '') setFlagsFromString(this.#settled);
    return this.#settled;
  }

  /** Work over `services` Services begins: TurboFan on (`--opt`) if they are at least BULK_SERVICES and it is off. */
  bulk(services: number): string {
    if (!this.#settledNow || services < BULK_SERVICES) return '';
    this.#settledNow = false;
    if (!this.#turbofanOff) return '';
    setFlagsFromString('--opt');
    return '--opt';
  }
}
