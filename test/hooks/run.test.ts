import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { escapeControls } from '../../daemon/core/escape.js';
import { addHook, hookDirs, run, sh } from './helpers.js';

const hooksDir = hookDirs();

describe('runHooks: overrides', () => {
  it('combines the overrides of a phase: exclude union, last reboot and keep, all notes, first skip', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-guest', '10-a', sh("echo 'PVEPATCH__EXCLUDE=nginx libc6'\necho PVEPATCH__REBOOT=always"));
    addHook(dir, 'pre-guest', '20-b', sh('echo PVEPATCH__EXCLUDE=libc6,redis\necho PVEPATCH__SNAPSHOT_KEEP=7'));
    addHook(dir, 'pre-guest', '30-c', sh('echo PVEPATCH__REBOOT=never\necho PVEPATCH__NOTE=from c'));
    addHook(dir, 'pre-guest', '40-d', sh('echo PVEPATCH__SNAPSHOT_KEEP=4\necho PVEPATCH__NOTE=from d'));
    const { outcome, log } = await run(dir, 'pre-guest', { current: { snapshot_keep: 3 } });
    assert.deepEqual(outcome.warnings, []);
    assert.equal(outcome.veto, undefined);
    assert.deepEqual(outcome.overrides, {
      exclude: ['nginx', 'libc6', 'redis'],
      reboot: 'never',
      snapshot_keep: 4,
      notes: ['from c', 'from d'],
    });
    assert.deepEqual(
      outcome.ran.map((r) => [r.hook, r.exitCode, r.signal, r.timedOut]),
      ['10-a', '20-b', '30-c', '40-d'].map((h) => [`pre-guest.d/${h}`, 0, null, false]),
    );
    assert.ok(log.includes('hook pre-guest.d/10-a: obeyed exclude=nginx libc6, reboot=always'));
  });

  it('stops the phase at the first skip', async () => {
    const dir = hooksDir();
    const marker = join(dir, 'ran');
    addHook(dir, 'pre-run', '10-skip', sh('echo PVEPATCH__NOTE=n\necho PVEPATCH__SKIP=change freeze'));
    addHook(dir, 'pre-run', '20-later', sh(`touch ${marker}\necho PVEPATCH__SKIP=other`));
    const { outcome } = await run(dir, 'pre-run');
    assert.deepEqual(outcome.overrides, { exclude: [], notes: ['n'], skip: 'change freeze' });
    assert.equal(outcome.veto, undefined);
    assert.equal(existsSync(marker), false);
  });

  it('obeys nothing hostile a hook prints, and warns about each line', async () => {
    const dir = hooksDir();
    const lines = [
      'PATH=/tmp',
      'PVEPATCH__EXCLUDE=$(reboot)',
      'PVEPATCH__EXCLUDE=nginx; rm -rf /',
      'PVEPATCH__PROTECTION=none',
      'PVEPATCH__SNAPSHOT_KEEP=0',
      'PVEPATCH__SNAPSHOT_KEEP=2',
    ];
    const body = `cat <<'EOF'\n${lines.join('\n')}\nEOF\nprintf 'PVEPATCH__NOTE=\\000\\033[2J\\377\\376\\n'\nprintf '\\033[2J\\n'`;
    addHook(dir, 'pre-guest', 'evil', sh(body));
    const { outcome, log } = await run(dir, 'pre-guest', { current: { snapshot_keep: 3 } });
    assert.deepEqual(outcome.overrides, { exclude: [], notes: [] });
    assert.equal(outcome.warnings.length, lines.length + 2);
    assert.match(outcome.warnings[6]!, /'PVEPATCH__NOTE=\\x00\\x1b\[2J\ufffd\ufffd' - control characters$/);
    for (const l of log) assert.equal(escapeControls(l), l);
  });

  it('discards the overrides of a hook that then fails', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-guest', 'x', sh('echo PVEPATCH__EXCLUDE=nginx\nexit 2'));
    const { outcome, log } = await run(dir, 'pre-guest');
    assert.deepEqual(outcome.overrides, { exclude: [], notes: [] });
    assert.deepEqual(outcome.veto, { hook: 'pre-guest.d/x', reason: 'exit code 2' });
    assert.ok(log.includes('hook pre-guest.d/x: output ignored - the hook failed'));
  });

  it('reads only the first 64 KiB of stdout, and does not kill the hook for more', async () => {
    const dir = hooksDir();
    const marker = join(dir, 'finished');
    const body = `echo PVEPATCH__NOTE=early\nhead -c 200000 /dev/zero | tr '\\0' a\necho\necho PVEPATCH__NOTE=late\ntouch ${marker}`;
    addHook(dir, 'pre-run', 'chatty', sh(body));
    const { outcome } = await run(dir, 'pre-run');
    assert.deepEqual(outcome.overrides.notes, ['early']);
    assert.deepEqual(outcome.warnings, ['hook pre-run.d/chatty: stdout beyond 64 KiB ignored']);
    assert.equal(outcome.ran[0]!.exitCode, 0);
    assert.ok(existsSync(marker));
  });
});

