/**
 * Guests whose package manager output is hostile, on real Debian guests behind a daemon running as
 * its own process: 100 MiB without a newline, output that never ends, forged log lines and
 * terminal escapes. Each ends as a clear failure of that guest; the daemon stays up, its memory
 * bounded, and every line shown is escaped and attributed to the guest that printed it.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { runLogPath } from '../../daemon/store/run-log.js';
import type { RunSummary } from '../../daemon/store/state.js';
import { type Env, startEnv, versions } from './harness.js';

const FLOOD = 501;
const FOREVER = 502;
const FORGER = 503;
const PLAIN = 504;
const ESC = '\x1b';

/** demo-app 1.1's postinst runs /etc/demo-hook during dpkg's configure (test/guests/demo-packages.ts). */
const HOOKS: Record<number, string> = {
  [FLOOD]: "#!/bin/sh\nhead -c 104857600 /dev/zero | tr '\\0' x\n",
  [FOREVER]: '#!/bin/sh\nexec yes forever\n',
  [FORGER]: [
    '#!/bin/sh',
    "printf 'TASK OK\\n'",
    "printf '2026-01-01T00:00:00.000Z CT 504: snapshot pvepatch-x created\\nTASK OK\\n'",
    "printf '\\033[2J\\033]0;owned\\007\\033[31mred\\r\\n'",
    '',
  ].join('\n'),
};

describe('hostile guests', () => {
  let env: Env;
  let report: RunReport;
  let code: number;
  before(async () => {
    env = await startEnv({
      guests: [FLOOD, FOREVER, FORGER, PLAIN].map((vmid) => ({ vmid })),
      daemonProcess: true,
      config: { upgrade_timeout: '20', run_log_max_mb: '2', concurrency: '2' },
    });
    for (const [vmid, hook] of Object.entries(HOOKS))
      await env.lab.writeGuestFile(Number(vmid), '/etc/demo-hook', hook, 0o755);
    const osRelease = `ID=debian\nPRETTY_NAME="Debian ${ESC}]0;owned${ESC}\\\\ ${ESC}[5mblink"\n`;
    await env.lab.writeGuestFile(FORGER, '/etc/os-release', osRelease);
    const r = await env.cli(
      '--output-format',
      'json',
      'run',
      String(FLOOD),
      String(FOREVER),
      String(FORGER),
      String(PLAIN),
    );
    code = r.code;
    report = JSON.parse(r.out) as RunReport;
  });
  after(() => env?.close());

  const outcome = (vmid: number) => report.guests.find((g) => g.vmid === vmid)!;

  it('100 MiB without a newline fails that guest clearly; output that never ends times out', () => {
    assert.equal(code, 6, 'some guests failed');
    assert.equal(outcome(FLOOD).outcome, 'failed');
    assert.match(
      outcome(FLOOD).reason ?? '',
      /^patch: unable to use the output of 'apt-get' in the guest - it printed 100 MiB, more than the 16 MiB limit, and exited 0; its output is not trusted$/,
    );
    assert.equal(outcome(FOREVER).outcome, 'failed');
    assert.match(outcome(FOREVER).reason ?? '', /^patch: unable to run 'apt-get' in CT 502 - no exit after 2\ds$/);
    assert.equal(outcome(PLAIN).outcome, 'updated', 'the other guests are patched as usual');
  });

  it('the daemon stays up with bounded memory; each guest gets its share of run_log_max_mb', async () => {
    assert.equal(env.proc!.child.exitCode, null, 'daemon alive');
    const runs = await env.cli('--output-format', 'json', 'runs');
    assert.equal(runs.code, 0);
    assert.equal((JSON.parse(runs.out) as Pick<RunSummary, 'id' | 'state'>[])[0]?.id, report.id);
    const peak = env.proc!.peakRssMib();
    assert.ok(peak < 400, `peak RSS ${peak.toFixed(0)} MiB after >100 MiB of guest output`);
    const size = statSync(runLogPath(env.logDir, report.id)).size;
    assert.ok(size < 2.2 * 1024 * 1024, `run log is ${size} bytes`);
    const log = (await env.cli('log', report.id)).out.split('\n');
    const note = `CT ${FOREVER}: output limit of 512 KiB for this guest in this log reached - further output is left out`;
    assert.ok(
      log.some((l) => l.endsWith(note)),
      'the log says where the endless output was cut',
    );
    const cut = log.filter((l) => l.includes(`CT ${FLOOD}: | xxxx`));
    assert.equal(cut.length, 1, 'the 100 MiB line is one log line');
    assert.match(cut[0]!, /^\S+ CT 501: \| x{8192} \[\.\.\. \d+ more characters on this line left out\]$/);
    assert.match(log.at(-1)!, /^TASK ERROR: 2 guest\(s\) failed: 501, 502$/);
    assert.ok(
      log.some((l) => /CT 501: failed: patch: unable to use the output/.test(l)),
      'outcomes survive the cap',
    );
  });

  it("a failed guest's holds are released and a half-configured dpkg is reported by the next plan", async () => {
    assert.deepEqual(await versions(env.lab, PLAIN, ['demo-app']), { 'demo-app': '1.1' });
    const audit = await env.lab.exec(FOREVER, ['dpkg', '--audit']);
    assert.match(audit.stdout, /demo-app/, 'the upgrade was cut in the middle of configure');
    const plan = await env.cli('--output-format', 'json', 'plan', String(FOREVER));
    const p = JSON.parse(plan.out)[0] as { skip_reason: string };
    assert.match(p.skip_reason, /dpkg reports a broken package state - demo-app/);
  });

  it('forged lines and escapes are shown escaped and attributed to the guest that printed them', async () => {
    const text = (await env.cli('log', report.id)).out;
    const controls = [...text].filter((c) => c !== '\n' && (c < ' ' || c === '\x7f'));
    assert.deepEqual(controls, [], 'no control character reaches the terminal');
    const lines = text.split('\n');
    const forged = lines.filter((l) => l.includes('TASK OK'));
    assert.ok(forged.length >= 2);
    for (const l of forged) assert.match(l, /^\S+ CT 503: \| TASK OK$/, 'the guest cannot end the log');
    const fake = lines.filter((l) => l.includes('snapshot pvepatch-x created'));
    assert.deepEqual(
      fake.map((l) => l.replace(/^\S+ /, '')),
      ['CT 503: | 2026-01-01T00:00:00.000Z CT 504: snapshot pvepatch-x created'],
    );
    assert.ok(lines.some((l) => /CT 503: \| \\x1b\[2J\\x1b\]0;owned\\x07\\x1b\[31mred$/.test(l)));
    assert.ok(lines.some((l) => l.includes('CT 503: os Debian \\x1b]0;owned\\x1b\\ \\x1b[5mblink, driver apt')));
    assert.notEqual(lines.at(-1), 'TASK OK');
    assert.equal(outcome(FORGER).outcome, 'updated');
  });
});
