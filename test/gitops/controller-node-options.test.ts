// The controller container's memory settings (issue 12: RSS ≤ 100 MB at 10,000 Services including peaks): the
// Deployment's NODE_OPTIONS is what bench:controller runs the controller with by default, and node accepts it (node
// exits 9, "… is not allowed in NODE_OPTIONS", for some V8 flags).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

interface Container {
  name: string;
  env?: Array<{ name: string; value?: string }>;
}

function controllerEnv(): Map<string, string | undefined> {
  const docs = readFileSync(`${REPO}gitops/base/controller/deployment.yaml`, 'utf8');
  const d = parseYaml(docs) as { spec: { template: { spec: { containers: Container[] } } } };
  const c = d.spec.template.spec.containers.find((x) => x.name === 'controller');
  assert.ok(c, 'the Deployment has a controller container');
  return new Map((c.env ?? []).map((e) => [e.name, e.value]));
}

test("the controller's NODE_OPTIONS sets a small young generation and one V8 helper thread, and node accepts it", async () => {
  const env = controllerEnv();
  const value = env.get('NODE_OPTIONS');
  assert.ok(value, 'the controller container sets NODE_OPTIONS');
  assert.deepEqual(value.split(' ').sort(), ['--max-old-space-size=192', '--max-semi-space-size=1', '--v8-pool-size=1']);
  assert.equal(env.get('MALLOC_ARENA_MAX'), '2');
  const r = await run(process.execPath, ['-e', 'console.log("ok")'], { env: { ...process.env, NODE_OPTIONS: value } });
  assert.equal(r.stdout.trim(), 'ok');
});

test("bench:controller runs the controller with the Deployment's NODE_OPTIONS and MALLOC_ARENA_MAX as shipped", () => {
  const bench = readFileSync(`${REPO}bench/controller.ts`, 'utf8');
  assert.match(bench, /readFileSync\(join\(REPO, 'gitops\/base\/controller\/deployment\.yaml'\)/, 'bench/controller.ts reads the Deployment');
  assert.match(bench, /DEPLOYMENT_ENV\.get\('NODE_OPTIONS'\)/);
  assert.match(bench, /DEPLOYMENT_ENV\.get\('MALLOC_ARENA_MAX'\)/);
});
