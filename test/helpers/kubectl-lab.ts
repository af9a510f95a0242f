// A test file's lab API server driven by the real kubectl (src/lab/testing.ts): the skip reason when no kubectl is
// found, the file's before/after hooks starting and stopping the lab, and `ok` running kubectl that must succeed.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { findKubectl, startTestLab, type TestLab } from '../../src/lab/testing.ts';

/** The skip reason of the kubectl end-to-end tests when findKubectl() finds none. */
export const NO_KUBECTL = 'no kubectl found (.lab/bin/kubectl, /usr/lib/google-cloud-sdk/bin/kubectl.1.32 or PATH); run scripts/fetch-kubectl.sh';

export interface KubectlLabFile {
  /** NO_KUBECTL when no kubectl is found (the hooks then start nothing), else false. */
  skip: string | false;
  /** The running lab (throws before the file's `before` hook ran or when skipped). */
  lab(): TestLab;
  /** Runs `kubectl args` (stdin `input` when given) against the lab; asserts exit code 0 (message: the stderr); returns the stdout. */
  ok(args: string[], input?: string): Promise<string>;
}

/**
 * Registers the calling test file's before/after hooks: startTestLab(`opts`) unless kubectl is missing, and its stop.
 * Call at the top level of a test file.
 */
export function kubectlLabForFile(opts: Parameters<typeof startTestLab>[0] = {}): KubectlLabFile {
  const skip = findKubectl() ? false : NO_KUBECTL;
  let t: TestLab | undefined;
  before(async () => {
    if (skip) return;
    t = await startTestLab(opts);
  });
  after(async () => {
    await t?.stop();
  });
  const lab = (): TestLab => {
    if (!t) throw new Error('the kubectl lab is not running (kubectlLabForFile: called before its before hook, or skipped)');
    return t;
  };
  return {
    skip,
    lab,
    async ok(args, input) {
      const r = await lab().kubectl(args, input === undefined ? {} : { input });
      assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}`);
      return r.stdout;
    },
  };
}

/** Polls `read` until `pred` holds; fails with the last value after 20 s (a liveness bound, not a timing assertion). */
export async function until<T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  let last: T = await read();
  while (!pred(last)) {
    if (Date.now() > deadline) assert.fail(`${what}: never happened; last value:\n${JSON.stringify(last, null, 2)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  return last;
}
