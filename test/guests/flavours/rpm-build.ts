import { copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runOk } from '../run.js';
import type { FamilyPackage } from './demo-set.js';

/** Builds `<outDir>/<n>-<v>-<r>.<arch>.rpm` with rpmbuild and returns its path. */
export async function buildRpm(pkg: FamilyPackage, outDir: string): Promise<string> {
  const id = `${pkg.name}-${pkg.version}-${pkg.release}`;
  const work = path.join(outDir, `.build-${id}`);
  const tree = path.join(work, 'tree');
  await rm(work, { recursive: true, force: true });
  await mkdir(tree, { recursive: true });
  const all = { ...pkg.files, ...pkg.configs };
  for (const [file, content] of Object.entries(all)) {
    await mkdir(path.dirname(path.join(tree, file)), { recursive: true });
    await writeFile(path.join(tree, file), content);
  }
  for (const [link, target] of Object.entries(pkg.symlinks ?? {})) {
    await mkdir(path.dirname(path.join(tree, link)), { recursive: true });
    await symlink(target, path.join(tree, link));
  }
  const specFile = path.join(work, `${pkg.name}.spec`);
  await writeFile(specFile, specOf(pkg, tree));
  const arch = pkg.archSpecific ? 'x86_64' : 'noarch';
  // HOME and _dbpath point into the work dir: Debian's rpm keeps its database in $HOME/.rpmdb by default
  await runOk(
    [
      'rpmbuild',
      '--quiet',
      '--nodeps',
      '--define',
      `_topdir ${path.join(work, 'top')}`,
      '--define',
      `_dbpath ${path.join(work, 'rpmdb')}`,
      '--target',
      arch,
      '-bb',
      specFile,
    ],
    { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, LC_ALL: 'C' } },
  );
  const rpm = `${id}.${arch}.rpm`;
  await copyFile(path.join(work, 'top/RPMS', arch, rpm), path.join(outDir, rpm));
  await rm(work, { recursive: true, force: true });
  return path.join(outDir, rpm);
}

function specOf(pkg: FamilyPackage, tree: string): string {
  const lines = [
    `Name: ${pkg.name}`,
    `Version: ${pkg.version}`,
    `Release: ${pkg.release}`,
    `Summary: ${pkg.summary}`,
    'License: MIT',
    'URL: https://example.invalid/pvepatch',
    'AutoReqProv: no',
  ];
  if (!pkg.archSpecific) lines.push('BuildArch: noarch');
  for (const [name, min] of Object.entries(pkg.requires ?? {})) lines.push(`Requires: ${name} >= ${min}`);
  for (const cap of pkg.provides ?? []) lines.push(`Provides: ${cap}`);
  lines.push('', '%description', pkg.summary, '', '%install', `cp -a ${tree}/. %{buildroot}/`, '');
  if (pkg.postLua) lines.push('%post -p <lua>', pkg.postLua, '');
  else if (pkg.postScript) lines.push('%post', pkg.postScript, '');
  lines.push('%files');
  const dirs = new Set(Object.keys(pkg.files).map((f) => path.dirname(f)));
  for (const dir of dirs)
    if (dir.startsWith(`/usr/share/${pkg.name}`) || dir.startsWith('/usr/lib/modules/')) lines.push(`%dir ${dir}`);
  for (const file of Object.keys(pkg.files)) lines.push(file);
  for (const file of Object.keys(pkg.configs ?? {})) lines.push(`%config(noreplace) ${file}`);
  for (const link of Object.keys(pkg.symlinks ?? {})) lines.push(link);
  return `${lines.join('\n')}\n`;
}

/** One advisory of a repo's updateinfo.xml. */
export interface Advisory {
  id: string;
  /** security, bugfix, enhancement (Fedora) or security, recommended, optional (SUSE). */
  type: string;
  severity: string;
  from: string;
  /** The update's version attribute (zypp shows it as the patch edition): Bodhi writes 2.0, SUSE 1. */
  version: string;
  title: string;
  description: string;
  issued: string;
  cves?: string[];
  collection: { short: string; name: string };
  packages: readonly FamilyPackage[];
}

const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** updateinfo.xml as Fedora's Bodhi and SUSE's maintenance publish it (the subset dnf and zypp read). */
export function updateinfoXml(advisories: readonly Advisory[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', '<updates>'];
  for (const a of advisories) {
    out.push(`  <update from="${esc(a.from)}" status="stable" type="${esc(a.type)}" version="${esc(a.version)}">`);
    out.push(`    <id>${esc(a.id)}</id>`, `    <title>${esc(a.title)}</title>`);
    out.push(`    <issued date="${a.issued}"/>`, `    <updated date="${a.issued}"/>`);
    out.push(`    <severity>${esc(a.severity)}</severity>`, `    <summary>${esc(a.title)}</summary>`);
    out.push(`    <description>${esc(a.description)}</description>`, '    <references>');
    for (const cve of a.cves ?? []) {
      const href = `https://www.cve.org/CVERecord?id=${cve}`;
      out.push(`      <reference href="${esc(href)}" id="${esc(cve)}" type="cve" title="${esc(cve)}"/>`);
    }
    out.push('    </references>', '    <pkglist>', `      <collection short="${esc(a.collection.short)}">`);
    out.push(`        <name>${esc(a.collection.name)}</name>`);
    for (const p of a.packages) {
      const arch = p.archSpecific ? 'x86_64' : 'noarch';
      const attrs = `name="${p.name}" version="${p.version}" release="${p.release}" epoch="0" arch="${arch}"`;
      out.push(`        <package ${attrs} src="${p.name}-${p.version}-${p.release}.src.rpm">`);
      out.push(`          <filename>${p.name}-${p.version}-${p.release}.${arch}.rpm</filename>`, '        </package>');
    }
    out.push('      </collection>', '    </pkglist>', '  </update>');
  }
  out.push('</updates>', '');
  return out.join('\n');
}

/**
 * Fills dir with an rpm-md repository (createrepo_c) of rpms, plus updateinfo (modifyrepo_c)
 * when advisories are given. The directory itself is kept, so bind mounts of it stay valid.
 */
export async function buildRpmRepo(
  dir: string,
  rpms: readonly string[],
  advisories: readonly Advisory[],
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
  for (const rpm of rpms) await copyFile(rpm, path.join(dir, path.basename(rpm)));
  await runOk(['createrepo_c', '--quiet', '--no-database', dir]);
  if (advisories.length === 0) return;
  const tmp = path.join(path.dirname(dir), `.${path.basename(dir)}-updateinfo`);
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, 'updateinfo.xml'), updateinfoXml(advisories));
  await runOk(['modifyrepo_c', '--mdtype=updateinfo', path.join(tmp, 'updateinfo.xml'), path.join(dir, 'repodata')]);
  await rm(tmp, { recursive: true, force: true });
}
