#!/usr/bin/env node
// Builds native/ (berth's one N-API addon) with the node-gyp that npm bundles, against the headers of the Node that
// runs this script: never a download. Run by the root package's `install` script, so `npm ci` / `npm install` build it.
// Headers: $npm_config_nodedir (~/.npmrc `nodedir=`) or <prefix of process.execPath>/include/node (Debian: /usr).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(Boolean);
const nodedir = candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
if (!nodedir) {
  console.error(
    `native/build.mjs: no Node headers (include/node/node_api.h) under ${candidates.join(' or ')}; ` +
      'install the headers of this Node (Debian: nodejs ships them in /usr/include/node) or set npm_config_nodedir',
  );
  process.exit(1);
}
// npm exports npm_config_node_gyp (its bundled node-gyp) to lifecycle scripts; outside npm fall back to PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', `--directory=${here}`, `--nodedir=${nodedir}`], {
  stdio: 'inherit',
  // node-gyp also reads npm_config_nodedir from the environment, where an empty value beats --nodedir.
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.error) {
  console.error(
    `native/build.mjs: cannot run ${cmd}: ${r.error.message} (run it through npm: npm run build:native)`,
  );
  process.exit(1);
}
process.exit(r.status ?? 1);
