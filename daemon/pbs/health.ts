/**
 * The state of a PBS guest after its patch (and reboot): both services active and enabled, the
 * versions PBS reports, and its last tasks. `ok` is false with every problem named.
 */
import type { GuestExec } from '../drivers/shared/guest-exec.js';
import { PBS_UNITS, recentTasksCommand, unitActiveCommand, unitEnabledCommand, versionsCommand } from './commands.js';
import { firstWord, type PbsTaskItem, parseTaskListJson, parseVersionLines, resultLine } from './parse.js';

export interface PbsServiceState {
  name: string;
  active: boolean;
  enabled: boolean;
  /** What `systemctl is-active` / `is-enabled` printed (escaped), e.g. `failed`, `disabled`. */
  activeState: string;
  enabledState: string;
}

export interface PbsHealth {
  ok: boolean;
  services: PbsServiceState[];
  versions: string[];
  last_tasks: PbsTaskItem[];
  problems: string[];
}

export interface PbsHealthOptions {
  /** How many recent tasks to list (1..1000); default 5. */
  lastTasks?: number;
  timeoutMs?: number;
}

export async function pbsHealth(exec: GuestExec, opts: PbsHealthOptions = {}): Promise<PbsHealth> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const run = (argv: string[]) => exec.run(argv, { timeoutMs });
  return exec.stage(async () => {
    const problems: string[] = [];
    const services: PbsServiceState[] = [];
    for (const name of PBS_UNITS) {
      const activeState = firstWord((await run(unitActiveCommand(name))).stdout) || 'unknown';
      const enabledState = firstWord((await run(unitEnabledCommand(name))).stdout) || 'unknown';
      const s = {
        name,
        active: activeState === 'active',
        enabled: enabledState === 'enabled',
        activeState,
        enabledState,
      };
      services.push(s);
      if (!s.active)
        problems.push(
          `${name}.service is ${activeState}, not active - see 'systemctl status ${name}' and 'journalctl -u ${name}'`,
        );
      if (!s.enabled)
        problems.push(
          `${name}.service is ${enabledState}, not enabled - it will not start at boot ('systemctl enable ${name}')`,
        );
    }
    const versionsRes = await run(versionsCommand());
    const versions = versionsRes.exitCode === 0 ? parseVersionLines(versionsRes.stdout) : [];
    if (versionsRes.exitCode !== 0) {
      problems.push(
        `'proxmox-backup-manager versions' exited ${versionsRes.exitCode}: ${resultLine(versionsRes) || 'no output'}`,
      );
    }
    const tasksRes = await run(recentTasksCommand(opts.lastTasks ?? 5));
    const tasks = tasksRes.exitCode === 0 ? parseTaskListJson(tasksRes.stdout.trim()) : null;
    if (tasks === null) {
      const how =
        tasksRes.exitCode === 0
          ? 'printed no task list pvepatch understands'
          : `exited ${tasksRes.exitCode}: ${resultLine(tasksRes) || 'no output'}`;
      problems.push(`unable to list the last PBS tasks - 'proxmox-backup-manager task list --all' ${how}`);
    }
    return { ok: problems.length === 0, services, versions, last_tasks: tasks ?? [], problems };
  });
}
