import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Answer, type Patching, parseVmid, patchingAnswer } from '../../daemon/backup-hooks/answer.js';
import { parseVzdumpHookConfig } from '../../daemon/backup-hooks/hook-config.js';
import type { BackupResult, PvepatchApi } from '../../daemon/backup-hooks/https-client.js';
import { appendOverride, pbsPlusPost, pbsPlusPre } from '../../daemon/backup-hooks/pbsplus.js';
import { isNamespace, type PbsPlusConfig, parsePbsPlusConfig } from '../../daemon/backup-hooks/pbsplus-config.js';
import { guestOfJob, jobResult, targetMatches } from '../../daemon/backup-hooks/pbsplus-env.js';
import { HOOK_EXIT, type VzdumpHookDeps, vzdumpHook } from '../../daemon/backup-hooks/vzdump.js';
import { isPvepatchError } from '../../daemon/core/errors.js';

const busy = (vmid: number): Answer<Patching> => ({
  kind: 'ok',
  value: { vmid, patching: true, run_id: 'PVEPATCH:pve1:1', stage: 'patch', since: '2026-01-05T21:00:00Z' },
});
const idle = (vmid: number): Answer<Patching> => ({ kind: 'ok', value: { vmid, patching: false } });

/** A vzdump hook with a scripted daemon and a fake clock. */
function fakeHook(answers: Answer<Patching>[], over: Partial<VzdumpHookDeps> = {}) {
  const out: string[] = [];
  const chained: string[][] = [];
  let t = 0;
  let asked = 0;
  const deps: VzdumpHookDeps = {
    config: { wait: 0, poll: 5 },
    configPath: '/etc/pvepatch/vzdump-hook.conf',
    socket: () => '/run/pvepatch/api.sock',
    ask: async () => answers[Math.min(asked++, answers.length - 1)]!,
    env: { VMTYPE: 'qemu' },
    out: (l) => out.push(l),
    sleep: async (ms) => {
      t += ms;
    },
    now: () => t,
    runChain: async (_p, argv) => {
      chained.push(argv);
      return 7;
    },
    ...over,
  };
  return { deps, out, chained, asked: () => asked, elapsed: () => t };
}

