// The BGP end-to-end lab of the speaker-bgp*.test.ts files and bench/bfd-router.ts: the lab API server and controller
// (src/cli/lab.ts startLabStack), a segment with `nodes` node namespaces each running the real `berth speaker`
// (src/lab/network: n1 198.51.100.11, n2 .12 …) and FRR 8 in the segment's client namespace as the router
// (198.51.100.1): zebra + bgpd (+ bfdd when asked), run as user frr, daemonized with pid files in their own temp dir
// (lab/recipes.md §4.3), configured by the caller's frr.conf. Everything berth is told comes from `kubectl apply`.
// stop() stops FRR by its pids, the speakers, forwarders and namespaces (LabNetwork.stop), the lab, and deletes both
// temp dirs (KEEP_DIR=1 keeps them and prints where). Documentation ranges only (RFC 5737/3849).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startLabStack, type LabStack } from '../../src/cli/lab.ts';
import { SPEAKER_METRICS_PORT, startLabNetwork, type LabNetwork } from '../../src/lab/network/network.ts';
import { inNamespace, networkSupport, run } from '../../src/lab/network/topology.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { until } from '../helpers/poll.ts';

export const FRR = '/usr/lib/frr';
export const METALLB_NS = 'metallb-system';
/** The router: the segment's client namespace address, and its AS. */
export const ROUTER = { v4: '198.51.100.1', asn: 64501 } as const;
/** The nodes' AS (BGPPeer myASN). */
export const NODE_ASN = 64500;

export type FrrDaemon = 'zebra' | 'bfdd' | 'bgpd';

/** Why the lab cannot run here (no root / netns, FRR, vtysh, user frr or kubectl missing), or undefined. */
export async function bgpLabSkipReason(daemons: readonly FrrDaemon[] = ['zebra', 'bgpd']): Promise<string | undefined> {
  const s = await networkSupport();
  if (!s.ok) return s.reason;
  for (const d of daemons) if (!existsSync(`${FRR}/${d}`)) return `${FRR}/${d} is not installed (apt-get install frr)`;
  if ((await run('sh', ['-c', 'command -v vtysh'])).code !== 0) return 'vtysh is not installed (apt-get install frr)';
  if ((await run('id', ['frr'])).code !== 0) return 'user frr does not exist (zebra and bfdd refuse to run as root; apt-get install frr)';
  if (!findKubectl()) return 'kubectl not found (scripts/fetch-kubectl.sh installs one)';
  return undefined;
}

export interface BgpLabOptions {
  /** Node namespaces (and speakers), default 1. */
  nodes?: number;
  /** frr.conf for the router, given FRR's folder (for `log file`) and the nodes' IPv4 addresses. */
  frrConfig: (frrDir: string, nodes: readonly string[]) => string;
  /** FRR daemons to run, in order (default zebra, bgpd; add bfdd for BFD). */
  daemons?: readonly FrrDaemon[];
  /** Extra `berth speaker` flags. */
  speakerArgs?: readonly string[];
  /** Progress lines (e.g. `# … after 3.1 s`); default none. */
  log?: (line: string) => void;
}

/** One path of `show bgp <afi> unicast <prefix> json`. */
export interface FrrPath {
  valid?: boolean;
  stale?: boolean;
  localpref?: number;
  bestpath?: { overall?: boolean };
  multipath?: boolean;
  peer?: { peerId?: string };
  nexthops?: Array<{ ip?: string; afi?: string; scope?: string }>;
  community?: { string?: string };
  largeCommunity?: { string?: string };
  extendedCommunity?: { string?: string };
}

/** The parts of the router's frr.conf that differ between the tests (see frrConfigText). */
export interface FrrConfigParts {
  /** Add FRR's BFD profile `fast` (100 ms × 3), before `router bgp`. */
  bfdFast?: boolean;
  /** `router bgp` lines after `no bgp ebgp-requires-policy`, without their leading space. */
  router: readonly string[];
  /** `address-family ipv4 unicast` lines, without their two leading spaces. */
  ipv4: readonly string[];
  /** `address-family ipv6 unicast` lines (no such block when absent), without their two leading spaces. */
  ipv6?: readonly string[];
}

/**
 * The router's frr.conf (FRR 8 syntax): `log file <frrDir>/frr.log`, the optional BFD profile `fast`, `router bgp`
 * ROUTER.asn with router-id ROUTER.v4 and no eBGP policy requirement, the caller's lines, and the route-map NONE (deny
 * all) the callers put on the neighbors' outbound side so the router advertises nothing back.
 */
