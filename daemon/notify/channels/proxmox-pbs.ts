/**
 * PBS has no Perl binding: a notification is queued as `<spool>/<uuid>.json`, which
 * proxmox-backup-api picks up within 5 s and sends through the admin's matchers and targets
 * (`send_queued_notifications` in proxmox-backup `src/server/notifications.rs`). The file is
 * proxmox-notify's `Notification` serialised by serde. One unreadable `.json` file stalls the
 * whole queue, so the file is written under a temporary name without the suffix, fsync'd, given
 * the spool directory's owner, and only then renamed into place.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PvepatchError } from '../../core/errors.js';
import type { ChannelDriver, OutgoingNotification, ProxmoxPbsChannelConfig } from '../channel-types.js';

export const PBS_SPOOL_DIR = '/var/lib/proxmox-backup/notifications';

/** Whether this host has PBS's notification spool (path injectable for tests). */
export function proxmoxPbsAvailable(spoolDir = PBS_SPOOL_DIR): boolean {
  return existsSync(spoolDir);
}

/** proxmox-notify's `Notification` in its serde form (kebab-case, `Content::Template`). */
export function pbsSpoolDocument(message: OutgoingNotification, id: string): object {
  return {
    content: { template: { 'template-name': message.template, data: message.data } },
    metadata: { severity: message.severity, timestamp: message.timestamp, 'additional-fields': message.fields },
    id,
  };
}

export const proxmoxPbsChannel = {
  kind: 'proxmox-pbs',
  async send(config, message) {
    const dir = config.spool_dir ?? PBS_SPOOL_DIR;
    const id = randomUUID();
    const tmp = join(dir, `.pvepatch-${id}.tmp`);
    const final = join(dir, `${id}.json`);
    try {
      const spool = await fs.stat(dir);
      const handle = await fs.open(tmp, 'wx', 0o640);
      try {
        await handle.writeFile(`${JSON.stringify(pbsSpoolDocument(message, id))}\n`);
        // the spool belongs to the backup user, who must be able to read and remove the file
        if (process.getuid?.() === 0) await handle.chown(spool.uid, spool.gid);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, final);
      await syncDir(dir);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw new PvepatchError(
        'proxmox-error',
        `unable to queue notification in PBS spool '${dir}' - ${(err as Error).message}; check that the directory exists and pvepatch runs as root`,
        { cause: err },
      );
    }
    return `queued as ${final}`;
  },
} satisfies ChannelDriver<ProxmoxPbsChannelConfig>;

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
