// Lab for the BGP unnumbered tests (bgp-unnumbered-frr.test.ts; with options, bgp-unnumbered-options.test.ts): the router namespace runs FRR 8's
// zebra + bgpd (+ bfdd when asked) as user frr (lab/recipes.md §4.3, §4.5) with `neighbor <if> interface remote-as
// external`, passive, RAs every second; the veth pair carries only the kernel's IPv6 link-locals. `neighborLines` adds
// FRR neighbor options (`password …`, `bfd profile …`); `bfdProfile` adds a `bfd` profile block. The namespaces and
// close() are test/fixtures/bgp/router-lab.ts's (bfdd is stopped through its pid file here). Documentation ranges only.
import type { ChildProcess } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { createRouterNode, eventually, frrVtyArgs, sh, type RouterNode } from '../fixtures/bgp/router-lab.ts';

export interface UnnumberedLabOptions {
  /** More `neighbor <rif> …` lines, `<if>` replaced by the router's interface (e.g. `neighbor <if> password k`). */
  neighborLines?: readonly string[];
  /** A `bfd` block with one profile (needs bfdd): name, transmit/receive interval ms, multiplier. */
  bfdProfile?: { name: string; intervalMs: number; multiplier: number };
}

export interface UnnumberedLab {
  lab: RouterNode;
  /** The router's interface (FRR's neighbor name) and the node's. */
  rif: string;
  nif: string;
  /** `vtysh -c cmd` (all daemons) parsed as JSON, undefined when it fails or is not JSON. */
  vtysh(cmd: string): unknown;
  /** FRR's `show bgp neighbors <rif> json` entry. */
  neighbor(): Record<string, unknown> | undefined;
  /** The node's IPv6 link-local on `nif` (no zone). */
  nodeLinkLocal(): string | undefined;
  /** The router's IPv6 link-local on `rif` (no zone). */
  routerLinkLocal(): string | undefined;
  /** `ip route show <prefix>` in the router namespace ('' when absent). */
  kernelRoute(prefix: string): string;
  close(): Promise<void>;
}

/** Why the lab cannot run (not root, no netns, FRR daemons or user frr missing, kernel < 5.2), or undefined. */
export function unnumberedSkipReason(o: { bfd?: boolean } = {}): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try {
    sh('ip', ['netns', 'list']);
  } catch {
    return '`ip netns` does not work here';
  }
  for (const d of ['zebra', 'bgpd', ...(o.bfd ? ['bfdd'] : [])]) {
    try {
      sh('test', ['-x', `/usr/lib/frr/${d}`]);
    } catch {
      return `/usr/lib/frr/${d} not installed`;
    }
  }
  const [major = 0, minor = 0] = sh('uname', ['-r'])
    .split('.')
    .map((x) => parseInt(x, 10));
  if (major < 5 || (major === 5 && minor < 2))
    return 'kernel before 5.2: no IPv4 routes via an IPv6 next hop';
  try {
    sh('id', ['-u', 'frr']);
  } catch {
    return 'no user frr (zebra refuses to run as root without it)';
  }
  return undefined;
}

