// IPAddressPool status counters, written through the status subresource (MetalLB's pool_status_controller.go).
// The counters are int64 and IPv6 capacities saturate at MaxInt64, which a JS number cannot hold exactly: the body is
// written by hand from bigints so 9223372036854775807 reaches the API server digit for digit.
import type { KubeClient, KubeObject } from './client.ts';
import type { KubeResult } from './errors.ts';
import { PatchType } from './patch.ts';
import { Resources } from './resources.ts';

export interface PoolStatus {
  assignedIPv4: bigint;
  assignedIPv6: bigint;
  availableIPv4: bigint;
  availableIPv6: bigint;
}

export function poolStatusJson(s: PoolStatus): string {
  return (
    `{"status":{"assignedIPv4":${s.assignedIPv4},"assignedIPv6":${s.assignedIPv6},` +
    `"availableIPv4":${s.availableIPv4},"availableIPv6":${s.availableIPv6}}}`
  );
}

export function patchPoolStatus(
  client: KubeClient,
  namespace: string,
  name: string,
  status: PoolStatus,
): Promise<KubeResult<KubeObject>> {
  return client.patch(Resources.ipAddressPools, name, poolStatusJson(status), {
    namespace,
    subresource: 'status',
    type: PatchType.merge,
  });
}
