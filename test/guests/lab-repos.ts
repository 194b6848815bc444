import { mkdir, readdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { buildPackage, buildRepo } from './apt-repo.js';
import { demoPackages, demoRepoLayout, MAIN_RELEASE, type RepoState, SECURITY_RELEASE } from './demo-packages.js';

/** The Debian lab's two repository directories on the host. */
export interface RepoMounts {
  main: string;
  security: string;
}

/** Builds every demo package version into outDir; returns `name_version` → .deb path. */
export async function buildDemoDebs(outDir: string): Promise<Map<string, string>> {
  await mkdir(outDir, { recursive: true });
  const built = await Promise.all(
    demoPackages.map(async (spec) => [`${spec.name}_${spec.version}`, await buildPackage(spec, outDir)] as const),
  );
  return new Map(built);
}

/** Rewrites both repo directories in place (bind mounts of them stay valid) for a state. */
export async function applyRepoState(repos: RepoMounts, debs: Map<string, string>, state: RepoState): Promise<void> {
  const layout = demoRepoLayout(state);
  const pick = (keys: string[]) =>
    keys.map((k) => {
      const deb = debs.get(k);
      if (!deb) throw new Error(`unable to build repo state ${state} - no package ${k}`);
      return deb;
    });
  for (const [dir, keys, release] of [
    [repos.main, layout.main, MAIN_RELEASE],
    [repos.security, layout.security, SECURITY_RELEASE],
  ] as const) {
    const before = await stat(path.join(dir, 'Release')).catch(() => null);
    await buildRepo(dir, pick(keys), release);
    await bumpMtimes(dir, before?.mtimeMs ?? 0);
  }
}

/**
 * apt's file: method treats an index with the same mtime and size as already fetched, and two
 * states can be written within one second with equal sizes; so every rewrite moves the repo's
 * mtimes at least one second past the previous Release.
 */
async function bumpMtimes(dir: string, previousMs: number): Promise<void> {
  const seconds = Math.max(Math.floor(Date.now() / 1000), Math.floor(previousMs / 1000) + 1);
  for (const name of await readdir(dir)) await utimes(path.join(dir, name), seconds, seconds);
}
