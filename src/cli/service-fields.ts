// The Service field checks of the API server that decide whether `kubectl apply` of a LoadBalancer Service can
// succeed at all, for the offline `berth plan` (in a cluster the API server refuses such a Service before any IP is
// kept; the webhook never sees a stored one). Messages are Kubernetes' field errors, `<path>: <type>: <value>: <rule>`
// (k8s.io/apimachinery/pkg/util/validation/field; rules from pkg/apis/core/validation ValidateService and
// apimachinery validation IsDNS1035Label / IsDNS1123Label / IsValidPortNum / IsValidPortName), so the value and the
// rule are both named. Only what concerns a LoadBalancer Service is checked: metadata name/namespace/annotations,
// spec.type, ports, externalTrafficPolicy, ipFamilyPolicy, ipFamilies, loadBalancerSourceRanges. Never throws.
import ipaddr from 'ipaddr.js';

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const FAMILIES = ['IPv4', 'IPv6'];

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

const DNS1035_RULE =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_RULE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const PORT_RULE = 'must be between 1 and 65535, inclusive';

/** Go's %v-ish rendering of a value in a field error: strings quoted, the rest as JSON. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 117)}...` : s;
  } catch {
    return String(v);
  }
}

const invalid = (path: string, value: unknown, rule: string): string => `${path}: Invalid value: ${show(value)}: ${rule}`;
const unsupported = (path: string, value: unknown, allowed: readonly string[]): string =>
  `${path}: Unsupported value: ${show(value)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
const required = (path: string, why?: string): string => `${path}: Required value${why ? `: ${why}` : ''}`;
const duplicate = (path: string, value: unknown): string => `${path}: Duplicate value: ${show(value)}`;

function labelError(path: string, value: string, re: RegExp, rule: string): string | undefined {
  if (value.length > 63) return invalid(path, value, 'must be no more than 63 characters');
  return re.test(value) ? undefined : invalid(path, value, rule);
}

/** apimachinery IsValidPortNum as a field error, or undefined. `what` is the path. */
function portError(path: string, v: unknown): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) return invalid(path, v, 'must be an integer');
  return v < 1 || v > 65535 ? invalid(path, v, PORT_RULE) : undefined;
}

/** apimachinery IsValidPortName (IANA_SVC_NAME): at most 15 characters, [a-z0-9-], a letter, no "--", no '-' at the ends. */
function portNameError(path: string, v: string): string | undefined {
  if (v.length > 15) return invalid(path, v, 'must be no more than 15 characters');
  if (!IANA_SVC_NAME.test(v)) return invalid(path, v, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), and must not start or end with a hyphen");
  if (v.includes('--')) return invalid(path, v, 'must not contain consecutive hyphens');
  if (!/[a-z]/.test(v)) return invalid(path, v, 'must contain at least one letter (a-z)');
  return undefined;
}