describe('vzdump hook logic', () => {
  it('vetoes at the deadline when the patch outlasts the wait, polling at the configured pace', async () => {
    const h = fakeHook([busy(105)], { config: { wait: 12, poll: 5 } });
    assert.equal(await vzdumpHook(['backup-start', 'snapshot', '105'], h.deps), HOOK_EXIT.veto);
    assert.equal(h.elapsed(), 12_000);
    assert.equal(h.asked(), 4, 'at 0, 5, 10 and 12 s');
    assert.equal(
      h.out.at(-1),
      'pvepatch: VM 105 is being patched (run PVEPATCH:pve1:1, stage patch) - skipping its backup; it runs again with the next job',
    );
    assert.deepEqual(h.chained, []);
  });

  it('allows when the daemon goes away while waiting, and for a guest id it cannot read', async () => {
    const h = fakeHook([busy(105), { kind: 'unreachable', reason: 'no socket /x' }], {
      config: { wait: 60, poll: 5, chain: '/opt/old' },
    });
    assert.equal(await vzdumpHook(['backup-start', 'stop', '105'], h.deps), 7, 'allowed, so the chain ran');
    assert.equal(h.out.at(-1), 'pvepatch: daemon not reachable (no socket /x) - backup allowed');
    const bad = fakeHook([busy(105)]);
    assert.equal(await vzdumpHook(['backup-start', 'stop', '1e5\u001b[2J'], bad.deps), HOOK_EXIT.allow);
    assert.equal(bad.out[0], "pvepatch: unexpected guest id '1e5\\x1b[2J' - backup allowed");
    const refused = fakeHook([{ kind: 'refused', status: 500, message: 'boom' }]);
    assert.equal(await vzdumpHook(['backup-start', 'stop', '105'], refused.deps), HOOK_EXIT.allow);
    assert.equal(refused.out[0], 'pvepatch: daemon not reachable (HTTP 500: boom) - backup allowed');
  });

  it('asks nothing in other phases, chains them all, and refuses to chain to itself', async () => {
    const h = fakeHook([busy(105)], { config: { wait: 0, poll: 5, chain: '/opt/old' } });
    for (const phase of [
      'job-init',
      'job-start',
      'backup-end',
      'backup-abort',
      'log-end',
      'job-end',
      'job-abort',
      'new-phase',
    ]) {
      assert.equal(await vzdumpHook([phase, 'snapshot', '105'], h.deps), 7);
    }
    assert.equal(h.asked(), 0);
    assert.equal(h.chained.length, 8);
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-self-'));
    try {
      writeFileSync(join(dir, 'hook'), '#!/bin/sh\n', { mode: 0o755 });
      symlinkSync(join(dir, 'hook'), join(dir, 'link'));
      const self = fakeHook([idle(105)], {
        config: { wait: 0, poll: 5, chain: join(dir, 'link') },
        self: join(dir, 'hook'),
      });
      assert.equal(await vzdumpHook(['job-start'], self.deps), HOOK_EXIT.allow);
      assert.deepEqual(self.chained, []);
      assert.match(self.out[0]!, /is this hook itself - not run/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('answers and settings', () => {
  it('reads the daemon answer tolerantly and refuses one about another guest or of another shape', () => {
    assert.deepEqual(patchingAnswer(200, '{"data":{"vmid":101,"patching":false,"new":1}}', 101), idle(101));
    assert.equal(patchingAnswer(200, '{"data":{"vmid":102,"patching":true}}', 101).kind, 'unreachable');
    assert.equal(patchingAnswer(200, '<html>', 101).kind, 'unreachable');
    assert.deepEqual(patchingAnswer(403, '{"error":{"code":"forbidden","message":"no\\nway"}}', 101), {
      kind: 'refused',
      status: 403,
      message: 'no\\nway',
    });
    assert.equal(parseVmid('101'), 101);
    for (const bad of ['99', '0101x', '', '1234567890', '１０１', ' 101']) assert.equal(parseVmid(bad), undefined, bad);
  });

  it('vzdump-hook.conf: wait, poll, chain; nothing else', () => {
    assert.deepEqual(parseVzdumpHookConfig('# c\nwait: 600\npoll:2\nchain: /usr/local/bin/old hook\n', 'f'), {
      wait: 600,
      poll: 2,
      chain: '/usr/local/bin/old hook',
    });
    assert.throws(() => parseVzdumpHookConfig('chain: relative/path\n', 'f'), /chain must be an absolute path/);
    assert.throws(
      () => parseVzdumpHookConfig('poll: 0\n', 'f'),
      /poll must be a whole number of seconds from 1 to 300/,
    );
    assert.throws(() => parseVzdumpHookConfig('wait: 1\nwait: 2\n', 'f'), /line 2: wait is set twice/);
    assert.throws(() => parseVzdumpHookConfig('script: /x\n', 'f'), /unknown key 'script'/);
  });

  const conf = (extra: string[] = []) =>
    ['url https://pve1:8016', 'token pbs@pve!hook=s3cr3t-value', `fingerprint ${'ab:'.repeat(31)}ab`, ...extra].join(
      '\n',
    );

  it('pbsplus.conf: maps with spaces, pinned trust, never shows the token in an error', () => {
    const c = parsePbsPlusConfig(
      conf(['target-map web01 - Root 101', 'job-map nightly 102', 'namespace-before-patch a/b', 'timeout 9']),
      'p',
    );
    assert.equal(c.url.href, 'https://pve1:8016/');
    assert.deepEqual([...c.targets], [['web01 - Root', 101]]);
    assert.deepEqual([...c.jobs], [['nightly', 102]]);
    assert.equal(c.trust.fingerprint, `${'AB:'.repeat(31)}AB`);
    assert.equal(c.namespace, 'a/b');
    assert.equal(c.timeoutMs, 9000);
    const bad = (lines: string[], re: RegExp) => assert.throws(() => parsePbsPlusConfig(lines.join('\n'), 'p'), re);
    bad(['url http://pve1:8016', 'token a@b!c=d', 'fingerprint x'], /url must be https/);
    bad(
      ['url https://pve1:8016', 'token s3cr3t-no-structure', 'fingerprint x'],
      /token must be USER@REALM!TOKENID=SECRET \(the value is not shown\)/,
    );
    bad(['url https://pve1:8016', 'token a@b!c=d'], /no TLS trust/);
    bad([conf(), 'target-map web01 - Root'], /expected 'target-map <name> <vmid>'/);
    bad([conf(), 'target-map a 101', 'target-map a 102'], /names the same target twice/);
    bad([conf(), 'namespace-before-patch ../x'], /must be a PBS namespace/);
    bad([conf(), 'ca /etc/ca.pem'], /set fingerprint or ca, not both/);
    try {
      parsePbsPlusConfig(`${conf()}\ntoken x`, 'p');
      assert.fail('accepted');
    } catch (err) {
      assert.ok(!String(err).includes('s3cr3t'));
    }
    assert.ok(isNamespace('a/b_c/d.e-f'));
    for (const ns of ['', '/a', 'a//b', '-a', 'a/b/c/d/e/f/g/h', 'x'.repeat(33), 'a b', 'a=b'])
      assert.ok(!isNamespace(ns), ns);
  });

  it('maps a PBS Plus job to its guest by job id, then by the longest matching target name', () => {
    const cfg = {
      jobs: new Map([['special', 300]]),
      targets: new Map([
        ['web', 100],
        ['web - Root', 101],
        ['web - C', 102],
      ]),
    };
    const dump = (name: string, type = 'agent') => `{${name} ${type} agent://x {web 10.0.0.1 SECRET tok windows} …}`;
    assert.deepEqual(guestOfJob({ PBS_PLUS__TARGET: dump('web - Root') }, cfg), { vmid: 101, target: 'web - Root' });
    assert.deepEqual(guestOfJob({ PBS_PLUS__TARGET: dump('web', 'local') }, cfg), { vmid: 100, target: 'web' });
    assert.deepEqual(guestOfJob({ PBS_PLUS__TARGET: 'web - C' }, cfg), { vmid: 102, target: 'web - C' });
    assert.deepEqual(guestOfJob({ PBS_PLUS__ID: 'special', PBS_PLUS__TARGET: dump('web') }, cfg), { vmid: 300 });
    assert.equal(guestOfJob({ PBS_PLUS__TARGET: dump('web - D') }, cfg), undefined);
    assert.equal(guestOfJob({}, cfg), undefined);
    assert.ok(!targetMatches('{webserver agent …}', 'web'));
    assert.deepEqual(jobResult({ PBS_PLUS__JOB_SUCCESS: 'true', PBS_PLUS__JOB_WARNINGS: '3' }), {
      success: true,
      warnings: 3,
    });
    assert.deepEqual(jobResult({ PBS_PLUS__JOB_SUCCESS: 'TRUE', PBS_PLUS__JOB_WARNINGS: '-1' }), {
      success: false,
      warnings: 0,
    });
  });

  it('hostile text: parsers answer or throw a PvepatchError, never anything else, in linear time', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (s) => {
        for (const f of [() => parsePbsPlusConfig(s, 'p', () => ''), () => parseVzdumpHookConfig(s, 'f')]) {
          try {
            f();
          } catch (err) {
            assert.ok(isPvepatchError(err), String(err));
          }
        }
        guestOfJob(
          { PBS_PLUS__TARGET: s, PBS_PLUS__ID: s },
          { jobs: new Map([[s, 101]]), targets: new Map([[s, 101]]) },
        );
        patchingAnswer(200, s, 101);
      }),
    );
    const big = `{${'a '.repeat(200_000)}`;
    const t = Date.now();
    guestOfJob({ PBS_PLUS__TARGET: big }, { jobs: new Map(), targets: new Map([['a a a', 1]]) });
    assert.ok(Date.now() - t < 200);
  });
});

describe('PBS Plus scripts, logic', () => {
  const cfg: PbsPlusConfig = {
    url: new URL('https://pve1:8016'),
    token: 'a@b!c=d',
    trust: { fingerprint: 'x' },
    namespace: 'before',
    targets: new Map([['web01 - Root', 101]]),
    jobs: new Map(),
    timeoutMs: 1000,
  };
  const fakeApi = (patching: Answer<Patching>, posted: BackupResult[] = [], post?: Answer<unknown>): PvepatchApi => ({
    patching: async () => patching,
    postBackupResult: async (r) => {
      posted.push(r);
      return post ?? { kind: 'ok', value: {} };
    },
    close: async () => {},
  });
  const run = async (
    f: typeof pbsPlusPre,
    api: PvepatchApi,
    envFile?: string,
    env: NodeJS.ProcessEnv = { PBS_PLUS__TARGET: 'web01 - Root', PBS_PLUS__ID: 'j1' },
  ) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await f(envFile, {
      env,
      configPath: '/etc/pvepatch/pbsplus.conf',
      loadConfig: () => cfg,
      api: () => api,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      now: () => new Date('2026-01-05T21:00:00Z'),
    });
    return { code, out, err };
  };

  it('PreScript: a refused token lets the job go ahead; the env file is written only when it is a regular file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvepatch-pbsplus-'));
    try {
      const r = await run(
        pbsPlusPre,
        fakeApi({ kind: 'refused', status: 403, message: 'permission denied - VM.Audit on /vms/101 is needed' }),
      );
      assert.equal(r.code, 0);
      assert.deepEqual(r.err, [
        'pvepatch: pvepatch API not reachable (HTTP 403: permission denied - VM.Audit on /vms/101 is needed) - backup allowed',
        'pvepatch: namespace override not written to the env file (no env file argument); printed on stdout only',
      ]);
      assert.deepEqual(r.out, ['PBS_PLUS__NAMESPACE=before']);
      writeFileSync(join(dir, 'real'), '');
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      assert.match(appendOverride(join(dir, 'link'), 'X=1\n') ?? '', /ELOOP/);
      assert.equal(appendOverride(dir, 'X=1\n') !== undefined, true, 'a directory is refused');
      assert.match(appendOverride(join(dir, 'missing'), 'X=1\n') ?? '', /ENOENT/);
      assert.equal(appendOverride(join(dir, 'real'), 'X=1\n'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostScript: every outcome exits 0; the unmapped job is still reported', async () => {
    const posted: BackupResult[] = [];
    const r = await run(
      pbsPlusPost,
      fakeApi(idle(101), posted, { kind: 'unreachable', reason: 'no answer within 1 s' }),
      undefined,
      {
        PBS_PLUS__ID: 'other',
        PBS_PLUS__JOB_SUCCESS: 'true',
      },
    );
    assert.equal(r.code, 0);
    assert.deepEqual(r.err, [
      'pvepatch: pvepatch API not reachable (no answer within 1 s) - backup result of an unmapped job (success, 0 warnings) not recorded',
    ]);
    assert.deepEqual(posted, [
      { target: null, vmid: null, job_id: 'other', success: true, warnings: 0, at: '2026-01-05T21:00:00.000Z' },
    ]);
  });
});