export function frrConfigText(frrDir: string, p: FrrConfigParts): string {
  const bfd = p.bfdFast ? 'bfd\n profile fast\n  receive-interval 100\n  transmit-interval 100\n  detect-multiplier 3\n !\n!\n' : '';
  const af = (fam: string, lines: readonly string[]): string => ` address-family ${fam} unicast\n${lines.map((l) => `  ${l}\n`).join('')} exit-address-family\n`;
  return `frr defaults traditional
hostname bt-router
log file ${frrDir}/frr.log
!
${bfd}router bgp ${ROUTER.asn}
 bgp router-id ${ROUTER.v4}
 no bgp ebgp-requires-policy
${p.router.map((l) => ` ${l}\n`).join('')}${af('ipv4', p.ipv4)}${p.ipv6 ? af('ipv6', p.ipv6) : ''}!
route-map NONE deny 10
!
`;
}

/**
 * frr.conf parts with one passive eBGP neighbor per node (remote-as NODE_ASN, `timers <keepalive> <hold>` in seconds,
 * then `extra(node)` lines) and route-map NONE out on each in IPv4 unicast; `router` lines come first.
 */
export function frrPassiveNeighbors(
  nodes: readonly string[],
  timers: readonly [keepaliveS: number, holdS: number],
  extra: (node: string) => readonly string[] = () => [],
  router: readonly string[] = [],
): FrrConfigParts {
  return {
    router: [...router, ...nodes.flatMap((n) => [`neighbor ${n} remote-as ${NODE_ASN}`, `neighbor ${n} passive`, `neighbor ${n} timers ${timers[0]} ${timers[1]}`, ...extra(n)])],
    ipv4: nodes.map((n) => `neighbor ${n} route-map NONE out`),
  };
}

/** MetalLB BFDProfile `fast`: 100 ms receive and transmit intervals, detect multiplier 3. */
export const BFD_PROFILE_FAST_YAML = `apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: ${METALLB_NS}}
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}
`;

/** BGPPeer `router`: the nodes' AS to the router's, `spec` ending with `more` (e.g. `holdTime: 9s, keepaliveTime: 3s`). */
export function bgpPeerYaml(more: string): string {
  return `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: ${METALLB_NS}}
spec: {myASN: ${NODE_ASN}, peerASN: ${ROUTER.asn}, peerAddress: ${ROUTER.v4}, ${more}}
`;
}

