// Interop: berth's BFD (a child process, test/integration/bfd-agent.ts) against FRR 8's bfdd, each in its own network
// namespace joined by a veth pair (recipes §4.5: bfdd standalone, no zebra, as user frr). 100 ms × 3 over IPv4 and IPv6:
// FRR reports the peers up with the remote timers at 100 ms (our Final answered its Poll, recipes §4.5 gotcha);
// SIGSTOP of bfdd → berth goes Down with diag 1 (Control Detection Time Expired) — the detection time is printed, not
// asserted; SIGSTOP of berth → FRR goes down with "control detection time expired"; SIGTERM of berth → FRR sees
// AdminDown. Needs root, `ip netns` and /usr/lib/frr/bfdd; skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BFDD = '/usr/lib/frr/bfdd';
const AGENT = join(import.meta.dirname, 'bfd-agent.ts');
const PREFIX = `bt${process.pid % 100000}`;
const NS_R = `${PREFIX}-frr`;
const NS_S = `${PREFIX}-spk`;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, bfdd as user frr)';
  if (!existsSync(BFDD)) return `${BFDD} not installed (Debian package frr)`;
  try {
    execFileSync('id', ['frr'], { stdio: 'ignore' });
  } catch {
    return 'user frr missing (Debian package frr)';
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return '`ip netns` does not work here';
  }
  return undefined;
}

const ip = (...args: string[]): void =>
  void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

interface AgentLine {
  event: string;
  at: number;
  diag?: number;
  diagName?: string;
  sinceLastRxMs?: number;
  txIntervalMs?: number;
  detectionTimeMs?: number;
}

