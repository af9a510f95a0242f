// `berth plan PATH...`: the offline twin of the admission webhook. Pools and Services from YAML, the allocator run in
// the order the objects appear, a kubectl-like table of what each Service would get — or why it would be denied.
// Same code as the webhook: src/config (pools), src/config/service.ts (Service → request), src/allocator (decision).
import { Allocator } from '../allocator/index.ts';
import type { KubeObject } from '../api/object.ts';
import { validateObjects } from '../config/index.ts';
import { isLoadBalancer, isOurClass, serviceKey, serviceRequestFrom, type ServiceLike } from '../config/service.ts';
import { DEFAULT_POLICY, loadPolicyFile, type AdmissionPolicy } from '../webhook/policy.ts';
import { exhaustedAction, pendingWarning } from '../webhook/service-policy.ts';
import { filesWithoutObjects, identity, readInputSets, type InputDoc, type InputSets } from './inputs.ts';
import { readLive } from './live.ts';
import { planLive, type LiveMode, type LivePlan } from './plan-live.ts';
import { formatLocated, locate } from './locate.ts';
import type { CliIO } from './io.ts';
import { parseFlags } from './flags.ts';
import { chooseKubeconfig, explainLiveError, labNotice } from './kubeconfig.ts';
import { serviceFieldErrors } from './service-fields.ts';
import { table } from './table.ts';

export const PLAN_USAGE = `usage: berth plan [--namespace NS] [--lb-class CLASS] [--policy FILE] [--output text|json] PATH... (PATH may be - for stdin)
       berth plan --live [--merge] [--kubeconfig FILE] [--context NAME] [same flags] PATH...
                  (kubeconfig as berth status: --kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster, .lab/dev/kubeconfig)
  Inputs are read as berth validate reads them: every kustomize root in a folder (gitops/dev, gitops/prod) is its own
  configuration, with what its resources/components/bases list and its namespace: applied (patches are not); the
  other files and - are planned with each root (berth plan gitops/dev examples/services), or alone when there is no
  root. Several roots give one plan each (text: a "DIR (kustomize root):" line before each; json: {"sets": [...]}).
  --policy FILE   admission policy JSON, as the webhook's --policy (default policies/admission.json of this checkout)
  --live          plan PATH's pools against the live cluster's Services and claims: who keeps its IPs, who would be
                  orphaned (the webhook would deny that change; exit 1), what Services without an IP would get.
                  PATH is taken as the whole configuration: a live pool it lacks counts as deleted (kubectl apply
                  --prune, Argo CD sync with prune). PATH's objects are checked with the live ones they do not replace,
                  as the webhook checks them when applied (a pool overlapping a live pool is refused; exit 1)
  --merge         with --live: PATH is applied over the live configuration, nothing is deleted (kubectl apply)`;

export interface PlanRow {
  namespace: string;
  name: string;
  source: string;
  pool?: string;
  ips: string[];
  denied?: { code: string; message: string };
  /** Admitted without an IP, as the webhook does when the admission policy says `pending` for the failure. */
  pending?: { code: string; message: string };
  /** The admission warnings kubectl would print (`Warning: ...`). */
  warnings: string[];
}

