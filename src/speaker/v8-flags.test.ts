// The speaker's V8 flags: --no-sparkplug --no-opt keep hot code interpreted until startOptimizing() (the BGP half
// loading) turns Sparkplug on (BGP_V8_FLAGS; TurboFan stays off unless BERTH_SPEAKER_BGP_V8_FLAGS asks for it).
// A child process (flags are process-wide) runs a hot function before and after, read with V8's natives syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BGP_V8_FLAGS, SPEAKER_V8_FLAGS } from './v8-flags.ts';

const MODULE = pathToFileURL(fileURLToPath(new URL('./v8-flags.ts', import.meta.url))).href;

interface Probe {
  /** V8's optimization status bits (%GetOptimizationStatus) of a hot function before / after startOptimizing(). */
  before: number;
  after: number;
  turned: string | null;
  again: string | null;
  flags: string;
}

/** V8 OptimizationStatus bits (src/runtime/runtime.h): TurboFan (or Maglev) code, Sparkplug code. */
const OPTIMIZED = 16;
const BASELINE = 32768;

function child(env: Record<string, string | undefined>): Probe {
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
const hot = (f) => { for (let k = 0; k < 20000; k++) f(a); return %GetOptimizationStatus(f); };
const before = hot(mk());
const turned = startOptimizing();
const after = hot(mk());
const again = startOptimizing();
console.log(JSON.stringify({ before, after, turned: turned ?? null, again: again ?? null, flags }));
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

test('SPEAKER_V8_FLAGS: no compiler (--no-sparkplug --no-opt) until startOptimizing(), then Sparkplug code, no TurboFan; once only', () => {
  assert.match(SPEAKER_V8_FLAGS, /(^|\s)--no-opt(\s|$)/);
  assert.match(SPEAKER_V8_FLAGS, /(^|\s)--no-sparkplug(\s|$)/);
  const r = child({ BERTH_SPEAKER_V8_FLAGS: undefined, BERTH_SPEAKER_BGP_V8_FLAGS: undefined, NODE_OPTIONS: '' });
  assert.equal(r.flags, SPEAKER_V8_FLAGS);
  assert.equal(r.before & (OPTIMIZED | BASELINE), 0, 'a hot function stays interpreted under the speaker flags');
  assert.equal(r.turned, BGP_V8_FLAGS);
  assert.notEqual(r.after & BASELINE, 0, 'after startOptimizing() a hot function gets baseline (Sparkplug) code');
  assert.equal(r.after & OPTIMIZED, 0, 'TurboFan stays off');
  assert.equal(r.again, null, 'a second call changes nothing');
});

test('BERTH_SPEAKER_BGP_V8_FLAGS=--opt: TurboFan for BGP instead', () => {
  const r = child({ BERTH_SPEAKER_V8_FLAGS: undefined, BERTH_SPEAKER_BGP_V8_FLAGS: '--opt --sparkplug', NODE_OPTIONS: '' });
  assert.equal(r.before & OPTIMIZED, 0);
  assert.equal(r.turned, '--opt --sparkplug');
  assert.notEqual(r.after & OPTIMIZED, 0, 'after startOptimizing() a hot function is optimized');
});

test('BERTH_SPEAKER_V8_FLAGS replaces the list; without --no-opt / --no-sparkplug startOptimizing() does nothing', () => {
  const r = child({ BERTH_SPEAKER_V8_FLAGS: '', NODE_OPTIONS: '' });
  assert.equal(r.flags, '');
  assert.notEqual(r.before & OPTIMIZED, 0, 'default V8 tiering optimizes the hot function');
  assert.equal(r.turned, null);
});
