// promtool (Debian package `prometheus`, installed by .ci/run) on the alert rules: `check rules` on the plain rules
// file and on the PrometheusRule's groups, `test rules` on rules/berth.rules.test.yaml, and a mutant of the rules
// (every `for:` dropped) that the unit tests must reject. Skipped, with the reason printed, where promtool is absent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { MONITORING, monitoringObjects, RULES_FILE, RULES_TEST_FILE, alertRules } from './monitoring-files.ts';

interface Run {
  code: number;
  out: string;
}

function promtool(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

const version = await promtool(['--version'], MONITORING);
const missing = version.code === 0 ? undefined : 'promtool not found (apt-get install prometheus; .ci/run installs it)';
if (missing) console.log(`# skipping promtool tests: ${missing}`);

describe('promtool', { skip: missing }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-promtool-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('check rules: the plain rules file is valid and holds every alert', async () => {
    const r = await promtool(['check', 'rules', RULES_FILE], MONITORING);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
  });

  it("check rules: the PrometheusRule's spec.groups, written out as a rules file, are valid", async () => {
    const pr = monitoringObjects('prometheusrule.yaml')[0] as { spec: { groups: unknown } };
    const file = join(dir, 'from-prometheusrule.yaml');
    writeFileSync(file, stringify({ groups: pr.spec.groups }));
    const r = await promtool(['check', 'rules', file], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
  });

  it('test rules: every alert fires in its case and stays quiet in the other', async () => {
    const r = await promtool(['test', 'rules', RULES_TEST_FILE], join(MONITORING, 'rules'));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it('test rules fails on a mutant whose alerts have no for: (the quiet cases bite)', async () => {
    writeFileSync(join(dir, 'berth.rules.yaml'), readFileSync(RULES_FILE, 'utf8').replace(/^\s+for: \S+\n/gm, ''));
    copyFileSync(RULES_TEST_FILE, join(dir, 'berth.rules.test.yaml'));
    const r = await promtool(['test', 'rules', 'berth.rules.test.yaml'], dir);
    assert.notEqual(r.code, 0, r.out);
    for (const a of ['MetalLBControllerDown', 'MetalLBIPPoolFull', 'MetalLBBGPSessionDown', 'MetalLBStaleConfig']) {
      assert.match(r.out, new RegExp(`alertname: ${a}`), `${a} not caught:\n${r.out}`);
    }
  });
});
