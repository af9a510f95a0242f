// Shared by the BFD interop tests and bench/bfd.ts: two network namespaces joined by a veth pair ("router" side
// 198.51.100.1 / 2001:db8:bfd::1, "speaker" side .2 / ::2, documentation ranges only), FRR's bfdd or BIRD started in
// the router namespace with their own config, and berth's BFD agent (bfd-agent.ts) as a child in the speaker one.
// Everything created is removed by `cleanup()`; daemons are stopped by their pid only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BFDD = '/usr/lib/frr/bfdd';
const AGENT = join(import.meta.dirname, 'bfd-agent.ts');

export const ROUTER = { v4: '198.51.100.1', v6: '2001:db8:bfd::1' } as const;
export const SPEAKER = { v4: '198.51.100.2', v6: '2001:db8:bfd::2' } as const;

/** Why namespace tests cannot run here (not root, `ip netns` broken, a binary missing), or undefined. */
export function netnsSkipReason(binaries: readonly string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const b of binaries) if (!existsSync(b)) return `${b} not installed`;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return '`ip netns` does not work here';
  }
  return undefined;
}

export const ip = (...args: string[]): void =>
  void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export async function until<T>(f: () => T | undefined, what: string, ms = 15_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export interface AgentLine {
  event: string;
  /** The peer address as given to the agent (absent on 'started'). */
  peer?: string;
  at: number;
  diag?: number;
  diagName?: string;
  sinceLastRxMs?: number;
  txIntervalMs?: number;
  detectionTimeMs?: number;
}

/** A `bfd-agent.ts` peer argument: address, our address, interface. */
export interface AgentPeer {
  peer: string;
  local?: string;
  ifname?: string;
}

/**
 * berth's BFD (one process, one BfdServer) for `peers`, in namespace `ns`; `next(pred)` resolves with the first line
 * (seen or future) matching.
 */
export class Agent {
  readonly child: ChildProcess;
  readonly lines: AgentLine[] = [];
  #waiters: Array<{ pred: (l: AgentLine) => boolean; from: number; resolve: (l: AgentLine) => void }> = [];
  #stderr = '';
  constructor(
    ns: string,
    peers: readonly AgentPeer[],
    timers: [tx: number, rx: number, mult: number] = [100, 100, 3],
  ) {
    const specs = peers.map((p) => [p.peer, p.local ?? '', p.ifname ?? ''].join(','));
    const args = [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      'tsx',
      AGENT,
      ...timers.map(String),
      ...specs,
    ];
    this.child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d: Buffer) => void (this.#stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let l: AgentLine;
      try {
        l = JSON.parse(line) as AgentLine;
      } catch {
        this.#stderr += `(stdout) ${line}\n`;
        return;
      }
      this.lines.push(l);
      for (const w of [...this.#waiters]) {
        if (this.lines.length - 1 >= w.from && w.pred(l)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    });
  }
  /** The first line at index ≥ `from` matching `pred`, within `ms`. */
  next(pred: (l: AgentLine) => boolean, what: string, from = 0, ms = 15_000): Promise<AgentLine> {
    const seen = this.lines.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, from, resolve: (l: AgentLine) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(
          new Error(
            `agent: no ${what} within ${ms} ms; lines ${JSON.stringify(this.lines)} stderr ${this.#stderr}`,
          ),
        );
      }, ms);
      this.#waiters.push(w);
    });
  }
  get stderr(): string {
    return this.#stderr;
  }
  kill(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }
}

/** What the lab holds; `cleanup()` is idempotent and never throws. */
export interface BfdLab {
  nsRouter: string;
  nsSpeaker: string;
  dir: string;
  agents: Agent[];
  /** pids of daemons started in the router namespace (stopped with SIGCONT + SIGTERM). */
  daemons: number[];
  cleanup(): void;
}

