import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureBaseRoot } from '../base-root.js';
import { DEMO_PACKAGE_NAMES } from '../demo-packages.js';
import { holdLocks } from '../lab-lock.js';
import { applyRepoState, buildDemoDebs } from '../lab-repos.js';
import type { Flavour, FlavourGuest, FlavourLab } from './types.js';

/** Where the Debian repos appear inside a guest. */
export const DEBIAN_REPO_DIRS = { main: '/srv/repo', security: '/srv/security' } as const;

/** Real Debian 12 guests: an overlay over the cached mmdebstrap minbase root; apt and dpkg. */
export const debian: Flavour = {
  name: 'debian',
  ostype: 'debian',
  defaultPackages: DEMO_PACKAGE_NAMES,
  kernelPackage: null,
  conffile: '/etc/demo-conf.conf',
  conffileNewSuffix: '.dpkg-dist',

  async prepare(labDir: string): Promise<FlavourLab> {
    const lower = await ensureBaseRoot();
    const repos = { main: path.join(labDir, 'repos', 'main'), security: path.join(labDir, 'repos', 'security') };
    const debs = await buildDemoDebs(path.join(labDir, 'debs'));
    return {
      lower,
      hostUsr: false,
      repoMounts: { [DEBIAN_REPO_DIRS.main]: repos.main, [DEBIAN_REPO_DIRS.security]: repos.security },
      applyRepo: (state) => applyRepoState(repos, debs, state),
    };
  },

  async writeGuestFiles(root: string): Promise<void> {
    const etc = path.join(root, 'etc');
    const sources = [
      '# pvepatch lab guest',
      `deb [trusted=yes] file:${DEBIAN_REPO_DIRS.main} ./`,
      `deb [trusted=yes] file:${DEBIAN_REPO_DIRS.security} ./`,
      '',
    ];
    await writeFile(path.join(etc, 'apt/sources.list'), sources.join('\n'));
    const listDir = path.join(etc, 'apt/sources.list.d');
    for (const name of await readdir(listDir).catch(() => [] as string[])) await rm(path.join(listDir, name));
  },

  async provision(guest: FlavourGuest, packages: readonly string[]): Promise<void> {
    await guest.execOk(['apt-get', 'update', '-q']);
    const install = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q'];
    if (packages.length > 0) await guest.execOk([...install, ...packages.map((p) => `${p}=1.0`)]);
  },

  async refresh(guest: FlavourGuest): Promise<void> {
    await guest.execOk(['apt-get', 'update', '-q']);
  },

  async packageVersions(guest: FlavourGuest, pkg: string): Promise<string[]> {
    const version = await dpkgQueryVersion(guest, pkg);
    return version === null ? [] : [version];
  },

  holdLock(guest, seconds, kind) {
    const frontend = kind === 'frontend' ? (['fcntl:/var/lib/dpkg/lock-frontend'] as const) : [];
    return holdLocks(guest.pctPath, guest.vmid, seconds, [...frontend, 'fcntl:/var/lib/dpkg/lock'], 'dpkg');
  },
};

/** dpkg's idea of the installed version (null when not installed or only config files are left). */
export async function dpkgQueryVersion(guest: Pick<FlavourGuest, 'inspect'>, pkg: string): Promise<string | null> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a JS template
  const format = '-f=${db:Status-Status} ${Version}';
  const res = await guest.inspect(['dpkg-query', '-W', format, pkg]);
  if (res.exitCode !== 0) return null;
  const [status, version] = res.stdout.trim().split(' ');
  if (!version || status === 'not-installed' || status === 'config-files') return null;
  return version;
}