describe('runHooks: exit codes', () => {
  it('a failing pre-run hook vetoes with its last stderr line; later hooks do not run', async () => {
    const dir = hooksDir();
    const marker = join(dir, 'ran');
    addHook(dir, 'pre-run', '10-ok', sh('echo checking >&2'));
    addHook(dir, 'pre-run', '20-no', sh("echo first >&2\nprintf 'db \\033[31mnot ready\\n\\n' >&2\nexit 3"));
    addHook(dir, 'pre-run', '30-later', sh(`touch ${marker}`));
    const { outcome, log } = await run(dir, 'pre-run');
    assert.deepEqual(outcome.veto, { hook: 'pre-run.d/20-no', reason: 'db \\x1b[31mnot ready' });
    assert.deepEqual(
      outcome.ran.map((r) => [r.hook, r.exitCode]),
      [
        ['pre-run.d/10-ok', 0],
        ['pre-run.d/20-no', 3],
      ],
    );
    assert.equal(existsSync(marker), false);
    assert.ok(log.includes('hook pre-run.d/10-ok: checking'));
    assert.ok(log.includes('hook pre-run.d/20-no: db \\x1b[31mnot ready'));
  });

  it('a failing pre-guest hook without stderr vetoes with its exit code', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-guest', 'x', sh('exit 7'));
    const { outcome } = await run(dir, 'pre-guest');
    assert.deepEqual(outcome.veto, { hook: 'pre-guest.d/x', reason: 'exit code 7' });
  });

  it('a hook that cannot start is a veto too', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-guest', 'x', '#!/nonexistent/interpreter\n');
    const { outcome } = await run(dir, 'pre-guest');
    assert.match(outcome.veto?.reason ?? '', /^unable to start - unable to run '.*' - spawn .* ENOENT$/);
  });

  it('a failing post hook is a warning; later hooks still run', async () => {
    const dir = hooksDir();
    addHook(dir, 'post-patch', '10-bad', sh('echo unhealthy >&2\nexit 1'));
    addHook(dir, 'post-patch', '20-kill', sh('kill -9 $$'));
    addHook(dir, 'post-patch', '30-ok', sh('echo all good\necho PVEPATCH__REBOOT=always'));
    const { outcome, log } = await run(dir, 'post-patch');
    assert.equal(outcome.veto, undefined);
    assert.equal(outcome.ran.length, 3);
    assert.deepEqual(outcome.overrides, { exclude: [], notes: [] });
    assert.deepEqual(outcome.warnings, [
      'hook post-patch.d/10-bad: failed - unhealthy',
      'hook post-patch.d/20-kill: failed - killed by signal SIGKILL',
      "hook post-patch.d/30-ok: ignored 'PVEPATCH__REBOOT=always' - post hooks cannot change the result",
    ]);
    assert.ok(log.includes('hook post-patch.d/30-ok: all good'));
  });

  it('records refused hooks and runs the rest', async () => {
    const dir = hooksDir();
    addHook(dir, 'post-run', 'a', sh('true'), 0o777);
    addHook(dir, 'post-run', 'b', sh('true'));
    const { outcome } = await run(dir, 'post-run');
    assert.deepEqual(outcome.ran[0], {
      hook: 'post-run.d/a',
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: 0,
      refused: 'world-writable (mode 0777)',
    });
    assert.equal(outcome.ran[1]!.exitCode, 0);
    assert.deepEqual(outcome.warnings, ['hook post-run.d/a: refused - world-writable (mode 0777)']);
  });

  it('a refused pre-guest hook vetoes: the guard the admin meant to run never silently goes missing', async () => {
    const dir = hooksDir();
    addHook(dir, 'pre-guest', 'a', sh('true'), 0o777);
    addHook(dir, 'pre-guest', 'b', sh('echo PVEPATCH__NOTE=ran'));
    const { outcome } = await run(dir, 'pre-guest');
    assert.deepEqual(outcome.veto, {
      hook: 'pre-guest.d/a',
      reason: 'refused - world-writable (mode 0777); fix its owner or mode (root, not group/world-writable)',
    });
    assert.equal(outcome.ran.length, 1, 'the phase stops at the refused hook');
    assert.deepEqual(outcome.overrides.notes, []);
  });
});

function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}
async function waitGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && !gone(pid); i++) await new Promise((r) => setTimeout(r, 20));
  return gone(pid);
}

describe('runHooks: timeouts and aborts', () => {
  it('kills a hanging hook and its children at the timeout: a veto', async () => {
    const dir = hooksDir();
    const pids = join(dir, 'pids');
    addHook(dir, 'pre-guest', 'hang', sh(`sleep 1000 &\necho $! $$ > ${pids}\nsleep 1000`));
    const t0 = Date.now();
    const { outcome } = await run(dir, 'pre-guest', { timeoutMs: 500 });
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(outcome.veto, { hook: 'pre-guest.d/hang', reason: 'timed out after 0.5 s' });
    assert.equal(outcome.ran[0]!.timedOut, true);
    for (const pid of readFileSync(pids, 'utf8').trim().split(' ').map(Number)) assert.ok(await waitGone(pid));
  });

  it('kills a hook that ignores SIGTERM with SIGKILL 2 s later', async () => {
    const dir = hooksDir();
    addHook(dir, 'post-reboot', 'stubborn', sh("trap '' TERM\nsleep 1000"));
    const { outcome } = await run(dir, 'post-reboot', { timeoutMs: 200 });
    assert.deepEqual(outcome.warnings, ['hook post-reboot.d/stubborn: failed - timed out after 0.2 s']);
    assert.equal(outcome.ran[0]!.signal, 'SIGKILL');
  });

  it('an abort kills the running hook and stops the phase', async () => {
    const dir = hooksDir();
    const marker = join(dir, 'ran');
    addHook(dir, 'post-guest', 'a', sh('sleep 1000'));
    addHook(dir, 'post-guest', 'b', sh(`touch ${marker}`));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const { outcome } = await run(dir, 'post-guest', { signal: ac.signal });
    assert.deepEqual(outcome.warnings, ['hook post-guest.d/a: failed - aborted']);
    assert.equal(existsSync(marker), false);
    const pre = await run(dir, 'post-guest', { signal: AbortSignal.abort() });
    assert.deepEqual(pre.outcome.warnings, ['hook post-guest.d/a: failed - aborted before it started']);
  });
});
