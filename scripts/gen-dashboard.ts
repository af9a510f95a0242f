// Writes gitops/base/monitoring/dashboards/berth.json from src/metrics/dashboard.ts (the typed source; Grafana's
// schema types check it). src/metrics/dashboard.test.ts fails when the file and the source differ.
//
//   npm run gen:dashboard
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardJson } from '../src/metrics/dashboard.ts';

export const DASHBOARD_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'gitops/base/monitoring/dashboards/berth.json');

mkdirSync(dirname(DASHBOARD_FILE), { recursive: true });
writeFileSync(DASHBOARD_FILE, dashboardJson());
console.log(`wrote ${DASHBOARD_FILE}`);