/** Creates `<prefix>-rtr` and `<prefix>-spk` joined by eth0↔eth0 with both address families (IPv6 without DAD). */
export function makeLab(prefix: string): BfdLab {
  const lab: BfdLab = {
    nsRouter: `${prefix}-rtr`,
    nsSpeaker: `${prefix}-spk`,
    dir: mkdtempSync(join(tmpdir(), `${prefix}-`)),
    agents: [],
    daemons: [],
    cleanup() {
      for (const a of lab.agents) {
        a.kill('SIGCONT');
        a.kill('SIGKILL');
      }
      for (const pid of lab.daemons) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      lab.daemons = [];
      for (const ns of [lab.nsRouter, lab.nsSpeaker]) {
        try {
          ip('netns', 'del', ns);
        } catch {
          /* not created */
        }
      }
      rmSync(lab.dir, { recursive: true, force: true });
    },
  };
  chmodSync(lab.dir, 0o755);
  try {
    ip('netns', 'add', lab.nsRouter);
    ip('netns', 'add', lab.nsSpeaker);
    ip(
      '-n',
      lab.nsRouter,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      lab.nsSpeaker,
    );
    ip('-n', lab.nsRouter, 'addr', 'add', `${ROUTER.v4}/24`, 'dev', 'eth0');
    ip('-n', lab.nsSpeaker, 'addr', 'add', `${SPEAKER.v4}/24`, 'dev', 'eth0');
    ip('-n', lab.nsRouter, 'addr', 'add', `${ROUTER.v6}/64`, 'dev', 'eth0', 'nodad');
    ip('-n', lab.nsSpeaker, 'addr', 'add', `${SPEAKER.v6}/64`, 'dev', 'eth0', 'nodad');
    for (const ns of [lab.nsRouter, lab.nsSpeaker]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
  } catch (e) {
    lab.cleanup();
    throw e;
  }
  return lab;
}

/** The kernel's IPv6 link-local address of eth0 in `ns`, once DAD has finished with it (not tentative). */
export async function linkLocal(ns: string): Promise<string> {
  return until(() => {
    const out = execFileSync('ip', [
      '-n',
      ns,
      '-j',
      '-6',
      'addr',
      'show',
      'dev',
      'eth0',
      'scope',
      'link',
    ]).toString();
    const infos = (
      JSON.parse(out) as Array<{ addr_info: Array<{ local?: string; tentative?: boolean }> }>
    ).flatMap((i) => i.addr_info);
    return infos.find((a) => a.local?.startsWith('fe80:') && !a.tentative)?.local;
  }, `a link-local address on eth0 in ${ns}`);
}

/** The agent argument for the router's address of `family`, from the speaker's address of that family. */
export function routerPeer(family: 'v4' | 'v6'): AgentPeer {
  return { peer: ROUTER[family], local: SPEAKER[family] };
}

/** Starts berth's agent in the speaker namespace with sessions to `peers`. */
export function startAgent(
  lab: BfdLab,
  peers: readonly AgentPeer[],
  timers?: [number, number, number],
): Agent {
  const a = new Agent(lab.nsSpeaker, peers, timers);
  lab.agents.push(a);
  return a;
}

export interface FrrPeer {
  peer: string;
  status: string;
  diagnostic: string;
  'remote-diagnostic': string;
  'transmit-interval': number;
  'receive-interval': number;
  'remote-transmit-interval': number;
  'remote-receive-interval': number;
  'remote-detect-multiplier': number;
  'remote-id': number;
}

/** Pid of a daemon once its pid file has it. */
async function pidFrom(file: string): Promise<number> {
  return until(() => {
    const s = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    return s ? Number(s) : undefined;
  }, file);
}

/**
 * FRR 8 bfdd standalone as user frr (recipes §4.5) with single-hop peers to both speaker addresses at `ms` × `mult`,
 * plus `extraPeers` (the text after `peer`, e.g. `fe80::2 interface eth0`). With extra peers zebra runs too (recipes §4.3):
 * bfdd learns interfaces (and so can send to a link-local peer over `interface eth0`) only from zebra.
 * Returns its pid and `peers()` (`show bfd peers json` through vtysh, keyed by peer address; empty on failure).
 */
export async function startFrrBfdd(
  lab: BfdLab,
  ms = 100,
  mult = 3,
  extraPeers: readonly string[] = [],
): Promise<{ pid: number; peers: () => Map<string, FrrPeer> }> {
  const d = lab.dir;
  const conf = join(d, 'bfdd.conf');
  const peers = [
    `${SPEAKER.v4} local-address ${ROUTER.v4}`,
    `${SPEAKER.v6} local-address ${ROUTER.v6}`,
    ...extraPeers,
  ];
  const lines = peers.flatMap((p) => [
    ` peer ${p}`,
    `  receive-interval ${ms}`,
    `  transmit-interval ${ms}`,
    `  detect-multiplier ${mult}`,
    ' !',
  ]);
  writeFileSync(conf, ['bfd', ...lines, '!', ''].join('\n'));
  const uid = Number(execFileSync('id', ['-u', 'frr']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'frr']).toString().trim());
  chownSync(d, uid, gid);
  chownSync(conf, uid, gid);
  const zserv = ['-z', join(d, 'zserv.api')];
  if (extraPeers.length > 0) {
    const zconf = join(d, 'zebra.conf');
    writeFileSync(zconf, 'hostname berth-lab-router\n');
    chownSync(zconf, uid, gid);
    execFileSync('ip', [
      'netns', 'exec', lab.nsRouter, '/usr/lib/frr/zebra', '-d', '-f', zconf, '-i', join(d, 'zebra.pid'),
      '--vty_socket', d, '-A', '127.0.0.1', '-P', '0', ...zserv, '-u', 'frr', '-g', 'frr',
    ], { stdio: ['ignore', 'ignore', 'pipe'] }); // prettier-ignore
    lab.daemons.push(await pidFrom(join(d, 'zebra.pid')));
  }
  execFileSync('ip', [
    'netns', 'exec', lab.nsRouter, BFDD, ...zserv, '-d', '-f', conf, '-i', join(d, 'bfdd.pid'), '--vty_socket', d,
    '-A', '127.0.0.1', '-P', '0', '--bfdctl', join(d, 'bfdd.sock'), '-u', 'frr', '-g', 'frr',
  ], { stdio: ['ignore', 'ignore', 'pipe'] }); // prettier-ignore
  const pid = await pidFrom(join(d, 'bfdd.pid'));
  lab.daemons.push(pid);
  return {
    pid,
    peers: () => {
      try {
        const out = execFileSync('vtysh', ['--vty_socket', d, '-d', 'bfdd', '-c', 'show bfd peers json'], {
          timeout: 5000,
        });
        return new Map((JSON.parse(out.toString()) as FrrPeer[]).map((p) => [p.peer, p]));
      } catch {
        return new Map();
      }
    },
  };
}