export function runPlan(argv: readonly string[], io: CliIO): number | Promise<number> {
  const f = parseFlags(argv, {
    namespace: 'string',
    output: 'string',
    o: 'string',
    'lb-class': 'string',
    policy: 'string',
    live: 'boolean',
    merge: 'boolean',
    kubeconfig: 'string',
    context: 'string',
  });
  if (!f.ok) return io.usage(`${f.message}\n${PLAN_USAGE}`);
  const output = f.values.output ?? f.values.o ?? 'text';
  if (output !== 'text' && output !== 'json') return io.usage(`--output must be text or json, not "${output}"`);
  if (f.args.length === 0) return io.usage(PLAN_USAGE);
  const read = readInputSets(f.args, io.readStdin, 'plan');
  if (read.errors.length > 0) {
    for (const e of read.errors) io.err(`berth plan: ${e}`);
    io.err(`berth plan: ${read.errors.length} input(s) could not be read (named above); nothing was planned`);
    return 2;
  }
  for (const w of read.warnings) io.err(`warning: ${w}`);
  const worlds = planWorlds(read);
  // LB_NO_OBJECTS (Helm values...): a warning, and exit 1 when no planned configuration holds a metallb.io object.
  const noObjects = filesWithoutObjects(read.sets.flatMap((s) => s.docs), 'plan');
  for (const n of noObjects) io.err(`warning: ${n.file}:${n.line}: ${n.message}`);
  const noConfig = noObjects.length > 0 && !worlds.some((w) => w.docs.some((d) => String(d.object.apiVersion).startsWith('metallb.io/')));
  const policy = loadPolicyFile(f.values.policy);
  if (!policy.ok) {
    io.err(`berth plan: --policy: ${policy.message}`);
    return 2;
  }
  const namespace = f.values.namespace ?? 'metallb-system';
  if (f.values.live === 'true') {
    return runPlanLive(worlds, io, {
      namespace,
      output,
      lbClass: f.values['lb-class'],
      policy: policy.policy,
      kubeconfig: f.values.kubeconfig,
      context: f.values.context,
      mode: f.values.merge === 'true' ? 'merge' : 'replace',
    });
  }
  if (f.values.kubeconfig !== undefined || f.values.context !== undefined || f.values.merge !== undefined) {
    return io.usage(`--kubeconfig, --context and --merge go with --live\n${PLAN_USAGE}`);
  }
  const results = worlds.map((w) => ({
    world: w,
    result: plan(w.docs, { namespace, lbClass: f.values['lb-class'], policy: policy.policy }),
  }));
  if (output === 'json') {
    const one = (x: (typeof results)[number]) => ({ ...(x.world.label !== undefined ? { path: x.world.label } : {}), ...x.result });
    io.out(toJson(results.length === 1 ? one(results[0]!) : { sets: results.map(one) }));
  } else {
    results.forEach(({ world, result }, i) => {
      if (results.length > 1) {
        if (i > 0) io.out('');
        io.out(`${world.label ?? ''} (kustomize root):`);
      }
      printPlan(result, io, world.label);
    });
  }
  let code = noConfig ? 1 : 0;
  for (const { result } of results) {
    if (result.problems.length > 0 || result.services.some((r) => r.denied)) code = 1;
  }
  return code;
}

/**
 * The configurations `berth plan` decides in (`readInputSets` of the arguments): one per kustomize root, each made of
 * the root's documents followed by the loose inputs (files, `-`, folders without a kustomization), so Services kept
 * outside the overlay are planned against every root's pools; the loose inputs alone when there is no root. Roots are
 * never merged: gitops/dev and gitops/prod are two plans, as they are two clusters. Roots holding no metallb.io object
 * and no Service (gitops/argocd/apps/*) are left out unless every root is such.
 */
export function planWorlds(read: InputSets): Array<{ label?: string; docs: InputDoc[] }> {
  const loose = read.sets.filter((s) => s.label === undefined).flatMap((s) => s.docs);
  const all = read.sets.filter((s) => s.label !== undefined);
  // Roots with nothing berth plans (gitops/argocd/apps/*: Argo CD Applications) are left out when others remain.
  const planned = all.filter((r) => r.docs.some((d) => isPlanned(d.object)));
  const roots = planned.length > 0 ? planned : all;
  if (roots.length === 0) return [{ docs: loose }];
  return roots.map((r) => ({ label: r.label!, docs: [...r.docs, ...loose] }));
}

function isPlanned(o: Record<string, unknown>): boolean {
  return (typeof o.apiVersion === 'string' && o.apiVersion.startsWith('metallb.io/')) || (o.apiVersion === 'v1' && o.kind === 'Service');
}

/** The text output of one plan: the Services' table and pool usage on stdout, problems and warnings as before. */
function printPlan(result: PlanResult, io: CliIO, label: string | undefined): void {
  const where = label !== undefined ? ` (${label})` : '';
  if (result.problems.length > 0) {
    for (const p of result.problems) io.out(p);
    io.err(`berth plan${where}: the configuration is invalid (${result.problems.length} problem(s)); nothing was planned`);
    return;
  }
  const rows = result.services.map((r) => [
    r.namespace,
    r.name,
    r.pool ?? '-',
    r.denied ? '<denied>' : r.pending ? '<pending>' : r.ips.join(','),
    r.denied ? `${r.denied.code}: ${r.denied.message}` : r.pending ? `${r.pending.code}: ${r.pending.message}` : '',
  ]);
  io.out(table(['NAMESPACE', 'NAME', 'POOL', 'EXTERNAL-IP', 'REASON'], rows));
  if (result.pools.length > 0) {
    io.out('');
    io.out(
      table(
        ['POOL', 'IPV4 IN USE', 'IPV6 IN USE'],
        result.pools.map((p) => [p.pool, `${p.ipv4InUse}/${p.ipv4Total}`, `${p.ipv6InUse}/${p.ipv6Total}`]),
      ),
    );
  }
  for (const r of result.services) for (const w of r.warnings) io.err(`warning${where}: ${r.namespace}/${r.name}: ${w}`);
}