function isCidr(text: string): boolean {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The field errors the API server would give for `svc` (a Service document as parsed from YAML), in field order;
 * [] when it would store it. Non-LoadBalancer Services with a valid `spec.type` are not checked further (plan ignores
 * them). Sources: pkg/apis/core/validation/validation.go ValidateService, validateServicePort, ValidateObjectMeta.
 */
export function serviceFieldErrors(svc: unknown): string[] {
  const out: string[] = [];
  if (!isObject(svc)) return [invalid('<document>', svc, 'a Service must be an object')];
  const meta = isObject(svc.metadata) ? svc.metadata : {};
  const spec = isObject(svc.spec) ? svc.spec : {};
  const type = spec.type ?? 'ClusterIP';
  if (typeof type !== 'string' || !SERVICE_TYPES.includes(type)) out.push(unsupported('spec.type', type, SERVICE_TYPES));
  else if (type !== 'LoadBalancer') return out;

  const name = meta.name;
  if (name === undefined || name === '') out.push(required('metadata.name', 'name or generateName is required'));
  else if (typeof name !== 'string') out.push(invalid('metadata.name', name, 'must be a string'));
  else {
    const e = labelError('metadata.name', name, DNS1035, DNS1035_RULE);
    if (e) out.push(e);
  }
  const ns = meta.namespace;
  if (ns !== undefined && ns !== '') {
    const e = typeof ns === 'string' ? labelError('metadata.namespace', ns, DNS1123_LABEL, DNS1123_RULE) : invalid('metadata.namespace', ns, 'must be a string');
    if (e) out.push(e);
  }
  if (meta.annotations !== undefined && meta.annotations !== null) {
    if (!isObject(meta.annotations)) out.push(invalid('metadata.annotations', meta.annotations, 'must be a map of string keys to string values'));
    else {
      for (const [k, v] of Object.entries(meta.annotations)) {
        if (typeof v !== 'string') out.push(invalid(`metadata.annotations[${JSON.stringify(k)}]`, v, 'must be a string (quote it in YAML)'));
      }
    }
  }

  const ports = spec.ports;
  if (ports === undefined || ports === null || (Array.isArray(ports) && ports.length === 0)) out.push(required('spec.ports'));
  else if (!Array.isArray(ports)) out.push(invalid('spec.ports', ports, 'must be a list of ports'));
  else {
    const names = new Set<string>();
    const seen = new Set<string>();
    ports.forEach((p: unknown, i) => {
      const at = `spec.ports[${i}]`;
      if (!isObject(p)) {
        out.push(invalid(at, p, 'must be a port object ({port, protocol, ...})'));
        return;
      }
      const pn = p.name;
      if (pn === undefined || pn === '') {
        if (ports.length > 1) out.push(required(`${at}.name`, 'a name is required when a Service has more than one port'));
      } else if (typeof pn !== 'string') out.push(invalid(`${at}.name`, pn, 'must be a string'));
      else {
        const e = labelError(`${at}.name`, pn, DNS1123_LABEL, DNS1123_RULE);
        if (e) out.push(e);
        else if (names.has(pn)) out.push(duplicate(`${at}.name`, pn));
        names.add(pn);
      }
      const pe = portError(`${at}.port`, p.port);
      if (pe) out.push(pe);
      const protocol = p.protocol ?? 'TCP';
      if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) out.push(unsupported(`${at}.protocol`, protocol, PROTOCOLS));
      if (!pe && typeof protocol === 'string' && PROTOCOLS.includes(protocol)) {
        const key = `${protocol}/${String(p.port)}`;
        if (seen.has(key)) out.push(duplicate(at, { port: p.port, protocol }));
        seen.add(key);
      }
      if (p.nodePort !== undefined && p.nodePort !== 0) {
        const e = portError(`${at}.nodePort`, p.nodePort);
        if (e) out.push(e);
      }
      const tp = p.targetPort;
      if (typeof tp === 'string' && tp !== '' && !/^\d+$/.test(tp)) {
        const e = portNameError(`${at}.targetPort`, tp);
        if (e) out.push(e);
      } else if (tp !== undefined && tp !== 0 && tp !== '') {
        const e = portError(`${at}.targetPort`, typeof tp === 'string' ? Number(tp) : tp);
        if (e) out.push(e);
      }
    });
  }

  const etp = spec.externalTrafficPolicy;
  if (etp !== undefined && etp !== '' && (typeof etp !== 'string' || !TRAFFIC_POLICIES.includes(etp))) {
    out.push(unsupported('spec.externalTrafficPolicy', etp, TRAFFIC_POLICIES));
  }
  const policy = spec.ipFamilyPolicy;
  if (policy !== undefined && policy !== null && (typeof policy !== 'string' || !FAMILY_POLICIES.includes(policy))) {
    out.push(unsupported('spec.ipFamilyPolicy', policy, FAMILY_POLICIES));
  }
  const families = spec.ipFamilies;
  if (families !== undefined && families !== null) {
    if (!Array.isArray(families)) out.push(invalid('spec.ipFamilies', families, 'must be a list of IP families'));
    else {
      const seenFamilies = new Set<unknown>();
      families.forEach((f: unknown, i) => {
        if (typeof f !== 'string' || !FAMILIES.includes(f)) out.push(unsupported(`spec.ipFamilies[${i}]`, f, FAMILIES));
        else if (seenFamilies.has(f)) out.push(duplicate(`spec.ipFamilies[${i}]`, f));
        seenFamilies.add(f);
      });
      if (families.length > 2) out.push(invalid('spec.ipFamilies', families, 'may specify no more than 2 IP families'));
      if (families.length === 2 && (policy === undefined || policy === null || policy === 'SingleStack')) {
        out.push(invalid('spec.ipFamilyPolicy', policy ?? 'SingleStack', "must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified"));
      }
    }
  }
  const ranges = spec.loadBalancerSourceRanges;
  if (ranges !== undefined && ranges !== null) {
    if (!Array.isArray(ranges)) out.push(invalid('spec.loadBalancerSourceRanges', ranges, 'must be a list of IP ranges'));
    else {
      ranges.forEach((r: unknown, i) => {
        if (typeof r !== 'string' || !isCidr(r.trim())) {
          out.push(invalid(`spec.loadBalancerSourceRanges[${i}]`, r, 'must be an IP range in CIDR notation, for example 192.0.2.0/24'));
        }
      });
    }
  }
  return out;
}
