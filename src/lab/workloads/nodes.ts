// The Node objects a fresh lab starts with: kubelets that would have registered themselves (Ready, InternalIP
// from 192.0.2.0/24, RFC 5737 documentation range), so Pods can be scheduled and EndpointSlices carry nodeName.
import type { Rest } from '../rest.ts';
import type { Registry } from '../registry.ts';
import type { Store } from '../store.ts';
import { isFailure } from '../status.ts';
import type { KubeObject } from '../types.ts';

/** Default number of lab Nodes (`lab-node-1`..`lab-node-3`, InternalIP 192.0.2.101..103). */
export const DEFAULT_LAB_NODES = 3;

/** The Node a kubelet named `name` with InternalIP `ip` registers (Ready, linux/amd64, kubelet v1.32.0). */
export function labNode(name: string, ip: string, now = new Date()): KubeObject {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: t, lastTransitionTime: t, reason, message });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: {},
    status: {
      capacity: { cpu: '4', memory: '8148020Ki', pods: '110', 'ephemeral-storage': '40901312Ki' },
      allocatable: { cpu: '4', memory: '8045620Ki', pods: '110', 'ephemeral-storage': '37694649077' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '6.1.0-berth-lab',
        osImage: 'berth lab',
        containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion: 'v1.32.0',
        kubeProxyVersion: 'v1.32.0',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/**
 * Creates `count` lab Nodes (`lab-node-<i>`, 192.0.2.<100+i>) when the store holds no Node at all (a restored
 * lab keeps its own). count must be an integer 0..100.
 */
export async function bootstrapNodes(rest: Rest, store: Store, registry: Registry, count = DEFAULT_LAB_NODES): Promise<void> {
  if (!Number.isInteger(count) || count < 0 || count > 100) throw new Error(`lab: nodes ${count} is not an integer from 0 to 100`);
  if (store.count('core/nodes') > 0) return;
  const type = registry.resolve('', 'v1', 'nodes')!;
  for (let i = 1; i <= count; i++) {
    const name = `lab-node-${i}`;
    const r = await rest.create({ type, version: 'v1', namespace: '', name, subresource: '' }, labNode(name, `192.0.2.${100 + i}`), { dryRun: false });
    if (isFailure(r)) throw new Error(`lab: creating node ${name}: ${r.status.message ?? r.code}`);
  }
}
