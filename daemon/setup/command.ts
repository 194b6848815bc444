import type { Command } from 'commander';
import { installVzdumpHook } from '../backup-hooks/install.js';
import { configPathOf } from '../config/load.js';
import { PvepatchError } from '../core/errors.js';
import { runSetup } from './index.js';

export interface SetupCommandDeps {
  out: (line: string) => void;
  /** The global `--config`, if given. */
  config: () => string | undefined;
}

/**
 * `pvepatch setup [--dry-run] [--remove] [--backup-storage <id>…]` (run as root on the host);
 * `pvepatch setup --vzdump-hook [--dry-run]` makes this node's vzdump ask pvepatch before a backup.
 */
export function addSetupCommand(program: Command, deps: SetupCommandDeps): void {
  program
    .command('setup')
    .description(
      'on this PVE node or PBS host: create the PVEPatch role, the pvepatch user and its API token, write the token into the config file and check it',
    )
    .option('--dry-run', 'print the commands that would run; change nothing')
    .option('--remove', 'remove the token, the user, the role and their ACLs, and pve_token from the config file')
    .option(
      '--backup-storage <id>',
      "a storage 'fallback vzdump' may back up to (PVEDatastoreUser on /storage/<id>); repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
      [],
    )
    .option(
      '--vzdump-hook',
      "only set pvepatch's vzdump hook in /etc/vzdump.conf (an existing script keeps running, chained) and list the backup jobs it covers",
    )
    .action(async (o: { dryRun?: boolean; remove?: boolean; backupStorage: string[]; vzdumpHook?: boolean }) => {
      if (o.vzdumpHook) {
        if (o.remove)
          throw new PvepatchError(
            'input-invalid',
            "'--vzdump-hook --remove' is not supported yet - remove the script: line from /etc/vzdump.conf by hand",
          );
        for (const line of installVzdumpHook({ dryRun: o.dryRun ?? false }).messages) deps.out(line);
        return;
      }
      const path = deps.config();
      await runSetup({
        configPath: configPathOf(path ? { path } : {}),
        dryRun: o.dryRun ?? false,
        remove: o.remove ?? false,
        backupStorages: o.backupStorage,
        out: deps.out,
      });
    });
}
