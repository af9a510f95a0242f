// Which kubeconfig `berth status` and `berth plan --live` use when --kubeconfig is not given: first what kubectl would
// use, then the lab's. In order:
//   1. --kubeconfig FILE
//   2. $KUBECONFIG (colon-separated files, as kubectl; set means used, even when the files are missing)
//   3. ~/.kube/config ($HOME/.kube/config)
//   4. in-cluster (the Pod's service account: $KUBERNETES_SERVICE_HOST and its token file)
//   5. the embedded lab's kubeconfig, the one `npm start` / `berth lab` prints: .lab/dev/kubeconfig under the current
//      directory, then under this checkout
// 2-4 are what src/kube/kubeconfig.ts loadClusterAccess does without a file; this module only adds 5 by handing it
// the lab's file when 1-4 find nothing.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** The lab's kubeconfig, relative to a directory (src/cli/lab.ts default --dir .lab/dev; src/lab/server.ts writes it). */
export const LAB_KUBECONFIG = join('.lab', 'dev', 'kubeconfig');

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export type KubeconfigSource = 'flag' | 'KUBECONFIG' | 'home' | 'in-cluster' | 'lab' | 'none';

export interface KubeconfigChoice {
  source: KubeconfigSource;
  /** The file to pass to src/kube (only for `flag` and `lab`; the others are found by src/kube itself). */
  path?: string;
  /** For messages: `kubeconfig .lab/dev/kubeconfig (the lab's)`, `$KUBECONFIG`, ... */
  describe: string;
}

export interface ChooseOptions {
  env?: NodeJS.ProcessEnv;
  /** Default: the current directory. */
  cwd?: string;
  /** The checkout whose .lab/dev holds the lab (default: the one this file is in). */
  checkout?: string;
  /** The service account token file of in-cluster access. */
  serviceAccountToken?: string;
  exists?: (path: string) => boolean;
}

/**
 * Picks the kubeconfig by the order of the file comment. Never throws; `none` when nothing is found (src/kube then
 * reports "no kubeconfig ...").
 */
export function chooseKubeconfig(flag: string | undefined, o: ChooseOptions = {}): KubeconfigChoice {
  const env = o.env ?? process.env;
  const exists = o.exists ?? existsSync;
  const cwd = o.cwd ?? process.cwd();
  if (flag !== undefined && flag !== '') return { source: 'flag', path: flag, describe: `kubeconfig ${flag}` };
  if (env.KUBECONFIG) return { source: 'KUBECONFIG', describe: `$KUBECONFIG (${env.KUBECONFIG})` };
  const home = join(env.HOME || homedir(), '.kube', 'config');
  if (exists(home)) return { source: 'home', describe: `kubeconfig ${home}` };
  if (env.KUBERNETES_SERVICE_HOST && exists(o.serviceAccountToken ?? SA_TOKEN)) return { source: 'in-cluster', describe: 'the in-cluster service account' };
  for (const dir of [cwd, o.checkout ?? CHECKOUT]) {
    const p = resolve(dir, LAB_KUBECONFIG);
    if (exists(p)) {
      const shown = relative(cwd, p);
      return { source: 'lab', path: p, describe: `the lab's kubeconfig ${shown.startsWith('..') ? p : shown}` };
    }
  }
  return { source: 'none', describe: `no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster, ${LAB_KUBECONFIG} of \`npm start\`)` };
}

/** One line for stderr when the lab's kubeconfig was picked (a user with no kubeconfig should see which cluster answered). */
export function labNotice(c: KubeconfigChoice): string | undefined {
  return c.source === 'lab' ? `using ${c.describe} (no --kubeconfig, $KUBECONFIG or ~/.kube/config)` : undefined;
}

/**
 * Why the file at `path` is not a kubeconfig (kubectl's `kind: Config` with `clusters`, `contexts`, `users` and a
 * `current-context`), naming the path and what is missing; undefined when it has those (or cannot be read or parsed:
 * src/kube's own message says so). `read` is for tests. Never throws.
 */
export function kubeconfigFileProblem(path: string, read: (p: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(read(path));
  } catch {
    return undefined;
  }
  const want = 'a kubeconfig has clusters, contexts, users and current-context';
  if (doc === null || doc === undefined) return `${path} is not a kubeconfig: it is empty (${want})`;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return `${path} is not a kubeconfig: it is ${Array.isArray(doc) ? 'a YAML list' : 'plain text'}, not a YAML mapping (${want})`;
  }
  const o = doc as Record<string, unknown>;
  const missing = ['clusters', 'contexts', 'users'].filter((k) => !Array.isArray(o[k]) || (o[k] as unknown[]).length === 0);
  if (typeof o['current-context'] !== 'string' || o['current-context'] === '') missing.push('current-context');
  if (missing.length === 0) return undefined;
  const kind = o['kind'] === 'Config' ? '' : `kind ${o['kind'] === undefined ? 'missing' : JSON.stringify(o['kind'])} (not Config), `;
  return `${path} is not a usable kubeconfig: ${kind}no ${missing.join(', no ')} (${want})`;
}

/** A connection/list error, with where the kubeconfig came from and, for the lab's, whether the lab is running. */
export function explainLiveError(message: string, c: KubeconfigChoice): string {
  // src/kube reports a file that is no kubeconfig at all as `context "" not found`: say what the file lacks.
  if (c.path && /^kubeconfig .*: context ".*" not found$/.test(message)) return kubeconfigFileProblem(c.path) ?? message;
  if (c.source === 'none') return `${message}; looked for ${c.describe.replace(/^no kubeconfig /, '')}`;
  if (c.source === 'KUBECONFIG' && /^no kubeconfig/.test(message)) return `${c.describe} names no file that exists (unset it to use ~/.kube/config or the lab's)`;
  if (c.source === 'lab' && /ECONNREFUSED|connect|socket hang up|timed? ?out/i.test(message)) {
    return `${message} (${c.describe}: is the lab running? \`npm start\`)`;
  }
  return message;
}
