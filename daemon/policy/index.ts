/** Per-guest policy: the public surface (see readme.md). */
export { CHECK_KINDS, formatCheck } from './checks.js';
export { DEFAULT_POLICY_PATH, loadPolicy } from './load.js';
export { MAX_POLICY_BYTES, parsePolicy } from './parse.js';
export {
  builtInDefaults,
  type ConfigDefaults,
  describeOrigin,
  explainPolicy,
  matchingSections,
  type RunOverrides,
  resolvePolicy,
  withOverrides,
} from './resolve.js';
export type {
  Check,
  Fallback,
  GuestFacts,
  GuestPolicy,
  GuestType,
  OnFailure,
  Origin,
  PolicyFile,
  PolicySection,
  PolicySettings,
  RebootMode,
  Role,
  StatusRange,
  TransportName,
} from './types.js';
