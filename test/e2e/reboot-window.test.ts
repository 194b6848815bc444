import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import type { RunRow } from '../../daemon/store/runs.js';
import type { RebootRecord } from '../../daemon/store/state.js';
import { type Env, startEnv } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
/** A window of `minutes` starting `fromNow` minutes from now, in the node's time. */
const window = (fromNow: number, minutes: number) =>
  `${hhmm(new Date(Date.now() + fromNow * 60_000))}-${hhmm(new Date(Date.now() + (fromNow + minutes) * 60_000))}`;

/** A reboot required at night is deferred to the reboot window and done there, verified, with its record completed. */
describe('reboot window', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ guests: [], vms: [{ vmid: 321 }], config: { reboot_window: window(120, 60) } });
  });
  after(() => env?.close());
  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await env.cli('--output-format', 'json', ...argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  let patchRun: string;

  it('patches now and defers the required reboot, listed as pending with its reason', async () => {
    const r = await env.cli('--output-format', 'json', 'run', '321', '--reboot', 'if-required');
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as RunReport;
    patchRun = rep.id;
    const g = rep.guests[0]!;
    assert.equal(g.outcome, 'updated');
    assert.equal(g.reboot?.status, 'pending');
    assert.equal(env.sim.tasks().filter((t) => t.type === 'qmreboot').length, 0, 'no reboot sent');
    const pending = await json<RebootRecord[]>('reboots', '--pending');
    assert.deepEqual(
      pending.map((p) => [p.vmid, p.run_id, p.status]),
      [[321, patchRun, 'pending']],
    );
    assert.match(
      pending[0]!.reason,
      /^reboot required \(demo-app\); deferred - outside the reboot window \d\d:\d\d-\d\d:\d\d$/,
    );
  });

  it('reboots in the next window, verifies, and completes the same record', async () => {
    const uptimeBefore = await env.lab.powerBackend.uptime(321);
    const set = await env.cli('settings', 'set', `reboot_window=${window(-1, 30)}`);
    assert.equal(set.code, 0, set.err);
    let rec: RebootRecord | undefined;
    for (let i = 0; i < 300; i++) {
      rec = (await json<RebootRecord[]>('reboots')).find((x) => x.run_id === patchRun && x.vmid === 321);
      if (rec && ['completed', 'failed', 'timeout'].includes(rec.status)) break;
      await sleep(200);
    }
    assert.equal(rec?.status, 'completed', JSON.stringify(rec));
    assert.equal(rec.reason, 'reboot required (demo-app)');
    const uptime = await env.lab.powerBackend.uptime(321);
    assert.ok(uptime !== undefined && uptimeBefore !== undefined && uptime < uptimeBefore, 'the VM really restarted');
    assert.deepEqual(await json<RebootRecord[]>('reboots', '--pending'), []);
    const runs = await json<RunRow[]>('runs');
    const rebootRun = runs.find((x) => x.id !== patchRun)!;
    for (
      let i = 0;
      i < 100 && (await json<RunRow[]>('runs')).find((x) => x.id === rebootRun.id)?.state === 'running';
      i++
    )
      await sleep(200);
    const log = (await env.cli('log', rebootRun.id)).out;
    assert.match(log, /^pvepatch run .* \(reboots deferred to the reboot window\)$/m);
    assert.match(
      log,
      new RegExp(`VM 321: reboot deferred by run ${patchRun.replaceAll('$', '\\$')}: reboot required \\(demo-app\\)`),
    );
    assert.match(log, /VM 321: VM 321 is back after [\d.]+s/);
    assert.match(log, /TASK OK$/);
    assert.equal(env.sim.tasks().filter((t) => t.type === 'qmreboot' && t.id === '321').length, 1, 'rebooted once');
  });
});
