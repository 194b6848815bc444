import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunReport } from '../../daemon/engine/types.js';
import { type Env, startEnv } from './harness.js';

const DEMO = ['demo-app', 'demo-conf', 'demo-lib', 'demo-sec', 'demo-tool'];

/**
 * The admin's hook scripts around real runs on real containers: a pre-guest hook keeps a package
 * back, skips a guest with its reason, and is ignored line by line when it prints garbage; post
 * hooks see the result; a failing pre-run hook touches no guest; a hanging hook is killed.
 */
describe('hook scripts', () => {
  let env: Env;
  let hooks: string;
  let out: string;
  before(async () => {
    env = await startEnv({
      guests: [{ vmid: 171 }, { vmid: 172 }, { vmid: 173 }, { vmid: 174 }],
      config: { hook_timeouts: 'pre-guest=3' },
    });
    hooks = join(env.dir, 'hooks.d');
    out = join(env.dir, 'hook-out');
    mkdirSync(out, { mode: 0o700 });
  });
  after(() => env?.close());

  const hook = (phase: string, name: string, body: string) => {
    mkdirSync(join(hooks, `${phase}.d`), { recursive: true, mode: 0o755 });
    writeFileSync(join(hooks, `${phase}.d`, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  };
  const clear = () => rmSync(hooks, { recursive: true, force: true });
  const run = async (...argv: string[]) => {
    const r = await env.cli('--output-format', 'json', 'run', ...argv);
    return { ...r, report: JSON.parse(r.out) as RunReport };
  };
  const envOf = (vmid: number) =>
    new Map(
      readFileSync(join(out, `post-guest-${vmid}.env`), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );

  it('pre-guest keeps a package back, skips a guest with its reason, and obeys no garbage; post-guest sees the result', async () => {
    hook(
      'pre-guest',
      '10-policy',
      [
        'case "$PVEPATCH__VMID" in',
        '171) echo "PVEPATCH__EXCLUDE=demo-app"; echo "PVEPATCH__NOTE=app frozen by the release team" ;;',
        '172) echo "PVEPATCH__SKIP=database maintenance until 06:00" ;;',
        "173) printf 'PATH=/tmp\\nPVEPATCH__EXCLUDE=$(reboot)\\nPVEPATCH__PROTECTION=none\\n\\001\\033[2Jgarbage\\377\\376\\n' ;;",
        'esac',
      ].join('\n'),
    );
    hook('post-guest', '90-record', `/usr/bin/env > ${out}/post-guest-$PVEPATCH__VMID.env`);
    const r = await run('171-174');
    const g = (vmid: number) => r.report.guests.find((x) => x.vmid === vmid)!;
    assert.equal(g(171).outcome, 'updated', g(171).reason);
    assert.equal(await env.lab.dpkgVersion(171, 'demo-app'), '1.0', 'kept back by the hook');
    assert.equal(await env.lab.dpkgVersion(171, 'demo-lib'), '1.1');
    assert.deepEqual(g(171).hooks?.find((h) => h.phase === 'pre-guest')?.notes, ['app frozen by the release team']);
    assert.equal(g(172).outcome, 'skipped');
    assert.equal(g(172).reason, 'pre-guest hook: database maintenance until 06:00');
    for (const p of DEMO) assert.equal(await env.lab.dpkgVersion(172, p), '1.0', `172 ${p} untouched`);
    assert.equal(g(173).outcome, 'updated', g(173).reason);
    for (const p of DEMO)
      assert.equal(await env.lab.dpkgVersion(173, p), '1.1', `173 ${p}: the garbage changed nothing`);
    const warned = g(173).hooks?.find((h) => h.phase === 'pre-guest')?.warnings ?? [];
    assert.equal(warned.length, 4, warned.join('\n'));
    assert.ok(!warned.join('\n').includes('\u001b'), 'escaped');
    const log = (await env.cli('log', r.report.id)).out;
    assert.match(log, /CT 173: .*PATH=\/tmp/);
    assert.match(log, /CT 171: kept back by pre-guest hook: demo-app/);
    // post-guest: every guest whose pre-guest ran, with its result, and nothing of the daemon's environment
    const e171 = envOf(171);
    assert.equal(e171.get('PVEPATCH__SUCCESS'), '1');
    assert.equal(e171.get('PVEPATCH__OUTCOME'), 'updated');
    assert.equal(e171.get('PVEPATCH__REBOOTED'), '0');
    assert.equal(e171.get('PVEPATCH__ROLLED_BACK'), '0');
    assert.equal(e171.get('PVEPATCH__PHASE'), 'post-guest');
    assert.equal(e171.get('PVEPATCH__NODE'), 'pve1');
    assert.equal(e171.get('PVEPATCH__TYPE'), 'lxc');
    assert.equal(e171.get('PVEPATCH__PATH'), undefined);
    assert.equal(e171.get('PATH'), '/usr/sbin:/usr/bin:/sbin:/bin');
    const planFile = e171.get('PVEPATCH__PLAN_FILE') ?? '';
    assert.match(planFile, /\.json$/);
    assert.equal(existsSync(planFile), false, 'the plan file is removed after the hook');
    const leaked = [...e171.keys()].filter(
      (k) => !k.startsWith('PVEPATCH__') && !['PATH', 'LC_ALL', 'PWD'].includes(k),
    );
    assert.deepEqual(leaked, []);
    const e172 = envOf(172);
    assert.equal(e172.get('PVEPATCH__SUCCESS'), '0');
    assert.equal(e172.get('PVEPATCH__OUTCOME'), 'skipped');
    clear();
  });

  it('a failing pre-run hook touches no guest, and a hanging pre-guest hook is killed at its timeout', async () => {
    await env.lab.setRepo('v3', { update: true });
    hook('pre-run', '10-freeze', 'echo "checking the calendar" >&2\necho "change freeze until 2027-01-04" >&2\nexit 3');
    const r = await run('171', '174');
    assert.notEqual(r.code, 0);
    for (const g of r.report.guests) {
      assert.equal(g.outcome, 'refused');
      assert.equal(g.reason, 'pre-run hook pre-run.d/10-freeze: change freeze until 2027-01-04');
    }
    assert.equal(await env.lab.dpkgVersion(174, 'demo-lib'), '1.1', 'not touched');
    clear();
    hook('pre-guest', '20-hang', `echo $$ > ${out}/hang.pid\nsleep 1000 &\nsleep 1000`);
    const t = await run('174');
    const g = t.report.guests[0]!;
    assert.equal(g.outcome, 'skipped');
    assert.match(g.reason ?? '', /^pre-guest hook pre-guest\.d\/20-hang: timed out after 3 s/);
    assert.equal(await env.lab.dpkgVersion(174, 'demo-lib'), '1.1', 'not touched');
    const pid = readFileSync(join(out, 'hang.pid'), 'utf8').trim();
    // SIGTERM at the timeout, SIGKILL 2 s later; a dead child may linger as a zombie until reaped
    const living = () => {
      try {
        return execFileSync('ps', ['-g', pid, '-o', 'stat='], { encoding: 'utf8' })
          .split('\n')
          .filter((st) => st.trim() !== '' && !st.trim().startsWith('Z'));
      } catch {
        return []; // ps exits 1 when the group is empty
      }
    };
    let alive = living();
    for (let i = 0; i < 50 && alive.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = living();
    }
    assert.deepEqual(alive, [], 'the hook and its children were killed');
    clear();
  });
});