/** Creates the namespaces and starts zebra, bfdd (with `bfdProfile`) and bgpd; resolves once bgpd knows the neighbor. */
export async function startUnnumberedLab(o: UnnumberedLabOptions = {}): Promise<UnnumberedLab> {
  const lab = await createRouterNode({ label: 'unnumbered', routerAddresses: [], nodeAddresses: [] });
  try {
    const { dir, routerIfname: rif, nodeIfname: nif } = lab;
    const uid = Number(sh('id', ['-u', 'frr']).trim());
    const gid = Number(sh('id', ['-g', 'frr']).trim());
    const bfd = o.bfdProfile;
    writeFileSync(
      join(dir, 'frr.conf'),
      `frr defaults traditional
hostname bt-router
log file ${dir}/frr.log
!
interface ${rif}
 ipv6 nd ra-interval 1
 no ipv6 nd suppress-ra
!
router bgp 64501
 bgp router-id 198.51.100.1
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 neighbor ${rif} interface remote-as external
 neighbor ${rif} passive
 neighbor ${rif} timers 3 9
${(o.neighborLines ?? []).map((l) => ` ${l.replaceAll('<if>', rif)}\n`).join('')} address-family ipv4 unicast
  neighbor ${rif} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor ${rif} activate
 exit-address-family
!
`,
    );
    // bfdd gets its own file: bgpd reading a `bfd` block it does not know leaves the config parser lost.
    if (bfd)
      writeFileSync(
        join(dir, 'bfdd.conf'),
        `bfd\n profile ${bfd.name}\n  transmit-interval ${bfd.intervalMs}\n  receive-interval ${bfd.intervalMs}\n  detect-multiplier ${bfd.multiplier}\n`,
      );
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'frr.conf'), uid, gid);
    if (bfd) chownSync(join(dir, 'bfdd.conf'), uid, gid);
    const common = ['-f', join(dir, 'frr.conf'), ...frrVtyArgs(dir), '-u', 'frr', '-g', 'frr'];
    const zapi = join(dir, 'zserv.api');
    lab.inRouter(['/usr/lib/frr/zebra', ...common, '-i', join(dir, 'zebra.pid'), '-z', zapi]);
    await eventually(() => {
      try {
        return readFileSync(join(dir, 'zebra.pid'), 'utf8').trim() !== '';
      } catch {
        return false;
      }
    }, 'zebra to start');
    if (bfd)
      lab.inRouter([
        '/usr/lib/frr/bfdd',
        ...common.map((x) => (x === join(dir, 'frr.conf') ? join(dir, 'bfdd.conf') : x)),
        '-i',
        join(dir, 'bfdd.pid'),
        '-z',
        zapi,
      ]);
    lab.inRouter(['/usr/lib/frr/bgpd', ...common, '-i', join(dir, 'bgpd.pid'), '-z', zapi]);
    const vtysh = (cmd: string): unknown => {
      try {
        return JSON.parse(sh('vtysh', ['--vty_socket', dir, '-c', cmd]));
      } catch {
        return undefined;
      }
    };
    const neighbor = () =>
      (vtysh(`show bgp neighbors ${rif} json`) as Record<string, Record<string, unknown>> | undefined)?.[rif];
    await eventually(() => neighbor(), 'bgpd to start with the interface neighbor');
    const ll = (ns: string, ifname: string) =>
      sh('ip', ['-n', ns, '-6', 'addr', 'show', 'dev', ifname, 'scope', 'link']).match(
        /inet6 (fe80::[0-9a-f:]+)\//,
      )?.[1];
    return {
      lab,
      rif,
      nif,
      vtysh,
      neighbor,
      nodeLinkLocal: () => ll(lab.node, nif),
      routerLinkLocal: () => ll(lab.router, rif),
      kernelRoute: (prefix) =>
        sh('ip', ['-n', lab.router, ...(prefix.includes(':') ? ['-6'] : []), 'route', 'show', prefix]).trim(),
      close: async () => {
        try {
          const pid = Number(readFileSync(join(dir, 'bfdd.pid'), 'utf8').trim());
          if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGTERM');
        } catch {
          /* not running */
        }
        await lab.close();
      },
    };
  } catch (e) {
    await lab.close();
    throw e;
  }
}

/** One JSON line an agent script printed (`event` names it: sessionUp, …). */
export type AgentEvent = { event: string; [k: string]: unknown };

/**
 * Runs a JSON-lines agent script (bgp-speaker-agent.ts, bgp-unnumbered-agent.ts) with node in `lab`'s node namespace:
 * `events` collects every JSON line of its stdout (other lines are skipped), `send` writes one command line to its
 * stdin, and after `t` it is sent `{"cmd":"stop"}`. A closed stdin is ignored.
 */
export function startLineAgent(t: TestContext, lab: RouterNode, script: string): { child: ChildProcess; events: AgentEvent[]; send(cmd: object): void } {
  const child = lab.nodeScript(script, []);
  child.stdin!.on('error', () => {});
  const events: AgentEvent[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      events.push(JSON.parse(l) as AgentEvent);
    } catch {
      /* not ours */
    }
  });
  const send = (cmd: object): void => {
    child.stdin!.write(JSON.stringify(cmd) + '\n');
  };
  t.after(() => send({ cmd: 'stop' }));
  return { child, events, send };
}

/**
 * The session-agent session (test/fixtures/bgp/session-agent.ts) of the node towards the router over `nif`: BGP
 * unnumbered (peerAddress '', `interface`), AS 64500 → 64501, hold time 9 s, backoff 300 ms up to 1 s, IPv4 and IPv6,
 * with the fields of `extra` added or replaced (e.g. `{ password }`).
 */
export const unnumberedSession = (nif: string, extra: object = {}) => ({
  id: 'router',
  peerAddress: '',
  interface: nif,
  localAsn: 64500,
  peerAsn: 64501,
  holdTime: 9,
  backoffMs: 300,
  maxBackoffMs: 1000,
  nodeName: 'n1',
  families: ['ipv4', 'ipv6'],
  ...extra,
});