/** One row of BIRD's `show bfd sessions`: interval and timeout in ms. */
export interface BirdSession {
  address: string;
  iface: string;
  state: string;
  intervalMs: number;
  timeoutMs: number;
}

/**
 * BIRD 2 with `protocol bfd` on eth0 (`ms` × `mult`) and both speaker addresses as neighbours, no kernel protocol
 * (recipes §4.1). Returns its pid and `sessions()` (parsed `birdc show bfd sessions`, keyed by address).
 */
export async function startBird(
  lab: BfdLab,
  ms = 100,
  mult = 3,
): Promise<{ pid: number; sessions: () => Map<string, BirdSession> }> {
  const d = lab.dir;
  const conf = join(d, 'bird.conf');
  const ctl = join(d, 'bird.ctl');
  writeFileSync(
    conf,
    [
      `router id ${ROUTER.v4};`,
      'protocol device { }',
      'protocol bfd {',
      `  interface "eth0" { min rx interval ${ms} ms; min tx interval ${ms} ms; multiplier ${mult}; };`,
      `  neighbor ${SPEAKER.v4};`,
      `  neighbor ${SPEAKER.v6};`,
      '}',
      '',
    ].join('\n'),
  );
  execFileSync('ip', [
    'netns',
    'exec',
    lab.nsRouter,
    'bird',
    '-c',
    conf,
    '-s',
    ctl,
    '-P',
    join(d, 'bird.pid'),
  ]);
  const pid = await pidFrom(join(d, 'bird.pid'));
  lab.daemons.push(pid);
  return {
    pid,
    sessions: () => {
      const m = new Map<string, BirdSession>();
      let out = '';
      try {
        out = execFileSync('birdc', ['-s', ctl, 'show', 'bfd', 'sessions'], { timeout: 5000 }).toString();
      } catch {
        return m;
      }
      // "198.51.100.2    eth0    Up    02:50:01.123    0.100    0.300"
      for (const line of out.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 6 || !/^[0-9a-f:.]+$/i.test(f[0]!) || !/[.:]/.test(f[0]!)) continue;
        const n = f.length;
        m.set(f[0]!, {
          address: f[0]!,
          iface: f[1]!,
          state: f[2]!,
          intervalMs: Math.round(Number(f[n - 2]) * 1000),
          timeoutMs: Math.round(Number(f[n - 1]) * 1000),
        });
      }
      return m;
    },
  };
}
