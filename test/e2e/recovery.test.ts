import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatRunId } from '../../daemon/core/run-id.js';
import { runLogPath } from '../../daemon/store/run-log.js';
import type { State } from '../../daemon/store/state.js';
import { type Env, readRuns, startEnv } from './harness.js';

const RUN_ID = formatRunId({
  node: 'pve1',
  start: 0x6b000000,
  nonce: 1,
  type: 'run',
  vmid: '401',
  trigger: 'cli',
  user: 'root@pam',
});

/** A run that had ended (its log has its final line) when the daemon died before saving its state. */
const ENDED_ID = formatRunId({
  node: 'pve1',
  start: 0x6b000100,
  nonce: 2,
  type: 'run',
  vmid: '',
  trigger: 'api',
  user: 'root@pam',
});

describe('start-up after a crash in the middle of a run', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({
      guests: [{ vmid: 401 }],
      // what a daemon killed during the upgrade leaves: its hold in the guest, the hold recorded,
      // the run still marked running and a log without a final line; plus an admin's own hold
      beforeDaemon: async ({ lab, stateDir, logDir }) => {
        await lab.execOk(401, ['apt-mark', 'hold', 'demo-tool', 'demo-lib']);
        mkdirSync(stateDir, { recursive: true });
        mkdirSync(logDir, { recursive: true });
        // a version 1 state file, as the previous release wrote it (holds without transport)
        const state = {
          version: 1,
          runs: [
            {
              id: RUN_ID,
              state: 'running',
              started_at: '2026-11-22T00:00:00.000Z',
              selector: '401',
              dry_run: false,
              exclude: ['demo-tool'],
              guests: {},
            },
            {
              id: ENDED_ID,
              state: 'running',
              started_at: '2026-11-22T01:00:00.000Z',
              selector: 'all',
              dry_run: false,
              exclude: [],
              guests: {},
            },
          ],
          pending_holds: [{ run_id: RUN_ID, vmid: 401, node: 'pve1', driver: 'apt', holds: ['demo-tool'] }],
        };
        writeFileSync(join(stateDir, 'state.json'), JSON.stringify(state));
        writeFileSync(runLogPath(logDir, RUN_ID), 'pvepatch run\nCT 401: upgrading\n');
        writeFileSync(runLogPath(logDir, ENDED_ID), 'pvepatch run\nsummary: 1 refused\nTASK WARNINGS: 1\n');
      },
    });
  });
  after(() => env?.close());

  it('removes only the hold the interrupted run added and marks the run interrupted, never re-running it', async () => {
    // the run is marked before READY; the hold is released right after, in the background
    for (let i = 0; i < 200 && !env.daemonLog.some((l) => /released holds/.test(l)); i++) await sleep(50);
    const holds = (await env.lab.execOk(401, ['apt-mark', 'showhold'])).stdout.trim().split('\n');
    assert.deepEqual(holds, ['demo-lib'], "the admin's hold stays, pvepatch's is gone");
    const state = JSON.parse(readFileSync(join(env.dir, 'state', 'state.json'), 'utf8')) as State;
    assert.deepEqual(state.pending_holds, []);
    assert.equal(readRuns(env).find((r) => r.id === RUN_ID)?.state, 'interrupted');
    assert.equal('runs' in state, false, 'the runs moved out of state.json');
    const r = await env.cli('log', RUN_ID);
    const log = r.out.split('\n');
    assert.equal(r.code, 0, r.err);
    assert.equal(log.at(-1), 'TASK ERROR: interrupted - the daemon stopped while this run was in progress');
    assert.equal(await env.lab.dpkgVersion(401, 'demo-app'), '1.0', 'nothing was re-run');
    assert.ok(env.daemonLog.some((l) => /released holds demo-tool left in CT 401/.test(l)));
    assert.equal(env.sim.requests.filter((r) => r.method !== 'GET').length, 0);
  });

  it('takes the state of a run whose log had its final line from that line, and leaves the log as it was', async () => {
    assert.equal(readRuns(env).find((r) => r.id === ENDED_ID)?.state, 'warnings');
    const log = (await env.cli('log', ENDED_ID)).out.split('\n');
    assert.deepEqual(log, ['pvepatch run', 'summary: 1 refused', 'TASK WARNINGS: 1']);
  });
});
