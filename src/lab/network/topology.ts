// The lab's layer-2 segment in network namespaces (recipes §1): a switch namespace `<prefix>-sw` holding bridge br0
// (mcast_snooping 0: multicast is flooded, so NDP tests are deterministic), a client namespace `<prefix>-client` and
// node namespaces `<prefix>-n1..nN`, each with one `eth0` whose veth peer `pK` is a port of br0. Both veth ends are
// created directly inside their namespaces: nothing is ever added to the main namespace. Addresses come from the
// documentation ranges only (RFC 5737 198.51.100.0/24, RFC 3849 2001:db8::/32). Needs root (CAP_SYS_ADMIN for
// `ip netns add`); `networkSupport()` says why not before anything is tried.
//
// Every run records its prefix and pid in `<stateDir>/<prefix>.json`; `cleanStale(stateDir)` deletes the namespaces
// of runs whose process is gone (a SIGKILLed lab or test), so a later start begins clean.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One host on the segment: its namespace and the addresses of its `eth0`. */
export interface SegmentHost {
  /** Short name inside the lab: `client`, `n1`..`nN`, or a test's extra host. */
  name: string;
  /** The network namespace (`<prefix>-<name>`): `ip netns exec <ns> …`. */
  ns: string;
  ipv4: string;
  ipv6: string;
  /** Lowercase `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** The bridge port of its veth pair in the switch namespace. */
  port: string;
}

export interface Topology {
  prefix: string;
  /** The switch namespace holding br0. */
  sw: string;
  client: SegmentHost;
  nodes: SegmentHost[];
  /** Hosts added later with addHost (e.g. a foreign host for a conflict test). */
  extra: SegmentHost[];
  /** Adds a host on the segment (own namespace, eth0 on br0). `name` ≤ 8 characters of [a-z0-9]. */
  addHost(h: { name: string; ipv4: string; ipv6: string; mac: string }): Promise<SegmentHost>;
  /** Deletes every namespace of this run and its state file. Idempotent; never throws. */
  destroy(): Promise<void>;
}

/** Fixed plan of the segment (§1 of the lab task): client .1, nodes .11.., MACs 02:00:00:51:00:xx. */
export const SEGMENT = {
  ipv4Prefix: '198.51.100.',
  ipv4Length: 24,
  ipv6Prefix: '2001:db8:51::',
  ipv6Length: 64,
  client: { ipv4: '198.51.100.1', ipv6: '2001:db8:51::1', mac: '02:00:00:51:00:01' },
} as const;

/**
 * The network lab's Service ClusterIP ranges (kube-apiserver's --service-cluster-ip-range): documentation ranges
 * like every other address in the namespaces (RFC 5737 192.0.2.0/25: .1-.126; RFC 3849 2001:db8:96::/112), instead
 * of the API-only lab's 10.96.0.0/12 and fd00:10:96::/112. Apart from the segment (198.51.100.0/24), the pool
 * lab-l2 (198.51.100.200-220) and the Pod IPs (203.0.113.0/24). ClusterIPs are API values only: no interface or
 * route in the namespaces carries them.
 */
export const NETWORK_SERVICE_CIDRS = { ipv4: '192.0.2.0/25', ipv6: '2001:db8:96::/112' } as const;

/** Most node namespaces one lab builds (addresses .11..). */
export const MAX_LAB_NODES = 9;

/** The addresses of node `i` (1-based): 198.51.100.1i, 2001:db8:51::1i, MAC 02:00:00:51:00:1i. */
export function nodeAddresses(i: number): { name: string; ipv4: string; ipv6: string; mac: string } {
  if (!Number.isInteger(i) || i < 1 || i > MAX_LAB_NODES) throw new Error(`lab network: node index ${i} is not an integer from 1 to ${MAX_LAB_NODES}`);
  return { name: `n${i}`, ipv4: `${SEGMENT.ipv4Prefix}${10 + i}`, ipv6: `${SEGMENT.ipv6Prefix}${10 + i}`, mac: `02:00:00:51:00:${(0x10 + i).toString(16)}` };
}

/** Result of running a command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args…` and resolves with its exit code and output (never rejects; code 127 when it cannot start). */
export function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 127 ? err.message : '') });
    });
  });
}

