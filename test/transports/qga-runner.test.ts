import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { execArgv } from '../../daemon/core/exec.js';
import {
  BOOT_MISMATCH,
  BOOTSTRAP,
  jobDir,
  KILL,
  POLL,
  parsePoll,
  RUNNER,
  RUNNER_SHA256,
  sha256,
} from '../../daemon/transports/qga/runner.js';

/** The scripts as the agent runs them: argv exec'd directly, the runner on stdin. Here on the host's own /bin/sh. */
const boot = (dir: string, argv: string[], runner = RUNNER, sum = RUNNER_SHA256) =>
  execArgv(['/bin/sh', '-c', BOOTSTRAP, 'pvepatch-runner', sum, dir, ...argv], { input: runner, timeoutMs: 10_000 });
const poll = async (dir: string, o = 0, e = 0, max = 1 << 20) => {
  const r = await execArgv(['/bin/sh', '-c', POLL, 'pvepatch-poll', dir, String(o), String(e), String(max)]);
  assert.equal(r.exitCode, 0, r.stderr);
  return parsePoll(r.stdout);
};
async function until(dir: string) {
  for (let i = 0; i < 200; i++) {
    const a = await poll(dir);
    if (a && a.rc !== null) return a;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('job did not end');
}

/** Alive and not a zombie waiting for a parent that does not reap. */
function alive(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('detached runner scripts (real /bin/sh)', () => {
  it('starts the command detached, keeps its output byte-exact and its exit status', async () => {
    const dir = jobDir();
    try {
      const hostile = "x'; rm -rf / #$(id)\n\u00e9";
      const r = await boot(dir, ['/bin/sh', '-c', 'printf "%s" "$1"; printf err >&2; exit 7', 'sh', hostile]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout.trim(), /^(setsid|systemd)$/);
      const a = await until(dir);
      assert.equal(a.rc, 7);
      assert.equal(a.out.toString('utf8'), hostile, 'the argv word arrived unchanged and the output is exact');
      assert.equal(a.err.toString('utf8'), 'err');
      assert.equal(readFileSync(`${dir}/runner.sh`, 'utf8'), RUNNER);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads output from an offset and in bounded chunks', async () => {
    const dir = jobDir();
    try {
      await boot(dir, ['/bin/sh', '-c', 'printf 0123456789']);
      await until(dir);
      const part = await poll(dir, 3, 0, 4);
      assert.equal(part?.out.toString(), '3456');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a runner whose checksum does not match, runs nothing and leaves no job directory', async () => {
    const dir = jobDir();
    const tampered = RUNNER.replace('"$@"', 'touch /tmp/pvepatch-tampered; "$@"');
    const r = await boot(dir, ['/bin/sh', '-c', 'exit 0'], tampered, RUNNER_SHA256);
    assert.equal(r.exitCode, BOOT_MISMATCH);
    assert.match(r.stderr, new RegExp(`runner checksum mismatch - expected ${RUNNER_SHA256}, got ${sha256(tampered)}`));
    assert.equal(existsSync(dir), false);
    assert.equal(existsSync('/tmp/pvepatch-tampered'), false);
  });

  it('kills an overrunning job with its whole session and removes the directory', async () => {
    const dir = jobDir();
    try {
      await boot(dir, ['/bin/sh', '-c', 'sleep 30 & wait']);
      let pid = '';
      for (let i = 0; i < 100 && !pid; i++) {
        pid = existsSync(`${dir}/pid`) ? readFileSync(`${dir}/pid`, 'utf8').trim() : '';
        if (!pid) await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(pid, /^\d+$/);
      const k = await execArgv(['/bin/sh', '-c', KILL, 'pvepatch-kill', dir]);
      assert.equal(k.exitCode, 0, k.stderr);
      assert.equal(existsSync(dir), false);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(alive(pid), false, 'the runner is gone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers gone for a job directory that does not exist', async () => {
    assert.deepEqual((await poll(jobDir()))?.gone, true);
  });
});

describe('parsePoll', () => {
  it('accepts only its own frame', () => {
    const b = (s: string) => Buffer.from(s).toString('base64');
    assert.deepEqual(parsePoll(`state 0\nout\n${b('hi')}\nerr\nend\n`)?.out.toString(), 'hi');
    assert.equal(parsePoll(`state -\nout\nerr\nend\n`)?.rc, null);
    for (const bad of [
      '',
      'state x\nout\nerr\nend',
      'state 0\nout\nnot base64!\nerr\nend',
      'state 0\nout\nerr\n',
      'state 1234\nout\nerr\nend',
      'hello',
    ]) {
      assert.equal(parsePoll(bad), null, JSON.stringify(bad));
    }
  });

  it('stays linear on a huge hostile answer', () => {
    const big = `state 0\nout\n${'A'.repeat(8 << 20)}\nerr\n${'\n'.repeat(100_000)}end\n`;
    assert.equal(parsePoll(big)?.out.length, ((8 << 20) / 4) * 3);
  });
});
