// npm run chaos -- --seconds N --seed S [--kill-every S] [--outages N] [--settle S] [--settle-max S] [--quiet S] [--keep] [--dir DIR]
// Exit code 0 iff every invariant passes; 1 when one fails; 2 on bad flags or a failed set-up.
import { parseArgs } from 'node:util';
import { runChaos } from './chaos.ts';

const USAGE = `usage: npm run chaos -- [--seconds N] [--seed S] [--kill-every S] [--outages N] [--settle S] [--settle-max S] [--quiet S] [--workers N] [--keep] [--dir DIR]
  --seconds N     seconds of churn, kills and outages (default 30)
  --seed S        seed of the operations and the kill schedule (default 1)
  --kill-every S  mean seconds between kills (default 5)
  --outages N     API-server outages (SIGKILL of the lab, 5-10 s down; default 1 per started minute)
  --settle S      seconds to wait once the cluster is ready again after churn, before looking for quiet (default 15)
  --settle-max S  seconds after that readiness within which writes must stop (invariant g; default 120)
  --quiet S       seconds without a Service or claim write that count as settled (default 4)
  --workers N     concurrent churn loops (default 3)
  --keep          keep the working dir (lab state, process logs) even when everything passes
  --dir DIR       working dir (default: a new temp dir)`;

function num(name: string, text: string | undefined, def: number, min: number): number {
  if (text === undefined) return def;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) {
    process.stderr.write(`chaos: --${name} "${text}" must be an integer ≥ ${min}\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
}

let v: Record<string, string | boolean | undefined>;
try {
  v = parseArgs({
    options: {
      seconds: { type: 'string' },
      seed: { type: 'string' },
      'kill-every': { type: 'string' },
      outages: { type: 'string' },
      settle: { type: 'string' },
      'settle-max': { type: 'string' },
      quiet: { type: 'string' },
      workers: { type: 'string' },
      keep: { type: 'boolean' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (e) {
  process.stderr.write(`chaos: ${(e as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (v.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
const outages = str('outages');
try {
  const report = await runChaos({
    seconds: num('seconds', str('seconds'), 30, 5),
    seed: num('seed', str('seed'), 1, 0),
    killEvery: num('kill-every', str('kill-every'), 5, 1),
    ...(outages !== undefined ? { outages: num('outages', outages, 0, 0) } : {}),
    settleSeconds: num('settle', str('settle'), 15, 0),
    settleMaxSeconds: num('settle-max', str('settle-max'), 120, 1),
    quietSeconds: num('quiet', str('quiet'), 4, 1),
    workers: num('workers', str('workers'), 3, 1),
    keep: v.keep === true,
    ...(str('dir') ? { dir: str('dir')! } : {}),
  });
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  process.stderr.write(`chaos: set-up failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
}
