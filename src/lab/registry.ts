// What the lab serves: built-in resources plus those of every CustomResourceDefinition stored in it.
// Discovery, routing and the store all read this one registry, so a CRD is served the moment it is stored.
import { builtinResources } from './builtin-resources.ts';
import { isPlainObject, type KubeObject, type PrinterColumn, type ResourceType } from './types.ts';

/** Kubernetes version priority (apimachinery/pkg/version/helpers.go): GA > beta > alpha, then higher numbers. */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return undefined;
    const level = m[2] === 'alpha' ? 0 : m[2] === 'beta' ? 1 : 2;
    return { major: Number(m[1]), level, minor: m[3] ? Number(m[3]) : 0 };
  };
  const pa = parse(a);
  const pb = parse(b);
  if (pa && !pb) return -1;
  if (!pa && pb) return 1;
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.level !== pb.level) return pb.level - pa.level;
  if (pa.major !== pb.major) return pb.major - pa.major;
  return pb.minor - pa.minor;
}

export interface GroupInfo {
  name: string;
  versions: string[];
  preferred: string;
}

export class Registry {
  private readonly builtins: ResourceType[];
  private crdTypes = new Map<string, ResourceType>(); // crd name -> type

  constructor() {
    this.builtins = builtinResources();
  }

  all(): ResourceType[] {
    return [...this.builtins, ...this.crdTypes.values()];
  }

  /** The resource served at group/version/plural, if any. */
  resolve(group: string, version: string, plural: string): ResourceType | undefined {
    for (const r of this.all()) {
      if (r.group === group && r.plural === plural && r.versions.includes(version)) return r;
    }
    return undefined;
  }

  byKind(group: string, kind: string): ResourceType | undefined {
    return this.all().find((r) => r.group === group && r.kind === kind);
  }

  /** Types stored under a store key (several views may share one bucket). */
  byStoreKey(key: string): ResourceType[] {
    return this.all().filter((r) => r.storeKey === key);
  }

  groupVersionServed(group: string, version: string): boolean {
    return this.all().some((r) => r.group === group && r.versions.includes(version));
  }

  groups(): GroupInfo[] {
    const byGroup = new Map<string, Set<string>>();
    for (const r of this.all()) {
      if (!r.group) continue;
      let s = byGroup.get(r.group);
      if (!s) byGroup.set(r.group, (s = new Set()));
      for (const v of r.versions) s.add(v);
    }
    const out: GroupInfo[] = [];
    for (const [name, vs] of byGroup) {
      const versions = [...vs].sort(compareKubeVersions);
      out.push({ name, versions, preferred: versions[0]! });
    }
    // Built-in groups first in a fixed order, then CRD groups by name (kube-apiserver orders by priority).
    const order = new Map(this.builtins.filter((r) => r.group).map((r, i) => [r.group, i]));
    return out.sort((a, b) => (order.get(a.name) ?? 1e6) - (order.get(b.name) ?? 1e6) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  resourcesIn(group: string, version: string): ResourceType[] {
    return this.all().filter((r) => r.group === group && r.versions.includes(version));
  }

  /** Registers (or re-registers) the resource of a stored CRD. Returns the type, or undefined when not servable. */
  applyCrd(crd: KubeObject): ResourceType | undefined {
    const name = crd.metadata.name ?? '';
    const t = crdToType(crd);
    if (!t || this.builtins.some((b) => b.group === t.group && b.plural === t.plural)) {
      this.crdTypes.delete(name);
      return undefined;
    }
    this.crdTypes.set(name, t);
    return t;
  }

  removeCrd(name: string): ResourceType | undefined {
    const t = this.crdTypes.get(name);
    this.crdTypes.delete(name);
    return t;
  }

  crdType(name: string): ResourceType | undefined {
    return this.crdTypes.get(name);
  }
}

/** The ResourceType a CRD describes (served versions only), or undefined if it serves nothing. */
export function crdToType(crd: KubeObject): ResourceType | undefined {
  const spec = crd['spec'];
  if (!isPlainObject(spec)) return undefined;
  const group = typeof spec['group'] === 'string' ? spec['group'] : '';
  const names = isPlainObject(spec['names']) ? spec['names'] : {};
  const plural = typeof names['plural'] === 'string' ? names['plural'] : '';
  const kind = typeof names['kind'] === 'string' ? names['kind'] : '';
  if (!group || !plural || !kind) return undefined;
  const versions = Array.isArray(spec['versions']) ? spec['versions'].filter(isPlainObject) : [];
  const served = versions.filter((v) => v['served'] === true && typeof v['name'] === 'string');
  if (served.length === 0) return undefined;
  const storage = versions.find((v) => v['storage'] === true && typeof v['name'] === 'string');
  const printerColumns: Record<string, PrinterColumn[]> = {};
  const schemas: Record<string, unknown> = {};
  let status = false;
  for (const v of served) {
    const subs = v['subresources'];
    if (isPlainObject(subs) && subs['status'] !== undefined) status = true;
    const cols = v['additionalPrinterColumns'];
    if (Array.isArray(cols)) printerColumns[v['name'] as string] = cols.filter(isPlainObject) as unknown as PrinterColumn[];
    const sch = v['schema'];
    if (isPlainObject(sch) && isPlainObject(sch['openAPIV3Schema'])) schemas[v['name'] as string] = sch['openAPIV3Schema'];
  }
  const vnames = served.map((v) => v['name'] as string).sort(compareKubeVersions);
  const strList = (x: unknown) => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return {
    group,
    plural,
    singular: typeof names['singular'] === 'string' && names['singular'] ? names['singular'] : kind.toLowerCase(),
    kind,
    listKind: typeof names['listKind'] === 'string' && names['listKind'] ? names['listKind'] : `${kind}List`,
    namespaced: spec['scope'] !== 'Cluster',
    shortNames: strList(names['shortNames']),
    categories: strList(names['categories']),
    versions: vnames,
    storageVersion: (storage?.['name'] as string | undefined) ?? vnames[0]!,
    verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
    statusSubresource: status,
    storeKey: `${group}/${plural}`,
    strategic: false,
    crd: crd.metadata.name ?? `${plural}.${group}`,
    printerColumns,
    schemas,
    generation: true,
    nameRule: 'dns1123-subdomain',
    allowCreateOnUpdate: false,
    requireResourceVersionOnUpdate: true,
  };
}