/** `ip args…`; throws an Error naming the command and ip's message when it fails. */
export async function ip(...args: string[]): Promise<string> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`lab network: ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/**
 * Whether this process can build namespaces: `{ ok: true }`, or `{ ok: false, reason }` with the reason in words
 * (not root, `ip` missing, `ip netns` refused). Tests skip with the reason; `berth lab --network` prints it.
 */
export async function networkSupport(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `network namespaces need root (uid is ${process.getuid?.()}); run as root for the layer-2 lab` };
  const r = await run('ip', ['netns', 'list']);
  if (r.code !== 0) return { ok: false, reason: `\`ip netns list\` failed (${r.stderr.trim() || `exit ${r.code}`}): iproute2 and namespace support are needed` };
  return { ok: true };
}

/**
 * Kernel settings of a host namespace, set before its eth0 exists (so `default` covers it): no IP forwarding and no
 * ICMP redirects, IPv4 and IPv6. A new namespace inherits the IPv4 settings of the main one (sysctl
 * net.core.devconf_inherit_init_net = 0 means "IPv4 from init_net"), so on a router-like host it forwarded a packet
 * for a Service IP it answered ARP for but does not hold, back out of eth0, with "Redirect Host" to the sender; a
 * lab node is a host, where such a packet is dropped (no kube-proxy in the lab: no echo reply). Throws naming the
 * namespace and sysctl's message when it fails.
 */
export const HOST_SYSCTLS: readonly string[] = [
  'net.ipv4.conf.all.forwarding=0',
  'net.ipv4.conf.default.forwarding=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
  'net.ipv6.conf.all.forwarding=0',
  'net.ipv6.conf.default.forwarding=0',
];

