// The chaos suite's cluster: the lab API server as a child process (--persist, so it can be SIGKILLed and restarted
// on the same dir and port), berth's CRDs, namespace, pools and webhook configurations installed as `berth lab` does,
// 3 webhook processes behind one Service (one EndpointSlice each: the replicas listen on different loopback ports),
// and 2 controller processes electing a leader through a Lease. What a kubelet and the endpoints controller would do
// is done here too: a readiness probe (/readyz) decides each EndpointSlice endpoint's `ready` condition, and a process
// that exits on its own is restarted after a back-off (and recorded: invariant e).
import https from 'node:https';
import { createServer } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_NAMESPACE, repoObjects } from '../../src/cli/lab.ts';
import { applyObject } from '../../src/kube/apply.ts';
import type { KubeClient, KubeObject } from '../../src/kube/client.ts';
import { connect, type Kube } from '../../src/kube/connect.ts';
import { Resources } from '../../src/kube/resources.ts';
import { CONTROLLER_MAIN, spawnNode, WEBHOOK_MAIN, type NodeProcess } from '../../src/lab/processes.ts';
import type { PoolView, ProcessExit } from './invariants.ts';

const LAB_MAIN = fileURLToPath(new URL('../../src/lab/main.ts', import.meta.url));
const WEBHOOK_SERVICE = 'berth-webhook-service';

/** The pools of the run: documentation ranges only (RFC 5737, RFC 3849). `manual` and `tiny` are not auto-assigned. */
export const CHAOS_POOLS: PoolView[] = [
  { name: 'dual', addresses: ['192.0.2.0/27', '2001:db8:100::/123'], autoAssign: true },
  { name: 'spare', addresses: ['192.0.2.64/28'], autoAssign: true },
  { name: 'six', addresses: ['2001:db8:6::/124'], autoAssign: true },
  { name: 'manual', addresses: ['198.51.100.0/28', '2001:db8:22::/124'], autoAssign: false },
  { name: 'tiny', addresses: ['203.0.113.0/30'], autoAssign: false },
];

export type MemberKind = 'lab' | 'webhook' | 'controller';

interface Member {
  readonly name: string;
  readonly kind: MemberKind;
  readonly args: () => string[];
  proc: NodeProcess | undefined;
  /** Set while the suite itself stops this process (its exit is then expected). */
  killing: boolean;
  /** Webhooks: the port it always listens on (so its EndpointSlice stays valid across restarts). */
  port?: number;
  /** Crash-loop back-off of a process that exited on its own. */
  backoffMs: number;
}

