// The speaker's V8 flags: --no-opt keeps TurboFan off until startOptimizing() (the BGP half loading) turns it on.
// A child process (flags are process-wide) runs a hot function before and after, read with V8's natives syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SPEAKER_V8_FLAGS } from './v8-flags.ts';

const MODULE = pathToFileURL(fileURLToPath(new URL('./v8-flags.ts', import.meta.url))).href;

function child(env: Record<string, string | undefined>): { before: boolean; after: boolean; turned: boolean; again: boolean; flags: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-v8flags-'));
  try {
    const script = join(dir, 'probe.mjs');
    // Two identical hot functions: `before` runs while the applied flags are in force, `after` once startOptimizing ran.
    writeFileSync(
      script,
      `import { applySpeakerV8Flags, startOptimizing } from ${JSON.stringify(MODULE)};
const flags = applySpeakerV8Flags();
const mk = () => (a) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; };
const a = Array.from({ length: 1000 }, (_, i) => i);
const hot = (f) => { for (let k = 0; k < 20000; k++) f(a); return (%GetOptimizationStatus(f) & 16) !== 0; };
const before = hot(mk());
const turned = startOptimizing();
const after = hot(mk());
const again = startOptimizing();
console.log(JSON.stringify({ before, after, turned, again, flags }));
`,
    );
    const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('SPEAKER_V8_FLAGS: TurboFan stays off (--no-opt) until startOptimizing(), then hot code is optimized; once only', () => {
  assert.match(SPEAKER_V8_FLAGS, /(^|\s)--no-opt(\s|$)/);
  const r = child({ BERTH_SPEAKER_V8_FLAGS: undefined, NODE_OPTIONS: '' });
  assert.equal(r.flags, SPEAKER_V8_FLAGS);
  assert.equal(r.before, false, 'a hot function is not optimized under the speaker flags');
  assert.equal(r.turned, true);
  assert.equal(r.after, true, 'after startOptimizing() a hot function is optimized');
  assert.equal(r.again, false, 'a second call changes nothing');
});

test('BERTH_SPEAKER_V8_FLAGS replaces the list; without --no-opt startOptimizing() does nothing', () => {
  const r = child({ BERTH_SPEAKER_V8_FLAGS: '', NODE_OPTIONS: '' });
  assert.equal(r.flags, '');
  assert.equal(r.before, true, 'default V8 tiering optimizes the hot function');
  assert.equal(r.turned, false);
});
