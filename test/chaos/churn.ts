// The chaos suite's churn: creates, updates and deletes of LoadBalancer Services chosen by a seeded generator, sent
// through a direct HTTPS client to the lab (most) and the real kubectl (a fraction). Shapes: IPv4, IPv6,
// PreferDualStack and RequireDualStack; `metallb.io/address-pool`; `metallb.io/loadBalancerIPs` (free IPs, taken ones,
// IPs of sharing Services with disjoint or clashing ports); `metallb.io/allow-shared-ip`; generateName; fixed names
// deleted and re-created at once (same name, new uid). Every write notes when churn touched which `namespace/name`
// (invariant d) and how it ended (the run's summary).
import { execFile } from 'node:child_process';
import type { KubeClient, KubeObject } from '../../src/kube/client.ts';
import { PatchType } from '../../src/kube/patch.ts';
import { Resources } from '../../src/kube/resources.ts';
import { findKubectl } from '../../src/lab/testing.ts';
import { formatIp } from '../../src/shared/ip.ts';
import { CHAOS_POOLS } from './cluster.ts';
import { poolRanges } from './invariants.ts';
import type { Rng } from './rng.ts';

export const NAMESPACES = ['chaos-a', 'chaos-b'];
const NAMES_PER_NS = 16;
/** Past this many live Services churn deletes more than it creates (the pools hold ~100 addresses). */
const MAX_LIVE = 56;
const SHARE_KEYS = ['k1', 'k2'];
const PORTS: Array<{ protocol: string; port: number }> = [
  { protocol: 'TCP', port: 80 },
  { protocol: 'TCP', port: 443 },
  { protocol: 'TCP', port: 8080 },
  { protocol: 'UDP', port: 53 },
];

type Family = 'v4' | 'v6' | 'prefer' | 'require';

interface Shape {
  family: Family;
  annotations: Record<string, string>;
  ports: Array<{ protocol: string; port: number }>;
  shareKey?: string;
}

interface Live {
  namespace: string;
  name: string;
  uid: string;
  family: Family;
  shareKey?: string;
  ports: Array<{ protocol: string; port: number }>;
  /** IPs the mutating webhook wrote (berth.io/assigned-ips), when it answered. */
  assigned: string[];
}

export interface ChurnStats {
  ops: number;
  /** `verb outcome` → count, e.g. `create ok`, `update denied`, `delete unavailable`. */
  outcomes: Map<string, number>;
  /** First message seen per denial kind (a sample, for the summary). */
  samples: Map<string, string>;
}

export class Churn {
  readonly stats: ChurnStats = { ops: 0, outcomes: new Map(), samples: new Map() };
  /** `namespace/name` → times (ms since start) churn wrote it, or may have. */
  readonly touches = new Map<string, number[]>();
  readonly #live = new Map<string, Live>();
  readonly #client: KubeClient;
  readonly #rng: Rng;
  readonly #t0: number;
  readonly #kubectl: string | undefined;
  readonly #kubeconfig: string;
  readonly #kubectlShare: number;
  #stop = false;
  #unavailable = 0;

  readonly #opLog: ((line: string) => void) | undefined;

  constructor(o: { client: KubeClient; rng: Rng; t0: number; kubeconfig: string; kubectlShare?: number; opLog?: (line: string) => void }) {
    this.#opLog = o.opLog;
    this.#client = o.client;
    this.#rng = o.rng;
    this.#t0 = o.t0;
    this.#kubeconfig = o.kubeconfig;
    this.#kubectl = findKubectl();
    this.#kubectlShare = o.kubectlShare ?? 0.06;
  }

