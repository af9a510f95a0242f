// Issue 9: LOCAL_PREF from a BGPAdvertisement's `localPref`, end to end over iBGP: `kubectl apply` of a BGPPeer with
// myASN = peerASN (64500), pool web and BGPAdvertisement web {localPref: 250}, a Service and its EndpointSlice → the
// lab controller and the real `berth speaker` of node n1 (lab network, speaker-bgp-lab.ts started without FRR) →
// BIRD 2 in the segment's router namespace (198.51.100.1, AS 64500, passive, `direct`) as the iBGP peer, started with
// test/fixtures/bgp/router-lab.ts's startRouterDaemon. BIRD's `show route all` must show the /32 from n1 with
// BGP.local_pref 250 and an empty AS path (iBGP: RFC 4271 §5.1.2 adds no AS, §5.1.5 sends LOCAL_PREF); changing the
// advertisement to localPref 300 (kubectl apply) changes BIRD's view to 300. FRR is not used: one bgpd has one AS and
// cannot take the speakers' iBGP sessions beside the eBGP ones of the other e2e tests (speaker-bgp.test.ts header).
// Root only (skips with the reason otherwise). Documentation ranges only: segment 198.51.100.0/24, Service IP
// 203.0.113.0/24, endpoint 192.0.2.0/24.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { peerLabSkipReason, sh, startRouterDaemon, type RouterNode } from '../fixtures/bgp/router-lab.ts';
import { bgpLabSkipReason, METALLB_NS, NODE_ASN, ROUTER, serviceYaml, sliceYaml, startBgpLab, type BgpLab } from './speaker-bgp-lab.ts';

const skip = (await bgpLabSkipReason([])) ?? peerLabSkipReason('bird');
if (skip) process.stdout.write(`# skipping the iBGP LOCAL_PREF end-to-end test: ${skip}\n`);

const WEB = '203.0.113.10';
const PREFIX = `${WEB}/32`;

let lab: BgpLab | undefined;
let birdDir = '';
const birdChildren: ChildProcess[] = [];

/** BIRD 2: one passive iBGP neighbor per node (AS NODE_ASN on both sides), imports all, exports nothing. */
function birdConfig(dir: string, nodes: readonly string[]): string {
  return `router id ${ROUTER.v4};
log "${dir}/bird.log" all;
protocol device { }
${nodes.map((n, i) => `protocol bgp n${i + 1} {
  local ${ROUTER.v4} as ${NODE_ASN};
  neighbor ${n} as ${NODE_ASN};
  passive on;
  direct;
  hold time 9;
  ipv4 { import all; export none; };
}
`).join('')}`;
}

const advertisement = (localPref: number): string => `apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: ${METALLB_NS}}
spec: {ipAddressPools: [web], localPref: ${localPref}}
`;

const CONFIG = `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: ${METALLB_NS}}
spec: {myASN: ${NODE_ASN}, peerASN: ${NODE_ASN}, peerAddress: ${ROUTER.v4}, holdTime: 9s, keepaliveTime: 3s}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: web, namespace: ${METALLB_NS}}
spec: {addresses: ["203.0.113.10-203.0.113.19"], autoAssign: false}
---
${advertisement(250)}---
${serviceYaml('web', [WEB])}---
${sliceYaml('web', [['n1', '192.0.2.11']])}`;

before(async () => {
  if (skip) return;
  // The lab without FRR (no daemons); its frr.conf is written but unused.
  lab = await startBgpLab({ nodes: 1, daemons: [], frrConfig: () => '', log: (l) => void process.stdout.write(`${l}\n`) });
  birdDir = mkdtempSync(join(tmpdir(), 'bt-bird-'));
  const ns = lab.net.topology.client.ns;
  // startRouterDaemon's view of the router: the segment's client namespace and BIRD's folder (control socket, pid).
  const router: RouterNode = {
    id: 'e2e',
    router: ns,
    node: '',
    routerIfname: '',
    nodeIfname: '',
    dir: birdDir,
    inRouter: (args, stdio = 'ignore') => {
      const c = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', stdio, stdio] });
      birdChildren.push(c);
      return c;
    },
    nodeScript: () => {
      throw new Error('no node script in this lab');
    },
    close: async () => {},
  };
  await startRouterDaemon(router, 'bird', { config: birdConfig(birdDir, lab.nodes), listen: ROUTER.v4, file: 'bird.conf' });
  await lab.kubectl(['apply', '-f', '-'], CONFIG);
});

after(async () => {
  for (const c of birdChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await lab?.stop();
  if (birdDir) {
    if (process.env['KEEP_DIR']) process.stdout.write(`# kept ${birdDir}\n`);
    else rmSync(birdDir, { recursive: true, force: true });
  }
});

/** BIRD's `show route all <PREFIX>` ('' when absent or birdc fails). */
function birdRoute(): string {
  try {
    const t = sh('birdc', ['-s', join(birdDir, 'bird.ctl'), 'show', 'route', 'all', PREFIX]);
    return t.includes(WEB) ? t : '';
  } catch {
    return '';
  }
}

/** Waits until BIRD has PREFIX with BGP.local_pref `want` and returns the route text. */
async function routeWithLocalPref(l: BgpLab, want: number): Promise<string> {
  let last = '';
  return l.waitFor(`${PREFIX} at BIRD with BGP.local_pref ${want}`, async () => {
    last = birdRoute();
    const m = /BGP\.local_pref:\s*(\d+)/.exec(last);
    return m && Number(m[1]) === want ? last : undefined;
  }, 60_000, 300).catch((e: unknown) => {
    let log = '';
    try {
      log = readFileSync(join(birdDir, 'bird.log'), 'utf8').slice(-2000);
    } catch {
      /* none */
    }
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- BIRD's route:\n${last}\n--- bird.log:\n${log}`);
  });
}

test('iBGP: the BGPAdvertisement\'s localPref reaches BIRD as LOCAL_PREF (250), and an edit of the CR changes it (300)', { skip }, async () => {
  const l = lab!;
  const n1 = l.nodes[0]!;
  const r = await routeWithLocalPref(l, 250);
  process.stdout.write(`# BIRD's route:\n${r.split('\n').map((x) => `#   ${x}`).join('\n')}\n`);
  assert.match(r, /unicast \[n1 /, `${PREFIX} learned over protocol n1`);
  assert.match(r, new RegExp(`via ${n1.replaceAll('.', '\\.')} on `), `${PREFIX} via n1`);
  assert.match(r, /BGP\.as_path:\s*$/m, 'iBGP: empty AS path');
  assert.match(r, new RegExp(`BGP\\.next_hop: ${n1.replaceAll('.', '\\.')}\\b`), 'next hop: the node');
  await l.kubectl(['apply', '-f', '-'], advertisement(300));
  const r2 = await routeWithLocalPref(l, 300);
  assert.match(r2, /BGP\.local_pref: 300/);
});
