// RFC 5881 §5 (single-hop BFD: a received Control packet whose TTL / Hop Limit is not 255 MUST be discarded), enforced
// in the kernel by the BPF socket filter of bfd/udp.ts, checked with real forwarding (root, network namespaces):
//   speaker S (198.51.100.2, 2001:db8:bfd::2) ── R (198.51.100.1 / 203.0.113.1, forwarding) ── far F (203.0.113.2)
// Every peer is berth's BFD (bfd-ttl-agent.ts) with the guard off, so each answers what it gets. R's packets reach S
// with TTL 255: S's session with R comes Up. F's packets are forwarded by R and arrive with TTL 254: with the guard,
// S's session with F never leaves Down and the kernel counts the drops on S's socket (/proc/net/udp `drops`); the
// control run without the guard brings the same session Up, so it is the guard, not the topology, that refuses them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { BFD_CONTROL_PORT } from '../../src/speaker/bfd/udp.ts';
import { netnsSkipReason } from './bfd-lab.ts';

const AGENT = fileURLToPath(new URL('./bfd-ttl-agent.ts', import.meta.url));
const skip = netnsSkipReason();
if (skip) console.log(`# skipping bfd-ttl: ${skip}`);

const id = `bt${process.pid}`;
const [S, R, F] = [`${id}-s`, `${id}-r`, `${id}-f`];
const ip = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns: string, ...a: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...a]).toString();

const ADDR = {
  v4: { s: '198.51.100.2', r1: '198.51.100.1', r2: '203.0.113.1', f: '203.0.113.2' },
  v6: { s: '2001:db8:bfd::2', r1: '2001:db8:bfd::1', r2: '2001:db8:f::1', f: '2001:db8:f::2' },
} as const;

function setup(): void {
  for (const ns of [S, R, F]) ip('netns', 'add', ns);
  ip('link', 'add', `${id}sr`, 'type', 'veth', 'peer', 'name', `${id}rs`);
  ip('link', 'add', `${id}rf`, 'type', 'veth', 'peer', 'name', `${id}fr`);
  for (const [ifn, ns] of [
    [`${id}sr`, S],
    [`${id}rs`, R],
    [`${id}rf`, R],
    [`${id}fr`, F],
  ] as const)
    ip('link', 'set', ifn, 'netns', ns);
  const addr = (ns: string, ifn: string, a: string) =>
    ip('-n', ns, 'addr', 'add', a, 'dev', ifn, ...(a.includes(':') ? ['nodad'] : []));
  addr(S, `${id}sr`, `${ADDR.v4.s}/24`);
  addr(S, `${id}sr`, `${ADDR.v6.s}/64`);
  addr(R, `${id}rs`, `${ADDR.v4.r1}/24`);
  addr(R, `${id}rs`, `${ADDR.v6.r1}/64`);
  addr(R, `${id}rf`, `${ADDR.v4.r2}/24`);
  addr(R, `${id}rf`, `${ADDR.v6.r2}/64`);
  addr(F, `${id}fr`, `${ADDR.v4.f}/24`);
  addr(F, `${id}fr`, `${ADDR.v6.f}/64`);
  for (const [ns, ifs] of [
    [S, [`${id}sr`]],
    [R, [`${id}rs`, `${id}rf`]],
    [F, [`${id}fr`]],
  ] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const i of ifs) ip('-n', ns, 'link', 'set', i, 'up');
  }
  ip('-n', S, 'route', 'add', '203.0.113.0/24', 'via', ADDR.v4.r1);
  ip('-n', S, '-6', 'route', 'add', '2001:db8:f::/64', 'via', ADDR.v6.r1);
  ip('-n', F, 'route', 'add', '198.51.100.0/24', 'via', ADDR.v4.r2);
  ip('-n', F, '-6', 'route', 'add', '2001:db8:bfd::/64', 'via', ADDR.v6.r2);
  inNs(R, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  inNs(R, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=1');
}

function teardown(): void {
  for (const ns of [S, R, F]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      /* absent */
    }
  }
}

interface Line {
  event: string;
  peer?: string;
  to?: string;
}

class Agent {
  readonly lines: Line[] = [];
  readonly child: ChildProcess;
  constructor(ns: string, guard: boolean, peers: Array<{ peer: string; local: string }>) {
    this.child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', AGENT, JSON.stringify({ guard, peers })],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        /* not ours */
      }
    });
  }
  async until(f: (l: Line) => boolean, what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.lines.some(f)) {
      if (Date.now() > end || this.child.exitCode !== null)
        throw new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(this.lines)}`);
      await sleep(50);
    }
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.pid) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Sum of the `drops` column of S's UDP sockets bound to the BFD port (IPv4 and IPv6). */
function speakerDrops(): number {
  const port = `:${BFD_CONTROL_PORT.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of inNs(S, 'cat', file).split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(port)) n += Number(f[f.length - 1]);
    }
  }
  return n;
}

const speakerPeers = [
  { peer: ADDR.v4.r1, local: ADDR.v4.s },
  { peer: ADDR.v4.f, local: ADDR.v4.s },
  { peer: ADDR.v6.r1, local: ADDR.v6.s },
  { peer: ADDR.v6.f, local: ADDR.v6.s },
];

test(
  'BFD received TTL: 255 from the direct neighbor is accepted, 254 from one hop further is dropped in the kernel',
  { skip, timeout: 90_000 },
  async (t) => {
    const agents: Agent[] = [];
    t.after(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      teardown();
    });
    setup();
    const start = (ns: string, guard: boolean, peers: Array<{ peer: string; local: string }>) => {
      const a = new Agent(ns, guard, peers);
      agents.push(a);
      return a;
    };
    start(R, false, [
      { peer: ADDR.v4.s, local: ADDR.v4.r1 },
      { peer: ADDR.v6.s, local: ADDR.v6.r1 },
    ]);
    const far = start(F, false, [
      { peer: ADDR.v4.s, local: ADDR.v4.f },
      { peer: ADDR.v6.s, local: ADDR.v6.f },
    ]);
    const guarded = start(S, true, speakerPeers);
    for (const r of [ADDR.v4.r1, ADDR.v6.r1])
      await guarded.until((l) => l.event === 'up' && l.peer === r, `S Up with the direct neighbor ${r}`);
    // F hears S (F has no guard) and answers; its packets arrive at S with TTL 254.
    for (const s of [ADDR.v4.s, ADDR.v6.s])
      await far.until((l) => l.event === 'state' && l.peer === s && l.to === 'Init', `F to hear S (${s})`);
    const before = speakerDrops();
    await sleep(1500); // F keeps sending every 100 ms (slow rate while not Up: up to 1 s, RFC 5880 §6.8.3)
    assert.ok(
      speakerDrops() > before,
      `the kernel drops F's TTL 254 packets on S's sockets (${before} before)`,
    );
    for (const f of [ADDR.v4.f, ADDR.v6.f])
      assert.deepEqual(
        guarded.lines.filter((l) => l.peer === f),
        [],
        `S's session with ${f} never left Down`,
      );

    // Control: the same S without the guard accepts F's TTL 254 packets and comes Up with F.
    await guarded.stop();
    const open = start(S, false, speakerPeers);
    for (const f of [ADDR.v4.f, ADDR.v6.f])
      await open.until((l) => l.event === 'up' && l.peer === f, `unguarded S Up with the far peer ${f}`);
  },
);