async function hostSysctls(ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...HOST_SYSCTLS]);
  if (r.code !== 0) throw new Error(`lab network: sysctl in ${ns} (${HOST_SYSCTLS.join(' ')}): ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** A new run prefix: `berth` + 4 random base-36 characters (namespace names stay short; interfaces are eth0/pK). */
export function newPrefix(): string {
  const n = randomBytes(4).readUInt32BE(0) % 36 ** 4;
  return `berth${n.toString(36).padStart(4, '0')}`;
}

interface RunState {
  prefix: string;
  pid: number;
  createdAt: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of the existing namespaces that start with `<prefix>-`. */
export async function namespacesOf(prefix: string): Promise<string[]> {
  const out = await ip('netns', 'list');
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

/**
 * Deletes every namespace `<prefix>-*` (errors ignored: a namespace deleted meanwhile is fine). With
 * `killProcesses`, first SIGKILLs the processes still inside them (`ip netns pids`): the speakers and forwarders
 * a SIGKILLed run left behind, which would otherwise keep the namespace alive unnamed.
 */
export async function deleteNamespaces(prefix: string, killProcesses = false): Promise<void> {
  let names: string[];
  try {
    names = await namespacesOf(prefix);
  } catch {
    return;
  }
  if (killProcesses) {
    for (const n of names) {
      const r = await run('ip', ['netns', 'pids', n]);
      for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  }
  await Promise.all(names.map((n) => run('ip', ['netns', 'del', n])));
}

/**
 * Deletes the namespaces of earlier runs recorded in `stateDir` whose process no longer exists (SIGKILLed labs and
 * tests), and their state files. Returns the prefixes cleaned.
 */
export async function cleanStale(stateDir: string, o: { killProcesses?: boolean } = {}): Promise<string[]> {
  if (!existsSync(stateDir)) return [];
  const cleaned: string[] = [];
  for (const f of readdirSync(stateDir)) {
    if (!f.endsWith('.json')) continue;
    const path = join(stateDir, f);
    let st: RunState | undefined;
    try {
      st = JSON.parse(readFileSync(path, 'utf8')) as RunState;
    } catch {
      st = undefined;
    }
    if (st && typeof st.pid === 'number' && pidAlive(st.pid)) continue;
    const prefix = st && typeof st.prefix === 'string' && /^[a-z0-9]+$/.test(st.prefix) ? st.prefix : f.replace(/\.json$/, '');
    if (/^[a-z0-9]+$/.test(prefix)) await deleteNamespaces(prefix, o.killProcesses === true);
    rmSync(path, { force: true });
    cleaned.push(prefix);
  }
  return cleaned;
}

/**
 * Builds the segment: switch, client and `nodes` node namespaces (1..9), links up, addresses configured (IPv6
 * `nodad`, usable at once). Records the run in `<stateDir>/<prefix>.json` first (so a SIGKILL during the build is
 * cleaned by the next start); on failure deletes what it made and throws.
 */
export async function buildTopology(o: { nodes: number; stateDir: string; prefix?: string; /** Checked between hosts: aborting deletes what was made and throws its reason. */ signal?: AbortSignal }): Promise<Topology> {
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_LAB_NODES) throw new Error(`lab network: --nodes ${o.nodes} is not an integer from 1 to ${MAX_LAB_NODES}`);
  const prefix = o.prefix ?? newPrefix();
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) throw new Error(`lab network: prefix "${prefix}" must be 1-12 characters of [a-z0-9], starting with a letter`);
  mkdirSync(o.stateDir, { recursive: true });
  const stateFile = join(o.stateDir, `${prefix}.json`);
  writeFileSync(stateFile, JSON.stringify({ prefix, pid: process.pid, createdAt: new Date().toISOString() } satisfies RunState) + '\n');
  const sw = `${prefix}-sw`;
  let ports = 0;
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      await deleteNamespaces(prefix);
      rmSync(stateFile, { force: true });
    })());

  const attach = async (h: { name: string; ipv4: string; ipv6: string; mac: string }): Promise<SegmentHost> => {
    if (!/^[a-z0-9]{1,8}$/.test(h.name)) throw new Error(`lab network: host name "${h.name}" must be 1-8 characters of [a-z0-9]`);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(h.mac)) throw new Error(`lab network: MAC "${h.mac}" is not lowercase aa:bb:cc:dd:ee:ff`);
    const ns = `${prefix}-${h.name}`;
    const port = `p${++ports}`;
    await ip('netns', 'add', ns);
    await hostSysctls(ns);
    await ip('link', 'add', 'eth0', 'netns', ns, 'address', h.mac, 'type', 'veth', 'peer', 'name', port, 'netns', sw);
    await ip('-n', sw, 'link', 'set', port, 'master', 'br0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'addr', 'add', `${h.ipv4}/${SEGMENT.ipv4Length}`, 'dev', 'eth0');
    await ip('-n', ns, 'addr', 'add', `${h.ipv6}/${SEGMENT.ipv6Length}`, 'dev', 'eth0', 'nodad');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    return { name: h.name, ns, ipv4: h.ipv4, ipv6: h.ipv6, mac: h.mac, port };
  };

  try {
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    o.signal?.throwIfAborted();
    const client = await attach({ name: 'client', ...SEGMENT.client });
    const nodes: SegmentHost[] = [];
    for (let i = 1; i <= o.nodes; i++) {
      o.signal?.throwIfAborted();
      nodes.push(await attach(nodeAddresses(i)));
    }
    o.signal?.throwIfAborted();
    const extra: SegmentHost[] = [];
    return {
      prefix,
      sw,
      client,
      nodes,
      extra,
      addHost: async (h) => {
        const host = await attach(h);
        extra.push(host);
        return host;
      },
      destroy,
    };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** `ip netns exec <ns> file args…` (output collected; never rejects). */
export function inNamespace(ns: string, file: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return run('ip', ['netns', 'exec', ns, file, ...args], timeoutMs);
}

/** The kernel neighbour entry of `address` in namespace `ns`: its lladdr and state, or undefined when there is none. */
export async function neighbour(ns: string, address: string): Promise<{ lladdr: string | undefined; state: string } | undefined> {
  const out = await ip('-n', ns, 'neigh', 'show', address);
  const line = out.split('\n').find((l) => l.trim().length > 0);
  if (!line) return undefined;
  const m = /lladdr ([0-9a-f:]{17})/.exec(line);
  const words = line.trim().split(/\s+/);
  return { lladdr: m?.[1], state: words[words.length - 1] ?? '' };
}
