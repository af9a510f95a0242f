// The AdmissionRequest kube-apiserver builds for one admission attempt (admission.k8s.io/v1): what webhooks
// receive and what CEL sees as `request` (matchConditions, ValidatingAdmissionPolicies).
import { randomUUID } from 'node:crypto';
import type { AdmissionAttributes } from '../rest.ts';
import type { KubeObject } from '../types.ts';

/** The lab has one user: the bearer token of the kubeconfig. */
export const LAB_USER_INFO = { username: 'lab-admin', groups: ['system:masters', 'system:authenticated'] };

export function admissionRequest(a: AdmissionAttributes, object: KubeObject | null): Record<string, unknown> {
  const kind = { group: a.type.group, version: a.version, kind: a.type.kind };
  const resource = { group: a.type.group, version: a.version, resource: a.type.plural };
  const r: Record<string, unknown> = {
    uid: randomUUID(),
    kind,
    resource,
    requestKind: kind,
    requestResource: resource,
    operation: a.operation,
    userInfo: LAB_USER_INFO,
    object,
    oldObject: a.oldObject,
    dryRun: a.dryRun,
    options: a.options,
  };
  if (a.subresource) {
    r['subResource'] = a.subresource;
    r['requestSubResource'] = a.subresource;
  }
  if (a.name) r['name'] = a.name;
  if (a.namespace) r['namespace'] = a.namespace;
  return r;
}
