import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listHooks, SKIPPED_SUFFIXES } from '../../daemon/hooks/index.js';
import { addHook, hookDirs, sh } from './helpers.js';

const hooksDir = hookDirs();
const names = (paths: string[]) => paths.map((p) => p.slice(p.lastIndexOf('/') + 1));

describe('listHooks', () => {
  it('finds nothing, and no error, when the hooks dir or the phase dir is missing', async () => {
    const dir = hooksDir();
    assert.deepEqual(await listHooks(join(dir, 'nope'), 'pre-run'), { hooks: [], refused: [], skipped: [] });
    assert.deepEqual(await listHooks(dir, 'post-run'), { hooks: [], refused: [], skipped: [] });
  });

  it('orders hooks by the bytes of their names', async () => {
    const dir = hooksDir();
    for (const n of ['b', '10-x', '2-y', 'B', '_u', 'é', 'a-b', 'a']) addHook(dir, 'pre-guest', n, sh('true'));
    const { hooks } = await listHooks(dir, 'pre-guest');
    assert.deepEqual(names(hooks), ['10-x', '2-y', 'B', '_u', 'a', 'a-b', 'b', 'é']);
    assert.equal(hooks[0], join(dir, 'pre-guest.d', '10-x'));
  });

  it('skips leftovers, hidden files, non-regular and non-executable files', async () => {
    const dir = hooksDir();
    addHook(dir, 'post-patch', 'ok', sh('true'));
    for (const s of SKIPPED_SUFFIXES) addHook(dir, 'post-patch', `x${s}`, sh('true'));
    addHook(dir, 'post-patch', '.hidden', sh('true'));
    addHook(dir, 'post-patch', 'plain', sh('true'), 0o644);
    mkdirSync(join(dir, 'post-patch.d', 'subdir'));
    const { hooks, skipped, refused } = await listHooks(dir, 'post-patch');
    assert.deepEqual(names(hooks), ['ok']);
    assert.deepEqual(refused, []);
    const why = Object.fromEntries(skipped.map((s) => [s.hook, s.reason]));
    assert.equal(why['post-patch.d/plain'], 'not executable');
    assert.equal(why['post-patch.d/subdir'], 'not a regular file');
    assert.equal(why['post-patch.d/.hidden'], 'hidden file');
    assert.equal(why['post-patch.d/x.dpkg-old'], "'.dpkg-old' file");
    assert.equal(why['post-patch.d/x~'], "'~' file");
    assert.equal(skipped.length, SKIPPED_SUFFIXES.length + 3);
  });

  it('refuses hooks not owned by root, or writable by group or world', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-run', 'good', sh('true'));
    chownSync(addHook(dir, 'pre-run', 'nobody', sh('true')), 65534, 65534);
    addHook(dir, 'pre-run', 'group', sh('true'), 0o775);
    addHook(dir, 'pre-run', 'world', sh('true'), 0o757);
    const { hooks, refused } = await listHooks(dir, 'pre-run');
    assert.deepEqual(names(hooks), ['good']);
    assert.deepEqual(refused, [
      { hook: 'pre-run.d/group', reason: 'group-writable (mode 0775)' },
      { hook: 'pre-run.d/nobody', reason: 'owned by uid 65534, not root' },
      { hook: 'pre-run.d/world', reason: 'world-writable (mode 0757)' },
    ]);
  });

  it('refuses every hook of a writable phase dir or hooks dir', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-run', 'a', sh('true'));
    addHook(dir, 'pre-run', 'b.md', 'notes');
    chmodSync(join(dir, 'pre-run.d'), 0o777);
    const phase = await listHooks(dir, 'pre-run');
    assert.deepEqual(phase.hooks, []);
    assert.deepEqual(phase.refused, [
      { hook: 'pre-run.d/a', reason: `directory ${join(dir, 'pre-run.d')} is world-writable (mode 0777)` },
    ]);
    chmodSync(join(dir, 'pre-run.d'), 0o755);
    chownSync(dir, 65534, 65534);
    const top = await listHooks(dir, 'pre-run');
    assert.deepEqual(top.refused, [
      { hook: 'pre-run.d/a', reason: `directory ${dir} is owned by uid 65534, not root` },
    ]);
  });

  it('follows a symlink only to a target that passes the same checks', async () => {
    const dir = hooksDir();
    const lib = hooksDir();
    const good = join(lib, 'good');
    writeFileSync(good, sh('true'), { mode: 0o755 });
    const nobody = join(lib, 'nobody');
    writeFileSync(nobody, sh('true'), { mode: 0o755 });
    chownSync(nobody, 65534, 65534);
    const open = hooksDir();
    chmodSync(open, 0o1777);
    writeFileSync(join(open, 'x'), sh('true'), { mode: 0o755 });
    mkdirSync(join(dir, 'post-guest.d'), { mode: 0o755 });
    symlinkSync(good, join(dir, 'post-guest.d', '1-good'));
    symlinkSync(nobody, join(dir, 'post-guest.d', '2-nobody'));
    symlinkSync(join(open, 'x'), join(dir, 'post-guest.d', '3-open'));
    symlinkSync(join(lib, 'missing'), join(dir, 'post-guest.d', '4-dangling'));
    const { hooks, refused } = await listHooks(dir, 'post-guest');
    assert.deepEqual(names(hooks), ['1-good']);
    assert.deepEqual(
      refused.map((r) => r.hook),
      ['post-guest.d/2-nobody', 'post-guest.d/3-open', 'post-guest.d/4-dangling'],
    );
    assert.equal(refused[0]!.reason, `symlink target ${nobody} is owned by uid 65534, not root`);
    assert.equal(refused[1]!.reason, `symlink target in directory ${open} is world-writable (mode 1777)`);
    assert.match(refused[2]!.reason, /^unable to check - ENOENT/);
  });
});
