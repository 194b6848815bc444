/**
 * The yum flavour of the rpm-family tool. yum runs with `exit_on_lock`, so a held /var/run/yum.pid
 * ends it at once; the shared lock loop then probes the pid file and runs it again.
 */

import { parsePackageColumns } from '../rpm-common/parse-table.js';
import * as rs from '../rpm-common/steps.js';
import { rpmTool } from '../rpm-common/tool.js';
import type { LockHolder } from '../shared/lock-wait.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import * as parse from './parse.js';

/**
 * yum's pid file names its holder. rpm 4.11 (EL7) takes no lock for `--verifydb`, so a bare rpm
 * transaction is only seen when a yum command fails on it (and is then retried).
 */
export function probeLocks(ctx: DriverContext): Promise<LockHolder | null> {
  return rs.pidFileHolder(ctx, [cmd.YUM_PID_FILE], 'yum lock');
}

export const yumTool = rpmTool({
  name: 'yum',
  argv: cmd,
  conf: cmd.YUM_CONF,
  versionlockList: cmd.VERSIONLOCK_LIST,
  /** check-update: 100 = updates listed, 0 = none, anything else an error. */
  availableCodes: [100],
  parseAvailable: parsePackageColumns,
  lockOf: parse.parseYumLock,
  probeLocks,
  /** `--assumeno` ends with "Exiting on user command" (exit 1); "No packages marked for update" exits 0. */
  planDeclined: (res) => `${res.stdout}\n${res.stderr}`.includes('Exiting on user command'),
  planText: (res) => `${res.stdout}\n${res.stderr}`,
  failureCause: (res) => parse.yumFailureCause(res.stdout, res.stderr),
  /** EL6 without yum-plugin-security has no updateinfo command. */
  noUpdateinfo: (res) => parse.isUnknownCommand(`${res.stdout}\n${res.stderr}`),
  /** yum-utils' needs-restarting, when installed (and new enough for `-r`). */
  hasNeedsRestarting: async (ctx) => (await ctx.exec.run(cmd.needsRestartingPresentCommand())).exitCode === 0,
});
