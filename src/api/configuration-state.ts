// metallb.io/v1beta1 ConfigurationState: status-only, one object `controller` and one per speaker `speaker-<node>`
// (MetalLB api/v1beta1/configurationstate_types.go; spec metallb-compat.md §1.7, §4.6).
import { METALLB_GROUP } from './group.ts';
import { kindInfo, type KubeObject } from './object.ts';

export const CONFIGURATION_STATE = kindInfo(
  METALLB_GROUP,
  'v1beta1',
  'ConfigurationState',
  'configurationstates',
  'Namespaced',
);

export type ConfigurationResult = 'Valid' | 'Invalid' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ConfigurationStateStatus {
  result?: ConfigurationResult;
  /** The joined error messages; empty when result is Valid. */
  errorSummary?: string;
  conditions?: Condition[];
}

export interface ConfigurationState extends KubeObject<never, ConfigurationStateStatus> {
  status?: ConfigurationStateStatus;
}

/** Labels MetalLB puts on ConfigurationState objects. */
export const CONFIGURATION_STATE_LABELS = {
  componentType: 'metallb.io/component-type',
  nodeName: 'metallb.io/node-name',
} as const;

/** Condition reason MetalLB uses when a reconciler refuses the configuration. */
export const CONFIGURATION_ERROR_REASON = 'ConfigurationError';

export function withConfigurationStateDefaults(
  status: ConfigurationStateStatus | undefined,
): Required<ConfigurationStateStatus> {
  return {
    result: status?.result ?? 'Unknown',
    errorSummary: status?.errorSummary ?? '',
    conditions: status?.conditions ?? [],
  };
}
