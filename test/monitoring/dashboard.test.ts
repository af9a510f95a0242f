// The Grafana dashboard (issue 11): gitops/base/monitoring/dashboards/berth.json is exactly what src/metrics/dashboard.ts
// (typed with Grafana's schema types, so tsc checks its shape) generates; it covers what the issue asks (pool usage per
// pool, decisions and denials by reason, time to IP, layer-2 owner per IP and failovers, BGP and BFD sessions); every
// query is PromQL that promtool parses (each written as a recording rule and `promtool check rules`), and a mutant with
// a broken query is rejected. The metric names it uses are checked as exported by test/monitoring/metric-coverage.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { dashboard, dashboardJson, dashboardQueries } from '../../src/metrics/dashboard.ts';
import { MONITORING } from './monitoring-files.ts';

const FILE = `${MONITORING}dashboards/berth.json`;

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

async function checkQueries(queries: readonly string[]): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-dashboard-'));
  try {
    const file = join(dir, 'queries.yaml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((expr, i) => ({ record: `berth:dashboard:q${i}`, expr })) }] }));
    return await promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Grafana dashboard', () => {
  it('the committed JSON is what src/metrics/dashboard.ts generates (npm run gen:dashboard)', () => {
    assert.equal(readFileSync(FILE, 'utf8'), dashboardJson(), 'dashboards/berth.json is stale: run npm run gen:dashboard');
  });

  it('has the panels the issue asks for, each with a query, unique ids and no overlap on the grid', () => {
    const panels = dashboard.panels ?? [];
    const text = dashboardQueries().join('\n');
    for (const name of [
      'metallb_allocator_addresses_in_use_total', // pool usage per pool
      'berth_webhook_decisions_total', // allocations and denials by reason
      'berth_time_to_ip_seconds_bucket', // time to IP
      'metallb_speaker_announced', // layer-2 owner per IP
      'berth_l2_owner_changes_total', // failovers
      'metallb_bgp_session_up',
      'metallb_bfd_session_up',
    ]) assert.ok(text.includes(name), `no panel queries ${name}`);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos!;
      assert.ok(g.x + g.w <= 24, `panel ${p.title} is wider than the grid`);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `panel ${p.title} overlaps another at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
      if (p.type !== 'row') assert.ok(((p as { targets?: unknown[] }).targets ?? []).length > 0, `panel ${p.title} has no query`);
    }
  });

  it('every query is valid PromQL (promtool), and a broken one is caught', async (t) => {
    const v = await promtool(['--version']);
    if (v.code !== 0) return t.skip('promtool not found (apt-get install prometheus; .ci/run installs it)');
    const queries = dashboardQueries();
    const ok = await checkQueries(queries);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, new RegExp(`SUCCESS: ${queries.length} rules found`));
    const bad = await checkQueries([...queries.slice(1), `sum by (pool (${queries[0]})`]);
    assert.notEqual(bad.code, 0, bad.out);
  });
});
