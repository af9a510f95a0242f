// The ConfigurationState object (metallb.io/v1beta1, status-only; MetalLB v0.15.3 configuration_state_controller.go):
// one named `controller`, labelled `metallb.io/component-type: controller`, whose status says whether the
// configuration the controller last saw was Valid or Invalid, with the errors joined in errorSummary.
import { kubeTime, realClock, type Clock } from './clock.ts';
import type { KubeClient, KubeObject } from './client.ts';
import type { KubeResult } from './errors.ts';
import { PatchType } from './patch.ts';
import { Resources } from './resources.ts';

export type ConfigResult = 'Valid' | 'Invalid' | 'Unknown';

export interface ConfigurationStateStatus {
  result: ConfigResult;
  errorSummary: string;
  /** Condition type, e.g. `poolReconcilerValid` (MetalLB's controller condition). */
  conditionType: string;
}

/** Creates the object when missing, then writes its status through the status subresource. */
export async function writeConfigurationState(
  client: KubeClient,
  namespace: string,
  name: string,
  componentType: string,
  st: ConfigurationStateStatus,
  clock: Clock = realClock,
): Promise<KubeResult<KubeObject>> {
  const got = await client.get(Resources.configurationStates, name, namespace);
  if (!got.ok) {
    if (got.error.kind !== 'NotFound') return got;
    const created = await client.create(
      Resources.configurationStates,
      { metadata: { name, namespace, labels: { 'metallb.io/component-type': componentType } } },
      { namespace },
    );
    if (!created.ok && created.error.kind !== 'AlreadyExists') return created;
  }
  const valid = st.result === 'Valid';
  const status = {
    result: st.result,
    errorSummary: st.errorSummary,
    conditions: [
      {
        type: st.conditionType,
        status: valid ? 'True' : st.result === 'Invalid' ? 'False' : 'Unknown',
        reason: valid ? 'SyncStateSuccess' : 'ConfigurationError',
        message: st.errorSummary,
        lastTransitionTime: kubeTime(clock.now()),
      },
    ],
  };
  return client.patch(Resources.configurationStates, name, { status }, { namespace, subresource: 'status', type: PatchType.merge });
}