/** Per-pool usage. Totals are exact bigints (a /64 has 2^64 addresses); `--output json` prints them as JSON numbers. */
export interface PlanPool {
  pool: string;
  ipv4InUse: number;
  ipv4Total: bigint;
  ipv6InUse: number;
  ipv6Total: bigint;
}

export interface PlanResult {
  problems: string[];
  services: PlanRow[];
  pools: PlanPool[];
}

/** Options of plan(): berth's namespace, the Services' loadBalancerClass, the admission policy (default DEFAULT_POLICY). */
export interface PlanOptions {
  namespace: string;
  lbClass?: string | undefined;
  policy?: AdmissionPolicy;
}

/**
 * What the admission webhook would decide for each LoadBalancer Service of the documents, in document order, against
 * the pools of the same documents: IPs and pool, or denied, or admitted as <pending> (admission policy `pending` for
 * the failure, with the webhook's warning from pendingWarning). An invalid configuration plans nothing (`problems`).
 */
export function plan(docs: readonly InputDoc[], opts: PlanOptions): PlanResult {
  const policy = opts.policy ?? DEFAULT_POLICY;
  const objects = docs.map((d) => d.object as KubeObject);
  const namespaces = namespacesOf(objects);
  const built = validateObjects(objects, { namespace: opts.namespace, namespaces });
  if (!built.config) {
    return {
      problems: built.problems.map((p) => formatLocated(locate(p, docs))),
      services: [],
      pools: [],
    };
  }
  const alloc = new Allocator();
  alloc.setPools(built.config.pools);
  const services: PlanRow[] = [];
  for (const d of docs) {
    const o = d.object;
    if (o.kind !== 'Service' || o.apiVersion !== 'v1') continue;
    const svc = o as ServiceLike;
    if (!isOurClass(svc, opts.lbClass)) continue;
    // What the API server would refuse (port 0, protocol HTTP, type Loadbalancer, ...): denied with its field errors.
    const fieldErrors = serviceFieldErrors(svc);
    if (fieldErrors.length === 0 && !isLoadBalancer(svc)) continue;
    const key = serviceKey(svc);
    const [ns, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const source = `${d.file}:${d.line}`;
    if (fieldErrors.length > 0) {
      alloc.release(key);
      services.push({ namespace: ns, name, source, ips: [], denied: { code: 'LB_BAD_SERVICE', message: fieldErrors.join('; ') }, warnings: [] });
      continue;
    }
    const r = serviceRequestFrom(svc);
    if (!r.ok) {
      alloc.release(key);
      services.push({ namespace: ns, name, source, ips: [], denied: { code: r.code, message: r.message }, warnings: [] });
      continue;
    }
    const a = alloc.allocate(key, r.req);
    if (a.ok) services.push({ namespace: ns, name, source, pool: a.pool, ips: [...a.ips], warnings: r.warnings });
    else if (exhaustedAction(policy, a.code) === 'pending') {
      const warnings = [...r.warnings, pendingWarning(a.code, a.message)];
      services.push({ namespace: ns, name, source, ips: [], pending: { code: a.code, message: a.message }, warnings });
    } else services.push({ namespace: ns, name, source, ips: [], denied: { code: a.code, message: a.message }, warnings: r.warnings });
  }
  // A later document for the same Service replaces the earlier row (like a second kubectl apply).
  const last = new Map<string, PlanRow>();
  for (const r of services) last.set(`${r.namespace}/${r.name}`, r);
  return {
    problems: [],
    services: [...last.values()],
    pools: alloc.stats().map((s) => ({
      pool: s.pool,
      ipv4InUse: s.ipv4InUse,
      ipv4Total: s.ipv4Total,
      ipv6InUse: s.ipv6InUse,
      ipv6Total: s.ipv6Total,
    })),
  };
}

async function runPlanLive(
  worlds: ReadonlyArray<{ label?: string; docs: InputDoc[] }>,
  io: CliIO,
  o: {
    namespace: string;
    output: string;
    lbClass: string | undefined;
    policy: AdmissionPolicy;
    kubeconfig: string | undefined;
    context: string | undefined;
    mode: LiveMode;
  },
): Promise<number> {
  const kc = chooseKubeconfig(o.kubeconfig);
  const notice = labNotice(kc);
  if (notice) io.err(`berth plan --live: ${notice}`);
  const read = await readLive({ kubeconfig: kc.path, context: o.context, namespace: o.namespace });
  if (!read.ok) {
    io.err(`berth plan --live: ${explainLiveError(read.message, kc)}`);
    return 1;
  }
  const snapshot = read.snapshot;
  const results = worlds.map((w) => ({ world: w, result: planLive(w.docs, snapshot, { lbClass: o.lbClass, policy: o.policy, mode: o.mode }) }));
  if (o.output === 'json') {
    const one = (x: (typeof results)[number]) => ({ ...(x.world.label !== undefined ? { path: x.world.label } : {}), ...x.result });
    io.out(toJson(results.length === 1 ? one(results[0]!) : { sets: results.map(one) }));
  }
  let code = 0;
  results.forEach(({ world, result }, i) => {
    if (result.problems.length > 0 || result.orphaned > 0 || result.rows.some((r) => r.change === 'denied')) code = 1;
    if (o.output === 'json') return;
    const where = world.label !== undefined ? ` (${world.label})` : '';
    if (results.length > 1) {
      if (i > 0) io.out('');
      io.out(`${world.label ?? ''} (kustomize root):`);
    }
    io.err(`berth plan --live${where}: ${liveAssumption(result)}`);
    if (result.problems.length > 0) {
      for (const p of result.problems) io.out(p);
      io.err(
        result.liveConflict
          ? `berth plan --live${where}: the webhook would refuse the input (${result.problems.length} problem(s) with the live objects it does not replace: kubectl apply, with or without --prune, applies it while they still exist); nothing was planned`
          : `berth plan --live${where}: the configuration is invalid (${result.problems.length} problem(s)); nothing was planned`,
      );
      return;
    }
    io.out(
      table(
        ['NAMESPACE', 'NAME', 'NOW', 'NEXT', 'CHANGE', 'POOL', 'REASON'],
        result.rows.map((r) => [
          r.namespace,
          r.name,
          r.now.join(',') || '<none>',
          r.next.join(',') || (r.change === 'orphaned' || r.change === 'denied' ? '<none>' : '<pending>'),
          r.change,
          r.pool ?? '-',
          r.reason ? `${r.reason.code}: ${r.reason.message}` : '',
        ]),
      ),
    );
    if (result.orphaned > 0) io.err(`berth plan --live${where}: ${result.orphaned} Service(s) would be orphaned: the webhook would deny this change`);
  });
  return code;
}

/** The reading of the input a live plan assumed (LiveMode), with the live pools it does not name. */
function liveAssumption(r: LivePlan): string {
  const pools = r.unlistedPools.map((p) => JSON.stringify(p)).join(', ');
  if (r.mode === 'merge') {
    return (
      `the input is applied over the live configuration, nothing deleted (--merge: kubectl apply without --prune)` +
      (pools ? `; live pool(s) ${pools}, not in it, are kept` : '')
    );
  }
  return (
    `the input is taken as the whole configuration (kubectl apply --prune, Argo CD sync with prune)` +
    (pools ? `: live pool(s) ${pools}, not in it, count as deleted; --merge plans kubectl apply without --prune instead` : '')
  );
}

/**
 * JSON with bigints written as exact JSON numbers (JSON.stringify refuses bigints; a string would not be a number).
 * JavaScript's JSON.parse rounds numbers above 2^53; jq, Python and Go's json.Number keep them exact.
 */
export function toJson(value: unknown): string {
  const mark = '\u0000bigint:';
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${mark}${v}` : v), 2);
  return text.replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** Namespaces known offline: Namespace objects (with labels) plus every namespace a Service names. */
function namespacesOf(objects: readonly KubeObject[]): Array<{ name: string; labels: Record<string, string> }> {
  const out = new Map<string, Record<string, string>>();
  for (const o of objects) {
    if (o.kind === 'Namespace' && o.apiVersion === 'v1' && o.metadata?.name) {
      out.set(o.metadata.name, { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name });
    }
  }
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const ns = o.metadata?.namespace || 'default';
    if (!out.has(ns)) out.set(ns, { 'kubernetes.io/metadata.name': ns });
  }
  return [...out].map(([name, labels]) => ({ name, labels }));
}

export { identity };
