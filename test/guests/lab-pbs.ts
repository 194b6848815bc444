/**
 * A lab guest playing a Proxmox Backup Server. `makePbsGuest` turns a running Debian lab guest into a
 * STAND-IN for PBS (no real PBS binaries exist here):
 *
 * - `/usr/sbin/proxmox-backup-manager` (lab-pbs/proxmox-backup-manager.pl): `versions [--verbose]`
 *   and `task list [--all] [--limit N] --output-format json`, in the real output formats, from files
 *   under /var/lib/lab-pbs/ that the controls below write;
 * - the units `proxmox-backup` and `proxmox-backup-proxy` (enabled, started) through the lab's
 *   systemd stand-in (lab-services.ts), running do-nothing daemons at the real ExecStart paths.
 *
 * Low disk space is real, not faked: `mountSmallFilesystem` mounts a size-limited tmpfs inside the
 * guest (its own mount namespace), and the check under test is pointed at that path. The guest's `/`
 * is an overlay on the host's disk, and shadowing `df` would test the shadow, not the check.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PbsTask } from '../sim-pbs/types.js';
import type { Lab } from './lab.js';
import { installLabServices } from './lab-services.js';

export type { PbsTask } from '../sim-pbs/types.js';

export const PBS_MANAGER = '/usr/sbin/proxmox-backup-manager';
export const PBS_DATA_DIR = '/var/lib/lab-pbs';
const DAEMON_DIR = '/usr/lib/x86_64-linux-gnu/proxmox-backup';

export interface PbsGuestOptions {
  /** Installed proxmox-backup-server package version; default '3.4.1-1'. */
  version?: string;
  /** Running kernel shown by `versions --verbose`; default '6.8.12-9-pve'. */
  kernel?: string;
}

/** Installs the PBS stand-in into a running lab guest and starts its two services. */
export async function makePbsGuest(lab: Lab, vmid: number, opts: PbsGuestOptions = {}): Promise<void> {
  const version = opts.version ?? '3.4.1-1';
  if (!/^\d+\.\d+\.\d+-\d+$/.test(version)) throw new Error(`invalid PBS version '${version}'`);
  const manager = await readFile(
    fileURLToPath(new URL('./lab-pbs/proxmox-backup-manager.pl', import.meta.url)),
    'utf8',
  );
  await lab.execOk(vmid, ['mkdir', '-p', PBS_DATA_DIR, DAEMON_DIR]);
  await lab.writeGuestFile(vmid, PBS_MANAGER, manager, 0o755);
  await lab.writeGuestFile(vmid, `${PBS_DATA_DIR}/versions`, versionsTable(version, opts.kernel ?? '6.8.12-9-pve'));
  await setRunningPbsTasks(lab, vmid, []);
  await setFinishedPbsTasks(lab, vmid, []);
  const daemon = '#!/bin/sh\n# pvepatch lab: stand-in for a PBS daemon; it only lives\nexec sleep infinity\n';
  for (const name of ['proxmox-backup-api', 'proxmox-backup-proxy']) {
    await lab.writeGuestFile(vmid, `${DAEMON_DIR}/${name}`, daemon, 0o755);
  }
  await installLabServices(lab, vmid, [
    {
      name: 'proxmox-backup',
      exec: [`${DAEMON_DIR}/proxmox-backup-api`],
      enabled: true,
      description: 'Proxmox Backup API Server',
    },
    {
      name: 'proxmox-backup-proxy',
      exec: [`${DAEMON_DIR}/proxmox-backup-proxy`],
      enabled: true,
      description: 'Proxmox Backup API Proxy Server',
    },
  ]);
}

/** What `task list` (no --all) and the API's `running=1` report: these tasks, in this order. */
export async function setRunningPbsTasks(lab: Lab, vmid: number, tasks: readonly PbsTask[]): Promise<void> {
  await lab.writeGuestFile(vmid, `${PBS_DATA_DIR}/running-tasks.jsonl`, jsonLines(tasks));
}

/** Finished tasks, newest first: `task list --all` lists them after the running ones. */
export async function setFinishedPbsTasks(lab: Lab, vmid: number, tasks: readonly PbsTask[]): Promise<void> {
  await lab.writeGuestFile(vmid, `${PBS_DATA_DIR}/finished-tasks.jsonl`, jsonLines(tasks));
}

/**
 * Mounts a tmpfs of `sizeMiB` at guestPath inside the running guest: a real filesystem whose
 * `df -Pk` shows at most that much free. It lasts until the guest stops.
 */
export async function mountSmallFilesystem(lab: Lab, vmid: number, guestPath: string, sizeMiB: number): Promise<void> {
  if (!guestPath.startsWith('/') || guestPath.includes('..')) throw new Error(`invalid guest path '${guestPath}'`);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 1) throw new Error(`invalid size ${sizeMiB} MiB`);
  await lab.execOk(vmid, ['mkdir', '-p', guestPath]);
  await lab.execOk(vmid, ['mount', '-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=755`, 'lab-small', guestPath]);
}

/** Removes the manager, as on a guest that is not (or no longer) a PBS. */
export async function removePbsManager(lab: Lab, vmid: number): Promise<void> {
  await lab.execOk(vmid, ['rm', '-f', PBS_MANAGER]);
}

/**
 * `apt::get_versions` rows (proxmox-backup `src/api2/node/apt.rs`): proxmox-backup with the running
 * kernel, then proxmox-backup-server with `running version: <major.minor>.<patch>`, then the others.
 */
function versionsTable(version: string, kernel: string): string {
  const running = version.slice(0, version.indexOf('-'));
  const rows = [
    ['proxmox-backup', `${running.split('.').slice(0, 2).join('.')}.0`, `running kernel: ${kernel}`],
    ['proxmox-backup-server', version, `running version: ${running}`],
    ['proxmox-kernel-helper', '8.1.1', ''],
    [`proxmox-kernel-${kernel}-signed`, kernel.replace(/-pve$/, ''), ''],
    ['ifupdown2', '3.2.0-1+pmx11', ''],
    ['libjs-extjs', '7.0.0-5', ''],
    ['proxmox-backup-docs', version, ''],
    ['proxmox-backup-client', version, ''],
    ['proxmox-widget-toolkit', '4.3.11', ''],
    ['zfsutils-linux', 'unknown', ''],
  ];
  return rows.map((r) => `${r.join('\t')}\n`).join('');
}

function jsonLines(tasks: readonly PbsTask[]): string {
  return tasks.map((t) => `${JSON.stringify(t)}\n`).join('');
}
