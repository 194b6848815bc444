import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './run.js';

/** Where one guest's pieces live under the lab dir. */
export interface GuestPaths {
  dir: string;
  root: string;
  upper: string;
  work: string;
  snapshots: string;
  conf: string;
}

/** Host directories bind-mounted read-only into every guest. */
export interface RepoMounts {
  main: string;
  security: string;
}

export const GUEST_REPO_DIRS = { main: '/srv/repo', security: '/srv/security' } as const;

export function guestPaths(labDir: string, vmid: number): GuestPaths {
  const dir = path.join(labDir, 'guests', String(vmid));
  return {
    dir,
    root: path.join(dir, 'root'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    snapshots: path.join(dir, 'snapshots'),
    conf: path.join(dir, 'ct.conf'),
  };
}

/** Paths end up in mount option strings, where these characters have a meaning. */
export function assertMountSafe(p: string): void {
  if (/[,:\s\\]/.test(p)) throw new Error(`unable to use path '${p}' - it contains ',', ':', '\\' or whitespace`);
}

/** Mounts the guest's overlay root over base and binds the repos into it read-only. */
export async function mountGuest(g: GuestPaths, base: string, repos: RepoMounts): Promise<void> {
  for (const p of [base, g.upper, g.work]) assertMountSafe(p);
  for (const p of [g.upper, g.work, g.root]) await mkdir(p, { recursive: true, mode: 0o755 });
  const opts = `lowerdir=${base},upperdir=${g.upper},workdir=${g.work}`;
  await runOk(['mount', '-t', 'overlay', 'overlay', '-o', opts, g.root]);
  for (const [key, inGuest] of Object.entries(GUEST_REPO_DIRS) as Array<[keyof RepoMounts, string]>) {
    const target = path.join(g.root, inGuest);
    await mkdir(target, { recursive: true });
    await runOk(['mount', '--bind', repos[key], target]);
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

/** Writes ct.conf and the guest files that make it a lab guest (apt sources, hostname). */
export async function writeGuestFiles(g: GuestPaths, vmid: number, hostname: string): Promise<void> {
  await writeFile(g.conf, `arch: amd64\nhostname: ${hostname}\nostype: debian\nrootfs: ${g.root}\n`);
  const etc = path.join(g.root, 'etc');
  await writeFile(path.join(etc, 'hostname'), `${hostname}\n`);
  await writeFile(path.join(etc, 'hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n`);
  const sources = [
    `# pvepatch lab guest ${vmid}`,
    `deb [trusted=yes] file:${GUEST_REPO_DIRS.main} ./`,
    `deb [trusted=yes] file:${GUEST_REPO_DIRS.security} ./`,
    '',
  ];
  await writeFile(path.join(etc, 'apt/sources.list'), sources.join('\n'));
  const listDir = path.join(etc, 'apt/sources.list.d');
  for (const name of await readdir(listDir).catch(() => [] as string[])) await rm(path.join(listDir, name));
}
