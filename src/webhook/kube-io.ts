// The webhook's API-server edge, over berth's KubeClient (src/kube): its certificate Secret, its webhook
// configurations (caBundle), and live lists of the metallb.io objects a CR validation needs. Only main.ts uses it.
import type { KubeObject } from '../api/object.ts';
import type { LabelledName } from '../config/types.ts';
import type { KubeClient, KubeObject as ClientObject } from '../kube/client.ts';
import { Resources, type Resource } from '../kube/resources.ts';
import type { SecretIo, WebhookConfigIo, WebhookConfigRef } from './cert-bootstrap.ts';

function fail(what: string, e: { message: string }): Error {
  return new Error(`${what}: ${e.message}`);
}

export function secretIo(client: KubeClient, namespace: string, name: string): SecretIo {
  const r = Resources.secrets;
  const encode = (data: Record<string, string>) =>
    Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  const body = (data: Record<string, string>, resourceVersion?: string): ClientObject => ({
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'berth', 'app.kubernetes.io/component': 'webhook' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    type: 'kubernetes.io/tls',
    data: encode(data),
  });
  return {
    async read() {
      const res = await client.get<{ data?: Record<string, string>; metadata?: { resourceVersion?: string } }>(r, name, namespace);
      if (!res.ok) {
        if (res.error.kind === 'NotFound') return undefined;
        throw fail(`reading Secret ${namespace}/${name}`, res.error);
      }
      const data = Object.fromEntries(
        Object.entries(res.value.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
      return { data, ...(res.value.metadata?.resourceVersion ? { resourceVersion: res.value.metadata.resourceVersion } : {}) };
    },
    async create(data) {
      const res = await client.create(r, body(data), { namespace });
      if (res.ok) return 'ok';
      if (res.error.kind === 'AlreadyExists' || res.error.status === 409) return 'exists';
      throw fail(`creating Secret ${namespace}/${name}`, res.error);
    },
    async replace(data, resourceVersion) {
      const res = await client.replace(r, body(data, resourceVersion));
      if (res.ok) return 'ok';
      if (res.error.status === 409 || res.error.kind === 'NotFound') return 'conflict';
      throw fail(`replacing Secret ${namespace}/${name}`, res.error);
    },
  };
}

/** The resource of a webhook configuration kind (admissionregistration.k8s.io/v1). */
export function configResource(ref: WebhookConfigRef): Resource {
  return ref.kind === 'MutatingWebhookConfiguration'
    ? Resources.mutatingWebhookConfigurations
    : Resources.validatingWebhookConfigurations;
}

export function webhookConfigIo(client: KubeClient): WebhookConfigIo {
  return {
    async get(ref) {
      const res = await client.get<KubeObject>(configResource(ref), ref.name);
      if (res.ok) return res.value;
      if (res.error.kind === 'NotFound') return undefined;
      throw fail(`reading ${ref.kind} ${ref.name}`, res.error);
    },
    async replace(ref, obj) {
      const res = await client.replace(configResource(ref), obj as unknown as ClientObject);
      if (res.ok) return 'ok';
      if (res.error.kind === 'NotFound') return 'notfound';
      if (res.error.status === 409) return 'conflict';
      throw fail(`writing the caBundle of ${ref.kind} ${ref.name}`, res.error);
    },
  };
}

const CONFIG_RESOURCES: readonly Resource[] = [
  Resources.ipAddressPools,
  Resources.l2Advertisements,
  Resources.bgpAdvertisements,
  Resources.bgpPeers,
  Resources.communities,
  Resources.bfdProfiles,
];

/** Every metallb.io configuration object in the namespace, listed live (MetalLB's webhooks list, not cache). */
export async function listConfigObjects(client: KubeClient, namespace: string): Promise<KubeObject[]> {
  const lists = await Promise.all(
    CONFIG_RESOURCES.map(async (r) => {
      const res = await client.list<KubeObject>(r, { namespace });
      if (res.ok) return res.value.items.map((o) => ({ ...o, apiVersion: o.apiVersion ?? `${r.group}/${r.version}`, kind: o.kind ?? r.kind }));
      // A CRD that is not installed (e.g. no BGP) means no object of that kind.
      if (res.error.kind === 'NotFound') return [];
      throw fail(`listing ${r.plural} in ${namespace}`, res.error);
    }),
  );
  return lists.flat();
}

export function namesOf(objs: readonly ClientObject[]): LabelledName[] {
  return objs
    .filter((o) => o.metadata?.name)
    .map((o) => ({ name: o.metadata!.name!, labels: { ...(o.metadata?.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata!.name! } }));
}
