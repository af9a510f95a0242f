// berth's own TLS bootstrap (when cert-manager is not used): the CA and serving certificate live in one Secret shared
// by every replica (the first replica to start creates it; a 409 means another one won: use theirs), and the CA is
// written into the caBundle of berth's webhook configurations at startup. Renewal keeps the CA, so the caBundle does
// not change when the serving certificate does. I/O is injected (main.ts wires it to the API server).
import type { KubeObject } from '../api/object.ts';
import { bundleHasCa, caUsable, createCa, issueServing, renewalReason, type ServingNames, type TlsMaterial } from './tls.ts';

/** Secret data keys: kubernetes.io/tls's pair plus the CA (MetalLB's cert-controller uses the same names). */
export const SECRET_KEYS = { ca: 'ca.crt', caKey: 'ca.key', cert: 'tls.crt', key: 'tls.key' } as const;

export interface SecretIo {
  /** The Secret's data, base64-decoded, or undefined when it does not exist. */
  read(): Promise<{ data: Record<string, string>; resourceVersion?: string } | undefined>;
  create(data: Record<string, string>): Promise<'ok' | 'exists'>;
  replace(data: Record<string, string>, resourceVersion: string | undefined): Promise<'ok' | 'conflict'>;
}

export function materialFrom(data: Record<string, string>): TlsMaterial | undefined {
  const caPem = data[SECRET_KEYS.ca];
  const certPem = data[SECRET_KEYS.cert];
  const keyPem = data[SECRET_KEYS.key];
  if (!caPem || !certPem || !keyPem) return undefined;
  const caKeyPem = data[SECRET_KEYS.caKey];
  return { caPem, certPem, keyPem, ...(caKeyPem ? { caKeyPem } : {}) };
}

function dataOf(m: TlsMaterial): Record<string, string> {
  return {
    [SECRET_KEYS.ca]: m.caPem,
    ...(m.caKeyPem ? { [SECRET_KEYS.caKey]: m.caKeyPem } : {}),
    [SECRET_KEYS.cert]: m.certPem,
    [SECRET_KEYS.key]: m.keyPem,
  };
}

export type EnsureAction = 'reused' | 'created' | 'renewed';

/**
 * The serving material from the Secret, creating or renewing it when missing, unusable or close to expiry.
 * The CA is kept while it is valid for longer than a serving certificate, so renewals never change the caBundle.
 */
export async function ensureTls(
  io: SecretIo,
  names: ServingNames,
  now: () => Date,
  opts: { renewBeforeDays?: number; certDays?: number } = {},
): Promise<{ material: TlsMaterial; action: EnsureAction; reason?: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await io.read();
    const have = cur ? materialFrom(cur.data) : undefined;
    const reason = have ? renewalReason(have, names, now(), opts.renewBeforeDays) : 'no certificate yet';
    if (have && !reason) return { material: have, action: 'reused' };
    const keepCa = have?.caKeyPem !== undefined && caUsable(have.caPem, now(), (opts.certDays ?? 365) + 30);
    const ca = keepCa ? { caPem: have!.caPem, caKeyPem: have!.caKeyPem! } : await createCa(now());
    const next = await issueServing(ca, names, now(), opts.certDays);
    if (!cur) {
      if ((await io.create(dataOf(next))) === 'ok') return { material: next, action: 'created', reason: reason! };
    } else if ((await io.replace(dataOf(next), cur.resourceVersion)) === 'ok') {
      return { material: next, action: 'renewed', reason: reason! };
    }
    // Another replica wrote the Secret between our read and write: read theirs.
  }
  throw new Error('webhook certificate Secret kept changing under concurrent writers');
}

export interface WebhookConfigRef {
  readonly kind: 'MutatingWebhookConfiguration' | 'ValidatingWebhookConfiguration';
  readonly name: string;
}

export interface WebhookConfigIo {
  get(ref: WebhookConfigRef): Promise<KubeObject | undefined>;
  /** PUT with the object's resourceVersion. */
  replace(ref: WebhookConfigRef, obj: KubeObject): Promise<'ok' | 'conflict' | 'notfound'>;
}

interface WebhookEntry {
  name?: string;
  clientConfig?: { caBundle?: string };
}

function webhooksOf(obj: KubeObject): WebhookEntry[] {
  const w = (obj as unknown as { webhooks?: unknown }).webhooks;
  return Array.isArray(w) ? (w as WebhookEntry[]) : [];
}

function decodeBundle(b64: string | undefined): string {
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : '';
}

/** Does every webhook of the configuration trust the CA? Returns the reasons it does not. */
export function caBundleProblems(ref: WebhookConfigRef, obj: KubeObject | undefined, caPem: string): string[] {
  if (!obj) return [`${ref.kind} ${ref.name} does not exist`];
  const hooks = webhooksOf(obj);
  if (hooks.length === 0) return [`${ref.kind} ${ref.name} has no webhooks`];
  return hooks
    .filter((h) => !bundleHasCa(decodeBundle(h.clientConfig?.caBundle), caPem))
    .map((h) => `webhook ${h.name ?? '?'} of ${ref.kind} ${ref.name} does not have the serving CA in its caBundle`);
}

/**
 * Writes the CA into every webhook's clientConfig.caBundle of the configurations (read-modify-write with the read
 * resourceVersion; 409 → re-read). Configurations that do not exist yet are reported, not created (GitOps owns them).
 */
export async function injectCaBundle(
  io: WebhookConfigIo,
  refs: readonly WebhookConfigRef[],
  caPem: string,
): Promise<{ patched: string[]; unchanged: string[]; missing: string[] }> {
  const out = { patched: [] as string[], unchanged: [] as string[], missing: [] as string[] };
  const bundle = Buffer.from(caPem).toString('base64');
  for (const ref of refs) {
    const label = `${ref.kind}/${ref.name}`;
    let done = false;
    for (let attempt = 0; attempt < 5 && !done; attempt++) {
      const obj = await io.get(ref);
      if (!obj) {
        out.missing.push(label);
        done = true;
        break;
      }
      if (caBundleProblems(ref, obj, caPem).length === 0) {
        out.unchanged.push(label);
        done = true;
        break;
      }
      const next = structuredClone(obj) as KubeObject & { webhooks?: WebhookEntry[] };
      for (const h of next.webhooks ?? []) h.clientConfig = { ...h.clientConfig, caBundle: bundle };
      const r = await io.replace(ref, next);
      if (r === 'ok') {
        out.patched.push(label);
        done = true;
      } else if (r === 'notfound') {
        out.missing.push(label);
        done = true;
      }
    }
    if (!done) throw new Error(`${label} kept changing while its caBundle was being written`);
  }
  return out;
}