/** A berth BFD agent in NS_S; `next(pred)` resolves with the first line (already seen or future) matching `pred`. */
class Agent {
  readonly child: ChildProcess;
  readonly lines: AgentLine[] = [];
  #waiters: Array<{ pred: (l: AgentLine) => boolean; from: number; resolve: (l: AgentLine) => void }> = [];
  #stderr = '';
  constructor(peer: string, local: string) {
    this.child = spawn(
      'ip',
      ['netns', 'exec', NS_S, process.execPath, '--import', 'tsx', AGENT, peer, local, '100', '100', '3'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stderr!.on('data', (d: Buffer) => void (this.#stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const l = JSON.parse(line) as AgentLine;
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
  kill(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }
}

interface FrrPeer {
  peer: string;
  status: string;
  diagnostic: string;
  'remote-diagnostic': string;
  'remote-transmit-interval': number;
  'remote-receive-interval': number;
  'remote-detect-multiplier': number;
  'remote-id': number;
}

async function until<T>(f: () => T | undefined, what: string, ms = 15_000, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const reason = skipReason();

test(
  'berth BFD against FRR 8 bfdd: up, Poll/Final to 100 ms, detection both ways, AdminDown',
  { skip: reason, timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `${PREFIX}-frr-`));
    chmodSync(dir, 0o755);
    const agents: Agent[] = [];
    const bfdd: { pid?: number } = {};
    t.after(() => {
      for (const a of agents) {
        a.kill('SIGCONT');
        a.kill('SIGKILL');
      }
      const pidFile = join(dir, 'bfdd.pid');
      if (bfdd.pid === undefined && existsSync(pidFile))
        bfdd.pid = Number(readFileSync(pidFile, 'utf8').trim()) || undefined;
      if (bfdd.pid !== undefined) {
        try {
          process.kill(bfdd.pid, 'SIGCONT');
          process.kill(bfdd.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
      for (const ns of [NS_R, NS_S]) {
        try {
          ip('netns', 'del', ns);
        } catch {
          /* not created */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    });

    ip('netns', 'add', NS_R);
    ip('netns', 'add', NS_S);
    ip('-n', NS_R, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS_S);
    ip('-n', NS_R, 'addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
    ip('-n', NS_S, 'addr', 'add', '198.51.100.2/24', 'dev', 'eth0');
    ip('-n', NS_R, 'addr', 'add', '2001:db8:bfd::1/64', 'dev', 'eth0', 'nodad');
    ip('-n', NS_S, 'addr', 'add', '2001:db8:bfd::2/64', 'dev', 'eth0', 'nodad');
    for (const ns of [NS_R, NS_S]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    }
    writeFileSync(
      join(dir, 'bfdd.conf'),
      [
        'bfd',
        ...[
          '198.51.100.2 local-address 198.51.100.1',
          '2001:db8:bfd::2 local-address 2001:db8:bfd::1',
        ].flatMap((p) => [
          ` peer ${p}`,
          '  receive-interval 100',
          '  transmit-interval 100',
          '  detect-multiplier 3',
          ' !',
        ]),
        '!',
        '',
      ].join('\n'),
    );
    const frr = Number(execFileSync('id', ['-u', 'frr']).toString().trim());
    const frrGid = Number(execFileSync('id', ['-g', 'frr']).toString().trim());
    chownSync(dir, frr, frrGid);
    chownSync(join(dir, 'bfdd.conf'), frr, frrGid);
    execFileSync('ip', [
    'netns', 'exec', NS_R, BFDD, '-d', '-f', join(dir, 'bfdd.conf'), '-i', join(dir, 'bfdd.pid'), '--vty_socket', dir,
    '-A', '127.0.0.1', '-P', '0', '--bfdctl', join(dir, 'bfdd.sock'), '-u', 'frr', '-g', 'frr',
  ]); // prettier-ignore
    const bfddPid = await until(() => {
      const f = join(dir, 'bfdd.pid');
      return existsSync(f) && readFileSync(f, 'utf8').trim()
        ? Number(readFileSync(f, 'utf8').trim())
        : undefined;
    }, 'bfdd.pid');
    bfdd.pid = bfddPid;
    const frrPeers = (): Map<string, FrrPeer> => {
      try {
        const out = execFileSync('vtysh', ['--vty_socket', dir, '-d', 'bfdd', '-c', 'show bfd peers json'], {
          timeout: 5000,
        });
        return new Map((JSON.parse(out.toString()) as FrrPeer[]).map((p) => [p.peer, p]));
      } catch {
        return new Map();
      }
    };

    const v4 = new Agent('198.51.100.1', '198.51.100.2');
    const v6 = new Agent('2001:db8:bfd::1', '2001:db8:bfd::2');
    agents.push(v4, v6);

    // 1. Up on both sides, both families; timers negotiated to 100 ms once the Polls are answered with Finals.
    for (const [a, peer] of [
      [v4, '198.51.100.2'],
      [v6, '2001:db8:bfd::2'],
    ] as const) {
      await a.next((l) => l.event === 'up', `${peer}: up`);
      const neg = await a.next(
        (l) => l.event === 'negotiated' && l.txIntervalMs === 100,
        `${peer}: 100 ms negotiated`,
      );
      assert.equal(neg.detectionTimeMs, 300, 'our detection time: 3 × 100 ms');
      const p = await until(() => {
        const q = frrPeers().get(peer);
        return q?.status === 'up' && q['remote-transmit-interval'] === 100 ? q : undefined;
      }, `FRR: ${peer} up with remote TX 100 ms`);
      assert.equal(p['remote-receive-interval'], 100);
      assert.equal(p['remote-detect-multiplier'], 3);
    }

    // 2. SIGSTOP of FRR's bfdd → berth goes Down with diag 1. Three rounds, SIGCONT in between (the session comes back).
    const detections: number[] = [];
    for (let round = 0; round < 3; round++) {
      const from = v4.lines.length;
      const stoppedAt = Date.now();
      process.kill(bfddPid, 'SIGSTOP');
      const down = await v4.next((l) => l.event === 'down', 'down after SIGSTOP of bfdd', from);
      process.kill(bfddPid, 'SIGCONT');
      assert.equal(down.diag, 1);
      assert.equal(down.diagName, 'ControlDetectionTimeExpired');
      detections.push(down.at - stoppedAt);
      t.diagnostic(
        `round ${round}: berth detected FRR's silence ${down.at - stoppedAt} ms after SIGSTOP (${down.sinceLastRxMs} ms after the last packet)`,
      );
      await v4.next((l) => l.event === 'up', 'up again after SIGCONT', from);
      await v4.next((l) => l.event === 'negotiated' && l.txIntervalMs === 100, '100 ms again', from);
    }
    detections.sort((x, y) => x - y);
    t.diagnostic(
      `berth detection time after SIGSTOP of bfdd (100 ms × 3): min ${detections[0]} ms, median ${detections[1]} ms, max ${detections[2]} ms`,
    );

    // 3. SIGSTOP of berth → FRR reports the IPv4 peer down (control detection time expired).
    await until(() => (frrPeers().get('198.51.100.2')?.status === 'up' ? true : undefined), 'FRR: up again');
    const stoppedAt = Date.now();
    v4.kill('SIGSTOP');
    const gone = await until(
      () => {
        const q = frrPeers().get('198.51.100.2');
        return q && q.status !== 'up' ? q : undefined;
      },
      'FRR: 198.51.100.2 down after SIGSTOP of berth',
      15_000,
      20,
    );
    t.diagnostic(
      `FRR reported the peer ${gone.status} ${Date.now() - stoppedAt} ms after SIGSTOP of berth (vtysh polled every ~20 ms + its run time)`,
    );
    assert.equal(gone.status, 'down');
    assert.equal(gone.diagnostic, 'control detection time expired');
    v4.kill('SIGCONT');
    await until(
      () => (frrPeers().get('198.51.100.2')?.status === 'up' ? true : undefined),
      'FRR: up after SIGCONT of berth',
    );

    // 4. SIGTERM of berth: it says AdminDown, FRR goes down at once with the remote diagnostic "administratively down".
    v6.kill('SIGTERM');
    const admin = await until(() => {
      const q = frrPeers().get('2001:db8:bfd::2');
      return q && q.status !== 'up' ? q : undefined;
    }, 'FRR: 2001:db8:bfd::2 down after SIGTERM of berth');
    assert.equal(admin['remote-diagnostic'], 'administratively down');
  },
);
