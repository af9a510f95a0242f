// Child of bench/bgp-speaker.ts: polls `show route count` of one BIRD every 5 ms (one control connection) and prints
// `<epoch ms> <routes>` each time the count changes, so the timestamps are taken in a process of their own, not
// delayed by the bench process's event loop (which also serves the lab API server: thousands of status writes).
//   node --import tsx bench/bird-watch.ts <bird control socket>
import { BirdCli, parseRouteCount } from './bird-cli.ts';

const ctl = process.argv[2];
if (!ctl) {
  process.stderr.write('bird-watch: usage: bird-watch.ts <bird control socket>\n');
  process.exit(2);
}
const cli = new BirdCli(ctl);
let last = Number.NaN;
for (;;) {
  const n = parseRouteCount(await cli.query('show route count'));
  const now = performance.timeOrigin + performance.now();
  if (n !== last) {
    last = n;
    process.stdout.write(`${now.toFixed(1)} ${n}\n`);
  }
  await new Promise((r) => setTimeout(r, 5));
}
