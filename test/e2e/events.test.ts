import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../daemon/cli/api-client.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { type Env, startEnv } from './harness.js';

/** A run's live event stream, `pvepatch log --follow`, and cancelling a run (real containers). */
describe('live run events and cancel', () => {
  let env: Env;
  let api: ApiClient;
  before(async () => {
    env = await startEnv({ guests: [{ vmid: 141 }, { vmid: 142 }, { vmid: 143 }], config: { concurrency: '1' } });
    api = new ApiClient(join(env.dir, 'run', 'api.sock'));
    // the first guest's upgrade takes a while, so the cancel arrives while it is in its patch stage
    await env.lab.writeGuestFile(141, '/etc/demo-hook', '#!/bin/sh\nsleep 3\n', 0o755);
  });
  after(() => env?.close());

  it('streams stages, output and outcomes; a cancel lets the guest in flight finish and skips the rest', async () => {
    const run = await api.post<RunSummary>('/runs', { selector: ['141-143'], exclude: [] });
    const events: { type: string; data: Record<string, unknown> }[] = [];
    let cancelled: Promise<unknown> | undefined;
    const follow = env.cli('log', run.id, '--follow');
    await api.events(`/runs/${encodeURIComponent(run.id)}/events`, (type, data) => {
      events.push({ type, data: data as Record<string, unknown> });
      if (type === 'stage' && (data as { vmid: number; stage: string }).stage === 'patch' && !cancelled)
        cancelled = env.cli('cancel', run.id);
    });
    assert.equal(((await cancelled) as { code: number }).code, 0);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'run-started');
    assert.equal(types.at(-1), 'run-finished');
    const seqs = events.map((e) => e.data.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'events arrive in order',
    );
    const stages141 = events.filter((e) => e.type === 'stage' && e.data.vmid === 141).map((e) => e.data.stage);
    assert.deepEqual(stages141.slice(0, 7), ['gate', 'connect', 'detect', 'inspect', 'updates', 'pre-guest', 'gate']);
    assert.ok(
      events.some((e) => e.type === 'log' && String(e.data.line).startsWith('CT 141: | ')),
      'guest output is streamed',
    );
    const results = new Map(
      events
        .filter((e) => e.type === 'guest-result')
        .map((e) => {
          const r = e.data.result as { vmid: number; outcome: string; reason?: string };
          return [r.vmid, r] as const;
        }),
    );
    assert.equal(results.get(141)?.outcome, 'updated', results.get(141)?.reason);
    for (const vmid of [142, 143]) {
      assert.equal(results.get(vmid)?.outcome, 'skipped');
      assert.match(results.get(vmid)?.reason ?? '', /^run cancelled by root@pam - stopped before stage '/);
    }
    const final = events.at(-1)!.data.run as RunSummary;
    assert.equal(final.state, 'interrupted');
    assert.equal(final.error, 'cancelled by root@pam');
    const text = await follow;
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^-- 141: patch$/m);
    assert.match(text.out, /^-- 142: skipped$/m);
    assert.match(text.out, /TASK ERROR: cancelled by root@pam/);
  });

  it('refuses to cancel a run that has ended, and replays a finished run to a late follower', async () => {
    const runs = JSON.parse((await env.cli('--output-format', 'json', 'runs')).out) as Pick<
      RunSummary,
      'id' | 'state'
    >[];
    const r = await env.cli('cancel', runs[0]!.id);
    assert.equal(r.code, 3);
    assert.match(r.err, /unable to cancel run '.+' - it has already ended \(interrupted\)/);
    const late = await env.cli('log', runs[0]!.id, '--follow');
    assert.match(late.out, /TASK ERROR: cancelled by root@pam/);
  });

  it('shows the fleet from cached plans, with last runs, and refreshes on request', async () => {
    type Row = {
      vmid: number;
      updates_available: number | null;
      planned_at: string | null;
      last_run: { outcome: string } | null;
    };
    const before = JSON.parse((await env.cli('--output-format', 'json', 'status')).out) as Row[];
    const by = new Map(before.map((r) => [r.vmid, r]));
    assert.equal(by.get(142)?.updates_available, null, 'never planned');
    assert.equal(by.get(141)?.last_run?.outcome, 'updated');
    assert.equal(by.get(142)?.last_run?.outcome, 'skipped');
    const refreshed = JSON.parse(
      (await env.cli('--output-format', 'json', 'status', '--refresh', '142,143')).out,
    ) as Row[];
    assert.deepEqual(
      refreshed.map((r) => [r.vmid, r.updates_available]),
      [
        [142, 5],
        [143, 5],
      ],
    );
    const text = await env.cli('status');
    assert.match(text.out, /^142\s+ct142\s+pve1\s+lxc\s+pct\s+apt\s+5\s+1\s+\d+s ago\s+skipped/m);
  });
});
