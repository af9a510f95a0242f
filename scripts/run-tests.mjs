#!/usr/bin/env node
// Collects *.test.ts files (Node 20's --test takes no globs) and runs them with node's test runner via tsx.
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: src test)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(p, out) {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isFile()) {
    if (p.endsWith('.test.ts')) out.push(p);
    return;
  }
  for (const e of readdirSync(p).sort()) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    collect(join(p, e), out);
  }
}
const roots = process.argv.slice(2);
const files = [];
for (const r of roots.length ? roots : ['src', 'test']) collect(r, files);
if (files.length === 0) {
  console.error('run-tests: no *.test.ts files found under', roots.join(' ') || 'src test');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
