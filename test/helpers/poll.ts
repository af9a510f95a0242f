// Polling for end-to-end tests: wait until something the processes under test do becomes visible (a metric, an
// object, a log line), with a deadline and a message that says what was awaited and what failed last.

/**
 * Calls `fn` every `everyMs` (default 200 ms) until it returns a value other than undefined, and returns that value.
 * A throw from `fn` counts as "not yet" (kept as the last error). After `timeoutMs` (default 30 s) it throws
 * `timed out after <ms> ms waiting for <what>` with the last error and, when given, `detail()` (e.g. the last lines
 * of the processes' output) on the following lines.
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 200,
  detail?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const why =
        last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${why}${detail ? `\n${detail()}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
