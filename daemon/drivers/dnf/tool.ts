/**
 * The dnf flavour of the rpm-family tool. Every dnf command runs with `exit_on_lock`, so a held
 * lock ends it at once (exit 200, or rpm's "can't create transaction lock"); the shared lock loop
 * then waits on the probe and runs it again.
 */

import * as rs from '../rpm-common/steps.js';
import { rpmTool } from '../rpm-common/tool.js';
import type { LockHolder } from '../shared/lock-wait.js';
import type { DriverContext } from '../types.js';
import * as cmd from './commands.js';
import * as parse from './parse.js';

/** dnf's pid-file locks first (cheap, and they name the holder), then rpm's transaction lock. */
export async function probeLocks(ctx: DriverContext): Promise<LockHolder | null> {
  const own = await rs.pidFileHolder(ctx, cmd.DNF_PID_FILES, 'dnf lock');
  if (own) return own;
  const db = await rs.verifyDb(ctx);
  return db.lock ? rs.rpmLockHolder(db.lock) : null;
}

export const dnfTool = rpmTool({
  name: 'dnf',
  argv: cmd,
  conf: cmd.DNF_CONF,
  versionlockList: cmd.VERSIONLOCK_LIST,
  availableCodes: [],
  parseAvailable: parse.parseRepoquery,
  lockOf: parse.parseDnfLock,
  probeLocks,
  /** `--assumeno` exits 1 after "Operation aborted."; "Nothing to do." exits 0. */
  planDeclined: (res) => res.stderr.split('\n').some((l) => l.startsWith('Operation aborted')),
  planText: (res) => res.stdout,
});
