// Lab for bgp-interop.test.ts: router namespace bt<pid><n>r (198.51.100.1, 2001:db8:77::1) and node namespace
// bt<pid><n>n (198.51.100.2, 2001:db8:77::2) joined by a veth pair; BIRD 2, FRR 8 bgpd (-Z, no zebra) or GoBGP 3 in
// the router namespace, passive, configured for one neighbor (IPv4 or IPv6 transport, eBGP AS 64501 ↔ 64500 or iBGP
// 64500, optional TCP MD5 password), with its own config/socket/pid files in a temp dir; berth's BgpSession runs in the
// node namespace (bgp-session-agent.ts). Documentation ranges only; close() stops the daemon by pid, deletes both
// namespaces and the temp dir. Reuses test/fixtures/bgp/peer-lab.ts's helpers (sh, sleep, skip reason).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sh, sleep, type DaemonName } from '../fixtures/bgp/peer-lab.ts';

export { peerLabSkipReason, DAEMONS, sleep, type DaemonName } from '../fixtures/bgp/peer-lab.ts';

const AGENT = fileURLToPath(new URL('./bgp-session-agent.ts', import.meta.url));

export interface InteropOptions {
  daemon: DaemonName;
  /** Transport of the BGP session (default 4). */
  transport?: 4 | 6;
  /** TCP MD5 password on both sides. */
  password?: string;
  /** iBGP: both sides AS 64500. */
  ibgp?: boolean;
}

export interface AgentEvent {
  event: string;
  id?: string;
  [k: string]: unknown;
}

export interface Agent {
  events: AgentEvent[];
  send(cmd: object): void;
  /** Waits until an event matches; fails after `ms` with the events seen. */
  waitFor(f: (e: AgentEvent) => boolean, what: string, ms?: number): Promise<AgentEvent>;
  stop(): Promise<void>;
  /** SIGKILL: the speaker dies without a NOTIFICATION (the kernel closes the TCP connection). */
  kill(): Promise<void>;
}

export interface InteropLab {
  router: string;
  node: string;
  routerAddress: string;
  nodeAddress: string;
  routerAsn: number;
  /** The router's CLI view of `prefix` ('' when absent or the query fails). */
  route(prefix: string): string;
  /** Starts bgp-session-agent.ts in the node namespace with one session to the router (+ the hostile peer). */
  agent(o?: { hostile?: boolean; session?: object }): Agent;
  close(): Promise<void>;
}

let seq = 0;

