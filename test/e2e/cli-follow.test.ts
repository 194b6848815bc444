import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../daemon/cli/api-client.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { type Env, startEnv } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;

/** The CLI as its own process (from the sources), for signals and terminals. */
function cliArgv(configPath: string, ...argv: string[]): string[] {
  return [process.execPath, '--import', 'tsx', 'daemon/cli/bin.ts', '--config', configPath, ...argv];
}

function collect(child: ChildProcess) {
  const o = { out: '', err: '' };
  child.stdout?.on('data', (c: Buffer) => {
    o.out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    o.err += c.toString('utf8');
  });
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { o, code };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `pvepatch run --detach`, `runs --follow`, Ctrl-C while following, and live progress on a terminal. */
describe('following runs from the CLI', () => {
  let env: Env;
  let api: ApiClient;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 161 }, { vmid: 162 }, { vmid: 163 }] });
    api = new ApiClient(join(env.dir, 'run', 'api.sock'));
    // upgrades of 161 and 162 take a while, so their runs are still running when followed
    for (const vmid of [161, 162]) await env.lab.writeGuestFile(vmid, '/etc/demo-hook', '#!/bin/sh\nsleep 3\n', 0o755);
  });
  after(() => env?.close());

  it('detaches from a run at once, and runs --follow follows the one running', async () => {
    const detached = await env.cli('--output-format', 'json', 'run', '161', '--detach');
    assert.equal(detached.code, 0, detached.err);
    const { id } = JSON.parse(detached.out) as { id: string };
    assert.equal((await api.get<RunSummary>(`/runs/${encodeURIComponent(id)}`)).state, 'running', 'returned at once');
    const followed = await env.cli('runs', '--follow');
    assert.equal(followed.code, 0, followed.err);
    const lines = followed.out.split('\n');
    assert.equal(lines[0], `following run ${id}`);
    assert.ok(lines.includes('-- 161: patch'), followed.out);
    assert.ok(lines.includes('-- 161: updated'), followed.out);
    assert.equal(lines.at(-1), 'TASK OK');
    assert.equal((await api.get<RunSummary>(`/runs/${encodeURIComponent(id)}`)).state, 'ok');

    const none = await env.cli('runs', '--follow');
    assert.equal(none.code, 3, 'the not-found exit code');
    assert.match(none.err, /^no run is running now - see 'pvepatch runs'$/);
    const text = await env.cli('run', '163', '--dry-run', '--detach');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^PVEPATCH:\S+$/, 'text mode prints the bare id');
    const dry = () => api.get<RunSummary>(`/runs/${encodeURIComponent(text.out)}`);
    await until('the dry run to end', async () => (await dry()).state !== 'running');
    const both = await env.cli('run', '163', '--detach', '--follow');
    assert.equal(both.code, 3);
    assert.match(both.err, /cannot be used with option '--follow'/);
  });

  it('Ctrl-C stops following, not the run', async () => {
    const [node, ...args] = cliArgv(env.configPath, 'run', '162');
    const child = spawn(node!, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { o, code } = collect(child);
    await until('the patch stage of 162', () => o.out.includes('-- 162: patch'));
    child.kill('SIGINT');
    assert.equal(await code, 130, o.err);
    const id = /^run (\S+) continues in the daemon; /.exec(o.err)?.[1] ?? '';
    assert.equal(
      o.err.trim(),
      `run ${id} continues in the daemon; 'pvepatch log ${id} --follow' to follow it again, 'pvepatch cancel ${id}' to stop it`,
    );
    assert.ok(!o.out.includes('TASK OK'), 'stopped before the run ended');
    const run = () => api.get<RunSummary>(`/runs/${encodeURIComponent(id)}`);
    await until('the run to end', async () => (await run()).state !== 'running');
    assert.equal((await run()).state, 'ok');
    assert.equal((await run()).guests['162'], 'updated', 'the run went on without its follower');
  });

  it('shows live per-guest progress on a terminal and leaves every outcome in the scrollback', {
    skip: hasScript ? false : 'script(1) (bsdutils) is not installed',
  }, async () => {
    const cmd = cliArgv(env.configPath, 'run', '161-163')
      .map((a) => `'${a}'`)
      .join(' ');
    // script(1) gives the CLI a pseudo-terminal; its stdin stays open until the CLI exits
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      cwd: ROOT,
      env: { ...process.env, TERM: 'xterm' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const { o, code } = collect(child);
    const exit = await code;
    child.stdin?.end();
    const out = o.out.replaceAll('\r', '');
    assert.equal(exit, 0, out + o.err);
    assert.ok(!out.includes('-- 163: '), 'no line output on a terminal');
    const cursorUps = out.split('\x1b[').filter((s) => /^\d+A/.test(s));
    assert.ok(cursorUps.length > 0, 'the block is redrawn in place');
    // the final static block comes after the last clear; then the report
    const tail = out.slice(out.lastIndexOf('\x1b[J') + 3).split('\n');
    const final = tail.slice(
      0,
      tail.findIndex((l) => l.startsWith('VMID ')),
    );
    assert.ok(final.length >= 3, out);
    for (const [vmid, outcome] of [
      [161, 'up-to-date'],
      [162, 'up-to-date'],
      [163, 'updated'],
    ] as const) {
      assert.ok(
        final.some((l) => l.startsWith(`${vmid}  ct${vmid}  ${outcome} `)),
        `${vmid} ${outcome} in the final block:\n${final.join('\n')}`,
      );
    }
    assert.ok(out.includes('TASK OK'));
  });
});
