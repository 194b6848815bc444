import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Patching } from '../../daemon/backup-hooks/answer.js';
import { ApiClient } from '../../daemon/cli/api-client.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { type Env, startEnv } from '../e2e/harness.js';
import { runWiped, testWrapper } from './run-hook.js';

/** vzdump's environment at backup-start of CT <vmid> to a directory storage (PVE/VZDump.pm run_hook_script). */
const vzdumpEnv = (vmid: number) => ({
  STOREID: 'local',
  DUMPDIR: '/var/lib/vz/dump',
  VMTYPE: 'lxc',
  HOSTNAME: `ct${vmid}`,
  TARGET: `/var/lib/vz/dump/vzdump-lxc-${vmid}-2026_01_05-21_00_03.tar.zst`,
  LOGFILE: `/var/lib/vz/dump/vzdump-lxc-${vmid}-2026_01_05-21_00_03.tmp/log`,
});

/**
 * The vzdump hook as vzdump runs it: its own process, vzdump's argv, an emptied environment (no
 * PATH), against a real daemon that is patching a real container (held in a pre-guest hook).
 */
describe('vzdump hook against a running daemon', () => {
  let env: Env;
  let api: ApiClient;
  let dir: string;
  const wrapper = (name: string, hookConfigText: string | undefined, config?: string) => {
    const hookConfig = join(dir, `${name}.conf`);
    if (hookConfigText !== undefined) writeFileSync(hookConfig, hookConfigText, { mode: 0o644 });
    return testWrapper('pvepatch-vzdump-hook', join(dir, name), {
      config: config ?? env.configPath,
      hookConfig,
      subcommand: 'vzdump-hook',
    });
  };
  const patching = (vmid: number) => api.get<Patching>(`/guests/${vmid}/patching`);
  const until = async (what: string, check: () => Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    env = await startEnv({ guests: [{ vmid: 101 }, { vmid: 102 }], config: { hook_timeouts: 'pre-guest=60' } });
    api = new ApiClient(join(env.dir, 'run', 'api.sock'));
    dir = join(env.dir, 'vzdump-hook');
    mkdirSync(dir, { mode: 0o755 });
    // the chained hook: node, so that no shell adds PWD to what it records
    writeFileSync(
      join(dir, 'old-hook'),
      [
        '#!/usr/bin/node',
        "const fs = require('node:fs');",
        `fs.appendFileSync(${JSON.stringify(join(dir, 'chain.log'))}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }) + '\\n');`,
        "console.log('old hook: ' + process.argv.slice(2).join(' '));",
        "process.exit(process.argv[2] === 'job-end' ? 3 : 0);",
      ].join('\n'),
      { mode: 0o755 },
    );
  });
  after(() => env?.close());

  const chainCalls = () =>
    existsSync(join(dir, 'chain.log'))
      ? readFileSync(join(dir, 'chain.log'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { argv: string[]; env: Record<string, string> })
      : [];

  it('skips the backup of a guest mid-patch, allows another, and a waiting hook allows it once the patch ends', async () => {
    const plain = wrapper('plain', undefined);
    const chained = wrapper('chained', `chain: ${join(dir, 'old-hook')}\n`);
    const waiting = wrapper('waiting', 'wait: 120\npoll: 1\n');
    const hooks = join(env.dir, 'hooks.d', 'pre-guest.d');
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    writeFileSync(join(hooks, '10-hold'), '#!/bin/sh\n[ "$PVEPATCH__VMID" = 101 ] && sleep 12\nexit 0\n', {
      mode: 0o755,
    });
    try {
      const started = await env.cli('run', '101', '--detach');
      assert.equal(started.code, 0, started.err);
      const runId = started.out.trim();
      await until('101 to be patched', async () => (await patching(101)).patching);

      const veto = await runWiped(plain, ['backup-start', 'snapshot', '101'], vzdumpEnv(101));
      assert.equal(veto.code, 1, veto.out + veto.err);
      const stage = (await patching(101)).stage;
      assert.equal(
        veto.out,
        `pvepatch: CT 101 is being patched (run ${runId}, stage ${stage}) - skipping its backup; it runs again with the next job\n`,
      );
      const vetoChained = await runWiped(chained, ['backup-start', 'snapshot', '101'], vzdumpEnv(101));
      assert.equal(vetoChained.code, 1, vetoChained.out);
      assert.deepEqual(chainCalls(), [], 'the chained hook does not run for a skipped backup');

      const other = await runWiped(plain, ['backup-start', 'snapshot', '102'], vzdumpEnv(102));
      assert.equal(other.code, 0, other.out + other.err);
      assert.equal(other.out, 'pvepatch: CT 102 is not being patched - backup allowed\n');

      const waited = await runWiped(waiting, ['backup-start', 'snapshot', '101'], vzdumpEnv(101));
      assert.equal(waited.code, 0, waited.out + waited.err);
      const lines = waited.out.trim().split('\n');
      assert.match(lines[0]!, /^pvepatch: CT 101 is being patched \(run \S+, stage \S+\) - waiting up to 120 s$/);
      assert.equal(lines.at(-1), 'pvepatch: CT 101 is not being patched - backup allowed');
      assert.equal((await patching(101)).patching, false);
      const run = () => api.get<RunSummary>(`/runs/${encodeURIComponent(runId)}`);
      await until('the run to end', async () => (await run()).state !== 'running');
      assert.equal((await run()).state, 'ok', 'the patch itself went through');
    } finally {
      rmSync(join(env.dir, 'hooks.d'), { recursive: true, force: true });
    }
  });

  it('allows the backup when the daemon cannot be asked, saying why', async () => {
    const downConfig = env.writeConfig('down.conf', { socket: join(dir, 'no-such.sock') });
    const down = wrapper('down', undefined, downConfig);
    const r = await runWiped(down, ['backup-start', 'snapshot', '101'], vzdumpEnv(101));
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `pvepatch: daemon not reachable (no socket ${join(dir, 'no-such.sock')} - is pvepatchd running?) - backup allowed\n`,
    );
    rmSync(downConfig);
  });

  it('runs the chained hook with the same argv and emptied environment and keeps its exit code', async () => {
    const chained = wrapper('chained', `chain: ${join(dir, 'old-hook')}\n`);
    const jobEnv = { STOREID: 'local', VMTYPE: 'lxc' };
    const end = await runWiped(chained, ['job-end'], jobEnv);
    assert.equal(end.code, 3, 'the chained hook vetoes job-end');
    assert.equal(end.out, 'old hook: job-end\n');
    const start = await runWiped(chained, ['backup-start', 'snapshot', '102'], vzdumpEnv(102));
    assert.equal(start.code, 0, start.out);
    assert.equal(
      start.out,
      'pvepatch: CT 102 is not being patched - backup allowed\nold hook: backup-start snapshot 102\n',
    );
    const calls = chainCalls();
    assert.deepEqual(calls, [
      { argv: ['job-end'], env: jobEnv },
      { argv: ['backup-start', 'snapshot', '102'], env: vzdumpEnv(102) },
    ]);
    rmSync(join(dir, 'chain.log'));
  });

  it('fails every phase loudly when its own settings are broken (the chained hook would be lost)', async () => {
    const broken = wrapper('broken', 'wait: soon\n');
    const r = await runWiped(broken, ['job-init'], {});
    assert.equal(r.code, 2);
    assert.match(
      r.out,
      /^pvepatch: \S+broken\.conf line 1: wait must be a whole number of seconds from 0 to 86400 - fix or remove it\n$/,
    );
  });
});