  /** Runs `workers` loops of operations until `stop()`; each waits a seeded 20-150 ms between operations. */
  async run(workers: number): Promise<void> {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (!this.#stop) {
          const unavailable = this.#unavailable;
          await this.step();
          // while the API server is down, try again now and then instead of spinning
          const pause = this.#unavailable > unavailable ? 400 : 0;
          await new Promise((r) => setTimeout(r, this.#rng.between(20, 150) + pause));
        }
      }),
    );
  }

  stop(): void {
    this.#stop = true;
  }

  #now(): number {
    return Math.round(performance.now() - this.#t0);
  }

  #touch(key: string): void {
    const t = this.touches.get(key) ?? [];
    t.push(this.#now());
    this.touches.set(key, t);
  }

  #count(verb: string, outcome: string, sample?: string, key?: string): void {
    this.#opLog?.(`${new Date().toISOString()} +${this.#now()} ms ${verb} ${key ?? ''} ${outcome}${outcome === 'ok' || !sample ? '' : `: ${sample.replace(/\s+/g, ' ').slice(0, 200)}`}`);
    if (outcome === 'unavailable') this.#unavailable++;
    const k = `${verb} ${outcome}`;
    this.stats.outcomes.set(k, (this.stats.outcomes.get(k) ?? 0) + 1);
    if (sample && !this.stats.samples.has(k)) this.stats.samples.set(k, sample.slice(0, 300));
  }

  /** One seeded operation. */
  async step(): Promise<void> {
    this.stats.ops++;
    const rng = this.#rng;
    const live = [...this.#live.values()];
    const verb =
      live.length === 0
        ? 'create'
        : rng.weighted(live.length >= MAX_LIVE ? { create: 5, update: 35, delete: 45, recreate: 15 } : { create: 45, update: 30, delete: 17, recreate: 8 });
    if (verb === 'create') return this.#create();
    const target = rng.pick(live);
    if (verb === 'update') return this.#update(target);
    if (verb === 'delete') return this.#delete(target);
    // delete and create again under the same name at once (a new uid; issue 12 defect 4)
    await this.#delete(target);
    await this.#create({ namespace: target.namespace, name: target.name });
  }

  #shape(): Shape {
    const rng = this.#rng;
    const family = rng.weighted<Family>({ v4: 55, v6: 15, prefer: 12, require: 18 });
    const annotations: Record<string, string> = {};
    let ports = this.#ports();
    let shareKey: string | undefined;
    const live = [...this.#live.values()];
    const sharers = live.filter((l) => l.shareKey && l.assigned.length > 0 && l.family === family);
    const kind = rng.weighted({ auto: 50, pool: 18, request: 14, share: 14, bad: 4 });
    if (kind === 'pool') {
      annotations['metallb.io/address-pool'] = rng.pick(family === 'v4' ? ['manual', 'tiny', 'dual', 'spare'] : ['manual', 'dual', 'six']);
    } else if (kind === 'request') {
      annotations['metallb.io/loadBalancerIPs'] = this.#requestIps(family).join(',');
    } else if (kind === 'share' && sharers.length > 0) {
      const other = rng.pick(sharers);
      shareKey = other.shareKey;
      annotations['metallb.io/loadBalancerIPs'] = other.assigned.join(',');
      // disjoint ports most of the time; a clash must be denied (or left pending with a reason)
      ports = rng.chance(0.7) ? PORTS.filter((p) => !other.ports.some((q) => q.protocol === p.protocol && q.port === p.port)).slice(0, 1) : other.ports;
      if (ports.length === 0) ports = [{ protocol: 'TCP', port: 9000 + rng.int(100) }];
    } else if (kind === 'bad') {
      // outside every pool: must be denied, or pending with an event
      annotations['metallb.io/loadBalancerIPs'] = family === 'v6' ? '2001:db8:ffff::1' : '192.0.2.200';
    }
    if (!shareKey && rng.chance(0.25)) shareKey = rng.pick(SHARE_KEYS);
    if (shareKey) annotations['metallb.io/allow-shared-ip'] = shareKey;
    return { family, annotations, ports, ...(shareKey ? { shareKey } : {}) };
  }

  #ports(): Live['ports'] {
    const n = this.#rng.chance(0.3) ? 2 : 1;
    const start = this.#rng.int(PORTS.length);
    return Array.from({ length: n }, (_, i) => PORTS[(start + i) % PORTS.length]!);
  }

  /** Requested IPs: a random address of a pool of the right family (free or taken: churn does not know). */
  #requestIps(family: Family): string[] {
    const pick = (fam: 'IPv4' | 'IPv6'): string => {
      const ranges = CHAOS_POOLS.flatMap((p) => poolRanges(p)).filter((r) => r.family === fam);
      const r = this.#rng.pick(ranges);
      const size = Number(r.last - r.first + 1n);
      return formatIp(fam, r.first + BigInt(this.#rng.int(size)));
    };
    if (family === 'v4') return [pick('IPv4')];
    if (family === 'v6') return [pick('IPv6')];
    return [pick('IPv4'), pick('IPv6')];
  }

  #object(namespace: string, name: { name: string } | { generateName: string }, shape: Shape): KubeObject {
    const families = shape.family === 'v6' ? ['IPv6'] : shape.family === 'v4' ? ['IPv4'] : this.#rng.chance(0.5) ? ['IPv4', 'IPv6'] : ['IPv6', 'IPv4'];
    const policy = shape.family === 'prefer' ? 'PreferDualStack' : shape.family === 'require' ? 'RequireDualStack' : 'SingleStack';
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace, ...name, annotations: shape.annotations, labels: { app: 'chaos' } },
      spec: {
        type: 'LoadBalancer',
        allocateLoadBalancerNodePorts: false,
        ipFamilyPolicy: policy,
        ipFamilies: families,
        selector: { app: 'chaos' },
        ports: shape.ports.map((p) => ({ name: `${p.protocol.toLowerCase()}-${p.port}`, protocol: p.protocol, port: p.port })),
      },
    };
  }

  async #create(fixed?: { namespace: string; name: string }): Promise<void> {
    const rng = this.#rng;
    const namespace = fixed?.namespace ?? rng.pick(NAMESPACES);
    let name: { name: string } | { generateName: string };
    if (fixed) name = { name: fixed.name };
    else {
      const free = Array.from({ length: NAMES_PER_NS }, (_, i) => `svc-${i}`).filter((n) => !this.#live.has(`${namespace}/${n}`));
      name = free.length === 0 || rng.chance(0.2) ? { generateName: 'gen-' } : { name: rng.pick(free) };
    }
    const shape = this.#shape();
    const obj = this.#object(namespace, name, shape);
    if ('name' in name) this.#touch(`${namespace}/${name.name}`);
    if ('name' in name && this.#kubectl && rng.chance(this.#kubectlShare)) {
      const r = await this.#kubectlRun(['apply', '-f', '-'], JSON.stringify(obj));
      this.#touch(`${namespace}/${name.name}`);
      if (r.code === 0) {
        const got = await this.#client.get<KubeObject>(Resources.services, name.name, namespace);
        if (got.ok) this.#remember(got.value, shape);
        this.#count('create(kubectl)', 'ok', undefined, `${namespace}/${name.name}`);
      } else this.#count('create(kubectl)', classify(r.stderr), r.stderr, `${namespace}/${name.name}`);
      return;
    }
    const r = await this.#client.create(Resources.services, obj, { namespace });
    if (r.ok) {
      this.#touch(`${namespace}/${r.value.metadata?.name}`);
      this.#remember(r.value, shape);
      this.#count('create', 'ok', undefined, `${namespace}/${r.value.metadata?.name}`);
    } else {
      if ('name' in name) this.#touch(`${namespace}/${name.name}`);
      this.#count('create', r.error.kind === 'Unavailable' ? 'unavailable' : kindOf(r.error), r.error.message, `${namespace}/${'name' in name ? name.name : 'gen-?'}`);
    }
  }

  #remember(o: KubeObject, shape: Shape): void {
    const md = o.metadata ?? {};
    const assigned = (md.annotations?.['berth.io/assigned-ips'] ?? '').split(',').filter((x) => x !== '');
    this.#live.set(`${md.namespace}/${md.name}`, {
      namespace: md.namespace ?? '',
      name: md.name ?? '',
      uid: md.uid ?? '',
      family: shape.family,
      ports: shape.ports,
      assigned,
      ...(shape.shareKey ? { shareKey: shape.shareKey } : {}),
    });
  }

  async #update(t: Live): Promise<void> {
    const rng = this.#rng;
    const key = `${t.namespace}/${t.name}`;
    const kind = rng.weighted({ label: 35, ports: 20, share: 15, request: 15, type: 15 });
    let patch: Record<string, unknown>;
    let next: Partial<Live> = {};
    if (kind === 'label') {
      // keeps the IP request as it is: the IP must not move (issue 12 defect 5)
      patch = { metadata: { labels: { churn: String(rng.int(1_000_000)) } } };
    } else if (kind === 'ports') {
      const ports = this.#ports();
      next = { ports };
      patch = { spec: { ports: ports.map((p) => ({ name: `${p.protocol.toLowerCase()}-${p.port}`, protocol: p.protocol, port: p.port })) } };
    } else if (kind === 'share') {
      const k = t.shareKey ? (rng.chance(0.5) ? null : rng.pick(SHARE_KEYS)) : rng.pick(SHARE_KEYS);
      next = k ? { shareKey: k } : {};
      if (!k) delete t.shareKey;
      patch = { metadata: { annotations: { 'metallb.io/allow-shared-ip': k } } };
    } else if (kind === 'request') {
      // ask for the IPs it has (must keep them) or for other ones
      const ips = t.assigned.length && rng.chance(0.5) ? t.assigned : this.#requestIps(t.family);
      patch = { metadata: { annotations: { 'metallb.io/loadBalancerIPs': ips.join(',') } } };
    } else {
      patch = rng.chance(0.5)
        ? { spec: { type: 'ClusterIP', allocateLoadBalancerNodePorts: null } }
        : { spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false } };
    }
    this.#touch(key);
    const r = await this.#client.patch<KubeObject>(Resources.services, t.name, patch, { namespace: t.namespace, type: PatchType.merge });
    this.#touch(key);
    if (r.ok) {
      Object.assign(t, next, { assigned: (r.value.metadata?.annotations?.['berth.io/assigned-ips'] ?? '').split(',').filter((x) => x !== '') });
      this.#count(`update(${kind})`, 'ok', undefined, key);
    } else {
      if (r.error.kind === 'NotFound') this.#live.delete(key);
      this.#count(`update(${kind})`, r.error.kind === 'Unavailable' ? 'unavailable' : kindOf(r.error), r.error.message, key);
    }
  }

  async #delete(t: Live): Promise<void> {
    const key = `${t.namespace}/${t.name}`;
    this.#touch(key);
    if (this.#kubectl && this.#rng.chance(this.#kubectlShare)) {
      const r = await this.#kubectlRun(['delete', 'service', '-n', t.namespace, t.name, '--wait=false']);
      this.#touch(key);
      this.#count('delete(kubectl)', r.code === 0 ? 'ok' : classify(r.stderr), r.stderr, key);
      if (r.code === 0 || /NotFound|not found/.test(r.stderr)) this.#live.delete(key);
      return;
    }
    const r = await this.#client.delete(Resources.services, t.name, { namespace: t.namespace });
    this.#touch(key);
    if (r.ok || r.error.kind === 'NotFound') this.#live.delete(key);
    this.#count('delete', r.ok ? 'ok' : r.error.kind === 'Unavailable' ? 'unavailable' : kindOf(r.error), r.ok ? undefined : r.error.message, key);
  }

  #kubectlRun(args: string[], input?: string): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(
        this.#kubectl!,
        [`--kubeconfig=${this.#kubeconfig}`, '--request-timeout=10s', ...args],
        { timeout: 20_000, env: { ...process.env, KUBECONFIG: this.#kubeconfig } },
        (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr: String(stderr) }),
      );
      child.stdin?.end(input ?? '');
    });
  }
}

function kindOf(e: { kind: string; message: string }): string {
  if (/denied the request/.test(e.message)) return 'denied';
  return e.kind;
}

function classify(stderr: string): string {
  if (/denied the request/.test(stderr)) return 'denied';
  if (/connection refused|unable to connect|EOF|timeout/i.test(stderr)) return 'unavailable';
  if (/AlreadyExists|already exists/.test(stderr)) return 'AlreadyExists';
  if (/NotFound|not found/.test(stderr)) return 'NotFound';
  return 'error';
}
