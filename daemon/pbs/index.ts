/** What the engine calls for a guest with `role: pbs` (see readme.md). */
export { type PbsApiOptions, type PbsGroup, pbsRunningTasks, pbsSnapshots } from './api.js';
export { PBS_MANAGER, PBS_UNITS } from './commands.js';
export { type PbsHealth, type PbsHealthOptions, type PbsServiceState, pbsHealth } from './health.js';
export type { PbsSnapshotItem, PbsTaskItem } from './parse.js';
export { type PbsCheck, type PbsPrecheckOptions, type PbsPrecheckResult, pbsPrecheck } from './precheck.js';
