/**
 * The argv pvepatch sends to a PBS guest. The manager is named by its absolute path (the package
 * installs it in /usr/sbin, which a non-login PATH may lack); `--` ends systemctl's options.
 * `task list` lists running tasks only unless `--all` (proxmox-backup `proxmox-backup-manager.rs`
 * `task_list`: `running: !all`); `--limit` is 1..1000, default 50.
 */

export const PBS_MANAGER = '/usr/sbin/proxmox-backup-manager';
/** The API daemon (`proxmox-backup-api`) and the proxy on :8007 (`proxmox-backup-proxy`). */
export const PBS_UNITS = ['proxmox-backup', 'proxmox-backup-proxy'] as const;
export const TASK_LIST_MAX = 1000;

export function versionsCommand(): string[] {
  return [PBS_MANAGER, 'versions'];
}

export function runningTasksCommand(): string[] {
  return [PBS_MANAGER, 'task', 'list', '--output-format', 'json'];
}

export function recentTasksCommand(limit: number): string[] {
  const n = Math.min(TASK_LIST_MAX, Math.max(1, Math.trunc(limit)));
  return [PBS_MANAGER, 'task', 'list', '--all', '--limit', String(n), '--output-format', 'json'];
}

/** `df -Pk <path>`: POSIX format, 1024-byte blocks; path is absolute, so it is never an option. */
export function freeSpaceCommand(path: string): string[] {
  return ['df', '-Pk', path];
}

export function unitActiveCommand(unit: string): string[] {
  return ['systemctl', 'is-active', '--', unit];
}

export function unitEnabledCommand(unit: string): string[] {
  return ['systemctl', 'is-enabled', '--', unit];
}
