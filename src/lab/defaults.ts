// Structural-schema defaulting for custom resources, as kube-apiserver does on decode: every `default` of the CRD's
// openAPIV3Schema is filled in where the field is absent (objects recurse into present properties, arrays into items).
// Without it, `kubectl get ipaddresspools` shows an empty AUTO ASSIGN column while MetalLB's CRD defaults it to true.
import { isPlainObject } from './types.ts';

export function applySchemaDefaults(value: unknown, schema: unknown): void {
  if (!isPlainObject(schema)) return;
  if (Array.isArray(value)) {
    for (const item of value) applySchemaDefaults(item, schema['items']);
    return;
  }
  if (!isPlainObject(value)) return;
  const props = schema['properties'];
  if (!isPlainObject(props)) return;
  for (const [name, sub] of Object.entries(props)) {
    if (!isPlainObject(sub)) continue;
    if (value[name] === undefined && sub['default'] !== undefined) value[name] = structuredClone(sub['default']);
    if (value[name] !== undefined) applySchemaDefaults(value[name], sub);
  }
}