/** IPAddressPool `web` (203.0.113.10-19, no auto-assign) and the BGPAdvertisement `web` of it. */
export const WEB_POOL_YAML = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: ${METALLB_NS}}
spec: {addresses: ["203.0.113.10-203.0.113.19"], autoAssign: false}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: ${METALLB_NS}}
spec: {ipAddressPools: [web]}
`;

export interface BgpLab {
  /** The lab's folder (kubeconfig, speaker logs). */
  dir: string;
  /** FRR's folder (frr.conf, frr.log, vty sockets, pid files). */
  frrDir: string;
  stack: LabStack;
  net: LabNetwork;
  /** The nodes' IPv4 addresses, n1 first. */
  nodes: string[];
  /** FRR's daemon pids (zebra, bfdd, bgpd as started). */
  frrPids: Map<FrrDaemon, number>;
  /** `vtysh -c cmd` against the router; throws with vtysh's output when it fails. */
  vtysh(cmd: string): Promise<string>;
  /** vtysh(cmd) parsed as JSON. */
  vtyJson<T = Record<string, unknown>>(cmd: string): Promise<T>;
  /** `configure terminal` → `router bgp <asn>` → `line` on the running router. */
  configure(line: string): Promise<void>;
  /** kubectl against the lab (20 s request timeout); rejects with kubectl's stderr. */
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** FRR's paths for `prefix` (empty when it has none). */
  paths(prefix: string): Promise<FrrPath[]>;
  /** until() (test/helpers/poll.ts) whose timeout message ends with the speakers' and FRR's last log lines. */
  waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs?: number, everyMs?: number): Promise<T>;
  /** Stops everything started here (by pid) and deletes the namespaces and temp dirs. Idempotent. */
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the lab (see the file comment): the lab stack without webhook or dev pools, the segment with `nodes` speakers
 * (pool `lab-l2` not applied), then FRR on `frrConfig`. Throws after undoing what it made when a step fails.
 */
export async function startBgpLab(o: BgpLabOptions): Promise<BgpLab> {
  const t0 = performance.now();
  const lap = (what: string): void => o.log?.(`# ${what} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(join(tmpdir(), 'berth-bgp-'));
  const frrDir = mkdtempSync(join(tmpdir(), 'bt-frr-'));
  chmodSync(frrDir, 0o755);
  const frrPids = new Map<FrrDaemon, number>();
  let stack: LabStack | undefined;
  let net: LabNetwork | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      const pids = [...frrPids.values()].reverse();
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone
        }
      }
      for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      if (net) for (const p of net.speakers.values()) if (!p.exited) try { process.kill(p.pid, 'SIGCONT'); } catch { /* gone */ }
      await net?.stop();
      await stack?.stop();
      if (process.env['KEEP_DIR']) o.log?.(`# kept ${dir} and ${frrDir}`);
      else {
        rmSync(frrDir, { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    })());
  const vtysh = async (cmd: string): Promise<string> => {
    const r = await run('vtysh', ['--vty_socket', frrDir, '-c', cmd], 10_000);
    if (r.code !== 0) throw new Error(`vtysh -c '${cmd}': exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const vtyJson = async <T>(cmd: string): Promise<T> => JSON.parse(await vtysh(cmd)) as T;
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 200): Promise<T> =>
    until(what, fn, timeoutMs, everyMs, () => {
      const logs = net ? [...net.speakers.keys()].map((n) => `--- speaker ${n}\n${net!.speakers.get(n)!.output().slice(-3000)}`).join('\n') : '';
      const frrLog = existsSync(join(frrDir, 'frr.log')) ? readFileSync(join(frrDir, 'frr.log'), 'utf8').slice(-3000) : '';
      return `${logs}\n--- frr.log\n${frrLog}`;
    });
  try {
    stack = await startLabStack({ dir, webhook: false, devPools: false, persist: false, nodes: 0 });
    lap('lab API server and controller up');
    net = await startLabNetwork({
      labPort: stack.lab.port,
      kubeconfig: stack.lab.kubeconfigPath,
      client: stack.client,
      dir,
      nodes: o.nodes ?? 1,
      pool: false,
      ...(o.speakerArgs ? { speakerArgs: o.speakerArgs } : {}),
    });
    lap('segment and speakers ready');
    const nodes = net.topology.nodes.map((h) => h.ipv4);
    const conf = join(frrDir, 'frr.conf');
    writeFileSync(conf, o.frrConfig(frrDir, nodes));
    const uid = Number((await run('id', ['-u', 'frr'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'frr'])).stdout.trim());
    chownSync(frrDir, uid, gid);
    chownSync(conf, uid, gid);
    const common = ['-f', conf, '--vty_socket', frrDir, '-A', '127.0.0.1', '-P', '0', '-u', 'frr', '-g', 'frr', '-d', '-z', join(frrDir, 'zserv.api')];
    const extra: Record<FrrDaemon, string[]> = { zebra: [], bfdd: ['--bfdctl', join(frrDir, 'bfdd.sock')], bgpd: ['-l', ROUTER.v4] };
    for (const d of o.daemons ?? ['zebra', 'bgpd']) {
      const pidFile = join(frrDir, `${d}.pid`);
      const r = await inNamespace(net.topology.client.ns, `${FRR}/${d}`, [...common, '-i', pidFile, ...extra[d]], 30_000);
      if (r.code !== 0) throw new Error(`${d} did not start (exit ${r.code}): ${r.stderr}${r.stdout}`);
      frrPids.set(
        d,
        await waitFor(`${d}'s pid file`, async () => {
          const t = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
          return /^\d+$/.test(t) ? Number(t) : undefined;
        }, 10_000),
      );
    }
    lap('FRR started');
    const s = stack;
    const kubectl = (args: readonly string[], input?: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = execFile(
          findKubectl()!,
          [`--kubeconfig=${s.lab.kubeconfigPath}`, `--cache-dir=${join(dir, 'kube-cache')}`, '--request-timeout=20s', ...args],
          { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, HOME: dir } },
          (err, stdout, stderr) => (err ? reject(new Error(`kubectl ${args.join(' ')}: ${String(stderr) || err.message}`)) : resolve(String(stdout))),
        );
        child.stdin?.end(input ?? '');
      });
    return {
      dir,
      frrDir,
      stack,
      net,
      nodes,
      frrPids,
      vtysh,
      vtyJson,
      async configure(line) {
        const r = await run('vtysh', ['--vty_socket', frrDir, '-c', 'configure terminal', '-c', `router bgp ${ROUTER.asn}`, '-c', line], 10_000);
        if (r.code !== 0 || /% /.test(r.stdout)) throw new Error(`vtysh: router bgp ${ROUTER.asn}: ${line}: exit ${r.code}: ${r.stderr}${r.stdout}`);
      },
      kubectl,
      async paths(prefix) {
        const fam = prefix.includes(':') ? 'ipv6' : 'ipv4';
        return (await vtyJson<{ paths?: FrrPath[] }>(`show bgp ${fam} unicast ${prefix} json`)).paths ?? [];
      },
      waitFor,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The one-node lab of the speaker-bgp-gr/-md5 tests: startBgpLab with node n1, zebra + bgpd on `frrConfig` and progress
 * lines on stdout, then `config` applied by kubectl with the Service `web` asking for `ip` (serviceYaml) and its
 * EndpointSlice (one ready endpoint on n1, 192.0.2.11). Stops the lab and rethrows when the apply fails.
 */
export async function startWebLab(frrConfig: BgpLabOptions['frrConfig'], config: string, ip: string): Promise<BgpLab> {
  const lab = await startBgpLab({ nodes: 1, frrConfig, log: (l) => void process.stdout.write(`${l}\n`) });
  try {
    await lab.kubectl(['apply', '-f', '-'], `${config}---\n${serviceYaml('web', [ip])}---\n${sliceYaml('web', [['n1', '192.0.2.11']])}`);
    return lab;
  } catch (e) {
    await lab.stop();
    throw e;
  }
}

/**
 * Registers node:test before/after hooks: before starts startWebLab(frrConfig, config, ip) unless `skip` (a skip
 * reason) and hands the lab to `started`; after stops it.
 */
export function useWebLab(skip: string | undefined, frrConfig: BgpLabOptions['frrConfig'], config: string, ip: string, started: (lab: BgpLab) => void): void {
  let lab: BgpLab | undefined;
  before(async () => {
    if (skip) return;
    lab = await startWebLab(frrConfig, config, ip);
    started(lab);
  });
  after(async () => {
    await lab?.stop();
  });
}

/** FRR's BGP neighbor state of `address` (`show bgp neighbors <address> json`), or undefined when unknown. */
export async function frrNeighbor(lab: Pick<BgpLab, 'vtyJson'>, address: string): Promise<Record<string, unknown> | undefined> {
  const j = await lab.vtyJson<Record<string, Record<string, unknown>>>(`show bgp neighbors ${address} json`);
  return j[address];
}

/** A LoadBalancer Service asking for `ips` (metallb.io/loadBalancerIPs), port 80 → 8080. */
export function serviceYaml(name: string, ips: readonly string[], etp: 'Cluster' | 'Local' = 'Cluster'): string {
  const fams = ips.map((i) => (i.includes(':') ? 'IPv6' : 'IPv4'));
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
  annotations: {metallb.io/loadBalancerIPs: "${ips.join(',')}"}
spec:
  type: LoadBalancer
  externalTrafficPolicy: ${etp}
  ipFamilies: [${fams.join(', ')}]
  ipFamilyPolicy: ${fams.length > 1 ? 'RequireDualStack' : 'SingleStack'}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
`;
}

/** EndpointSlice `<svc>-v4` with one ready endpoint per (node, address). */
export function sliceYaml(svc: string, endpoints: ReadonlyArray<[node: string, address: string]>): string {
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${svc}-v4
  namespace: default
  labels: {kubernetes.io/service-name: ${svc}, endpointslice.kubernetes.io/managed-by: e2e}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
${endpoints.map(([node, a]) => `  - {addresses: ["${a}"], nodeName: ${node}, conditions: {ready: true, serving: true, terminating: false}}`).join('\n')}
`;
}

/** Node's fetch run in a namespace: prints the body of argv[1]; exit 1 with the error otherwise. */
const FETCH_SCRIPT = `fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })
  .then(async (r) => { if (!r.ok) throw new Error('HTTP ' + r.status); process.stdout.write(await r.text()); })
  .catch((e) => { console.error(String(e)); process.exit(1); });`;

/**
 * The /metrics text of node `node`'s speaker (http://<node address>:7472/metrics, SPEAKER_METRICS_PORT), fetched from
 * the router's namespace by this Node (no curl needed). Throws with the error when the scrape fails.
 */
export async function scrapeSpeaker(lab: Pick<BgpLab, 'net'>, node: string): Promise<string> {
  const url = `http://${lab.net.node(node).ipv4}:${SPEAKER_METRICS_PORT}/metrics`;
  const r = await inNamespace(lab.net.topology.client.ns, process.execPath, ['-e', FETCH_SCRIPT, url], 10_000);
  if (r.code !== 0) throw new Error(`GET ${url}: ${r.stderr}`);
  return r.stdout;
}

/** The value of the sample `series` (name and labels exactly as exposed, e.g. `m{a="b"}`) in `text`, or undefined. */
export function sampleValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}
