// Public surface of src/config (pure): CR lists → Config, validate → Problem[].
export { buildConfig, validateObjects, type ValidateOptions } from './build.ts';
export { describePoolAddresses, poolSpecsFrom } from './describe.ts';
export { unadvertisedPools } from './advertised.ts';
export { legacyConfigMessage, legacyConfigProblems, readLegacyConfigMap, type LegacyConfig } from './legacy.ts';
export {
  createSchemaValidator,
  schemaProblems,
  SCHEMAS,
  SCHEMA_FILES,
  type SchemaValidator,
  type SchemaProblem,
} from './schema.ts';
export { updateProblems } from './transitions.ts';
export { parseAddressEntry, type Cidr } from './addresses.ts';
export { parseCommunity, formatCommunity, type CommunityValue } from './community.ts';
export { parseGoDuration, formatGoDuration } from './duration.ts';
export { DISABLE_MP_WARNING, peerSpecOf } from './peers.ts';
export { labelKeyError, labelValueError, fullSelectorError } from './selectors.ts';
export * from './types.ts';