export interface ClusterOptions {
  dir: string;
  log: (line: string) => void;
  webhooks?: number;
  controllers?: number;
  /** Controller --claim-grace (ms). */
  claimGraceMs: number;
  /** Controller leader-election timings. */
  leaseArgs?: string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A kubelet-style HTTPS readiness probe: 2xx within 1 s (the serving certificate is not verified, as kubelet does). */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export class ChaosCluster {
  readonly exits: ProcessExit[] = [];
  readonly #o: ClusterOptions;
  readonly #members = new Map<string, Member>();
  #labPort = 0;
  #kubeconfig = '';
  #kube: Kube | undefined;
  #stopping = false;
  #endpointsTimer: NodeJS.Timeout | undefined;
  readonly #sliceReady = new Map<string, boolean>();

  constructor(o: ClusterOptions) {
    this.#o = o;
    mkdirSync(o.dir, { recursive: true });
  }

  get kubeconfig(): string {
    return this.#kubeconfig;
  }

  get client(): KubeClient {
    if (!this.#kube) throw new Error('cluster not started');
    return this.#kube.client;
  }

  /** Names of the members of one kind (`webhook-0`, `controller-1`, `lab`). */
  names(kind: MemberKind): string[] {
    return [...this.#members.values()].filter((m) => m.kind === kind).map((m) => m.name);
  }

  isUp(name: string): boolean {
    const m = this.#members.get(name);
    return !!m?.proc && !m.proc.exited;
  }

  /** Starts everything; resolves once the webhooks answer /readyz and a controller leads. */
  async start(): Promise<void> {
    const dir = this.#o.dir;
    this.#add({ name: 'lab', kind: 'lab', args: () => ['--dir', join(dir, 'lab'), '--port', String(this.#labPort), '--persist'] });
    await this.#spawn(this.#members.get('lab')!);
    if (!(await this.waitLab(60_000))) throw new Error(`the lab did not start; see ${join(dir, 'lab.log')}`);
    const conn = await connect({ kubeconfig: this.#kubeconfig, component: 'chaos', maxSockets: 16 });
    if (!conn.ok) throw new Error(conn.message);
    this.#kube = conn.kube;
    const client = conn.kube.client;
    const apply = async (objs: KubeObject[], what: string): Promise<void> => {
      for (const o of objs) {
        const r = await applyObject(client, o);
        if (!r.ok) throw new Error(`applying ${what} ${o.kind}/${o.metadata?.name ?? ''}: ${r.error.message}`);
      }
    };
    await apply(repoObjects('gitops/base/crds'), 'CRD');
    await apply(
      [LAB_NAMESPACE, 'chaos-a', 'chaos-b'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
      'namespace',
    );
    // Pools before the webhook configurations: the metallb.io CR webhooks fail closed until a webhook is ready.
    await apply(
      CHAOS_POOLS.map((p) => ({
        apiVersion: 'metallb.io/v1beta1',
        kind: 'IPAddressPool',
        metadata: { name: p.name, namespace: LAB_NAMESPACE },
        spec: { addresses: p.addresses, autoAssign: p.autoAssign },
      })),
      'pool',
    );
    const nWebhooks = this.#o.webhooks ?? 3;
    const webhooks: Member[] = [];
    for (let i = 0; i < nWebhooks; i++) {
      const m = this.#add({
        name: `webhook-${i}`,
        kind: 'webhook',
        port: await freePort(),
        args: () => ['--kubeconfig', this.#kubeconfig, '--namespace', LAB_NAMESPACE, '--host', '127.0.0.1', '--port', String(m.port)],
      });
      webhooks.push(m);
    }
    await apply(
      [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: WEBHOOK_SERVICE, namespace: LAB_NAMESPACE, labels: { 'app.kubernetes.io/name': 'berth' } },
          spec: { type: 'ClusterIP', ports: [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }] },
        },
        ...webhooks.map((m) => this.#slice(m, false)),
      ],
      'webhook Service',
    );
    await apply(repoObjects('policies/webhooks'), 'webhook configuration');
    // The replicas start together, as a Deployment's pods do (their certificate bootstrap races on one Secret).
    await Promise.all(webhooks.map((m) => this.#spawn(m)));
    this.#endpointsTimer = setInterval(() => void this.#syncEndpoints(), 700);
    const nControllers = this.#o.controllers ?? 2;
    for (let i = 0; i < nControllers; i++) {
      const name = `controller-${i}`;
      this.#add({
        name,
        kind: 'controller',
        args: () => [
          '--kubeconfig',
          this.#kubeconfig,
          '--namespace',
          LAB_NAMESPACE,
          '--metrics-port',
          '0',
          '--replica-id',
          `chaos-${name}`,
          '--claim-grace',
          `${this.#o.claimGraceMs}ms`,
          ...(this.#o.leaseArgs ?? ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms']),
        ],
      });
    }
    await Promise.all(this.names('controller').map((n) => this.#spawn(this.#members.get(n)!)));
    const missing = await this.waitReady(90_000);
    if (missing) throw new Error(`cluster not ready after 90 s: ${missing}; logs in ${dir}`);
  }

  /**
   * Resolves '' when every webhook's endpoint is ready and some controller process printed that it leads; after
   * `timeoutMs`, what is still missing (e.g. `webhook-1 not ready; no controller leads`).
   */
  async waitReady(timeoutMs: number): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const notReady = this.names('webhook').filter((n) => this.#sliceReady.get(n) !== true);
      const leader = this.names('controller').some((n) => {
        const p = this.#members.get(n)?.proc;
        const said = p && !p.exited ? [...p.output().matchAll(/(is leading|stopped leading)/g)] : [];
        return said.at(-1)?.[1] === 'is leading';
      });
      if (notReady.length === 0 && leader) return '';
      if (Date.now() >= end) return [...notReady.map((n) => `${n} not ready`), ...(leader ? [] : ['no controller leads'])].join('; ');
      await sleep(300);
    }
  }

  /** SIGKILLs a member (recorded as the suite's kill). */
  async kill(name: string): Promise<void> {
    const m = this.#members.get(name);
    if (!m?.proc || m.proc.exited) return;
    m.killing = true;
    await m.proc.stop('SIGKILL');
  }

  /** Starts a member again (after a kill); resolves once spawned (and, for the lab, serving or given up after 60 s). */
  async restart(name: string): Promise<void> {
    const m = this.#members.get(name);
    if (!m || (m.proc && !m.proc.exited)) return;
    await this.#spawn(m);
    if (m.kind === 'lab' && !(await this.waitLab(60_000))) this.#o.log('the lab is not serving 60 s after its restart');
  }

  /** Stops everything the suite started (by pid), the lab last. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#endpointsTimer) clearInterval(this.#endpointsTimer);
    const others = [...this.#members.values()].filter((m) => m.kind !== 'lab');
    await Promise.all(others.map((m) => this.#stopMember(m)));
    this.#kube?.close();
    const lab = this.#members.get('lab');
    if (lab) await this.#stopMember(lab);
  }

  async #stopMember(m: Member): Promise<void> {
    if (!m.proc || m.proc.exited) return;
    m.killing = true;
    await m.proc.stop('SIGTERM', 5000);
  }

  #add(m: Omit<Member, 'proc' | 'killing' | 'backoffMs'>): Member {
    const full: Member = { ...m, proc: undefined, killing: false, backoffMs: 1000 };
    this.#members.set(m.name, full);
    return full;
  }

  #slice(m: Member, ready: boolean): KubeObject {
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${WEBHOOK_SERVICE}-${m.name}`,
        namespace: LAB_NAMESPACE,
        labels: { 'kubernetes.io/service-name': WEBHOOK_SERVICE, 'endpointslice.kubernetes.io/managed-by': 'berth-chaos' },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready, serving: ready, terminating: false } }],
      ports: [{ name: 'https', port: m.port, protocol: 'TCP' }],
    };
  }

  /** The endpoints controller: each webhook's slice is ready iff its process answers /readyz. */
  async #syncEndpoints(): Promise<void> {
    if (this.#stopping || !this.#kube || !this.isUp('lab')) return;
    const client = this.#kube.client;
    for (const name of this.names('webhook')) {
      const m = this.#members.get(name)!;
      const ready = !!m.proc && !m.proc.exited && (await probe(m.port!));
      const cur = await client.get<{ endpoints?: Array<{ conditions?: { ready?: boolean } }> }>(Resources.endpointSlices, `${WEBHOOK_SERVICE}-${name}`, LAB_NAMESPACE);
      if (!cur.ok && cur.error.kind !== 'NotFound') continue;
      const have = cur.ok ? cur.value.endpoints?.[0]?.conditions?.ready === true : undefined;
      if (have !== ready) {
        const r = await applyObject(client, this.#slice(m, ready));
        if (r.ok) this.#sliceReady.set(name, ready);
      } else {
        this.#sliceReady.set(name, ready);
      }
    }
  }

  async #spawn(m: Member): Promise<void> {
    const script = m.kind === 'lab' ? LAB_MAIN : m.kind === 'webhook' ? WEBHOOK_MAIN : CONTROLLER_MAIN;
    m.killing = false;
    const p = spawnNode(script, m.args(), { logFile: join(this.#o.dir, `${m.name}.log`) });
    m.proc = p;
    void p.done.then((code) => {
      const tail = p.output().slice(-3000);
      this.exits.push({ name: m.name, pid: p.pid, code, killedBySuite: m.killing || this.#stopping, tail });
      if (m.killing || this.#stopping) return;
      // Died on its own: restart after a back-off, as a kubelet would (CrashLoopBackOff).
      this.#o.log(`${m.name} (pid ${p.pid}) exited on its own with ${code}; restarting in ${m.backoffMs} ms`);
      const wait = m.backoffMs;
      m.backoffMs = Math.min(m.backoffMs * 2, 10_000);
      setTimeout(() => {
        if (!this.#stopping && m.proc === p) void this.#spawn(m).catch((e: unknown) => this.#o.log(`restarting ${m.name}: ${String(e)}`));
      }, wait).unref();
    });
    if (m.kind === 'lab') {
      // A lab that fails to start exits, and the exit handler above restarts it; callers wait with waitLab().
      const line = await p.waitFor(/lab: serving https:\/\/127\.0\.0\.1:(\d+) kubeconfig=(\S+)/, 60_000).catch(() => undefined);
      if (line) {
        this.#labPort = Number(line[1]);
        this.#kubeconfig = line[2]!;
      }
    }
  }

  /** Resolves true once the lab serves (its current process printed its serving line), false after `timeoutMs`. */
  async waitLab(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const p = this.#members.get('lab')?.proc;
      if (p && !p.exited && /lab: serving https/.test(p.output())) return true;
      await sleep(200);
    }
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
