import { spawn } from 'node:child_process';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Flavour, type FlavourGuest, type FlavourLab, flavourOf, type GuestFlavour } from './flavours/index.js';
import type { LabGuestSpec } from './lab-types.js';
import { type RunResult, run } from './run.js';

/**
 * Writes a /bin/sh wrapper that runs the shim with the lab dir baked in: `<labDir>/bin/pct` (like
 * Proxmox's pct: VMs are refused; an inherited PVEPATCH_LAB_INTERNAL is dropped) or, with `internal`,
 * `<labDir>/bin/lab-pct`, the lab's own entry, which also enters VMs (PVEPATCH_LAB_INTERNAL=1).
 */
export async function writePctWrapper(
  wrapperPath: string,
  shim: string,
  labDir: string,
  opts: { internal?: boolean } = {},
): Promise<void> {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const internal = opts.internal
    ? ['PVEPATCH_LAB_INTERNAL=1', 'export PVEPATCH_LAB_INTERNAL']
    : ['unset PVEPATCH_LAB_INTERNAL'];
  const lines = [
    '#!/bin/sh',
    `PVEPATCH_LAB_DIR=${q(labDir)}`,
    'export PVEPATCH_LAB_DIR',
    ...internal,
    `exec ${q(shim)} "$@"`,
  ];
  await mkdir(path.dirname(wrapperPath), { recursive: true });
  await writeFile(wrapperPath, `${lines.join('\n')}\n`);
  await chmod(wrapperPath, 0o755);
}

/**
 * `pct start` in the foreground, kept as our (unref'd) child so that its unshare process is
 * reaped by us and not left to a pid 1 that may not reap; resolves once isRunning says so.
 */
export async function startGuest(
  pctPath: string,
  vmid: number,
  isRunning: () => Promise<boolean>,
  initLog: string,
): Promise<void> {
  const env = { ...process.env, PVEPATCH_LAB_FOREGROUND: '1' };
  const child = spawn(pctPath, ['start', String(vmid)], { env, stdio: 'ignore' });
  child.unref();
  let exited = false;
  const onGone = () => {
    exited = true;
  };
  child.on('exit', onGone);
  child.on('error', onGone);
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(20)) {
    if (await isRunning()) return;
    if (exited) break;
  }
  const log = await readFile(initLog, 'utf8').catch(() => '');
  throw new Error(`unable to start guest ${vmid} - ${log.trim() || 'init did not come up'}`);
}

/** Guest specs must have unique PVE-style vmids and plain host names. */
export function validateGuests(guests: ReadonlyArray<{ vmid: number; hostname?: string }>): void {
  const seen = new Set<number>();
  for (const g of guests) {
    if (!Number.isInteger(g.vmid) || g.vmid < 100 || g.vmid > 999_999_999) throw new Error(`invalid vmid ${g.vmid}`);
    if (seen.has(g.vmid)) throw new Error(`duplicate vmid ${g.vmid}`);
    seen.add(g.vmid);
    if (g.hostname !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$/.test(g.hostname)) {
      throw new Error(`invalid hostname '${g.hostname}' for guest ${g.vmid}`);
    }
  }
}

const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs argv with `chroot <root>` in a clean environment: inspection of a stopped guest. */
export function chrootRun(root: string, argv: readonly string[]): Promise<RunResult> {
  return run(['chroot', root, 'env', '-i', `PATH=${CLEAN_PATH}`, ...argv]);
}

/** Prepares every flavour the guests use (roots, packages, repos; in parallel) with the repos at v1. */
export async function prepareFlavours(
  labDir: string,
  guests: readonly LabGuestSpec[],
): Promise<Map<GuestFlavour, FlavourLab>> {
  const used = [...new Set(guests.map((g) => g.flavour ?? 'debian'))];
  const prepared = await Promise.all(used.map((name) => flavourOf(name).prepare(labDir)));
  for (const fl of prepared) await fl.applyRepo('v1');
  return new Map(used.map((name, i) => [name, prepared[i] as FlavourLab]));
}

/** Installs the spec's packages in the started guest and makes the admin's config edit if asked. */
export async function provisionGuest(flavour: Flavour, guest: FlavourGuest, spec: LabGuestSpec): Promise<void> {
  const packages = spec.packages ?? [...flavour.defaultPackages];
  await flavour.provision(guest, packages);
  if (spec.modifyConffile) {
    if (!packages.includes('demo-conf')) throw new Error(`guest ${spec.vmid}: modifyConffile needs demo-conf`);
    await appendFile(path.join(guest.root, flavour.conffile), '# edited by the admin\nsetting=custom\n');
  }
}
