/**
 * Whether a PBS guest may be patched now: the PBS tools answer, enough space is free, and PBS runs
 * no task (a backup, restore, sync, verify, prune or garbage collection would be cut by the
 * upgrade's service restarts). Each refusal says which check failed, what was seen and what to do;
 * its `reason` is the cause and the remedy, for the caller's `unable to patch PBS <vmid> - <reason>`.
 */

import { errorMessage } from '../core/errors.js';
import { escapeControls } from '../core/escape.js';
import type { ExecResult } from '../core/exec.js';
import type { GuestExec } from '../drivers/shared/guest-exec.js';
import { parseDfAvailableKb } from '../engine/disk.js';
import { type PbsApiOptions, pbsRunningTasks } from './api.js';
import { freeSpaceCommand, runningTasksCommand, versionsCommand } from './commands.js';
import {
  describeTask,
  type PbsTaskItem,
  parseTaskListJson,
  parseVersionLines,
  resultLine,
  serverVersionOf,
} from './parse.js';

export interface PbsPrecheckOptions {
  /** Free space needed on `path`, in GiB. */
  minFreeGiB: number;
  /** Filesystem whose free space counts (absolute); default `/`. */
  path?: string;
  /** Ask the PBS API for running tasks; without it, `proxmox-backup-manager task list` in the guest. */
  api?: PbsApiOptions;
  timeoutMs?: number;
}

export type PbsCheck = 'manager-missing' | 'disk-space' | 'tasks-running' | 'tasks-unknown';

export type PbsPrecheckResult =
  | {
      ok: true;
      /** `proxmox-backup-manager versions` lines (escaped). */
      versions: string[];
      /** The proxmox-backup-server package version, e.g. `3.4.1-1`. */
      serverVersion: string;
      freeKiB: number;
      tasksFrom: 'api' | 'cli';
    }
  | { ok: false; check: PbsCheck; reason: string };

const refuse = (check: PbsCheck, reason: string): PbsPrecheckResult => ({ ok: false, check, reason });
const MAX_NAMED_TASKS = 5;

export async function pbsPrecheck(exec: GuestExec, opts: PbsPrecheckOptions): Promise<PbsPrecheckResult> {
  const path = opts.path ?? '/';
  if (!path.startsWith('/')) throw new Error(`pbsPrecheck: path '${path}' is not absolute`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const run = (argv: string[]) => exec.run(argv, { timeoutMs });
  return exec.stage(async () => {
    const versionsRes = await run(versionsCommand());
    const versions = versionsRes.exitCode === 0 ? parseVersionLines(versionsRes.stdout) : [];
    const serverVersion = serverVersionOf(versions);
    if (serverVersion === null) return refuse('manager-missing', missingReason(versionsRes));
    const dfRes = await run(freeSpaceCommand(path));
    const freeKiB = dfRes.exitCode === 0 ? parseDfAvailableKb(dfRes.stdout) : null;
    if (freeKiB === null) {
      return refuse(
        'disk-space',
        `cannot read the free space on ${path}: 'df -Pk ${path}' exited ${dfRes.exitCode} (${resultLine(dfRes) || 'no output'}); fix df in the guest and retry`,
      );
    }
    const needKiB = opts.minFreeGiB * 1024 * 1024;
    if (freeKiB < needKiB) return refuse('disk-space', spaceReason(path, freeKiB, opts.minFreeGiB));
    const tasks = opts.api ? await apiTasks(opts.api) : await cliTasks(await run(runningTasksCommand()));
    if ('reason' in tasks) return refuse('tasks-unknown', tasks.reason);
    if (tasks.list.length > 0) return refuse('tasks-running', runningReason(tasks.list, tasks.from));
    return { ok: true, versions, serverVersion, freeKiB, tasksFrom: tasks.from };
  });
}

type Tasks = { list: PbsTaskItem[]; from: 'api' | 'cli' } | { reason: string };

async function apiTasks(api: PbsApiOptions): Promise<Tasks> {
  try {
    return { list: await pbsRunningTasks(api), from: 'api' };
  } catch (err) {
    return {
      reason: `cannot tell whether PBS runs tasks: ${escapeControls(errorMessage(err))}; fix the PBS API settings (URL, token, fingerprint) or leave them out to ask the guest`,
    };
  }
}

function cliTasks(res: ExecResult): Tasks {
  const cmd = "'proxmox-backup-manager task list --output-format json'";
  if (res.exitCode !== 0) {
    return {
      reason: `cannot tell whether PBS runs tasks: ${cmd} exited ${res.exitCode} (${resultLine(res) || 'no output'}); is the proxmox-backup service running? ('systemctl status proxmox-backup')`,
    };
  }
  const list = parseTaskListJson(res.stdout.trim());
  if (list === null)
    return { reason: `cannot tell whether PBS runs tasks: ${cmd} printed no task list pvepatch understands` };
  return { list, from: 'cli' };
}

function missingReason(res: ExecResult): string {
  const seen =
    res.exitCode === 0
      ? 'it named no installed proxmox-backup-server'
      : `it exited ${res.exitCode}${res.exitCode === 127 ? ' (not found)' : ''}: ${resultLine(res) || 'no output'}`;
  return `'proxmox-backup-manager versions' failed, ${seen}; install or repair proxmox-backup-server, or drop role: pbs if this guest is no Proxmox Backup Server`;
}

function spaceReason(path: string, freeKiB: number, minGiB: number): string {
  const mib = Math.floor(freeKiB / 1024);
  return `only ${mib} MiB free on ${path} (df -Pk ${path}), at least ${minGiB} GiB needed; free space (apt-get clean, old kernels, logs) or lower the minimum`;
}

function runningReason(list: readonly PbsTaskItem[], from: 'api' | 'cli'): string {
  const named = list.slice(0, MAX_NAMED_TASKS).map(describeTask).join(', ');
  const more = list.length > MAX_NAMED_TASKS ? ` and ${list.length - MAX_NAMED_TASKS} more` : '';
  const source = from === 'api' ? 'the PBS API' : 'proxmox-backup-manager task list';
  return `${list.length} PBS task(s) running (${source}): ${named}${more}; wait until they finish, or stop them ('proxmox-backup-manager task stop <upid>'), then retry`;
}
