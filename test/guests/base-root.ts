import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withFileLock } from './file-lock.js';
import { runOk } from './run.js';

const DEFAULT_CACHE = '/var/cache/pvepatch-test';
const BASE_NAME = 'debian-bookworm-base';
const FALLBACK_MIRROR = 'http://deb.debian.org/debian';

export interface BaseRootOptions {
  /** Cache directory; defaults to env PVEPATCH_TEST_CACHE, then /var/cache/pvepatch-test. */
  cacheDir?: string;
}

/** Where the cached tarball, the extracted root and its stamp live. */
export interface BaseRootPaths {
  cacheDir: string;
  tarball: string;
  root: string;
  stamp: string;
  lock: string;
}

export function baseRootPaths(opts: BaseRootOptions = {}): BaseRootPaths {
  const cacheDir = opts.cacheDir ?? process.env.PVEPATCH_TEST_CACHE ?? DEFAULT_CACHE;
  const root = path.join(cacheDir, BASE_NAME);
  return {
    cacheDir,
    tarball: `${root}.tar.zst`,
    root,
    stamp: `${root}.stamp`,
    lock: path.join(cacheDir, '.lock'),
  };
}

/**
 * Returns the path of an extracted Debian bookworm minbase root, meant as a read-only overlay
 * lowerdir. Built once with mmdebstrap (needs the Debian mirror), cached as a .tar.zst and
 * extracted once; the stamp file is written last, so a half-extracted root is never used.
 */
export async function ensureBaseRoot(opts: BaseRootOptions = {}): Promise<string> {
  const p = baseRootPaths(opts);
  if (isReady(p)) return p.root;
  await mkdir(p.cacheDir, { recursive: true, mode: 0o755 });
  return withFileLock(p.lock, async () => {
    if (isReady(p)) return p.root; // another process finished while we waited
    if (!existsSync(p.tarball)) await buildTarball(p.tarball);
    await extract(p);
    return p.root;
  });
}

function isReady(p: BaseRootPaths): boolean {
  return existsSync(p.stamp) && existsSync(path.join(p.root, 'usr/bin/perl'));
}

/** The first http(s) URI of the host's deb822 sources, else of the one-line sources.list. */
export async function debianMirror(): Promise<string> {
  const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '');
  const uri = /^URIs:\s*(\S+)/m.exec(deb822)?.[1];
  if (uri) return uri;
  const oneLine = await readFile('/etc/apt/sources.list', 'utf8').catch(() => '');
  const deb = /^deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+bookworm\b/m.exec(oneLine)?.[1];
  return deb ?? FALLBACK_MIRROR;
}

async function buildTarball(tarball: string): Promise<void> {
  // mmdebstrap picks the compressor from the suffix, so the temp name keeps .tar.zst
  const tmp = tarball.replace(/\.tar\.zst$/, `.tmp-${process.pid}.tar.zst`);
  await rm(tmp, { force: true });
  const mirror = await debianMirror();
  await runOk(['mmdebstrap', '--quiet', '--variant=minbase', 'bookworm', tmp, mirror], { timeoutMs: 900_000 });
  await rename(tmp, tarball);
}

async function extract(p: BaseRootPaths): Promise<void> {
  const tmp = `${p.root}.tmp-${process.pid}`;
  await rm(p.stamp, { force: true });
  await rm(p.root, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { mode: 0o755 });
  await runOk(['tar', '--zstd', '-xpf', p.tarball, '-C', tmp, '--numeric-owner'], { timeoutMs: 300_000 });
  await cleanApt(tmp);
  if (!existsSync(path.join(tmp, 'usr/bin/perl'))) {
    throw new Error(`unable to prepare base root - perl-base missing in '${p.tarball}'`);
  }
  await rename(tmp, p.root);
  const { size, mtimeMs } = await stat(p.tarball);
  await writeFile(p.stamp, `${JSON.stringify({ tarball: p.tarball, size, mtimeMs, extractedAt: Date.now() })}\n`);
}

/** Drops downloaded .debs, package lists and apt's binary caches; guests use local repos only. */
async function cleanApt(root: string): Promise<void> {
  const dirs: Array<[string, (name: string) => boolean]> = [
    ['var/lib/apt/lists', (n) => n !== 'partial' && n !== 'lock'],
    ['var/cache/apt/archives', (n) => n.endsWith('.deb')],
    ['var/cache/apt', (n) => n.endsWith('.bin')],
  ];
  for (const [dir, drop] of dirs) {
    const full = path.join(root, dir);
    const names = await readdir(full).catch(() => [] as string[]);
    for (const name of names.filter(drop)) await rm(path.join(full, name), { recursive: true, force: true });
  }
}
