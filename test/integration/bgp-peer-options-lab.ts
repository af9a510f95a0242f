// Lab for the BGPPeer options berth runs natively (dynamicASN, localASN, vrf): a router namespace bt<pid><n>r
// (198.51.100.1/24) with FRR 8 bgpd (-Z, no zebra), passive, one `neighbor` line per entry of `neighbors`, and a node
// namespace bt<pid><n>n (198.51.100.2/24 + `extraNodeAddresses`) joined by a veth pair <id>a / <id>b. `nodeSetup`
// runs extra `ip` commands in the node namespace (a VRF, a misleading route) before the daemon starts. berth's
// BgpSession runs in the node namespace in test/integration/bgp-session-agent.ts, one agent process per session.
// Documentation ranges only; close() stops the daemon and the agents by pid and deletes both namespaces and the temp
// dir (call it from t.after, it also runs when the test failed).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sh, sleep } from '../fixtures/bgp/peer-lab.ts';

export { peerLabSkipReason } from '../fixtures/bgp/peer-lab.ts';

const AGENT = fileURLToPath(new URL('./bgp-session-agent.ts', import.meta.url));

export const ROUTER_ADDRESS = '198.51.100.1';
export const NODE_ADDRESS = '198.51.100.2';

export interface FrrNeighbor {
  /** The node address the router expects the session from. */
  address: string;
  /** FRR `remote-as`: a number, or `internal` / `external`. */
  remoteAs: number | 'internal' | 'external';
}

export interface PeerOptionsLabOptions {
  routerAsn: number;
  neighbors: FrrNeighbor[];
  /** More /24 addresses for the node's veth end (198.51.100.3, …). */
  extraNodeAddresses?: string[];
  /** `ip` argument lists run in the node namespace after its addresses are up (e.g. a VRF). `{id}` = the lab id. */
  nodeSetup?: string[][];
}

export interface AgentEvent {
  event: string;
  [k: string]: unknown;
}

export interface LabAgent {
  events: AgentEvent[];
  send(cmd: object): void;
  waitFor(f: (e: AgentEvent) => boolean, what: string, ms?: number): Promise<AgentEvent>;
}

export interface PeerOptionsLab {
  id: string;
  router: string;
  node: string;
  /** The node's veth end (`<id>b`). */
  nodeIfname: string;
  /** `show bgp neighbors <address> json` → that neighbor's object, or undefined. */
  neighbor(address: string): Record<string, unknown> | undefined;
  /** `show bgp ipv4 unicast <prefix> json` paths (empty when absent). */
  paths(prefix: string): Array<Record<string, unknown>>;
  /** FRR's log so far (neighbor changes and NOTIFICATIONs: `bgp log-neighbor-changes`). */
  log(): string;
  /** Starts bgp-session-agent.ts in the node namespace with one session (BgpSessionOptions without log). */
  agent(session: Record<string, unknown>): LabAgent;
  close(): Promise<void>;
}

let seq = 0;

function frrConfig(o: PeerOptionsLabOptions, dir: string): string {
  const n = o.neighbors;
  return `frr defaults traditional
hostname bt-router
log file ${dir}/bgpd.log
!
router bgp ${o.routerAsn}
 bgp router-id ${ROUTER_ADDRESS}
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp network import-check
${n.map((x) => ` neighbor ${x.address} remote-as ${x.remoteAs}\n neighbor ${x.address} passive\n neighbor ${x.address} timers 3 9`).join('\n')}
 address-family ipv4 unicast
${n.map((x) => `  neighbor ${x.address} activate`).join('\n')}
 exit-address-family
!
`;
}

/** Creates the namespaces and starts FRR (ready to accept the node's connections). Throws after cleaning up. */
export async function startPeerOptionsLab(o: PeerOptionsLabOptions): Promise<PeerOptionsLab> {
  const id = `bt${process.pid}${seq++}`;
  const r = `${id}r`;
  const n = `${id}n`;
  const dir = mkdtempSync(join(tmpdir(), `${id}-frr-`));
  chmodSync(dir, 0o755);
  let daemon: ChildProcess | undefined;
  const agents: ChildProcess[] = [];
  const close = async () => {
    for (const a of agents) if (a.exitCode === null && a.pid) a.kill('SIGTERM');
    if (daemon?.pid && daemon.exitCode === null) daemon.kill('SIGTERM');
    try {
      const pid = Number(readFileSync(`${dir}/bgpd.pid`, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
    } catch {
      /* not running */
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
    sh('ip', ['-n', r, 'addr', 'add', `${ROUTER_ADDRESS}/24`, 'dev', `${id}a`]);
    for (const a of [NODE_ADDRESS, ...(o.extraNodeAddresses ?? [])])
      sh('ip', ['-n', n, 'addr', 'add', `${a}/24`, 'dev', `${id}b`]);
    for (const [ns, ifn] of [
      [r, `${id}a`],
      [n, `${id}b`],
    ] as const) {
      sh('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (const args of o.nodeSetup ?? []) sh('ip', ['-n', n, ...args.map((a) => a.replaceAll('{id}', id))]);
    writeFileSync(`${dir}/bgpd.conf`, frrConfig(o, dir));
    daemon = spawn(
      'ip',
      [
        'netns',
        'exec',
        r,
        '/usr/lib/frr/bgpd',
        '-Z',
        '-S',
        '-f',
        `${dir}/bgpd.conf`,
        '-i',
        `${dir}/bgpd.pid`,
        '--vty_socket',
        dir,
        '-A',
        '127.0.0.1',
        '-P',
        '0',
        '-l',
        ROUTER_ADDRESS,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const vtysh = (cmd: string): unknown => {
      try {
        return JSON.parse(sh('vtysh', ['--vty_socket', dir, '-d', 'bgpd', '-c', cmd]));
      } catch {
        return undefined;
      }
    };
    for (let i = 0; vtysh('show bgp summary json') === undefined; i++) {
      if (i > 50) throw new Error(`FRR bgpd did not start; see ${dir}/bgpd.log`);
      await sleep(200);
    }
    return {
      id,
      router: r,
      node: n,
      nodeIfname: `${id}b`,
      neighbor: (address) =>
        (
          vtysh(`show bgp neighbors ${address} json`) as Record<string, Record<string, unknown>> | undefined
        )?.[address],
      log: () => {
        try {
          return readFileSync(`${dir}/bgpd.log`, 'utf8');
        } catch {
          return '';
        }
      },
      paths: (prefix) =>
        (vtysh(`show bgp ipv4 unicast ${prefix} json`) as { paths?: Array<Record<string, unknown>> })
          ?.paths ?? [],
      agent: (session) => {
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
            JSON.stringify({ sessions: [{ id: 'router', ...session }] }),
          ],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        );
        agents.push(p);
        const events: AgentEvent[] = [];
        createInterface({ input: p.stdout! }).on('line', (l) => {
          try {
            events.push(JSON.parse(l) as AgentEvent);
          } catch {
            /* not an event */
          }
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
              await sleep(100);
            }
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

/** Polls `f` every 200 ms until it returns a truthy value; throws `what` with the last value after `ms`. */
export async function eventually<T>(f: () => T, what: string, ms = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let v = f();
  while (!v) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await sleep(200);
    v = f();
  }
  return v as NonNullable<T>;
}
