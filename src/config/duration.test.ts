import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration, parseGoDuration } from './duration.ts';

const parses: Array<[string, bigint]> = [
  ['0', 0n],
  ['90s', 90_000_000_000n],
  ['1m30s', 90_000_000_000n],
  ['300ms', 300_000_000n],
  ['1.5s', 1_500_000_000n],
  ['1.s', 1_000_000_000n],
  ['.5s', 500_000_000n],
  ['2h45m', 9_900_000_000_000n],
  ['10us', 10_000n],
  ['10µs', 10_000n],
  ['7ns', 7n],
  ['-3s', -3_000_000_000n],
  ['+3s', 3_000_000_000n],
];
for (const [text, ns] of parses) {
  test(`parses ${text}`, () => assert.deepEqual(parseGoDuration(text), { ok: true, ns }));
}

const fails: Array<[string, string]> = [
  ['', 'time: invalid duration ""'],
  ['90', 'time: missing unit in duration "90"'],
  ['5x', 'time: unknown unit "x" in duration "5x"'],
  ['s', 'time: invalid duration "s"'],
  ['.s', 'time: invalid duration ".s"'],
  ['-', 'time: invalid duration "-"'],
  ['9999999999h', 'time: invalid duration "9999999999h"'],
];
for (const [text, message] of fails) {
  test(`refuses ${JSON.stringify(text)} with Go's message`, () =>
    assert.deepEqual(parseGoDuration(text), { ok: false, message }));
}

const formats: Array<[bigint, string]> = [
  [0n, '0s'],
  [7n, '7ns'],
  [1_500n, '1.5µs'],
  [300_000_000n, '300ms'],
  [1_500_000_000n, '1.5s'],
  [90_000_000_000n, '1m30s'],
  [120_000_000_000n, '2m0s'],
  [3_600_000_000_000n, '1h0m0s'],
  [-2_000_000_000n, '-2s'],
];
for (const [ns, text] of formats) {
  test(`formats ${ns}ns as ${text}`, () => assert.equal(formatGoDuration(ns), text));
}