function daemonConfig(
  o: InteropOptions,
  dir: string,
  peer: string,
  local: string,
  routerAsn: number,
): string {
  const pw = o.password;
  switch (o.daemon) {
    case 'bird':
      return `router id 198.51.100.1;
log "${dir}/bird.log" all;
protocol device { }
protocol bgp speaker1 {
  local ${local} as ${routerAsn};
  neighbor ${peer} as 64500;
  passive on;
  ${o.ibgp ? 'direct;' : ''}
  hold time 9;
  ${pw ? `password "${pw}";` : ''}
  ipv4 { import all; export none; };
  ipv6 { import all; export none; };
}
`;
    case 'frr':
      return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp ${routerAsn}
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ${peer} remote-as 64500
 neighbor ${peer} passive
 neighbor ${peer} timers 3 9
 ${pw ? `neighbor ${peer} password ${pw}` : ''}
 address-family ipv4 unicast
  neighbor ${peer} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ${peer} activate
 exit-address-family
!
`;
    case 'gobgp':
      return `[global.config]
  as = ${routerAsn}
  router-id = "198.51.100.1"
  port = 179
  local-address-list = ["${local}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${peer}"
    peer-as = 64500
    ${pw ? `auth-password = "${pw}"` : ''}
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
`;
  }
}

/** Creates the namespaces and starts the daemon (ready to accept the node's connection). */
export async function startInteropLab(o: InteropOptions): Promise<InteropLab> {
  const id = `bt${process.pid}${seq++}`;
  const r = `${id}r`;
  const n = `${id}n`;
  const dir = mkdtempSync(join(tmpdir(), `${id}-${o.daemon}-`));
  chmodSync(dir, 0o755);
  const v6 = o.transport === 6;
  const routerAddress = v6 ? '2001:db8:77::1' : '198.51.100.1';
  const nodeAddress = v6 ? '2001:db8:77::2' : '198.51.100.2';
  const routerAsn = o.ibgp ? 64500 : 64501;
  let child: ChildProcess | undefined;
  const agents: ChildProcess[] = [];
  const close = async () => {
    for (const a of agents) if (a.exitCode === null && a.pid) a.kill('SIGTERM');
    if (child?.pid) child.kill('SIGTERM');
    for (const pidFile of ['bird.pid', 'bgpd.pid']) {
      try {
        const pid = Number(readFileSync(`${dir}/${pidFile}`, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
      } catch {
        /* not running */
      }
    }
    await sleep(300);
    for (const ns of [r, n]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        /* absent */
      }
    }
    if (process.env.KEEP_DIR) console.log(dir);
    else rmSync(dir, { recursive: true, force: true });
  };
  try {
    sh('ip', ['netns', 'add', r]);
    sh('ip', ['netns', 'add', n]);
    sh('ip', ['link', 'add', `${id}a`, 'type', 'veth', 'peer', 'name', `${id}b`]);
    sh('ip', ['link', 'set', `${id}a`, 'netns', r]);
    sh('ip', ['link', 'set', `${id}b`, 'netns', n]);
    for (const [ns, ifn, a4, a6] of [
      [r, `${id}a`, '198.51.100.1/24', '2001:db8:77::1/64'],
      [n, `${id}b`, '198.51.100.2/24', '2001:db8:77::2/64'],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', a4, 'dev', ifn]);
      sh('ip', ['-n', ns, 'addr', 'add', a6, 'dev', ifn, 'nodad']);
      sh('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    writeFileSync(`${dir}/daemon.conf`, daemonConfig(o, dir, nodeAddress, routerAddress, routerAsn));
    const inRouter = (args: string[]) =>
      spawn('ip', ['netns', 'exec', r, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const gobgp = (args: string[]) =>
      sh('ip', ['netns', 'exec', r, 'gobgp', '-u', '127.0.0.1', '-p', '50051', ...args]);
    let route: (prefix: string) => string;
    const fam = (p: string) => (p.includes(':') ? 'ipv6' : 'ipv4');
    switch (o.daemon) {
      case 'bird':
        child = inRouter([
          'bird',
          '-f',
          '-c',
          `${dir}/daemon.conf`,
          '-s',
          `${dir}/bird.ctl`,
          '-P',
          `${dir}/bird.pid`,
        ]);
        route = (p) => sh('birdc', ['-s', `${dir}/bird.ctl`, 'show', 'route', 'all', p]);
        break;
      case 'frr':
        child = inRouter([
          '/usr/lib/frr/bgpd',
          '-Z',
          '-S',
          '-f',
          `${dir}/daemon.conf`,
          '-i',
          `${dir}/bgpd.pid`,
          '--vty_socket',
          dir,
          '-A',
          '127.0.0.1',
          '-P',
          '0',
          '-l',
          routerAddress,
        ]);
        route = (p) =>
          sh('vtysh', ['--vty_socket', dir, '-d', 'bgpd', '-c', `show bgp ${fam(p)} unicast ${p}`]);
        break;
      case 'gobgp':
        child = inRouter([
          'gobgpd',
          '-f',
          `${dir}/daemon.conf`,
          '-p',
          '--api-hosts',
          '127.0.0.1:50051',
          '--pprof-disable',
        ]);
        route = (p) => gobgp(['global', 'rib', '-a', fam(p), p]);
        for (let i = 0; ; i++) {
          try {
            gobgp(['global']);
            break;
          } catch (e) {
            if (i > 75) throw e;
            await sleep(200);
          }
        }
        break;
    }
    await sleep(o.daemon === 'gobgp' ? 300 : 1000);
    return {
      router: r,
      node: n,
      routerAddress,
      nodeAddress,
      routerAsn,
      route: (p) => {
        try {
          const t = route(p);
          return /not in table|Network not in table|Network not in table|not found/i.test(t) ? '' : t;
        } catch {
          return '';
        }
      },
      agent: (a = {}) => {
        const session = {
          id: 'router',
          peerAddress: routerAddress,
          localAddress: nodeAddress,
          localAsn: 64500,
          peerAsn: routerAsn,
          holdTime: 9,
          backoffMs: 200,
          nodeName: 'n1',
          ...(o.password ? { password: o.password } : {}),
          ...a.session,
        };
        const p = spawn(
          'ip',
          [
            'netns',
            'exec',
            n,
            process.execPath,
            '--import',
            'tsx',
            AGENT,
            JSON.stringify({ sessions: [session], hostile: a.hostile ?? false }),
          ],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        agents.push(p);
        const events: AgentEvent[] = [];
        const waiters = new Set<() => void>();
        createInterface({ input: p.stdout! }).on('line', (l) => {
          try {
            events.push(JSON.parse(l) as AgentEvent);
          } catch {
            return;
          }
          for (const w of waiters) w();
        });
        return {
          events,
          send: (c) => p.stdin!.write(JSON.stringify(c) + '\n'),
          waitFor: async (f, what, ms = 20_000) => {
            const end = Date.now() + ms;
            for (;;) {
              const e = events.find(f);
              if (e) return e;
              if (Date.now() > end || p.exitCode !== null)
                throw new Error(`timed out waiting for ${what}; agent events: ${JSON.stringify(events)}`);
              await new Promise<void>((res) => {
                const done = () => {
                  waiters.delete(done);
                  clearTimeout(timer);
                  res();
                };
                const timer = setTimeout(done, 200);
                waiters.add(done);
              });
            }
          },
          kill: async () => {
            if (p.exitCode !== null) return;
            const exited = new Promise((res) => p.once('exit', res));
            p.kill('SIGKILL');
            await exited;
          },
          stop: async () => {
            if (p.exitCode !== null) return;
            p.stdin!.write(JSON.stringify({ cmd: 'stop' }) + '\n');
            for (let i = 0; i < 30 && p.exitCode === null; i++) await sleep(100);
            if (p.exitCode === null) p.kill('SIGTERM');
          },
        };
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
