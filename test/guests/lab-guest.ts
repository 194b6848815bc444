import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './run.js';

/** Where one guest's pieces live under the lab dir. */
export interface GuestPaths {
  dir: string;
  root: string;
  upper: string;
  work: string;
  /** Upper and work dir of the /usr overlay of host-userland guests (absent for Debian guests). */
  usrUpper: string;
  usrWork: string;
  snapshots: string;
  /** ct.conf of a container, vm.conf of a VM: the pct shim enters only guests with a ct.conf (see readme.md "VMs"). */
  conf: string;
}

/** The config file names a guest may have; one of them exists = the guest exists. */
export const GUEST_CONF_FILES = ['ct.conf', 'vm.conf'] as const;

/** How a guest root is put together (see FlavourLab). */
export interface GuestLayout {
  /** Overlay lowerdir of the root. */
  lower: string;
  /** Mount a second overlay at /usr: lowerdir = the host's /usr, upper/work = usrUpper/usrWork. */
  hostUsr: boolean;
  /** Guest path → host directory, bind-mounted read-only. */
  binds: Readonly<Record<string, string>>;
}

export function guestPaths(labDir: string, vmid: number, kind: 'ct' | 'vm' = 'ct'): GuestPaths {
  const dir = path.join(labDir, 'guests', String(vmid));
  return {
    dir,
    root: path.join(dir, 'root'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    usrUpper: path.join(dir, 'usr-upper'),
    usrWork: path.join(dir, 'usr-work'),
    snapshots: path.join(dir, 'snapshots'),
    conf: path.join(dir, kind === 'vm' ? 'vm.conf' : 'ct.conf'),
  };
}

/** Paths end up in mount option strings, where these characters have a meaning. */
export function assertMountSafe(p: string): void {
  if (/[,:\s\\]/.test(p)) throw new Error(`unable to use path '${p}' - it contains ',', ':', '\\' or whitespace`);
}

/** Mounts the guest's overlay root (and /usr overlay) and binds the repos into it read-only. */
export async function mountGuest(g: GuestPaths, layout: GuestLayout): Promise<void> {
  for (const p of [layout.lower, g.upper, g.work]) assertMountSafe(p);
  for (const p of [g.upper, g.work, g.root]) await mkdir(p, { recursive: true, mode: 0o755 });
  const opts = `lowerdir=${layout.lower},upperdir=${g.upper},workdir=${g.work}`;
  await runOk(['mount', '-t', 'overlay', 'overlay', '-o', opts, g.root]);
  if (layout.hostUsr) {
    for (const p of [g.usrUpper, g.usrWork]) assertMountSafe(p);
    for (const p of [g.usrUpper, g.usrWork]) await mkdir(p, { recursive: true, mode: 0o755 });
    const usr = path.join(g.root, 'usr');
    // never fall back to writing into the root's own usr/: the guest must see the host's /usr or nothing
    if (!existsSync(usr)) throw new Error(`unable to mount /usr of '${g.root}' - no usr/ in the lower root`);
    const usrOpts = `lowerdir=/usr,upperdir=${g.usrUpper},workdir=${g.usrWork}`;
    await runOk(['mount', '-t', 'overlay', 'overlay', '-o', usrOpts, usr]);
  }
  for (const [inGuest, hostDir] of Object.entries(layout.binds)) {
    const target = path.join(g.root, inGuest);
    await mkdir(target, { recursive: true });
    await runOk(['mount', '--bind', hostDir, target]);
    await runOk(['mount', '-o', 'remount,bind,ro', target]);
  }
}

/** Unmounts everything at or below the guest root (deepest first). */
export async function unmountGuest(g: GuestPaths): Promise<void> {
  await unmountBelow(g.root);
}

/** Mount points at or below dir in a /proc/self/mountinfo text, deepest first. */
export function parseMountPoints(mountinfo: string, dir: string): string[] {
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return points.sort((a, b) => b.length - a.length);
}

export async function mountsBelow(dir: string): Promise<string[]> {
  return parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8'), dir);
}

export async function unmountBelow(dir: string): Promise<void> {
  for (const point of await mountsBelow(dir)) {
    await runOk(['umount', point]).catch(() => runOk(['umount', '-l', point]));
  }
}

/**
 * Writes the guest's config (ct.conf as `pct config` shows it; vm.conf of a VM with qemu's keys: the
 * hostname as `name`) and the files every guest has (hostname, hosts).
 */
export async function writeGuestFiles(
  g: GuestPaths,
  hostname: string,
  ostype: string,
  kind: 'ct' | 'vm' = 'ct',
): Promise<void> {
  const conf =
    kind === 'vm'
      ? `agent: 1\nname: ${hostname}\nostype: l26\n`
      : `arch: amd64\nhostname: ${hostname}\nostype: ${ostype}\nrootfs: ${g.root}\n`;
  await writeFile(g.conf, conf);
  const etc = path.join(g.root, 'etc');
  await writeFile(path.join(etc, 'hostname'), `${hostname}\n`);
  await writeFile(path.join(etc, 'hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n`);
}
