import { chmod, cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FlavourGuest } from './types.js';

/**
 * What a host-userland root has besides the family's own config. /usr is not here: the lab mounts
 * an overlay of the host's /usr over the empty usr/ dir, so the host's dnf, zypper and pacman
 * binaries run inside the guest while everything they install lands in the guest's upper dir.
 */
export interface HostRootSpec {
  /** Files below the root (relative path → content), e.g. etc/pacman.conf. */
  files: Record<string, string>;
  /** Extra empty directories (relative paths). */
  dirs?: string[];
  /** Extra symlinks (relative path → target). */
  symlinks?: Record<string, string>;
  /** /etc/passwd and /etc/group lines of the family's base system. */
  passwd: string[];
  group: string[];
}

const MERGED_USR = { bin: 'usr/bin', sbin: 'usr/sbin', lib: 'usr/lib', lib64: 'usr/lib64' } as const;
const DIRS = ['usr', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'home', 'srv', 'mnt', 'opt', 'var/tmp'];
const VAR_DIRS = ['var/lib', 'var/cache', 'var/log', 'var/spool', 'var/opt'];
/** Host files the host binaries need to start (loader cache, alternatives symlinks); no secrets. */
const HOST_ETC = ['ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives'];

/**
 * Builds the lower root of a host-userland flavour at dir (replacing it): merged-usr symlinks,
 * its own /etc, /var, /run, /tmp, /root, and the family's files.
 */
export async function buildHostRoot(dir: string, spec: HostRootSpec): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (const d of [...DIRS, ...VAR_DIRS, ...(spec.dirs ?? [])]) await mkdir(path.join(dir, d), { recursive: true });
  for (const d of ['tmp', 'var/tmp']) await chmod(path.join(dir, d), 0o1777);
  await chmod(path.join(dir, 'root'), 0o700);
  const links: Record<string, string> = {
    ...MERGED_USR,
    'var/run': '../run',
    'var/lock': '../run/lock',
    'etc/mtab': '../proc/self/mounts',
    ...spec.symlinks,
  };
  for (const [link, target] of Object.entries(links)) {
    await mkdir(path.dirname(path.join(dir, link)), { recursive: true });
    await symlink(target, path.join(dir, link));
  }
  for (const name of HOST_ETC) {
    await cp(path.join('/etc', name), path.join(dir, 'etc', name), { recursive: true, verbatimSymlinks: true });
  }
  const files: Record<string, string> = {
    'etc/passwd': `${spec.passwd.join('\n')}\n`,
    'etc/group': `${spec.group.join('\n')}\n`,
    'etc/nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nservices: files\n',
    'etc/shells': '/bin/sh\n/bin/bash\n/usr/bin/sh\n/usr/bin/bash\n',
    ...spec.files,
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
}

/** Debian's own tools, which a Fedora, openSUSE or Arch guest must not have. */
export const DEBIAN_TOOLS = ['apt', 'apt-*', 'dpkg', 'dpkg-*', 'add-apt-repository', 'unattended-upgrade*'];
/** The other families' tools, by family. */
export const FAMILY_TOOLS = {
  dnf: ['dnf', 'dnf-3', 'dnf4', 'yum'],
  zypper: ['zypper', 'zypper-log', 'zypp-refresh', 'needs-restarting'],
  pacman: [
    'pacman',
    'pacman-*',
    'makepkg',
    'makepkg-*',
    'repo-add',
    'repo-remove',
    'repo-elephant',
    'testpkg',
    'vercmp',
  ],
  rpm: [
    'rpm',
    'rpm2*',
    'rpmbuild',
    'rpmdb',
    'rpmkeys',
    'rpmquery',
    'rpmsign',
    'rpmspec',
    'rpmverify',
    'rpmlua',
    'rpmgraph',
  ],
} as const;

/**
 * Runs in a started host-userland guest: removes the host tools the family does not have from
 * the guest's /usr (whiteouts in the guest's /usr upper; the host is untouched), empties
 * /usr/local (the host's local installs) and removes the host's /usr/lib/os-release, which the
 * family's release package brings back.
 */
export async function hideHostTools(guest: FlavourGuest, names: readonly string[]): Promise<void> {
  const match = names.flatMap((n, i) => (i === 0 ? ['-name', n] : ['-o', '-name', n]));
  await guest.execOk(['find', '/usr/bin', '/usr/sbin', '-maxdepth', '1', '(', ...match, ')', '-delete']);
  await guest.execOk(['rm', '-rf', '/usr/lib/os-release', '/usr/local']);
  const local = ['bin', 'etc', 'games', 'include', 'lib', 'libexec', 'sbin', 'share', 'src'];
  await guest.execOk(['mkdir', '-p', ...local.map((d) => `/usr/local/${d}`)]);
}

/** Compares dotted/dashed versions segment by segment (numbers numerically); enough for the demo sets. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+~_]/);
  const pb = b.split(/[.\-+~_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : Number.NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : Number.NaN;
    const c = !Number.isNaN(nx) && !Number.isNaN(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}
