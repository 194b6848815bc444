/** The hook script runner: admin-supplied executables run around a patch run. See readme.md. */
export { listHooks, permissionProblem, SKIPPED_SUFFIXES } from './discover.js';
export { HOOK_PATH, VALUE_MAX } from './env.js';
export { mergeOverrides } from './merge.js';
export { OVERRIDE_KEYS, parseOverrides } from './overrides.js';
export { STDERR_MAX, STDOUT_MAX } from './process.js';
export { runHooks } from './run.js';
export type {
  HookFieldValue,
  HookOutcome,
  HookOverrides,
  HookPhase,
  HookRunOptions,
  HookRunRecord,
  RebootOverride,
} from './types.js';
export { HOOK_PHASES, isPrePhase } from './types.js';
