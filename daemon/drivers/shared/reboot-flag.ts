import type { DriverContext } from '../types.js';
import { parseNameList } from './parse.js';

/** Debian's flag, also written by admins' tooling and the lab's demo packages on every family. */
export const REBOOT_REQUIRED_FILE = '/run/reboot-required';
export const REBOOT_PACKAGES_FILE = '/run/reboot-required.pkgs';

export interface RebootFlag {
  required: boolean;
  /** Package names the flag's list names. */
  packages: string[];
}

/** `test -e <flag>` and the names in `<flag>.pkgs` (absent: none). */
export async function readRebootFlag(ctx: DriverContext, flag = REBOOT_REQUIRED_FILE): Promise<RebootFlag> {
  const exists = await ctx.exec.run(['test', '-e', flag]);
  const list = await ctx.exec.run(['cat', `${flag}.pkgs`]);
  return { required: exists.exitCode === 0, packages: list.exitCode === 0 ? parseNameList(list.stdout) : [] };
}
