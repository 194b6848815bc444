/**
 * Is the running kernel the installed kernel package of its flavour? For families whose kernel
 * packages do not tell rpm-style which one booted (pacman, apk), each family says how its package
 * versions map to `uname -r`; the comparison is the same. Only a running kernel of the family's
 * own shape is compared, so a container — whose running kernel is the Proxmox host's — is never
 * flagged forever.
 */
import type { ChangedPackage, DriverContext } from '../types.js';
import { type RebootFlag, readRebootFlag } from './reboot-flag.js';

export interface KernelNaming {
  /** 'an Arch kernel', 'an Alpine kernel' (for the log). */
  what: string;
  /** Which kernel package a running release belongs to, or null for a foreign kernel. */
  runningPackage(release: string): string | null;
  /** The `uname -r` an installed kernel package boots as; null for another package or an odd version. */
  release(pkg: string, version: string): string | null;
  isKernelPackage(name: string): boolean;
}

export interface KernelCheck {
  /** The running kernel is the family's and its package now holds another release. */
  outdated: boolean;
  /** The kernel package to name as the reason, when outdated. */
  package: string | null;
  /** Why the comparison was skipped, for the log; null when it ran. */
  skipped: string | null;
}

export function checkKernel(
  naming: KernelNaming,
  release: string,
  installed: ReadonlyMap<string, string>,
): KernelCheck {
  const running = release.trim().slice(0, 200);
  const pkg = naming.runningPackage(running);
  if (!pkg) return { outdated: false, package: null, skipped: `running kernel ${running} is not ${naming.what}` };
  const version = installed.get(pkg);
  if (version === undefined)
    return { outdated: false, package: null, skipped: `running kernel ${running} but ${pkg} is not installed` };
  const expected = naming.release(pkg, version);
  if (expected === null) return { outdated: false, package: null, skipped: `unrecognised ${pkg} version ${version}` };
  return expected === running
    ? { outdated: false, package: null, skipped: null }
    : { outdated: true, package: pkg, skipped: null };
}

/** The reboot flag plus the running kernel against its installed package. */
export async function readRebootWithKernel(
  ctx: DriverContext,
  naming: KernelNaming,
  installed: ReadonlyMap<string, string>,
): Promise<RebootFlag> {
  const flag = await readRebootFlag(ctx);
  const uname = await ctx.exec.run(['uname', '-r']);
  const kernel = checkKernel(naming, uname.stdout, installed);
  if (kernel.skipped) ctx.log?.(`kernel check skipped - ${kernel.skipped}`);
  const packages =
    kernel.package && !flag.packages.includes(kernel.package) ? [...flag.packages, kernel.package] : flag.packages;
  return { required: flag.required || kernel.outdated, packages };
}

/** A kernel package that changed (or would change) in this run needs a reboot, whatever runs now. */
export function withChangedKernels(
  reboot: RebootFlag,
  changed: readonly ChangedPackage[],
  naming: KernelNaming,
): RebootFlag {
  const kernels = changed.filter((c) => c.after !== null && naming.isKernelPackage(c.package)).map((c) => c.package);
  return { required: reboot.required || kernels.length > 0, packages: [...new Set([...reboot.packages, ...kernels])] };
}
