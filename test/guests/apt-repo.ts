import { chmod, copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from './run.js';

export type { DemoRepoLayout, RepoState } from './demo-packages.js';
export { DEMO_PACKAGE_NAMES, demoPackages, demoRepoLayout } from './demo-packages.js';

/** One binary package; every package ships /usr/share/<name>/VERSION. */
export interface PackageSpec {
  name: string;
  version: string;
  /** Debian Depends field, e.g. `demo-lib (>= 1.0)`. */
  depends?: string;
  /** Body of a `/bin/sh -e` postinst; it receives the maintainer script arguments ($1 = configure). */
  postinst?: string;
  /** Files registered as conffiles: absolute path → content. */
  conffiles?: Record<string, string>;
  /** Other files: absolute path → content. */
  files?: Record<string, string>;
}

/** Release fields that apt shows in `apt-get -s` lines (`Label:Version/Suite`) and pins on. */
export interface ReleaseInfo {
  origin: string;
  label: string;
  suite: string;
  codename: string;
  version?: string;
}

/** Builds `<outDir>/<name>_<version>_all.deb` with dpkg-deb and returns its path. */
export async function buildPackage(spec: PackageSpec, outDir: string): Promise<string> {
  const work = path.join(outDir, `.build-${spec.name}_${spec.version}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(path.join(work, 'DEBIAN'), { recursive: true });
  const files = { ...spec.files, ...spec.conffiles, [`/usr/share/${spec.name}/VERSION`]: `${spec.version}\n` };
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(work, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  await writeFile(path.join(work, 'DEBIAN/control'), controlFile(spec));
  const conffiles = Object.keys(spec.conffiles ?? {});
  if (conffiles.length > 0) await writeFile(path.join(work, 'DEBIAN/conffiles'), `${conffiles.join('\n')}\n`);
  if (spec.postinst) {
    const script = path.join(work, 'DEBIAN/postinst');
    await writeFile(script, `#!/bin/sh\nset -e\n${spec.postinst}\nexit 0\n`);
    await chmod(script, 0o755);
  }
  const deb = path.join(outDir, `${spec.name}_${spec.version}_all.deb`);
  await runOk(['dpkg-deb', '--root-owner-group', '-Zxz', '--build', work, deb]);
  await rm(work, { recursive: true, force: true });
  return deb;
}

function controlFile(spec: PackageSpec): string {
  const lines = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    'Architecture: all',
    'Maintainer: pvepatch tests <test@example.invalid>',
    'Section: misc',
    'Priority: optional',
  ];
  if (spec.depends) lines.push(`Depends: ${spec.depends}`);
  lines.push(`Description: dummy ${spec.name} ${spec.version} for pvepatch guest tests`);
  return `${lines.join('\n')}\n`;
}

/**
 * Fills dir with a flat apt repository (`deb [trusted=yes] file:<dir> ./`) holding debs.
 * The directory itself is kept (only emptied) so bind mounts of it stay valid; Release is
 * written to a temp file outside dir and renamed in, so it does not list itself.
 */
export async function buildRepo(dir: string, debs: readonly string[], release: ReleaseInfo): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
  for (const deb of debs) await copyFile(deb, path.join(dir, path.basename(deb)));
  const scan = await runOk(['dpkg-scanpackages', '--multiversion', '.', '/dev/null'], { cwd: dir });
  await writeFile(path.join(dir, 'Packages'), scan.stdout);
  await runOk(['gzip', '-9kf', 'Packages'], { cwd: dir });
  const opt = (field: string, value: string) => ['-o', `APT::FTPArchive::Release::${field}=${value}`];
  const argv = [
    'apt-ftparchive',
    ...opt('Origin', release.origin),
    ...opt('Label', release.label),
    ...opt('Suite', release.suite),
    ...opt('Codename', release.codename),
    ...(release.version ? opt('Version', release.version) : []),
    'release',
    '.',
  ];
  const rel = await runOk(argv, { cwd: dir });
  const tmp = path.join(path.dirname(dir), `.${path.basename(dir)}.Release.tmp`);
  await writeFile(tmp, rel.stdout);
  await rename(tmp, path.join(dir, 'Release'));
}
