import { PvepatchError } from '../../core/errors.js';
import { runningBackupsFor } from '../../proxmox/backups.js';
import { guestConfig } from '../../proxmox/inventory.js';
import { done, type Stage } from '../context.js';

/**
 * No patch while a backup (or anything else) holds the guest: the config `lock`, read fresh, and
 * any running vzdump on the guest's node that covers it; and none while the cluster has no quorum
 * (nothing could be recorded in /etc/pve). Runs before the guest is entered and again right before
 * the snapshot. Keeps the config's `ostype` as a detection hint.
 */
export const gate: Stage = {
  name: 'gate',
  async run(ctx) {
    const { guest } = ctx.target;
    const label = `${guest.type === 'lxc' ? 'CT' : 'VM'} ${guest.vmid}`;
    // the backup lists are read while the config is: a lock in the config still decides first
    const backupsRead = runningBackupsFor(ctx.svc.client, guest);
    backupsRead.catch(() => {}); // a lock thrown below leaves this answer unread
    const cfgRead = guestConfig(ctx.svc.client, guest);
    cfgRead.catch(() => {}); // read together with the quorum; a refusal below leaves it unread
    if ((await ctx.svc.quorum?.()) === false) {
      throw new PvepatchError(
        'no-quorum',
        `unable to patch ${label} - the cluster has no quorum (/etc/pve is read-only); nothing new is started until it returns - check 'pvecm status'`,
      );
    }
    const cfg = await cfgRead;
    ctx.guestConfig = cfg; // the connect stage reads the agent option from it
    if (cfg.ostype) ctx.ostype = cfg.ostype;
    if (cfg.lock) {
      const code = cfg.lock === 'backup' ? 'backup-running' : 'locked';
      throw new PvepatchError(
        code,
        `unable to patch ${label} - ${guest.type === 'lxc' ? 'CT' : 'VM'} is locked (${cfg.lock}); retry when it is released`,
      );
    }
    const backups = await backupsRead;
    if (backups.length > 0) {
      throw new PvepatchError(
        'backup-running',
        `unable to patch ${label} - backup task ${backups[0]!.upid} is running on node '${guest.node}' and covers it; retry after it ends`,
      );
    }
    return done;
  },
};
