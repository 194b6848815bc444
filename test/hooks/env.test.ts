import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HOOK_PATH, VALUE_MAX } from '../../daemon/hooks/index.js';
import { addHook, nodeScript, run, tempDir } from './helpers.js';

const dir = tempDir();
const out = join(dir, 'seen.json');
/** Our own temp dir for the runner's plan files, so no other test's files get in the way. */
const tmp = tempDir('pvepatch-hooks-tmp-');
const savedTmp = process.env.TMPDIR;
before(() => {
  process.env.TMPDIR = tmp;
  process.env.PVEPATCH_TEST_CANARY = 'leaked';
  process.env.PVEPATCH__INJECTED = 'leaked';
});
after(() => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  delete process.env.PVEPATCH_TEST_CANARY;
  delete process.env.PVEPATCH__INJECTED;
  rmSync(dir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

// Records exactly what the hook process got: environ, cwd, stdin, the plan file and its directory.
addHook(
  dir,
  'post-reboot',
  '10-dump',
  nodeScript(`const fs = require('fs'), path = require('path');
const plan = process.env.PVEPATCH__PLAN_FILE;
fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({
  env: process.env, cwd: process.cwd(), stdin: fs.readFileSync(0, 'utf8'),
  plan: fs.readFileSync(plan, 'utf8'), mode: fs.statSync(plan).mode & 0o777,
  dirMode: fs.statSync(path.dirname(plan)).mode & 0o777,
}));`),
);

interface Seen {
  env: Record<string, string>;
  cwd: string;
  stdin: string;
  plan: string;
  mode: number;
  dirMode: number;
}

describe('the environment a hook gets', () => {
  it('is exactly the fields, the phase, the hook, the plan file, PATH and LC_ALL', async () => {
    const plan = { guests: [{ vmid: 101, updates: ['nginx'] }], note: 'ü\n' };
    const { outcome } = await run(dir, 'post-reboot', {
      plan,
      fields: {
        vmid: 101,
        name: 'web1',
        tags: ['db', 'prod'],
        success: true,
        rolled_back: false,
        warnings: 0,
        Node: 'pve1',
        nul: 'a\0b',
        big: 'x'.repeat(VALUE_MAX + 10),
        missing: null,
        undef: undefined,
        empty: '',
        empty_list: [],
      },
    });
    assert.deepEqual(outcome.warnings, []);
    const seen = JSON.parse(readFileSync(out, 'utf8')) as Seen;
    const env = { ...seen.env, PVEPATCH__PLAN_FILE: '<plan>', PVEPATCH__BIG: seen.env.PVEPATCH__BIG?.length };
    assert.deepEqual(env, {
      PVEPATCH__VMID: '101',
      PVEPATCH__NAME: 'web1',
      PVEPATCH__TAGS: 'db prod',
      PVEPATCH__SUCCESS: '1',
      PVEPATCH__ROLLED_BACK: '0',
      PVEPATCH__WARNINGS: '0',
      PVEPATCH__NODE: 'pve1',
      PVEPATCH__NUL: 'ab',
      PVEPATCH__BIG: VALUE_MAX,
      PVEPATCH__EMPTY: '',
      PVEPATCH__EMPTY_LIST: '',
      PVEPATCH__PHASE: 'post-reboot',
      PVEPATCH__HOOK: '10-dump',
      PVEPATCH__PLAN_FILE: '<plan>',
      PATH: HOOK_PATH,
      LC_ALL: 'C',
    });
    assert.equal(seen.cwd, '/');
    assert.equal(seen.stdin, '');
    assert.deepEqual(JSON.parse(seen.plan), plan);
    assert.equal(seen.mode, 0o600);
    assert.equal(seen.dirMode, 0o700);
    assert.ok(seen.env.PVEPATCH__PLAN_FILE?.startsWith(join(tmp, 'pvepatch-hook-')));
    assert.equal(existsSync(seen.env.PVEPATCH__PLAN_FILE!), false, 'plan file removed');
    assert.deepEqual(readdirSync(tmp), [], 'private plan dir removed');
  });

  it('leaves out fields that cannot be variable names or that the runner sets itself', async () => {
    const { outcome } = await run(dir, 'post-reboot', { fields: { 'bad-name': 'x', phase: 'evil', ok: 'y' } });
    const seen = JSON.parse(readFileSync(out, 'utf8')) as Seen;
    assert.equal(seen.env.PVEPATCH__PHASE, 'post-reboot');
    assert.equal(seen.env.PVEPATCH__OK, 'y');
    assert.equal(seen.env['PVEPATCH__BAD-NAME'], undefined);
    assert.deepEqual(outcome.warnings, [
      "hook field 'bad-name' left out - not a usable variable name or reserved",
      "hook field 'phase' left out - not a usable variable name or reserved",
    ]);
  });

  it('writes no file at all when a phase has no hooks', async () => {
    const { outcome, log } = await run(join(dir, 'absent'), 'pre-run', { plan: { big: true } });
    assert.deepEqual(outcome, { ran: [], overrides: { exclude: [], notes: [] }, warnings: [] });
    assert.deepEqual(log, []);
    await run(dir, 'post-run');
    assert.deepEqual(readdirSync(tmp), []);
  });
});
