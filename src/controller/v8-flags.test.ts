import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { BULK_SERVICES, CONTROLLER_SETTLED_V8_FLAGS, CONTROLLER_V8_FLAGS } from './v8-flags.ts';

const MODULE = fileURLToPath(new URL('./v8-flags.ts', import.meta.url));

type Step = 'start' | 'settle' | 'bulk' | 'small';
interface Scenario {
  readonly steps: readonly Step[];
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Runs each scenario in one fresh node (TurboFan reset on with `--opt` before each): its start/settle/bulk calls on a
 * new ControllerTiering, then a new function made hot (its own source text: V8 shares the code of equal sources); answers what each call returned and whether V8 optimized the
 * hot function (%GetOptimizationStatus bit 16: optimized). One child for all: a tsx start costs seconds here.
 */
function tiered(scenarios: readonly Scenario[]): Array<{ calls: string[]; optimized: boolean }> {
  const script = `
    const { setFlagsFromString } = await import('node:v8');
    const { ControllerTiering } = await import(${JSON.stringify(MODULE)});
    const out = [];
    for (const [k, { steps, env }] of ${JSON.stringify(scenarios)}.entries()) {
      setFlagsFromString('--opt');
      const t = new ControllerTiering(env ?? {});
      const calls = steps.map((s) => (s === 'bulk' ? t.bulk(${BULK_SERVICES}) : s === 'small' ? t.bulk(${BULK_SERVICES} - 1) : t[s]()));
      const hot = new Function('n', 'let s = ' + k + '; for (let i = 0; i < n; i++) s += i * 2; return s;');
      for (let i = 0; i < 3000; i++) hot(1000);
      out.push({ calls, optimized: (eval('%GetOptimizationStatus(hot)') & 16) !== 0 });
    }
    process.stdout.write(JSON.stringify(out));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as Array<{ calls: string[]; optimized: boolean }>;
}

describe('controller V8 tiering', () => {
  it('ships --optimize-for-size and --no-opt from the start, TurboFan for bulk work of 1,000 Services', () => {
    assert.equal(CONTROLLER_V8_FLAGS, '--optimize-for-size');
    assert.equal(CONTROLLER_SETTLED_V8_FLAGS, '--no-opt');
    assert.equal(BULK_SERVICES, 1000);
  });

  it('TurboFan optimizes hot code only during bulk work (≥ BULK_SERVICES), not from start; env replaces the lists', () => {
    const [started, small, bulk, again, settleFirst, none, own] = tiered([
      { steps: ['start'] },
      { steps: ['start', 'small'] },
      { steps: ['start', 'bulk'] },
      { steps: ['start', 'bulk', 'bulk', 'settle', 'settle'] },
      { steps: ['settle', 'bulk', 'settle'] },
      { steps: ['start', 'bulk'], env: { BERTH_CONTROLLER_V8_FLAGS: '', BERTH_CONTROLLER_SETTLED_V8_FLAGS: '' } },
      { steps: ['start'], env: { BERTH_CONTROLLER_V8_FLAGS: '--max-lazy', BERTH_CONTROLLER_SETTLED_V8_FLAGS: '--no-opt --no-sparkplug' } },
    ]);
    assert.deepEqual(started, { calls: ['--optimize-for-size --no-opt'], optimized: false });
    assert.deepEqual(small, { calls: ['--optimize-for-size --no-opt', ''], optimized: false }, 'fewer Services than BULK_SERVICES: no TurboFan');
    assert.deepEqual(bulk, { calls: ['--optimize-for-size --no-opt', '--opt'], optimized: true });
    // bulk() and settle() act once per change of state.
    assert.deepEqual(again, { calls: ['--optimize-for-size --no-opt', '--opt', '', '--no-opt', ''], optimized: false });
    assert.deepEqual(settleFirst, { calls: ['--no-opt', '--opt', '--no-opt'], optimized: false });
    // Empty lists: nothing turned TurboFan off, so bulk() has nothing to turn back on.
    assert.deepEqual(none, { calls: ['', ''], optimized: true });
    assert.deepEqual(own, { calls: ['--max-lazy --no-opt --no-sparkplug'], optimized: false });
  });
});
