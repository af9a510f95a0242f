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
 * Set once the controller has settled (its state loaded, and, when leading, the pass over every Service done):
 * `--no-opt`, no TurboFan from then on. The settled controller's work is one Service at a time (a status patch, an
 * Event: I/O, JSON and TLS in native code): interpreted, it costs about the same CPU per Service, while TurboFan's
 * compiled code, its compilation zones and the node binary's compiler pages (RssFile) stay out of its RSS: fill peak
 * at 10,000 Services 102 → 92 MiB. TurboFan stays on for the bulk work that precedes: loading 10,000 Services and
 * claims and reconciling them all at a restart (interpreted, that CPU grew by half: restart ≤ 2 s would not hold).
 * `BERTH_CONTROLLER_SETTLED_V8_FLAGS` replaces the list (empty: none).
 */
export const CONTROLLER_SETTLED_V8_FLAGS = '--no-opt';

/**
 * The controller's V8 tiering, in three calls: `start()` at process start, `settle()` once the state is loaded and
 * after every pass over all Services, `bulk()` before such a pass (leadership gained: TurboFan back on until
 * `settle()`). `env` is read once. Each call returns the flags it set ('' for none). setFlagsFromString changes V8's
 * flags for the decisions it makes from then on (code already optimized stays so).
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

  /** At process start, before any work: the start flags. */
  start(): string {
    if (this.#start.trim() !== '') setFlagsFromString(this.#start);
    return this.#start;
  }

  /** The state is loaded or a bulk pass is done: the settled flags (once per settling). */
  settle(): string {
    if (this.#settledNow) return '';
    this.#settledNow = true;
    if (this.#settled.trim() !== '') setFlagsFromString(this.#settled);
    return this.#settled;
  }

  /** A pass over every Service begins: TurboFan on again (`--opt`) if settle() turned it off. */
  bulk(): string {
    if (!this.#settledNow) return '';
    this.#settledNow = false;
    if (!this.#turbofanOff) return '';
    setFlagsFromString('--opt');
    return '--opt';
  }
}
