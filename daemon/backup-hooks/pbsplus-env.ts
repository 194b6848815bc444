import { hasControl } from './config-text.js';
import type { PbsPlusConfig } from './pbsplus-config.js';

/** The most of a `PBS_PLUS__*` value that is read (TARGET is a dump of a whole struct). */
const MAX_FIELD = 64 * 1024;

export interface JobGuest {
  vmid: number;
  /** The `target-map` name that matched, when the target (not the job id) decided. */
  target?: string;
}

/**
 * Which guest a PBS Plus job backs up: `job-map` by `PBS_PLUS__ID` first, then `target-map` by
 * `PBS_PLUS__TARGET`, the longest matching name winning. PBS Plus writes TARGET with Go's `%v`
 * of its Target struct (`{<name> <type> <path> {<agent host> …} …}`; agent target names hold
 * spaces: `web01 - Root`), so a name matches when TARGET is exactly the name or starts with
 * `{<name> ` followed by a target type. The dump also holds the agent's credentials: it is never
 * printed.
 */
export function guestOfJob(env: NodeJS.ProcessEnv, cfg: Pick<PbsPlusConfig, 'jobs' | 'targets'>): JobGuest | undefined {
  const id = jobId(env);
  const byJob = id === undefined ? undefined : cfg.jobs.get(id);
  if (byJob !== undefined) return { vmid: byJob };
  const raw = (env.PBS_PLUS__TARGET ?? '').slice(0, MAX_FIELD);
  let best: JobGuest | undefined;
  for (const [name, vmid] of cfg.targets) {
    if ((best?.target?.length ?? -1) < name.length && targetMatches(raw, name)) best = { vmid, target: name };
  }
  return best;
}

const TYPES = [' agent ', ' local ', ' s3 ', '  '];

export function targetMatches(raw: string, name: string): boolean {
  if (raw === name) return true;
  if (raw[0] !== '{' || !raw.startsWith(name, 1)) return false;
  const after = raw.slice(1 + name.length, 1 + name.length + 8);
  return TYPES.some((t) => after.startsWith(t));
}

/** The job's id (`PBS_PLUS__ID`; its docs say `PBS_PLUS__JOB_ID`), if it is a plain short string. */
export function jobId(env: NodeJS.ProcessEnv): string | undefined {
  const id = env.PBS_PLUS__ID ?? env.PBS_PLUS__JOB_ID;
  return id && id.length <= 256 && !hasControl(id) ? id : undefined;
}

/** `PBS_PLUS__JOB_SUCCESS` ("true"/"false") and `PBS_PLUS__JOB_WARNINGS` (a count). */
export function jobResult(env: NodeJS.ProcessEnv): { success: boolean; warnings: number } {
  const w = env.PBS_PLUS__JOB_WARNINGS ?? '';
  let warnings = 0;
  if (w.length > 0 && w.length <= 9 && [...w].every((c) => c >= '0' && c <= '9')) warnings = Number(w);
  return { success: env.PBS_PLUS__JOB_SUCCESS === 'true', warnings };
}
