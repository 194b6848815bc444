import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { baseRootPaths, ensureBaseRoot } from './base-root.js';

/** Puts an `mmdebstrap` that always fails first on PATH, so a rebuild attempt cannot go unnoticed. */
async function withoutMmdebstrap<T>(fn: () => Promise<T>): Promise<T> {
  const bin = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-nommdebstrap-'));
  await writeFile(path.join(bin, 'mmdebstrap'), '#!/bin/sh\necho "mmdebstrap must not run" >&2\nexit 99\n');
  await chmod(path.join(bin, 'mmdebstrap'), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
    await rm(bin, { recursive: true, force: true });
  }
}

describe('base root cache', () => {
  let root: string;

  before(async () => {
    root = await ensureBaseRoot(); // builds it (about 30 s, needs the mirror) when the cache is empty
  });

  test('is a Debian 12 root with perl and without apt lists', async () => {
    assert.match(await readFile(path.join(root, 'etc/os-release'), 'utf8'), /^VERSION_ID="12"$/m);
    assert.ok(existsSync(path.join(root, 'usr/bin/perl')));
    assert.ok(existsSync(baseRootPaths().stamp));
    assert.equal(
      existsSync(path.join(root, 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease')),
      false,
    );
  });

  test('a second call reuses the extracted root without mmdebstrap', async () => {
    const stampBefore = await stat(baseRootPaths().stamp);
    const started = Date.now();
    const again = await withoutMmdebstrap(() => ensureBaseRoot());
    assert.equal(again, root);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.equal((await stat(baseRootPaths().stamp)).mtimeMs, stampBefore.mtimeMs);
  });

  describe('restoring from the cached tarball', () => {
    let cacheDir: string;
    after(async () => {
      if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
    });

    test('extracts once, under the lock, when only the tarball is there', async () => {
      cacheDir = await mkdtemp(path.join(os.tmpdir(), 'pvepatch-cache-'));
      const p = baseRootPaths({ cacheDir });
      await mkdir(cacheDir, { recursive: true });
      await link(baseRootPaths().tarball, p.tarball).catch(() => copyFile(baseRootPaths().tarball, p.tarball));
      const started = Date.now();
      const [a, b] = await withoutMmdebstrap(() =>
        Promise.all([ensureBaseRoot({ cacheDir }), ensureBaseRoot({ cacheDir })]),
      );
      const ms = Date.now() - started;
      assert.deepEqual([a, b], [p.root, p.root]);
      assert.ok(existsSync(path.join(p.root, 'usr/bin/perl')));
      const stamp = JSON.parse(await readFile(p.stamp, 'utf8'));
      assert.equal(stamp.tarball, p.tarball);
      assert.ok(ms < 60_000, `restore took ${ms} ms`);
    });
  });
});
